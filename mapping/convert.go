package mapping

// The pure conversion functions, one per MySQL type family. Each accepts the
// Go values BOTH source paths deliver for that family and returns one
// normalised value, so backfill and cdc map the identical row to the
// identical point. What each driver delivers is documented in TYPES.md with
// the driver source lines; the tests feed hand-built values of exactly those
// types.
//
// Backfill: go-sql-driver/mysql v1.9.3, binary protocol (packets.go
// binaryRows.readRow), parseTime=true, loc=UTC, session time_zone '+00:00',
// values scanned into *any (database/sql clones []byte).
// CDC: go-mysql v1.16.0 replication.RowsEvent.decodeValue (row_event.go),
// ParseTime=true, UseDecimal=false.

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// integer is a normalised MySQL integer: v holds every value that fits
// int64; big is set (and v is unused) for BIGINT UNSIGNED above 2^63-1.
type integer struct {
	v   int64
	u   uint64
	big bool
}

// convInteger normalises TINYINT..BIGINT (and YEAR, which both drivers
// deliver as an integer) of the given bit width (8, 16, 24, 32, 64).
//
// SQL path: int64 (already sign- or zero-extended by the column's UNSIGNED
// flag, packets.go:1250-1290); BIGINT UNSIGNED above 2^63-1 arrives as the
// decimal text []byte (uint64ToString, packets.go:1281); YEAR is int64.
// Text protocol (not used, tolerated): int64 / uint64.
// Binlog path: int8/int16/int32/int64 when the table map has no signedness
// metadata, uint8/uint16/uint32/uint64 when it has (row_event.go:1290-1324,
// unsignedMap at :1239); MEDIUMINT is int32/uint32; YEAR is int (:1411).
// A negative signed value in an UNSIGNED column is the binlog's raw bits and
// is reinterpreted at the column width (two's complement fix-up).
func convInteger(v any, width int, unsigned bool) (integer, error) {
	var x int64
	switch t := v.(type) {
	case int64:
		x = t
	case int32:
		x = int64(t)
	case int16:
		x = int64(t)
	case int8:
		x = int64(t)
	case int:
		x = int64(t)
	case uint8:
		return integer{v: int64(t)}, nil
	case uint16:
		return integer{v: int64(t)}, nil
	case uint32:
		return integer{v: int64(t)}, nil
	case uint64:
		return fromUint64(t), nil
	case []byte:
		return parseIntegerText(string(t), unsigned)
	case string:
		return parseIntegerText(t, unsigned)
	default:
		return integer{}, fail(ReasonUnconvertible, "integer column delivered Go type %T", v)
	}
	if x < 0 && unsigned {
		// Binlog without signedness metadata: the bits of an unsigned value
		// read as signed. Reinterpret at the column width.
		switch width {
		case 8:
			return integer{v: int64(uint8(x))}, nil
		case 16:
			return integer{v: int64(uint16(x))}, nil
		case 24:
			return integer{v: x & 0xFFFFFF}, nil
		case 32:
			return integer{v: int64(uint32(x))}, nil
		default:
			return fromUint64(uint64(x)), nil
		}
	}
	return integer{v: x}, nil
}

func fromUint64(u uint64) integer {
	if u > math.MaxInt64 {
		return integer{u: u, big: true}
	}
	return integer{v: int64(u)}
}

func parseIntegerText(s string, unsigned bool) (integer, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i < 0 && unsigned {
			return integer{}, fail(ReasonOutOfRange, "negative value in an UNSIGNED column")
		}
		return integer{v: i}, nil
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return integer{}, fail(ReasonUnconvertible, "not an integer")
	}
	return fromUint64(u), nil
}

// text renders the integer in decimal.
func (n integer) text() string {
	if n.big {
		return strconv.FormatUint(n.u, 10)
	}
	return strconv.FormatInt(n.v, 10)
}

// convFloat32 normalises FLOAT: float32 from both paths (packets.go:1291;
// row_event.go:1329 ParseBinaryFloat32). float64 and text are tolerated.
func convFloat32(v any) (float32, error) {
	switch t := v.(type) {
	case float32:
		return t, nil
	case float64:
		return float32(t), nil
	case []byte:
		f, err := parseFloatText(string(t), 32, "not a float")
		return float32(f), err
	case string:
		f, err := parseFloatText(t, 32, "not a float")
		return float32(f), err
	}
	return 0, fail(ReasonUnconvertible, "FLOAT column delivered Go type %T", v)
}

