package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
)

// What the conversion of a mapping looks like in SQL, for verify's coarse
// pass pushed down to MySQL: the time column as an epoch in server
// precision computed by the server, the device columns to group by, and,
// per measurement, how the column's SQL value relates to the point's value.
// Only what SQL reproduces exactly is offered; the rest is said so, and
// verify then falls back to reading the rows through Map.

// SQLValue says how a measurement column's value in SQL relates to the
// value Map writes.
type SQLValue uint8

const (
	// SQLOther: no SQL expression gives the point's value (ENUM labels
	// from ordinals, JSON text, dates, BIT, text renderings of numbers,
	// FLOAT declared DOUBLE (the shortest decimal), BIGINT UNSIGNED
	// policies): only the count of non-NULL cells matches.
	SQLOther SQLValue = iota
	// SQLNumber: the SQL value is the point's number: integers exactly,
	// FLOAT and DOUBLE as stored, DECIMAL declared DOUBLE rounded once
	// (a SQL sum of DECIMALs is exact, the IoTDB sum of the rounded
	// doubles within a few units of the last place).
	SQLNumber
	// SQLBool: TINYINT(1) 0/1 to BOOLEAN false/true.
	SQLBool
	// SQLBytes: the column's bytes are the point's bytes (utf8 text to
	// STRING/TEXT/BLOB, binary to BLOB).
	SQLBytes
)

// SQLField is one measurement of the mapping, in Schema().Measurements
// order after the table model's tags.
type SQLField struct {
	Column string            // the source column (unquoted)
	Type   client.TSDataType // the IoTDB type the mapping writes
	Value  SQLValue
}

// SQLShape is the mapping as SQL sees it.
type SQLShape struct {
	// Time is a BIGINT expression over the time column that equals the
	// point's timestamp (server precision, floored like Map) for every row
	// Map accepts. It assumes the session time zone is UTC, as the
	// bridge's connections set it.
	Time string
	// DeviceColumns are the columns the device (tree) or the tags (table)
	// are rendered from, and DeviceExprs the expressions to group by,
	// byte-exact (a case-insensitive collation would merge devices IoTDB
	// keeps apart): pass their values, in this order, to DeviceOf.
	DeviceColumns []string
	DeviceExprs   []string
	Fields        []SQLField
	// DeviceKey, when set, is one expression to group by instead of
	// DeviceExprs: the text columns' bytes joined by 0x00 (cheaper for
	// MySQL to group by than several columns). Split its value at 0x00
	// into the DeviceColumns' values. A NULL column makes it NULL. NUL
	// cannot be in a device value Map accepts (a control character in a
	// path, and the table model's tag separator).
	DeviceKey string

	civilCol string // DATE, DATETIME or TIMESTAMP time column, quoted
	perSec   int64
}

// Bucket is a BIGINT expression for floor(Time / bucket), bucket in
// server units. For a DATE, DATETIME or TIMESTAMP column and a bucket of
// whole seconds it reads only TO_SECONDS, once: MySQL's dates start in
// year 1000, so TO_SECONDS is at least 31,556,995,200 and, with r the
// remainder of epochToSeconds by the bucket's seconds, TO_SECONDS - r is
// never negative and DIV is the floor.
func (s *SQLShape) Bucket(bucket int64) string {
	if s.civilCol != "" && bucket%s.perSec == 0 {
		bs := bucket / s.perSec
		if bs <= 31_556_995_200 {
			q, r := int64(epochToSeconds)/bs, int64(epochToSeconds)%bs
			return "((TO_SECONDS(" + s.civilCol + ") - " + strconv.FormatInt(r, 10) + ") DIV " +
				strconv.FormatInt(bs, 10) + " - " + strconv.FormatInt(q, 10) + ")"
		}
	}
	return floorDivSQL(s.Time, bucket)
}

// epochToSeconds is TO_SECONDS('1970-01-01'): TO_SECONDS(d) - epochToSeconds is the
// Unix time of the wall clock d read as UTC, for every year MySQL holds.
const epochToSeconds = 62167219200

