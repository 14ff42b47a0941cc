package mapping

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
)

// family is a MySQL type family: the columns one conversion function serves.
type family uint8

const (
	famInt       family = iota + 1 // TINYINT..BIGINT [UNSIGNED], BOOL = TINYINT(1)
	famYear                        // YEAR
	famFloat                       // FLOAT
	famDouble                      // DOUBLE, REAL
	famDecimal                     // DECIMAL, NUMERIC
	famBit                         // BIT(n)
	famText                        // CHAR, VARCHAR, *TEXT (and MariaDB JSON = LONGTEXT)
	famEnum                        // ENUM
	famSet                         // SET
	famJSON                        // MySQL 8 JSON
	famBinary                      // BINARY, VARBINARY, *BLOB
	famDate                        // DATE
	famDateTime                    // DATETIME
	famTimestamp                   // TIMESTAMP
	famTime                        // TIME
)

var familyNames = map[family]string{
	famInt: "integer", famYear: "YEAR", famFloat: "FLOAT", famDouble: "DOUBLE", famDecimal: "DECIMAL",
	famBit: "BIT", famText: "text", famEnum: "ENUM", famSet: "SET", famJSON: "JSON", famBinary: "binary",
	famDate: "DATE", famDateTime: "DATETIME", famTimestamp: "TIMESTAMP", famTime: "TIME",
}

func (f family) String() string { return familyNames[f] }

// textCharsets are the column charsets whose bytes are UTF-8 on both paths.
// The SQL path converts to the connection charset (utf8mb4), but the binlog
// carries the column's own bytes, so any other charset would differ.
var textCharsets = map[string]bool{"": true, "utf8mb4": true, "utf8mb3": true, "utf8": true, "ascii": true}

// classify maps an information_schema column to its family. width is the
// integer bit width or the BIT length.
func classify(c *Column) (fam family, width int, err error) {
	switch c.DataType {
	case "tinyint":
		return famInt, 8, nil
	case "smallint":
		return famInt, 16, nil
	case "mediumint":
		return famInt, 24, nil
	case "int", "integer":
		return famInt, 32, nil
	case "bigint":
		return famInt, 64, nil
	case "year":
		return famYear, 16, nil
	case "float":
		return famFloat, 0, nil
	case "double", "real", "double precision":
		return famDouble, 0, nil
	case "decimal", "numeric":
		return famDecimal, 0, nil
	case "bit":
		w := c.Precision
		if w == 0 {
			w = parenInt(c.ColumnType, 1)
		}
		return famBit, w, nil
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if !textCharsets[c.Charset] {
			return 0, 0, fmt.Errorf("column %s has character set %s: only utf8mb4, utf8mb3 and ascii are supported "+
				"(the binlog carries the column's own bytes while SELECT converts them)", c.Name, c.Charset)
		}
		return famText, 0, nil
	case "enum":
		return famEnum, 0, nil
	case "set":
		return famSet, 0, nil
	case "json":
		return famJSON, 0, nil
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return famBinary, 0, nil
	case "date":
		return famDate, 0, nil
	case "datetime":
		return famDateTime, 0, nil
	case "timestamp":
		return famTimestamp, 0, nil
	case "time":
		return famTime, 0, nil
	}
	return 0, 0, fmt.Errorf("column %s has type %s, which the bridge does not map "+
		"(the two source paths deliver it differently or IoTDB has no fitting type)", c.Name, c.ColumnType)
}

// parenInt returns n from "type(n...)" or def.
func parenInt(columnType string, def int) int {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return def
	}
	end := strings.IndexAny(columnType[open:], "),")
	if end < 0 {
		return def
	}
	n, err := strconv.Atoi(columnType[open+1 : open+end])
	if err != nil {
		return def
	}
	return n
}

// colConv converts one source column's values into one IoTDB type. Built
// once by Compile; read-only afterwards, so Map is safe for concurrent use.
type colConv struct {
	name     string
	fam      family
	width    int
	unsigned bool
	tinyBool bool // TINYINT(1), i.e. BOOL
	padTo    int  // BINARY(n): n
	dec      int  // fractional second digits
	elements []string
	enumIdx  map[string]int
	zone     *time.Location    // DATETIME/DATE wall clocks
	perSec   int64             // server precision: units per second
	target   client.TSDataType // IoTDB type
	clip     bool              // BIGINT UNSIGNED above 2^63-1 becomes 2^63-1 instead of a dirty row
	zeroNull bool              // zero dates become NULL instead of a dirty row
}