// parseFloatText parses FLOAT/DOUBLE text (a path that delivers text)
// with the column's bit size.
func parseFloatText(s string, bits int, what string) (float64, error) {
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, fail(ReasonUnconvertible, "%s", what)
	}
	return f, nil
}

// float32To64 widens a FLOAT to the shortest decimal that round-trips the
// float32 (what MySQL displays: FLOAT 3.14 becomes 3.14, not 3.140000104904175).
func float32To64(f float32) float64 {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)
	d, _ := strconv.ParseFloat(string(b), 64)
	return d
}

// convFloat64 normalises DOUBLE: float64 from both paths (packets.go:1296;
// row_event.go:1332). Text is tolerated.
func convFloat64(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case float32:
		return float64(t), nil
	case []byte:
		return parseFloatText(string(t), 64, "not a double")
	case string:
		return parseFloatText(t, 64, "not a double")
	}
	return 0, fail(ReasonUnconvertible, "DOUBLE column delivered Go type %T", v)
}

// convDecimal normalises DECIMAL to its exact decimal text.
//
// SQL path: []byte text as the server renders it, scale digits after the
// point (packets.go:1302, length-coded string). Binlog path with
// UseDecimal=false: string from decodeDecimal (row_event.go:1325, :1535), the same
// digits. Both are validated and canonicalised (no '+', no redundant leading
// zeros, "-0.00" -> "0.00") so that the two paths give the same text.
// decimal.Decimal (UseDecimal=true) is rejected: its String() drops
// trailing zeros, so the exact text would differ from the SQL path.
func convDecimal(v any) (string, error) {
	var s string
	switch t := v.(type) {
	case []byte:
		s = string(t)
	case string:
		s = t
	default:
		return "", fail(ReasonUnconvertible, "DECIMAL column delivered Go type %T (the binlog reader must set UseDecimal=false)", v)
	}
	return canonicalDecimal(s)
}

func canonicalDecimal(s string) (string, error) {
	neg := false
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	intPart, frac, hasPoint := strings.Cut(body, ".")
	if intPart == "" && frac == "" {
		return "", fail(ReasonUnconvertible, "not a decimal")
	}
	for i := 0; i < len(intPart); i++ {
		if !isDigit(intPart[i]) {
			return "", fail(ReasonUnconvertible, "not a decimal")
		}
	}
	for i := 0; i < len(frac); i++ {
		if !isDigit(frac[i]) {
			return "", fail(ReasonUnconvertible, "not a decimal")
		}
	}
	trimmed := strings.TrimLeft(intPart, "0")
	if trimmed == "" {
		trimmed = "0"
	}
	zero := trimmed == "0" && strings.Trim(frac, "0") == ""
	if trimmed == intPart && !(neg && zero) && (s[0] != '+') && (!hasPoint || frac != "") {
		return s, nil // already canonical: no allocation
	}
	var b strings.Builder
	if neg && !zero {
		b.WriteByte('-')
	}
	b.WriteString(trimmed)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String(), nil
}

// decimalToDouble converts exact decimal text to the nearest float64
// (strconv.ParseFloat is correctly rounded), never via a float of a float.
func decimalToDouble(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fail(ReasonOutOfRange, "decimal does not fit a DOUBLE")
	}
	return f, nil
}

// convBit normalises BIT(n) to its unsigned value.
//
// SQL path: []byte, big-endian, (n+7)/8 bytes (packets.go:1302,
// length-coded string). Binlog path: int64 decoded big-endian by decodeBit
// (row_event.go:1335, :1624); BIT(64) with the top bit set is negative and is
// reinterpreted as uint64.
func convBit(v any) (uint64, error) {
	switch t := v.(type) {
	case []byte:
		if len(t) > 8 {
			return 0, fail(ReasonUnconvertible, "BIT value longer than 8 bytes")
		}
		var buf [8]byte
		copy(buf[8-len(t):], t)
		return binary.BigEndian.Uint64(buf[:]), nil
	case int64:
		return uint64(t), nil
	case uint64:
		return t, nil
	case int:
		return uint64(t), nil
	}
	return 0, fail(ReasonUnconvertible, "BIT column delivered Go type %T", v)
}