// SQL describes the mapping for a SQL push-down. It returns an error (the
// reason, for a log line) when the time column cannot be expressed in SQL
// the way Map reads it: a DATETIME or DATE in a zone other than UTC (its
// offsets change with DST), or an unsigned epoch.
func (mp *Mapper) SQL() (*SQLShape, error) {
	tc := mp.timeConv
	col := QuoteIdent(mp.columns[mp.timeIdx])
	var t string
	switch tc.fam {
	case famDate, famDateTime:
		if tc.zone != time.UTC {
			return nil, fmt.Errorf("the time column %s is read in zone %s; SQL sees no zone rules", mp.columns[mp.timeIdx], tc.zone)
		}
		t = civilSQL(col, tc.perSec)
	case famTimestamp:
		t = civilSQL(col, tc.perSec) // the session zone is UTC
	case famInt:
		if tc.unsigned {
			return nil, fmt.Errorf("the time column %s is an unsigned epoch", mp.columns[mp.timeIdx])
		}
		t = epochSQL(col, mp.timeUnit, tc.perSec)
	default:
		return nil, fmt.Errorf("the time column %s has no SQL form", mp.columns[mp.timeIdx])
	}
	s := &SQLShape{Time: t, perSec: tc.perSec}
	if tc.fam != famInt {
		s.civilCol = col
	}
	allText := true
	var plain []string
	for _, i := range mp.deviceCols {
		name := mp.columns[i]
		s.DeviceColumns = append(s.DeviceColumns, name)
		e := QuoteIdent(name)
		plain = append(plain, e)
		switch mp.convAt(i).fam {
		case famText, famEnum, famSet:
			e = "CAST(" + e + " AS BINARY)"
		default:
			allText = false
		}
		s.DeviceExprs = append(s.DeviceExprs, e)
	}
	if allText && len(plain) > 1 {
		s.DeviceKey = "CAST(CONCAT(" + strings.Join(plain, ", 0x00, ") + ") AS BINARY)"
	}
	for _, f := range mp.fields {
		cc := f.conv
		s.Fields = append(s.Fields, SQLField{Column: mp.columns[f.idx], Type: cc.target, Value: sqlValue(cc)})
	}
	return s, nil
}

func sqlValue(cc *colConv) SQLValue {
	switch cc.target {
	case client.BOOLEAN:
		if cc.fam == famInt && cc.tinyBool {
			return SQLBool
		}
	case client.INT32, client.INT64:
		if cc.fam == famInt && !(cc.unsigned && cc.width == 64) {
			return SQLNumber
		}
		if cc.fam == famYear {
			return SQLNumber
		}
	case client.FLOAT:
		if cc.fam == famFloat || cc.fam == famInt {
			return SQLNumber
		}
	case client.DOUBLE:
		switch cc.fam {
		case famDouble, famDecimal:
			return SQLNumber
		case famInt:
			if !(cc.unsigned && cc.width == 64) {
				return SQLNumber
			}
		}
	case client.STRING, client.TEXT:
		if cc.fam == famText {
			return SQLBytes
		}
	case client.BLOB:
		if cc.fam == famText || (cc.fam == famBinary && cc.padTo == 0) {
			return SQLBytes
		}
	}
	return SQLOther
}

// civilSQL is the epoch of a DATE, DATETIME or TIMESTAMP read as a UTC
// wall clock, in units of perSec, floored.
func civilSQL(col string, perSec int64) string {
	sec := "(TO_SECONDS(" + col + ") - " + strconv.Itoa(epochToSeconds) + ")"
	switch perSec {
	case 1000:
		return "(" + sec + " * 1000 + MICROSECOND(" + col + ") DIV 1000)"
	case 1_000_000:
		return "(" + sec + " * 1000000 + MICROSECOND(" + col + "))"
	case 1_000_000_000:
		return "(" + sec + " * 1000000000 + MICROSECOND(" + col + ") * 1000)"
	}
	return "(" + sec + " * " + strconv.FormatInt(perSec, 10) + ")"
}

// epochSQL scales an integer epoch in unitPerSec to perSec as scaleEpoch
// does (floored toward negative infinity).
func epochSQL(col string, unitPerSec, perSec int64) string {
	switch {
	case unitPerSec == perSec:
		return col
	case perSec > unitPerSec:
		return "(" + col + " * " + strconv.FormatInt(perSec/unitPerSec, 10) + ")"
	}
	return floorDivSQL(col, unitPerSec/perSec)
}

// floorDivSQL is floor(x / k) for a BIGINT x and a positive k, in integer
// arithmetic (DIV truncates toward zero, MOD keeps the dividend's sign).
func floorDivSQL(x string, k int64) string {
	ks := strconv.FormatInt(k, 10)
	return "((" + x + " - ((" + x + " MOD " + ks + ") + " + ks + ") MOD " + ks + ") DIV " + ks + ")"
}

// QuoteIdent quotes a MySQL identifier with backticks, doubling any
// backtick inside it (the one definition: backfill and discover use it).
func QuoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// DeviceOf renders the device (tree) or the tag values (table model) as
// Map does, from the values of SQL().DeviceColumns in that order, as the
// SQL path delivers them. A row Map would refuse (NULL, illegal path) is
// an error.
func (mp *Mapper) DeviceOf(vals []any) (string, error) {
	if len(vals) != len(mp.deviceCols) {
		return "", fmt.Errorf("mapping: %d device values, want %d", len(vals), len(mp.deviceCols))
	}
	row := make([]any, len(mp.columns))
	for i, idx := range mp.deviceCols {
		if vals[i] == nil {
			return "", fmt.Errorf("device column %s is NULL", mp.columns[idx])
		}
		row[idx] = vals[i]
	}
	if mp.model == "tree" {
		return mp.treeDevice(row, nil)
	}
	return mp.tableDevice(row, nil)
}
