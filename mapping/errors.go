package mapping

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reasons a row is dirty. They are stable strings: they appear in the
// dirty-rows file and as metric labels.
const (
	ReasonNullDevice       = "null_device"       // a device (tree) or tag (table model) column is NULL
	ReasonNullTime         = "null_time"         // the time column is NULL
	ReasonZeroDate         = "zero_date"         // a zero or invalid date ('0000-00-00', '2024-00-10', year < 1000)
	ReasonOutOfRange       = "out_of_range"      // a value does not fit the IoTDB type or timestamp range
	ReasonUnconvertible    = "unconvertible"     // a value of an unexpected Go type or malformed text
	ReasonUnsignedOverflow = "unsigned_overflow" // BIGINT UNSIGNED above 2^63-1 with bigint_unsigned: error
	ReasonIllegalPath      = "illegal_path"      // a device value cannot be an IoTDB path node (empty, control characters, the reserved word root)
)

// DirtyError is a row that cannot be mapped. The dirty-rows policy decides
// whether the row is skipped (and written to the dirty-rows file) or the run
// stops. Map never returns a DirtyError for a row it could map.
type DirtyError struct {
	Table  string // source table
	Key    string // primary key rendered by KeyString, e.g. "id=42"; "" without a primary key
	Column string // the offending column
	Value  string // the offending value rendered for humans ("NULL" for NULL), at most 200 bytes
	Reason string // one of the Reason constants
	Detail string // a human explanation
}

func (e *DirtyError) Error() string {
	var b strings.Builder
	b.WriteString("dirty row in ")
	b.WriteString(e.Table)
	if e.Key != "" {
		b.WriteString(" (")
		b.WriteString(e.Key)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	b.WriteString(": column ")
	b.WriteString(e.Column)
	b.WriteString(" = ")
	b.WriteString(e.Value)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// convError is what the pure conversion functions return; Map wraps it into
// a DirtyError with the table, key, column and value.
type convError struct {
	reason string
	detail string
}

func (e *convError) Error() string { return e.reason + ": " + e.detail }

func fail(reason, format string, args ...any) error {
	return &convError{reason: reason, detail: fmt.Sprintf(format, args...)}
}

func reasonOf(err error) (reason, detail string) {
	if ce, ok := err.(*convError); ok {
		return ce.reason, ce.detail
	}
	return ReasonUnconvertible, err.Error()
}

const maxRendered = 200

// renderValue renders a driver value for messages: NULL, decimal numbers,
// text as is when valid UTF-8 (else 0x-hex), times in RFC 3339 with their
// zone. Long values are cut at 200 bytes with "...".
func renderValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if utf8.Valid(x) {
			s = string(x)
		} else {
			s = "0x" + hex.EncodeToString(x)
		}
	case string:
		s = x
	case time.Time:
		s = x.Format(time.RFC3339Nano)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	default:
		s = fmt.Sprint(x)
	}
	if len(s) > maxRendered {
		cut := maxRendered
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