// convText normalises CHAR/VARCHAR/TEXT (and MariaDB JSON, a LONGTEXT).
//
// SQL path: []byte (packets.go:1302). Binlog path: string for CHAR/VARCHAR
// (decodeString, row_event.go:1439, :1497), []byte for TEXT types, which the
// binlog carries as BLOB (decodeBlob, row_event.go:1436, :1866). Both are UTF-8
// for utf8mb4/utf8mb3/ascii columns (Compile rejects other charsets).
func convText(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []byte:
		return string(t), nil
	}
	return "", fail(ReasonUnconvertible, "text column delivered Go type %T", v)
}

// convBytes normalises BINARY/VARBINARY/BLOB.
//
// SQL path: []byte, BINARY(n) padded with 0x00 to n bytes as stored.
// Binlog path: string for BINARY/VARBINARY (they travel as
// MYSQL_TYPE_STRING / VARCHAR, decodeString) and []byte for BLOBs. The
// binlog strips trailing 0x00 of BINARY(n) (Field_string::pack removes
// pad_char, which is 0x00 for the binary charset), so padTo (n for
// BINARY(n), 0 otherwise) restores the stored value.
func convBytes(v any, padTo int) ([]byte, error) {
	var b []byte
	switch t := v.(type) {
	case []byte:
		b = t
	case string:
		b = []byte(t)
	default:
		return nil, fail(ReasonUnconvertible, "binary column delivered Go type %T", v)
	}
	if len(b) < padTo {
		p := make([]byte, padTo)
		copy(p, b)
		b = p
	}
	return b, nil
}

// convEnum normalises ENUM to its label.
//
// SQL path: the label as []byte (packets.go:1302). Binlog path: the 1-based
// ordinal as int64 (row_event.go:1419); 0 is MySQL's "invalid value"
// member, whose label is the empty string on the SQL path too. Labels come
// from information_schema (Column.Elements); index maps a label to itself so
// the SQL path returns the interned element without allocating.
func convEnum(v any, elements []string, index map[string]int) (string, error) {
	switch t := v.(type) {
	case []byte:
		if i, ok := index[string(t)]; ok {
			return elements[i], nil
		}
		if len(t) == 0 {
			return "", nil
		}
		return "", fail(ReasonUnconvertible, "ENUM label is not a member of the column (schema changed?)")
	case string:
		if i, ok := index[t]; ok {
			return elements[i], nil
		}
		if t == "" {
			return "", nil
		}
		return "", fail(ReasonUnconvertible, "ENUM label is not a member of the column (schema changed?)")
	}
	n, ok := asInt64(v)
	if !ok {
		return "", fail(ReasonUnconvertible, "ENUM column delivered Go type %T", v)
	}
	if n == 0 {
		return "", nil
	}
	if n < 0 || n > int64(len(elements)) {
		return "", fail(ReasonUnconvertible, "ENUM ordinal %d outside 1..%d (schema changed?)", n, len(elements))
	}
	return elements[n-1], nil
}

// convSet normalises SET to its comma-separated members in declaration
// order. SQL path: that text as []byte. Binlog path: the member bitmask as
// int64 (littleDecodeBit, row_event.go:1431, :1656); bit i is elements[i].
func convSet(v any, elements []string) (string, error) {
	switch t := v.(type) {
	case []byte:
		return string(t), nil
	case string:
		return t, nil
	}
	n, ok := asInt64(v)
	if !ok {
		return "", fail(ReasonUnconvertible, "SET column delivered Go type %T", v)
	}
	mask := uint64(n)
	if len(elements) < 64 && mask>>uint(len(elements)) != 0 {
		return "", fail(ReasonUnconvertible, "SET bitmask %#x has bits beyond the %d members (schema changed?)", mask, len(elements))
	}
	var b strings.Builder
	for i := range elements {
		if mask&(1<<uint(i)) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(elements[i])
		}
	}
	return b.String(), nil
}

func asInt64(v any) (int64, bool) {
	switch t := v.(type) {
	case int64:
		return t, true
	case int:
		return int64(t), true
	case int32:
		return int64(t), true
	case int16:
		return int64(t), true
	case int8:
		return int64(t), true
	case uint64:
		return int64(t), true
	case uint32:
		return int64(t), true
	case uint16:
		return int64(t), true
	case uint8:
		return int64(t), true
	}
	return 0, false
}

