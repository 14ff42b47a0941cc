package iotdbtest

import (
	"fmt"

	"github.com/apache/iotdb-client-go/v2/client"
)

// TSDataType is the client's data type enum (docs/iotdb.md §2.1).
type TSDataType = client.TSDataType

const (
	BOOLEAN   = client.BOOLEAN
	INT32     = client.INT32
	INT64     = client.INT64
	FLOAT     = client.FLOAT
	DOUBLE    = client.DOUBLE
	TEXT      = client.TEXT
	TIMESTAMP = client.TIMESTAMP
	DATE      = client.DATE
	BLOB      = client.BLOB
	STRING    = client.STRING
)

// Status codes (docs/iotdb.md §3.4).
const (
	codeSuccess          int32 = 200
	codeIncompatible     int32 = 201
	codeUnsupported      int32 = 300
	codeExecuteError     int32 = 301
	codeIllegalParameter int32 = 303
	codeInternalError    int32 = 305
	codeDatabaseNotExist int32 = 500
	codeDatabaseExists   int32 = 501
	codeMetadataError    int32 = 507
	codeIllegalPath      int32 = 509
	codeTableNotExist    int32 = 550
	codeSQLParseError    int32 = 700
	codeSemanticError    int32 = 701
	codeWrongLogin       int32 = 801
	codeNotLogin         int32 = 802
)

func typeName(t TSDataType) string {
	switch t {
	case BOOLEAN:
		return "BOOLEAN"
	case INT32:
		return "INT32"
	case INT64:
		return "INT64"
	case FLOAT:
		return "FLOAT"
	case DOUBLE:
		return "DOUBLE"
	case TEXT:
		return "TEXT"
	case TIMESTAMP:
		return "TIMESTAMP"
	case DATE:
		return "DATE"
	case BLOB:
		return "BLOB"
	case STRING:
		return "STRING"
	}
	return fmt.Sprintf("UNKNOWN(%d)", int(t))
}

func typeByName(s string) (TSDataType, bool) {
	for _, t := range []TSDataType{BOOLEAN, INT32, INT64, FLOAT, DOUBLE, TEXT, TIMESTAMP, DATE, BLOB, STRING} {
		if typeName(t) == s {
			return t, true
		}
	}
	return client.UNKNOWN, false
}

func validType(t TSDataType) bool {
	switch t {
	case BOOLEAN, INT32, INT64, FLOAT, DOUBLE, TEXT, TIMESTAMP, DATE, BLOB, STRING:
		return true
	}
	return false
}

// canCast reports whether a value of type in may be written into a series
// registered as reg (widening casts, docs/iotdb.md §3.2).
func canCast(in, reg TSDataType) bool {
	if in == reg {
		return true
	}
	switch in {
	case INT32:
		return reg == INT64 || reg == FLOAT || reg == DOUBLE
	case INT64:
		return reg == DOUBLE
	case FLOAT:
		return reg == DOUBLE
	case TEXT:
		return reg == STRING
	case STRING:
		return reg == TEXT
	}
	return false
}