func newColConv(c *Column, zone *time.Location, perSec int64) (*colConv, error) {
	fam, width, err := classify(c)
	if err != nil {
		return nil, err
	}
	cc := &colConv{
		name: c.Name, fam: fam, width: width, unsigned: c.Unsigned, dec: c.DatetimePrecision,
		zone: zone, perSec: perSec,
	}
	switch fam {
	case famInt:
		cc.tinyBool = strings.HasPrefix(c.ColumnType, "tinyint(1)")
	case famYear:
		cc.unsigned = true
	case famBinary:
		if c.DataType == "binary" {
			cc.padTo = parenInt(c.ColumnType, 1)
		}
	case famEnum, famSet:
		if len(c.Elements) == 0 {
			return nil, fmt.Errorf("column %s: %s without members (schema not loaded from information_schema?)", c.Name, c.DataType)
		}
		if fam == famSet && len(c.Elements) > 64 {
			return nil, fmt.Errorf("column %s: SET with more than 64 members", c.Name)
		}
		cc.elements = c.Elements
		cc.enumIdx = make(map[string]int, len(c.Elements))
		for i, e := range c.Elements {
			cc.enumIdx[e] = i
		}
	case famTime:
		if cc.dec > 6 {
			cc.dec = 6
		}
	}
	return cc, nil
}

// IoTDB type names as written in mappings.
var typeByName = map[string]client.TSDataType{
	"BOOLEAN": client.BOOLEAN, "INT32": client.INT32, "INT64": client.INT64, "FLOAT": client.FLOAT,
	"DOUBLE": client.DOUBLE, "TEXT": client.TEXT, "STRING": client.STRING, "BLOB": client.BLOB,
	"DATE": client.DATE, "TIMESTAMP": client.TIMESTAMP,
}

// TypeName is the mapping spelling of an IoTDB type ("INT64").
func TypeName(t client.TSDataType) string {
	for n, v := range typeByName {
		if v == t {
			return n
		}
	}
	return fmt.Sprintf("TSDataType(%d)", t)
}

func isText(t client.TSDataType) bool { return t == client.TEXT || t == client.STRING }

// defaultType is the IoTDB type a column gets without a declared type
// (DESIGN section 4). unsignedString / decimalString are the mapping's
// bigint_unsigned: string and decimal: string policies.
func (cc *colConv) defaultType(unsignedString, decimalString bool) client.TSDataType {
	switch cc.fam {
	case famInt:
		switch {
		case cc.tinyBool:
			return client.BOOLEAN
		case cc.width <= 24 || (cc.width == 32 && !cc.unsigned):
			return client.INT32
		case cc.width == 64 && cc.unsigned && unsignedString:
			return client.STRING
		default:
			return client.INT64
		}
	case famYear:
		return client.INT32
	case famFloat:
		return client.FLOAT
	case famDouble:
		return client.DOUBLE
	case famDecimal:
		if decimalString {
			return client.STRING
		}
		return client.DOUBLE
	case famBit:
		if cc.width == 1 {
			return client.BOOLEAN
		}
		return client.INT64
	case famBinary:
		return client.BLOB
	case famDate:
		return client.DATE
	case famDateTime, famTimestamp:
		return client.TIMESTAMP
	}
	return client.STRING // text, ENUM, SET, JSON, TIME
}

// allows reports whether a declared type is compatible with the column.
// The rule: a declared type is allowed when every value of the column
// converts to it exactly (widening), or to its text; lossy pairs
// (BIGINT -> DOUBLE, DOUBLE -> FLOAT, DATETIME -> DATE, ...) are refused at
// Compile so that data is never silently changed.
func (cc *colConv) allows(t client.TSDataType) bool {
	if isText(t) {
		return true // every family renders to text (binary: must be UTF-8 at run time)
	}
	switch cc.fam {
	case famInt:
		switch t {
		case client.BOOLEAN:
			return cc.width == 8 // 0/1 only at run time; other values are out_of_range
		case client.INT32:
			return cc.width <= 24 || (cc.width == 32 && !cc.unsigned)
		case client.INT64:
			return true
		case client.FLOAT:
			return cc.width <= 24 // float32 holds 24-bit integers exactly
		case client.DOUBLE:
			return cc.width <= 32 // float64 holds 53-bit integers exactly; BIGINT does not fit
		}
	case famYear:
		return t == client.INT32 || t == client.INT64
	case famFloat:
		return t == client.FLOAT || t == client.DOUBLE
	case famDouble:
		return t == client.DOUBLE
	case famDecimal:
		return t == client.DOUBLE // documented rounding; STRING for exact
	case famBit:
		return (t == client.BOOLEAN && cc.width == 1) || (t == client.INT32 && cc.width <= 31) || t == client.INT64
	case famText, famBinary:
		return t == client.BLOB
	case famDate:
		return t == client.DATE || t == client.TIMESTAMP // midnight in the mapping zone
	case famDateTime, famTimestamp:
		return t == client.TIMESTAMP || t == client.INT64 // both: epoch in server precision
	}
	return false
}