// convJSON normalises a MySQL 8 JSON column to canonical text (see
// canonicalJSON). SQL path: []byte, the server's text rendering
// ({"a": 1, "b": [1, 2]}). Binlog path: string from decodeJSONBinary
// (row_event.go:1444, :1476), compact and with go-mysql's own number and
// escape rendering; []byte{} for an empty document (:1462).
func convJSON(v any) (string, error) {
	switch t := v.(type) {
	case []byte:
		return canonicalJSON(t), nil
	case string:
		return canonicalJSON([]byte(t)), nil
	}
	return "", fail(ReasonUnconvertible, "JSON column delivered Go type %T", v)
}

// civil is a MySQL DATE/DATETIME wall-clock value, zone-less.
type civil struct {
	year, month, day, hour, min, sec, nsec int
}

// minYear is the first year MySQL supports for DATE/DATETIME. Earlier years
// are classified as zero dates: the SQL driver returns time.Time{} both for
// '0000-00-00' and for '0001-01-01 00:00:00' (parseBinaryDateTime builds
// time.Date(1,1,1,...) which equals the zero time), so only this rule makes
// both paths agree.
const minYear = 1000

// convCivil normalises DATE and DATETIME to a wall clock.
//
// SQL path (parseTime=true): time.Time built with time.Date(fields..., loc)
// (utils.go:230 parseBinaryDateTime): its wall clock in its own location is
// the stored value whatever loc is; '0000-00-00' arrives as time.Time{}
// (length 0, utils.go:232). Caution: time.Date normalises month/day 0, so
// '2024-00-10' arrives as 2023-12-10 and cannot be detected (see
// Mapper.SelectList for the remedy).
// Binlog path (ParseTime=true): DATE is always a string "YYYY-MM-DD"
// (row_event.go:1402, "0000-00-00" for zero); DATETIME is time.Time in UTC
// holding the wall clock (decodeDatetime2, row_event.go:1389, :1716), but a
// string "YYYY-MM-DD hh:mm:ss[.ffffff]" for zero dates, zero-in-date values
// and any value before 1970-01-01 (row_event.go:1766 intPart < 107420450816).
// Zero and invalid dates (year < 1000, month 0, day 0, day past the month's
// end) return ReasonZeroDate.
func convCivil(v any) (civil, error) {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return civil{}, fail(ReasonZeroDate, "zero date")
		}
		y, mo, d := t.Date()
		h, mi, s := t.Clock()
		c := civil{y, int(mo), d, h, mi, s, t.Nanosecond()}
		if y < minYear {
			return c, fail(ReasonZeroDate, "year %d before 1000", y)
		}
		return c, nil
	case string:
		return parseCivil(t)
	case []byte:
		return parseCivil(string(t))
	}
	return civil{}, fail(ReasonUnconvertible, "date/time column delivered Go type %T", v)
}

// parseCivil parses "YYYY-MM-DD[ hh:mm:ss[.f{1,9}]]" (a 'T' separator too).
func parseCivil(s string) (civil, error) {
	var c civil
	bad := func() (civil, error) { return civil{}, fail(ReasonUnconvertible, "malformed date/time text") }
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return bad()
	}
	var ok bool
	if c.year, ok = atoiN(s[0:4]); !ok {
		return bad()
	}
	if c.month, ok = atoiN(s[5:7]); !ok {
		return bad()
	}
	if c.day, ok = atoiN(s[8:10]); !ok {
		return bad()
	}
	if len(s) > 10 {
		if len(s) < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
			return bad()
		}
		if c.hour, ok = atoiN(s[11:13]); !ok {
			return bad()
		}
		if c.min, ok = atoiN(s[14:16]); !ok {
			return bad()
		}
		if c.sec, ok = atoiN(s[17:19]); !ok {
			return bad()
		}
		if len(s) > 19 {
			frac := s[20:]
			if s[19] != '.' || len(frac) == 0 || len(frac) > 9 {
				return bad()
			}
			n, ok := atoiN(frac)
			if !ok {
				return bad()
			}
			for i := len(frac); i < 9; i++ {
				n *= 10
			}
			c.nsec = n
		}
	}
	if c.year < minYear || c.month < 1 || c.month > 12 || c.day < 1 || c.day > daysIn(c.year, c.month) {
		return c, fail(ReasonZeroDate, "zero or invalid date")
	}
	if c.hour > 23 || c.min > 59 || c.sec > 59 {
		return c, fail(ReasonUnconvertible, "invalid time of day")
	}
	return c, nil
}

