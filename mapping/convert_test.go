package mapping

// Table tests for the pure conversion functions. Each case is a Go value
// exactly as one of the two drivers delivers it:
//
//	SQL    = go-sql-driver/mysql v1.9.3 binaryRows.readRow (packets.go:1207),
//	         parseTime=true, loc=UTC, session time_zone '+00:00'
//	binlog = go-mysql v1.16.0 RowsEvent.decodeValue (replication/row_event.go:1267),
//	         ParseTime=true, UseDecimal=false
//
// Where both paths are listed for one MySQL value, the expected result is
// the same: that is the backfill/cdc equivalence this package promises.

import (
	"errors"
	"math"
	"testing"
	"time"
)

func reasonFor(err error) string {
	if err == nil {
		return ""
	}
	var ce *convError
	if errors.As(err, &ce) {
		return ce.reason
	}
	return "other"
}

func TestConvInteger(t *testing.T) {
	tests := []struct {
		name     string
		in       any
		width    int
		unsigned bool
		want     integer
		reason   string
	}{
		// TINYINT: SQL int64 sign/zero-extended by flagUnsigned (packets.go:1250-1257);
		// binlog int8 without signedness metadata, uint8 with it (row_event.go:1297-1303).
		{"tinyint min SQL", int64(-128), 8, false, integer{v: -128}, ""},
		{"tinyint min binlog", int8(-128), 8, false, integer{v: -128}, ""},
		{"tinyint max binlog", int8(127), 8, false, integer{v: 127}, ""},
		{"tinyint unsigned max SQL", int64(255), 8, true, integer{v: 255}, ""},
		{"tinyint unsigned max binlog+meta", uint8(255), 8, true, integer{v: 255}, ""},
		{"tinyint unsigned max binlog no meta", int8(-1), 8, true, integer{v: 255}, ""},
		{"tinyint unsigned 128 binlog no meta", int8(-128), 8, true, integer{v: 128}, ""},
		// SMALLINT (packets.go:1259; row_event.go:1304-1310)
		{"smallint min binlog", int16(math.MinInt16), 16, false, integer{v: math.MinInt16}, ""},
		{"smallint unsigned max SQL", int64(65535), 16, true, integer{v: 65535}, ""},
		{"smallint unsigned max binlog+meta", uint16(65535), 16, true, integer{v: 65535}, ""},
		{"smallint unsigned max binlog no meta", int16(-1), 16, true, integer{v: 65535}, ""},
		// MEDIUMINT: SQL int64 (fieldTypeInt24, packets.go:1268); binlog int32 /
		// uint32 from ParseBinaryInt24 / ParseBinaryUint24 (row_event.go:1311-1317).
		{"mediumint min binlog", int32(-8388608), 24, false, integer{v: -8388608}, ""},
		{"mediumint max SQL", int64(8388607), 24, false, integer{v: 8388607}, ""},
		{"mediumint unsigned max SQL", int64(16777215), 24, true, integer{v: 16777215}, ""},
		{"mediumint unsigned max binlog+meta", uint32(16777215), 24, true, integer{v: 16777215}, ""},
		{"mediumint unsigned max binlog no meta", int32(-1), 24, true, integer{v: 16777215}, ""},
		// INT (packets.go:1268; row_event.go:1290-1296)
		{"int min SQL", int64(math.MinInt32), 32, false, integer{v: math.MinInt32}, ""},
		{"int min binlog", int32(math.MinInt32), 32, false, integer{v: math.MinInt32}, ""},
		{"int unsigned max SQL", int64(math.MaxUint32), 32, true, integer{v: math.MaxUint32}, ""},
		{"int unsigned max binlog+meta", uint32(math.MaxUint32), 32, true, integer{v: math.MaxUint32}, ""},
		{"int unsigned max binlog no meta", int32(-1), 32, true, integer{v: math.MaxUint32}, ""},
		// BIGINT (packets.go:1277-1289; row_event.go:1318-1324)
		{"bigint min SQL", int64(math.MinInt64), 64, false, integer{v: math.MinInt64}, ""},
		{"bigint max binlog", int64(math.MaxInt64), 64, false, integer{v: math.MaxInt64}, ""},
		{"bigint unsigned 2^63-1 SQL", int64(math.MaxInt64), 64, true, integer{v: math.MaxInt64}, ""},
		// BIGINT UNSIGNED above 2^63-1: SQL delivers decimal text (uint64ToString, packets.go:1281).
		{"bigint unsigned 2^63 SQL", []byte("9223372036854775808"), 64, true, integer{u: 1 << 63, big: true}, ""},
		{"bigint unsigned max SQL", []byte("18446744073709551615"), 64, true, integer{u: math.MaxUint64, big: true}, ""},
		{"bigint unsigned max binlog+meta", uint64(math.MaxUint64), 64, true, integer{u: math.MaxUint64, big: true}, ""},
		{"bigint unsigned 2^63 binlog+meta", uint64(1 << 63), 64, true, integer{u: 1 << 63, big: true}, ""},
		{"bigint unsigned max binlog no meta", int64(-1), 64, true, integer{u: math.MaxUint64, big: true}, ""},
		{"bigint unsigned 2^63 binlog no meta", int64(math.MinInt64), 64, true, integer{u: 1 << 63, big: true}, ""},
		{"bigint unsigned small binlog+meta", uint64(42), 64, true, integer{v: 42}, ""},
		// YEAR: SQL int64 (fieldTypeYear, packets.go:1259); binlog int (row_event.go:1411-1418).
		{"year SQL", int64(2024), 16, true, integer{v: 2024}, ""},
		{"year binlog", int(2024), 16, true, integer{v: 2024}, ""},
		{"year 0000 SQL", int64(0), 16, true, integer{v: 0}, ""},
		{"year 0000 binlog", int(0), 16, true, integer{v: 0}, ""},
		{"garbage text", []byte("12a"), 32, false, integer{}, ReasonUnconvertible},
		{"wrong Go type", 1.5, 32, false, integer{}, ReasonUnconvertible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convInteger(tt.in, tt.width, tt.unsigned)
			if r := reasonFor(err); r != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", r, err, tt.reason)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConvFloat(t *testing.T) {
	// FLOAT: float32 from both paths (packets.go:1291; row_event.go:1329).
	f32 := float32(3.14)
	if got, err := convFloat32(f32); err != nil || got != f32 {
		t.Fatalf("convFloat32 = %v, %v", got, err)
	}
	if got := float32To64(f32); got != 3.14 {
		t.Fatalf("float32To64(3.14f) = %v, want 3.14 (shortest round-trip)", got)
	}
	if got := float32To64(math.MaxFloat32); got != 3.4028235e38 {
		t.Fatalf("float32To64(max) = %v", got)
	}
	// DOUBLE: float64 both (packets.go:1296; row_event.go:1332).
	for _, v := range []float64{0, -0.5, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		if got, err := convFloat64(v); err != nil || got != v {
			t.Fatalf("convFloat64(%v) = %v, %v", v, got, err)
		}
	}
	if _, err := convFloat64("x"); reasonFor(err) != ReasonUnconvertible {
		t.Fatalf("want unconvertible, got %v", err)
	}
}

func TestConvDecimal(t *testing.T) {
	// SQL: []byte (packets.go:1302); binlog: string (decodeDecimal, row_event.go:1535).
	exact := "12345678901234567890123456789012345.123456789012345678901234567891" // DECIMAL(65,30)
	exact = exact[:len(exact)-1]
	tests := []struct {
		name   string
		in     any
		want   string
		reason string
	}{
		{"65,30 SQL", []byte(exact), exact, ""},
		{"65,30 binlog", exact, exact, ""},
		{"negative SQL", []byte("-0.000000000000000000000000000001"), "-0.000000000000000000000000000001", ""},
		{"negative binlog", "-0.000000000000000000000000000001", "-0.000000000000000000000000000001", ""},
		{"zero with scale", "0.00", "0.00", ""},
		{"negative zero", "-0.00", "0.00", ""},
		{"leading zeros", "007.50", "7.50", ""},
		{"plus sign", "+1", "1", ""},
		{"no integer part", ".5", "0.5", ""},
		{"scale 0", []byte("123"), "123", ""},
		{"garbage", "1.2.3", "", ReasonUnconvertible},
		{"float input", 1.5, "", ReasonUnconvertible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convDecimal(tt.in)
			if r := reasonFor(err); r != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", r, err, tt.reason)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	// DOUBLE conversion goes from the exact text, correctly rounded: the
	// nearest float64 to 0.1000000000000000055511151231257827 is 0.1, while a
	// float of a float would be the nearest to a float32 rounding.
	d, err := decimalToDouble("0.100000000000000005551115123125782702")
	if err != nil || d != 0.1 {
		t.Fatalf("decimalToDouble = %v, %v", d, err)
	}
	d, _ = decimalToDouble(exact)
	if d != 1.2345678901234568e34 {
		t.Fatalf("decimalToDouble(65,30) = %v", d)
	}
}

func TestConvBit(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want uint64
	}{
		// SQL: []byte big-endian, (n+7)/8 bytes (packets.go:1302).
		{"bit1 SQL 1", []byte{1}, 1},
		{"bit1 SQL 0", []byte{0}, 0},
		{"bit10 SQL", []byte{0x02, 0x01}, 513},
		{"bit64 SQL max", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, math.MaxUint64},
		// binlog: int64 from decodeBit (row_event.go:1335, :1624).
		{"bit1 binlog", int64(1), 1},
		{"bit10 binlog", int64(513), 513},
		{"bit64 binlog max", int64(-1), math.MaxUint64},
	}
	for _, tt := range tests {
		got, err := convBit(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if _, err := convBit("x"); reasonFor(err) != ReasonUnconvertible {
		t.Errorf("string BIT: %v", err)
	}
}

func TestConvTextAndBytes(t *testing.T) {
	// VARCHAR: SQL []byte; binlog string (decodeString, row_event.go:1497).
	// TEXT: binlog []byte (MYSQL_TYPE_BLOB, decodeBlob row_event.go:1866).
	for _, in := range []any{[]byte("pump 7 – 東京 🚀"), "pump 7 – 東京 🚀"} {
		if got, err := convText(in); err != nil || got != "pump 7 – 東京 🚀" {
			t.Errorf("convText(%T) = %q, %v", in, got, err)
		}
	}
	// BINARY(4) 'ab': SQL []byte "ab\0\0" as stored; binlog string "ab" (the
	// binlog strips the 0x00 pad, Field_string::pack), re-padded to 4.
	for _, in := range []any{[]byte("ab\x00\x00"), "ab"} {
		got, err := convBytes(in, 4)
		if err != nil || string(got) != "ab\x00\x00" {
			t.Errorf("convBytes(%T) = %q, %v", in, got, err)
		}
	}
	// VARBINARY keeps trailing zeros on both paths (padTo 0).
	if got, _ := convBytes("a\x00", 0); string(got) != "a\x00" {
		t.Errorf("varbinary = %q", got)
	}
	// BLOB: []byte both.
	if got, _ := convBytes([]byte{0xff, 0}, 0); len(got) != 2 {
		t.Errorf("blob = %v", got)
	}
}

func TestConvEnumSet(t *testing.T) {
	els := []string{"low", "mid", "high"}
	idx := map[string]int{"low": 0, "mid": 1, "high": 2}
	tests := []struct {
		name   string
		in     any
		want   string
		reason string
	}{
		{"SQL label", []byte("mid"), "mid", ""},     // packets.go:1302
		{"binlog ordinal", int64(2), "mid", ""},     // row_event.go:1419: 1-based ordinal
		{"binlog last", int64(3), "high", ""},       //
		{"invalid member SQL", []byte(""), "", ""},  // MySQL's '' error member
		{"invalid member binlog", int64(0), "", ""}, //
		{"ordinal past end", int64(4), "", ReasonUnconvertible},
		{"unknown label", []byte("max"), "", ReasonUnconvertible},
	}
	for _, tt := range tests {
		got, err := convEnum(tt.in, els, idx)
		if reasonFor(err) != tt.reason || got != tt.want {
			t.Errorf("enum %s: got %q, %v; want %q %q", tt.name, got, err, tt.want, tt.reason)
		}
	}
	sets := []struct {
		name   string
		in     any
		want   string
		reason string
	}{
		{"SQL text", []byte("low,high"), "low,high", ""}, // packets.go:1302
		{"binlog mask", int64(0b101), "low,high", ""},    // row_event.go:1431 littleDecodeBit
		{"binlog all", int64(0b111), "low,mid,high", ""},
		{"empty SQL", []byte(""), "", ""},
		{"empty binlog", int64(0), "", ""},
		{"bits beyond members", int64(0b1000), "", ReasonUnconvertible},
	}
	for _, tt := range sets {
		got, err := convSet(tt.in, els)
		if reasonFor(err) != tt.reason || got != tt.want {
			t.Errorf("set %s: got %q, %v; want %q %q", tt.name, got, err, tt.want, tt.reason)
		}
	}
}

func TestConvJSON(t *testing.T) {
	// The same MySQL 8 JSON value as the SQL path renders it (server text,
	// ", " and ": " separators) and as go-mysql renders it from the binary
	// form: default json.Marshal (goccy, compact, HTML-escaped, doubles as
	// Go floats) and RenderJSONAsMySQLText (doubles with ".0", decimals bare).
	tests := []struct {
		name string
		sql  []byte
		bin  []string
		want string
	}{
		{
			"object",
			[]byte(`{"a": 1, "b": [1, 2.5, "x"], "ok": true, "nil": null}`),
			[]string{`{"a":1,"b":[1,2.5,"x"],"ok":true,"nil":null}`},
			`{"a": 1, "b": [1, 2.5, "x"], "ok": true, "nil": null}`,
		},
		{
			"doubles",
			[]byte(`[1.0, 1e15, 1e20, 1e21, 0.1, -0.0, 1e-7]`),
			[]string{
				`[1,1000000000000000,100000000000000000000,1e+21,0.1,-0,1e-07]`,         // goccy json.Marshal
				`[1.0,1000000000000000.0,100000000000000000000.0,1e+21,0.1,-0.0,1e-07]`, // text mode
			},
			`[1, 1000000000000000, 100000000000000000000, 1e+21, 0.1, -0, 1e-7]`,
		},
		{
			"big integers keep digits",
			[]byte(`[9223372036854775807, 18446744073709551615, -9223372036854775808]`),
			[]string{`[9223372036854775807,18446744073709551615,-9223372036854775808]`},
			`[9223372036854775807, 18446744073709551615, -9223372036854775808]`,
		},
		{
			"double above 2^53",
			[]byte(`[1.2345678901234568e16]`),
			[]string{`[12345678901234568]`},
			`[12345678901234568]`,
		},
		{
			"strings and escapes",
			[]byte(`{"k": "<a&b> \"q\" \\ \n\t \u0001 東京 🚀"}`),
			[]string{
				`{"k":"\u003ca\u0026b\u003e \"q\" \\ \n\t \u0001 東京 🚀"}`, // json.Marshal escapes HTML
				`{"k":"<a&b> \"q\" \\ \n\t \u0001 東京 🚀"}`,
			},
			`{"k": "<a&b> \"q\" \\ \n\t \u0001 東京 🚀"}`,
		},
		{
			"decimal in JSON (text mode renders it bare)",
			[]byte(`{"price": 1.10}`),
			[]string{`{"price":1.10}`},
			`{"price": 1.1}`,
		},
		{"empty document is null", []byte(``), []string{""}, `null`},
		{"scalar", []byte(`"x"`), []string{`"x"`}, `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convJSON(tt.sql)
			if err != nil || got != tt.want {
				t.Fatalf("SQL: got %s, %v; want %s", got, err, tt.want)
			}
			for _, b := range tt.bin {
				got, err := convJSON(b)
				if err != nil || got != tt.want {
					t.Fatalf("binlog %s: got %s, %v; want %s", b, got, err, tt.want)
				}
			}
		})
	}
	// binlog empty JSON is []byte{} (row_event.go:1462).
	if got, _ := convJSON([]byte{}); got != "null" {
		t.Fatalf("empty = %q", got)
	}
	// Not JSON (only possible for an unvalidated text column): unchanged.
	if got, _ := convJSON([]byte(`{"a":`)); got != `{"a":` {
		t.Fatalf("invalid = %q", got)
	}
}

func TestConvCivil(t *testing.T) {
	utc := time.UTC
	tests := []struct {
		name   string
		in     any
		want   civil
		reason string
	}{
		// DATE: SQL time.Time in loc (utils.go:230 parseBinaryDateTime);
		// binlog always a string (row_event.go:1402).
		{"date SQL", time.Date(2024, 3, 5, 0, 0, 0, 0, utc), civil{2024, 3, 5, 0, 0, 0, 0}, ""},
		{"date binlog", "2024-03-05", civil{2024, 3, 5, 0, 0, 0, 0}, ""},
		{"date SQL text (SelectList)", []byte("2024-03-05"), civil{2024, 3, 5, 0, 0, 0, 0}, ""},
		{"zero date SQL", time.Time{}, civil{}, ReasonZeroDate}, // length 0 (utils.go:232)
		{"zero date binlog", "0000-00-00", civil{}, ReasonZeroDate},
		{"zero in date binlog", "2024-00-10", civil{}, ReasonZeroDate},
		{"zero day binlog", "2024-01-00", civil{}, ReasonZeroDate},
		{"feb 30 text", "2024-02-30", civil{}, ReasonZeroDate},
		{"year 0001 binlog", "0001-01-01", civil{}, ReasonZeroDate},
		{"year 999 SQL", time.Date(999, 1, 1, 0, 0, 0, 0, utc), civil{}, ReasonZeroDate},
		{"date max", "9999-12-31", civil{9999, 12, 31, 0, 0, 0, 0}, ""},
		// DATETIME(6): SQL time.Time with micro*1000 ns (utils.go:253);
		// binlog time.Time UTC (decodeDatetime2, row_event.go:1716).
		{"datetime6 SQL", time.Date(2024, 3, 5, 10, 11, 12, 123456000, utc), civil{2024, 3, 5, 10, 11, 12, 123456000}, ""},
		{"datetime6 binlog", time.Date(2024, 3, 5, 10, 11, 12, 123456000, utc), civil{2024, 3, 5, 10, 11, 12, 123456000}, ""},
		// SQL path without loc=UTC still carries the wall clock in its own zone.
		{"datetime SQL loc Berlin", time.Date(2024, 3, 5, 10, 11, 12, 0, mustZone(t, "Europe/Berlin")), civil{2024, 3, 5, 10, 11, 12, 0}, ""},
		// Binlog DATETIME before 1970 is a string even with ParseTime (row_event.go:1766).
		{"datetime 1969 SQL", time.Date(1969, 12, 31, 23, 59, 59, 500000000, utc), civil{1969, 12, 31, 23, 59, 59, 500000000}, ""},
		{"datetime 1969 binlog", "1969-12-31 23:59:59.500000", civil{1969, 12, 31, 23, 59, 59, 500000000}, ""},
		{"datetime3 binlog frac", "1969-12-31 23:59:59.500", civil{1969, 12, 31, 23, 59, 59, 500000000}, ""},
		{"zero datetime binlog", "0000-00-00 00:00:00", civil{}, ReasonZeroDate},
		{"zero datetime6 binlog", "0000-00-00 00:00:00.000000", civil{}, ReasonZeroDate},
		{"zero in datetime binlog", "2024-00-10 12:00:00", civil{}, ReasonZeroDate},
		{"garbage", "yesterday", civil{}, ReasonUnconvertible},
		{"bad clock", "2024-01-01 25:00:00", civil{}, ReasonUnconvertible},
		{"int", int64(5), civil{}, ReasonUnconvertible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convCivil(tt.in)
			if r := reasonFor(err); r != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", r, err, tt.reason)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	c := civil{2024, 3, 5, 1, 2, 3, 120000000}
	for digits, want := range map[int]string{-1: "2024-03-05", 0: "2024-03-05 01:02:03", 3: "2024-03-05 01:02:03.120", 6: "2024-03-05 01:02:03.120000"} {
		if got := c.text(digits); got != want {
			t.Errorf("text(%d) = %q, want %q", digits, got, want)
		}
	}
}

func TestConvTimestamp(t *testing.T) {
	want := time.Date(2024, 3, 5, 10, 11, 12, 345000000, time.UTC)
	berlin := mustZone(t, "Europe/Berlin")
	tests := []struct {
		name   string
		in     any
		reason string
	}{
		// SQL: rendered in session zone +00:00, parsed in loc=UTC (utils.go:230).
		{"SQL", time.Date(2024, 3, 5, 10, 11, 12, 345000000, time.UTC), ""},
		// binlog: time.Unix(...) in time.Local (decodeTimestamp2, row_event.go:1688):
		// the same instant whatever the process zone.
		{"binlog local", time.Unix(want.Unix(), 345000000), ""},
		{"binlog other zone", want.In(berlin), ""},
		{"text UTC", "2024-03-05 10:11:12.345", ""},
		{"zero SQL", time.Time{}, ReasonZeroDate},
		{"zero binlog", "0000-00-00 00:00:00", ReasonZeroDate}, // row_event.go:1358 / formatZeroTime
		{"zero binlog frac", "0000-00-00 00:00:00.000", ReasonZeroDate},
	}
	for _, tt := range tests {
		got, err := convTimestamp(tt.in)
		if r := reasonFor(err); r != tt.reason {
			t.Errorf("%s: reason %q (%v), want %q", tt.name, r, err, tt.reason)
			continue
		}
		if err == nil && !got.Equal(want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, want)
		}
	}
}

func TestConvTime(t *testing.T) {
	tests := []struct {
		in   any
		dec  int
		want string
	}{
		{[]byte("12:00:00.000"), 3, "12:00:00.000"}, // SQL formatBinaryTime (packets.go:1347)
		{"12:00:00", 3, "12:00:00.000"},             // binlog decodeTime2 drops a zero fraction
		{"-838:59:59", 0, "-838:59:59"},
		{[]byte("-838:59:59"), 0, "-838:59:59"},
		{"01:02:03.5", 6, "01:02:03.500000"},
		{"01:02:03.123456", 3, "01:02:03.123"},
	}
	for _, tt := range tests {
		if got, err := convTime(tt.in, tt.dec); err != nil || got != tt.want {
			t.Errorf("convTime(%v, %d) = %q, %v; want %q", tt.in, tt.dec, got, err, tt.want)
		}
	}
}

func TestInstantAndEpochScaling(t *testing.T) {
	tm := time.Date(2024, 3, 5, 10, 11, 12, 123456789, time.UTC)
	for perSec, want := range map[int64]int64{1e3: 1709633472123, 1e6: 1709633472123456, 1e9: 1709633472123456789} {
		if got, err := instantTo(tm, perSec); err != nil || got != want {
			t.Errorf("instantTo(%d) = %d, %v; want %d", perSec, got, err, want)
		}
	}
	// Before 1970 truncation goes toward negative infinity.
	pre := time.Date(1969, 12, 31, 23, 59, 59, 999500000, time.UTC)
	if got, _ := instantTo(pre, 1e3); got != -1 {
		t.Errorf("pre-epoch ms = %d, want -1", got)
	}
	// ns precision overflows int64 after 2262.
	if _, err := instantTo(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 1e9); reasonFor(err) != ReasonOutOfRange {
		t.Errorf("2300 at ns: %v", err)
	}
	scale := []struct {
		v, unit, prec, want int64
		reason              string
	}{
		{1709633472, 1, 1e3, 1709633472000, ""},
		{1709633472123, 1e3, 1e3, 1709633472123, ""},
		{1709633472123456, 1e6, 1e3, 1709633472123, ""},
		{-1, 1e6, 1e3, -1, ""},    // floor, not toward zero
		{-1000, 1e6, 1e3, -1, ""}, // exact
		{-1001, 1e6, 1e3, -2, ""}, // floor
		{1709633472123456789, 1e9, 1e6, 1709633472123456, ""},
		{math.MaxInt64, 1, 1e3, 0, ReasonOutOfRange},
		{math.MinInt64 / 10, 1, 1e3, 0, ReasonOutOfRange},
	}
	for _, s := range scale {
		got, err := scaleEpoch(s.v, s.unit, s.prec)
		if reasonFor(err) != s.reason || (err == nil && got != s.want) {
			t.Errorf("scaleEpoch(%d,%d,%d) = %d, %v; want %d %q", s.v, s.unit, s.prec, got, err, s.want, s.reason)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}