// deviceable reports whether values of the family can be rendered into a
// device path node or tag. Floats (rounding), JSON and TIME are refused.
func (cc *colConv) deviceable() bool {
	switch cc.fam {
	case famFloat, famDouble, famJSON, famTime:
		return false
	}
	return true
}

// value converts a non-NULL source value into the Go type that
// client.Tablet.SetValueAt expects for cc.target.
func (cc *colConv) value(v any) (any, error) {
	switch cc.fam {
	case famInt, famYear:
		n, err := convInteger(v, cc.width, cc.unsigned)
		if err != nil {
			return nil, err
		}
		return cc.fromInteger(n)
	case famFloat:
		f, err := convFloat32(v)
		if err != nil {
			return nil, err
		}
		switch cc.target {
		case client.FLOAT:
			return f, nil
		case client.DOUBLE:
			return float32To64(f), nil
		}
		return strconv.FormatFloat(float64(f), 'g', -1, 32), nil
	case famDouble:
		f, err := convFloat64(v)
		if err != nil {
			return nil, err
		}
		if cc.target == client.DOUBLE {
			return f, nil
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case famDecimal:
		s, err := convDecimal(v)
		if err != nil {
			return nil, err
		}
		if cc.target == client.DOUBLE {
			return decimalToDouble(s)
		}
		return s, nil
	case famBit:
		u, err := convBit(v)
		if err != nil {
			return nil, err
		}
		switch cc.target {
		case client.BOOLEAN:
			if u > 1 {
				return nil, fail(ReasonOutOfRange, "BIT value %d is not 0 or 1", u)
			}
			return u == 1, nil
		case client.INT32:
			if u > math.MaxInt32 {
				return nil, fail(ReasonOutOfRange, "BIT value %d does not fit INT32", u)
			}
			return int32(u), nil
		case client.INT64:
			if u > math.MaxInt64 {
				return nil, fail(ReasonOutOfRange, "BIT value %d does not fit INT64", u)
			}
			return int64(u), nil
		}
		return strconv.FormatUint(u, 10), nil
	case famText:
		s, err := convText(v)
		if err != nil {
			return nil, err
		}
		if cc.target == client.BLOB {
			return []byte(s), nil
		}
		return s, nil
	case famEnum:
		return convEnum(v, cc.elements, cc.enumIdx)
	case famSet:
		return convSet(v, cc.elements)
	case famJSON:
		return convJSON(v)
	case famBinary:
		b, err := convBytes(v, cc.padTo)
		if err != nil {
			return nil, err
		}
		if cc.target == client.BLOB {
			return b, nil
		}
		s := string(b)
		if err := validUTF8(s); err != nil {
			return nil, err
		}
		return s, nil
	case famDate:
		c, err := convCivil(v)
		if err != nil {
			return nil, err
		}
		switch cc.target {
		case client.DATE:
			if c.year < 1000 || c.year > 9999 {
				return nil, fail(ReasonOutOfRange, "IoTDB DATE needs a year in 1000..9999")
			}
			return time.Date(c.year, time.Month(c.month), c.day, 0, 0, 0, 0, time.UTC), nil
		case client.TIMESTAMP, client.INT64:
			c.hour, c.min, c.sec, c.nsec = 0, 0, 0, 0
			return instantTo(c.in(cc.zone), cc.perSec)
		}
		return c.text(-1), nil
	case famDateTime:
		c, err := convCivil(v)
		if err != nil {
			return nil, err
		}
		if isText(cc.target) {
			return c.text(cc.dec), nil
		}
		return instantTo(c.in(cc.zone), cc.perSec)
	case famTimestamp:
		t, err := convTimestamp(v)
		if err != nil {
			return nil, err
		}
		if isText(cc.target) {
			return utcCivil(t).text(cc.dec), nil
		}
		return instantTo(t, cc.perSec)
	case famTime:
		return convTime(v, cc.dec)
	}
	return nil, fail(ReasonUnconvertible, "no converter for %s", cc.fam)
}

func (cc *colConv) fromInteger(n integer) (any, error) {
	if n.big {
		switch {
		case isText(cc.target):
			return n.text(), nil
		case cc.target == client.INT64 && cc.clip:
			return int64(math.MaxInt64), nil
		case cc.target == client.INT64:
			return nil, fail(ReasonUnsignedOverflow, "BIGINT UNSIGNED value above 2^63-1 (set bigint_unsigned: clip or string)")
		}
		return nil, fail(ReasonOutOfRange, "value does not fit %s", TypeName(cc.target))
	}
	x := n.v
	switch cc.target {
	case client.BOOLEAN:
		if x != 0 && x != 1 {
			return nil, fail(ReasonOutOfRange, "value %d is not 0 or 1 (declare type INT32 to keep it)", x)
		}
		return x == 1, nil
	case client.INT32:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fail(ReasonOutOfRange, "value %d does not fit INT32", x)
		}
		return int32(x), nil
	case client.INT64:
		return x, nil
	case client.FLOAT:
		return float32(x), nil
	case client.DOUBLE:
		return float64(x), nil
	}
	return strconv.FormatInt(x, 10), nil
}