func atoiN(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// in interprets the wall clock in loc (DST: see TYPES.md).
func (c civil) in(loc *time.Location) time.Time {
	return time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, loc)
}

// text renders "YYYY-MM-DD" (digits == -1) or "YYYY-MM-DD hh:mm:ss[.f]" with
// digits fractional digits, MySQL's own rendering.
func (c civil) text(digits int) string {
	b := make([]byte, 0, 26)
	b = appendPad(b, c.year, 4)
	b = append(b, '-')
	b = appendPad(b, c.month, 2)
	b = append(b, '-')
	b = appendPad(b, c.day, 2)
	if digits < 0 {
		return string(b)
	}
	b = append(b, ' ')
	b = appendPad(b, c.hour, 2)
	b = append(b, ':')
	b = appendPad(b, c.min, 2)
	b = append(b, ':')
	b = appendPad(b, c.sec, 2)
	if digits > 0 {
		b = append(b, '.')
		f := c.nsec
		var d [9]byte
		for i := 8; i >= 0; i-- {
			d[i] = byte('0' + f%10)
			f /= 10
		}
		b = append(b, d[:digits]...)
	}
	return string(b)
}

func appendPad(b []byte, n, width int) []byte {
	var d [8]byte
	i := len(d)
	for n > 0 || i == len(d) {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
	}
	for len(d)-i < width {
		i--
		d[i] = '0'
	}
	return append(b, d[i:]...)
}

// convTimestamp normalises TIMESTAMP to an absolute instant.
//
// SQL path: time.Time rendered by the server in the session zone ('+00:00')
// and built in loc=UTC (utils.go:230), so the instant is right only while
// the session zone and loc agree (both UTC): the backfill DSN must keep them
// so. '0000-00-00 00:00:00' arrives as time.Time{}.
// Binlog path: time.Unix(epoch) in time.Local (decodeTimestamp2,
// row_event.go:1353, :1688; parseFracTime returns v.Time whatever
// TimestampStringLocation says) — an absolute instant, so the zone is
// irrelevant; the zero TIMESTAMP arrives as the string
// "0000-00-00 00:00:00[.000]" (formatZeroTime).
// Strings (text protocol) are read as UTC wall clocks.
func convTimestamp(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() || t.Year() < minYear {
			return time.Time{}, fail(ReasonZeroDate, "zero timestamp")
		}
		return t, nil
	case string, []byte:
		c, err := convCivil(t)
		if err != nil {
			return time.Time{}, err
		}
		return c.in(time.UTC), nil
	}
	return time.Time{}, fail(ReasonUnconvertible, "TIMESTAMP column delivered Go type %T", v)
}

// convTime normalises TIME (a duration, not a time of day) to MySQL text
// "[-]hh:mm:ss[.f]" with exactly dec fractional digits. SQL path: []byte
// text with dec digits (formatBinaryTime, packets.go:1347); binlog path:
// string from decodeTime2 (row_event.go:1400) that omits a zero fraction ("12:00:00" for
// '12:00:00.000'), so the fraction is padded or cut to dec digits here.
func convTime(v any, dec int) (string, error) {
	var s string
	switch t := v.(type) {
	case []byte:
		s = string(t)
	case string:
		s = t
	default:
		return "", fail(ReasonUnconvertible, "TIME column delivered Go type %T", v)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(whole) < 8 || whole[len(whole)-3] != ':' || whole[len(whole)-6] != ':' {
		return "", fail(ReasonUnconvertible, "malformed TIME text")
	}
	if dec == 0 {
		return whole, nil
	}
	if len(frac) == dec {
		return s, nil
	}
	if len(frac) > dec {
		frac = frac[:dec]
	} else {
		frac += strings.Repeat("0", dec-len(frac))
	}
	return whole + "." + frac, nil
}

// validUTF8 guards values that become IoTDB STRING/TEXT.
func validUTF8(s string) error {
	if !utf8.ValidString(s) {
		return fail(ReasonUnconvertible, "value is not valid UTF-8")
	}
	return nil
}