// text renders a non-NULL value as a device node or tag value: integers in
// decimal, text as is, DECIMAL as its exact text, BIT as its decimal value,
// DATE as YYYY-MM-DD, DATETIME as its wall clock and TIMESTAMP as its UTC
// wall clock, both "YYYY-MM-DD hh:mm:ss[.ffffff]" with the column's digits.
func (cc *colConv) text(v any) (string, error) {
	switch cc.fam {
	case famInt, famYear:
		n, err := convInteger(v, cc.width, cc.unsigned)
		if err != nil {
			return "", err
		}
		return n.text(), nil
	case famDecimal:
		return convDecimal(v)
	case famBit:
		u, err := convBit(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatUint(u, 10), nil
	case famText:
		return convText(v)
	case famEnum:
		return convEnum(v, cc.elements, cc.enumIdx)
	case famSet:
		return convSet(v, cc.elements)
	case famBinary:
		b, err := convBytes(v, cc.padTo)
		if err != nil {
			return "", err
		}
		s := string(b)
		return s, validUTF8(s)
	case famDate:
		c, err := convCivil(v)
		if err != nil {
			return "", err
		}
		return c.text(-1), nil
	case famDateTime:
		c, err := convCivil(v)
		if err != nil {
			return "", err
		}
		return c.text(cc.dec), nil
	case famTimestamp:
		t, err := convTimestamp(v)
		if err != nil {
			return "", err
		}
		return utcCivil(t).text(cc.dec), nil
	}
	return "", fail(ReasonUnconvertible, "%s values cannot name a device", cc.fam)
}

func utcCivil(t time.Time) civil {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return civil{y, int(mo), d, h, mi, s, t.Nanosecond()}
}

// instantTo converts an instant to an epoch in units of 1/perSec seconds,
// truncating toward negative infinity when the precision is coarser than
// the value (t.Nanosecond() is never negative, so integer division floors).
func instantTo(t time.Time, perSec int64) (int64, error) {
	sec := t.Unix()
	if sec > math.MaxInt64/perSec-1 || sec < math.MinInt64/perSec+1 {
		return 0, fail(ReasonOutOfRange, "time does not fit an int64 epoch at this precision")
	}
	return sec*perSec + int64(t.Nanosecond())/(1e9/perSec), nil
}

// scaleEpoch converts an integer epoch in units of 1/unitPerSec seconds to
// units of 1/perSec seconds: exact when finer, floored when coarser.
func scaleEpoch(v, unitPerSec, perSec int64) (int64, error) {
	switch {
	case unitPerSec == perSec:
		return v, nil
	case perSec > unitPerSec:
		f := perSec / unitPerSec
		if v > math.MaxInt64/f || v < math.MinInt64/f {
			return 0, fail(ReasonOutOfRange, "epoch overflows int64 at this precision")
		}
		return v * f, nil
	default:
		f := unitPerSec / perSec
		q := v / f
		if v%f != 0 && v < 0 {
			q--
		}
		return q, nil
	}
}

// perSecond maps a unit or precision name to units per second.
func perSecond(unit string) (int64, bool) {
	switch unit {
	case "s":
		return 1, true
	case "ms":
		return 1e3, true
	case "us":
		return 1e6, true
	case "ns":
		return 1e9, true
	}
	return 0, false
}

// maxTime is IoTDB's timestamp sanity check (TimestampPrecisionUtils,
// docs/iotdb.md §3.4): ms rejects t > 1e13, us rejects t > 1e16.
func maxTime(perSec int64) int64 {
	switch perSec {
	case 1e3:
		return 1e13
	case 1e6:
		return 1e16
	}
	return math.MaxInt64
}
