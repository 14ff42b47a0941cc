package mapping

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// readingsSchema is sensor_readings with one column of every family, as
// LoadTableSchema would describe it.
func readingsSchema() *TableSchema {
	return &TableSchema{
		Database: "factory", Name: "sensor_readings", PrimaryKey: []string{"id"},
		Columns: []Column{
			{Name: "id", DataType: "bigint", ColumnType: "bigint(20)"},
			{Name: "device_id", DataType: "varchar", ColumnType: "varchar(64)", Charset: "utf8mb4", Nullable: true},
			{Name: "site", DataType: "varchar", ColumnType: "varchar(64)", Charset: "utf8mb4"},
			{Name: "created_at", DataType: "datetime", ColumnType: "datetime(6)", DatetimePrecision: 6, Nullable: true},
			{Name: "ts", DataType: "timestamp", ColumnType: "timestamp(3)", DatetimePrecision: 3},
			{Name: "ts_ms", DataType: "bigint", ColumnType: "bigint(20)"},
			{Name: "temperature", DataType: "double", ColumnType: "double", Nullable: true},
			{Name: "humidity", DataType: "float", ColumnType: "float"},
			{Name: "ok", DataType: "tinyint", ColumnType: "tinyint(1)"},
			{Name: "small", DataType: "smallint", ColumnType: "smallint(5) unsigned", Unsigned: true},
			{Name: "cnt", DataType: "int", ColumnType: "int(10) unsigned", Unsigned: true},
			{Name: "big", DataType: "bigint", ColumnType: "bigint(20) unsigned", Unsigned: true},
			{Name: "price", DataType: "decimal", ColumnType: "decimal(65,30)", Precision: 65, Scale: 30},
			{Name: "flag", DataType: "bit", ColumnType: "bit(1)", Precision: 1},
			{Name: "bits", DataType: "bit", ColumnType: "bit(10)", Precision: 10},
			{Name: "level", DataType: "enum", ColumnType: "enum('low','mid','high')", Elements: []string{"low", "mid", "high"}},
			{Name: "opts", DataType: "set", ColumnType: "set('a','b','c')", Elements: []string{"a", "b", "c"}},
			{Name: "doc", DataType: "json", ColumnType: "json"},
			{Name: "day", DataType: "date", ColumnType: "date", Nullable: true},
			{Name: "yr", DataType: "year", ColumnType: "year(4)", Unsigned: true},
			{Name: "raw", DataType: "varbinary", ColumnType: "varbinary(16)"},
			{Name: "bin4", DataType: "binary", ColumnType: "binary(4)"},
			{Name: "note", DataType: "text", ColumnType: "text", Charset: "utf8mb4"},
			{Name: "dur", DataType: "time", ColumnType: "time(3)", DatetimePrecision: 3},
			{Name: "geo", DataType: "point", ColumnType: "point"},
			{Name: "legacy", DataType: "varchar", ColumnType: "varchar(10)", Charset: "latin1"},
		},
	}
}

var allMeasurements = []config.Measurement{
	{Column: "temperature"}, {Column: "humidity"}, {Column: "ok"}, {Column: "small"}, {Column: "cnt"},
	{Column: "big"}, {Column: "price"}, {Column: "flag"}, {Column: "bits"}, {Column: "level"}, {Column: "opts"},
	{Column: "doc"}, {Column: "day"}, {Column: "yr"}, {Column: "raw"}, {Column: "bin4"}, {Column: "note"},
	{Column: "dur"}, {Column: "ts", Name: "ts"},
}

func baseMapping() *config.Mapping {
	return &config.Mapping{
		Table:        "sensor_readings",
		Device:       "root.factory.${site}.${device_id}",
		Time:         config.TimeSpec{Column: "created_at"},
		Measurements: append([]config.Measurement(nil), allMeasurements...),
		Pos:          config.Pos{File: "mappings/readings.yaml", Line: 3},
	}
}

func mustCompile(t *testing.T, m *config.Mapping, o Options) *Mapper {
	t.Helper()
	mp, err := Compile(m, readingsSchema(), o)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return mp
}

// rowOf builds a row in Columns() order from named values.
func rowOf(t *testing.T, mp *Mapper, vals map[string]any) []any {
	t.Helper()
	row := make([]any, len(mp.Columns()))
	for i, c := range mp.Columns() {
		v, ok := vals[c]
		if !ok {
			t.Fatalf("row lacks column %s", c)
		}
		row[i] = v
	}
	return row
}

var ts0 = time.Date(2024, 3, 5, 10, 11, 12, 123456000, time.UTC)

// sqlRow is one row exactly as go-sql-driver delivers it (binary protocol,
// parseTime, loc=UTC): see convert_test.go for the source lines per type.
func sqlRow() map[string]any {
	return map[string]any{
		"id": int64(42), "device_id": []byte("pump-7.b"), "site": []byte("berlin"),
		"created_at": ts0, "ts": time.Date(2024, 3, 5, 10, 11, 12, 345000000, time.UTC), "ts_ms": int64(1709633472123),
		"temperature": 21.5, "humidity": float32(40.1), "ok": int64(1), "small": int64(65535),
		"cnt": int64(math.MaxUint32), "big": []byte("18446744073709551615"),
		"price": []byte("12345678901234567890123456789012345.123456789012345678901234567890"),
		"flag":  []byte{1}, "bits": []byte{0x02, 0x01}, "level": []byte("mid"), "opts": []byte("a,c"),
		"doc": []byte(`{"a": 1, "b": [true, null]}`), "day": time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
		"yr": int64(2024), "raw": []byte{0, 1, 2}, "bin4": []byte("ab\x00\x00"), "note": []byte("hello 東京 🚀"),
		"dur": []byte("12:00:00.000"),
	}
}

// binlogRow is the same row as go-mysql's decodeValue delivers it
// (ParseTime, UseDecimal=false, signedness metadata present): see
// convert_test.go for the source lines per type.
func binlogRow() map[string]any {
	return map[string]any{
		"id": int64(42), "device_id": "pump-7.b", "site": "berlin",
		"created_at": ts0, "ts": time.Unix(1709633472, 345000000), "ts_ms": int64(1709633472123),
		"temperature": 21.5, "humidity": float32(40.1), "ok": int8(1), "small": uint16(65535),
		"cnt": uint32(math.MaxUint32), "big": uint64(math.MaxUint64),
		"price": "12345678901234567890123456789012345.123456789012345678901234567890",
		"flag":  int64(1), "bits": int64(513), "level": int64(2), "opts": int64(0b101),
		"doc": `{"a":1,"b":[true,null]}`, "day": "2024-03-05",
		"yr": int(2024), "raw": "\x00\x01\x02", "bin4": "ab", "note": []byte("hello 東京 🚀"),
		"dur": "12:00:00",
	}
}

// binlogRowNoMeta is binlogRow from a server without signedness metadata
// (binlog_row_metadata=MINIMAL on old servers): unsigned values arrive signed.
func binlogRowNoMeta() map[string]any {
	r := binlogRow()
	r["small"] = int16(-1)
	r["cnt"] = int32(-1)
	r["big"] = int64(-1)
	return r
}

func TestMapBothPathsIdentical(t *testing.T) {
	m := baseMapping()
	m.Unsigned = "string"
	mp := mustCompile(t, m, Options{})
	want := Point{
		Device: "root.factory.berlin.`pump-7.b`",
		Time:   1709633472123,
		Schema: mp.Schema(),
		Values: []any{
			21.5, float32(40.1), true, int32(65535), int64(math.MaxUint32),
			"18446744073709551615", 1.2345678901234568e34, true, int64(513), "mid", "a,c",
			`{"a": 1, "b": [true, null]}`, time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC), int32(2024),
			[]byte{0, 1, 2}, []byte("ab\x00\x00"), "hello 東京 🚀", "12:00:00.000", int64(1709633472345),
		},
	}
	for name, r := range map[string]map[string]any{"sql": sqlRow(), "binlog": binlogRow(), "binlog-no-signedness": binlogRowNoMeta()} {
		got, err := mp.Map(rowOf(t, mp, r))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got, want)
		}
	}
	s := mp.Schema()
	wantTypes := []client.TSDataType{client.DOUBLE, client.FLOAT, client.BOOLEAN, client.INT32, client.INT64,
		client.STRING, client.DOUBLE, client.BOOLEAN, client.INT64, client.STRING, client.STRING,
		client.STRING, client.DATE, client.INT32, client.BLOB, client.BLOB, client.STRING, client.STRING, client.TIMESTAMP}
	if !reflect.DeepEqual(s.Types, wantTypes) {
		t.Errorf("types = %v, want %v", s.Types, wantTypes)
	}
	if s.Database != "root.factory" || !s.Aligned || s.Model != "tree" || s.Categories != nil {
		t.Errorf("schema = %+v", s)
	}
}

func TestColumnsOrderAndKey(t *testing.T) {
	m := baseMapping()
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "ID"}, {Column: "temperature", Name: "t2"}}
	mp := mustCompile(t, m, Options{})
	want := []string{"created_at", "site", "device_id", "temperature", "id"}
	if !reflect.DeepEqual(mp.Columns(), want) {
		t.Fatalf("Columns = %v, want %v", mp.Columns(), want)
	}
	row := []any{ts0, "s", "d", 1.0, int64(42)}
	if got := mp.KeyString(row); got != "id=42" {
		t.Errorf("KeyString = %q", got)
	}
	if mp.Table() != "sensor_readings" {
		t.Errorf("Table = %q", mp.Table())
	}
	sel := mp.SelectList()
	if sel[0] != "CAST(`created_at` AS CHAR) AS `created_at`" || sel[1] != "`site`" {
		t.Errorf("SelectList = %v", sel)
	}
	p, err := mp.Map(row)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Values, []any{1.0, int64(42), 1.0}) {
		t.Errorf("values = %#v", p.Values)
	}
	if _, err := mp.Map(row[:3]); err == nil || errors.As(err, new(*DirtyError)) {
		t.Errorf("short row: want a non-dirty error, got %v", err)
	}
}

func dirtyReason(t *testing.T, err error) (*DirtyError, string) {
	t.Helper()
	var de *DirtyError
	if !errors.As(err, &de) {
		t.Fatalf("want *DirtyError, got %v", err)
	}
	return de, de.Reason
}

func TestMapDirtyRows(t *testing.T) {
	mp := mustCompile(t, baseMapping(), Options{})
	tests := []struct {
		name   string
		patch  map[string]any
		column string
		reason string
	}{
		{"null device", map[string]any{"device_id": nil}, "device_id", ReasonNullDevice},
		{"null time", map[string]any{"created_at": nil}, "created_at", ReasonNullTime},
		{"zero time SQL", map[string]any{"created_at": time.Time{}}, "created_at", ReasonZeroDate},
		{"zero time binlog", map[string]any{"created_at": "0000-00-00 00:00:00.000000"}, "created_at", ReasonZeroDate},
		{"zero date SQL", map[string]any{"day": time.Time{}}, "day", ReasonZeroDate},
		{"zero date binlog", map[string]any{"day": "0000-00-00"}, "day", ReasonZeroDate},
		{"zero in date binlog", map[string]any{"day": "2024-00-10"}, "day", ReasonZeroDate},
		{"bigint unsigned overflow SQL", map[string]any{"big": []byte("9223372036854775808")}, "big", ReasonUnsignedOverflow},
		{"bigint unsigned overflow binlog", map[string]any{"big": uint64(1 << 63)}, "big", ReasonUnsignedOverflow},
		{"bool out of range", map[string]any{"ok": int64(2)}, "ok", ReasonOutOfRange},
		{"empty device", map[string]any{"device_id": []byte("")}, "device_id", ReasonIllegalPath},
		{"control char device", map[string]any{"device_id": "a\nb"}, "device_id", ReasonIllegalPath},
		{"enum ordinal past end", map[string]any{"level": int64(9)}, "level", ReasonUnconvertible},
		{"unexpected Go type", map[string]any{"temperature": "warm"}, "temperature", ReasonUnconvertible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sqlRow()
			r["big"] = int64(7)
			for k, v := range tt.patch {
				r[k] = v
			}
			_, err := mp.Map(rowOf(t, mp, r))
			de, reason := dirtyReason(t, err)
			if reason != tt.reason || de.Column != tt.column || de.Table != "sensor_readings" || de.Key != "id=42" {
				t.Fatalf("got %+v, want reason %s column %s", de, tt.reason, tt.column)
			}
			if !strings.Contains(de.Error(), tt.reason) {
				t.Fatalf("Error() = %q", de.Error())
			}
		})
	}
}

func TestZeroDatePolicyNull(t *testing.T) {
	m := baseMapping()
	m.ZeroDate = "null"
	m.Unsigned = "clip"
	mp := mustCompile(t, m, Options{})
	dayIdx := -1
	for i, name := range mp.Schema().Measurements {
		if name == "day" {
			dayIdx = i
		}
	}
	for _, zero := range []any{time.Time{}, "0000-00-00", "2024-00-10"} {
		r := sqlRow()
		r["day"] = zero
		row := rowOf(t, mp, r)
		p, err := mp.Map(row)
		if err != nil {
			t.Fatalf("%v: %v", zero, err)
		}
		if p.Values[dayIdx] != nil {
			t.Fatalf("%v: day = %v, want NULL", zero, p.Values[dayIdx])
		}
		if got := mp.NullMeasurements(row); !reflect.DeepEqual(got, []int{dayIdx}) {
			t.Fatalf("NullMeasurements = %v, want [%d]", got, dayIdx)
		}
	}
	// The time column never becomes NULL.
	r := sqlRow()
	r["created_at"] = "0000-00-00 00:00:00"
	if _, err := mp.Map(rowOf(t, mp, r)); err == nil {
		t.Fatal("zero time column must stay dirty under zero_date: null")
	} else if _, reason := dirtyReason(t, err); reason != ReasonZeroDate {
		t.Fatalf("reason = %s", reason)
	}
	// NULL source values are reported too; a full row reports none.
	r = sqlRow()
	r["temperature"] = nil
	if got := mp.NullMeasurements(rowOf(t, mp, r)); !reflect.DeepEqual(got, []int{0}) {
		t.Fatalf("NullMeasurements = %v", got)
	}
	if got := mp.NullMeasurements(rowOf(t, mp, sqlRow())); got != nil {
		t.Fatalf("NullMeasurements(full) = %v", got)
	}
}

func TestBigintUnsignedPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy string
		typ    client.TSDataType
		in     []any // SQL, binlog with metadata, binlog without
		want   any
		reason string
	}{
		{"", client.INT64, []any{[]byte("18446744073709551615"), uint64(math.MaxUint64), int64(-1)}, nil, ReasonUnsignedOverflow},
		{"error", client.INT64, []any{[]byte("9223372036854775808"), uint64(1 << 63), int64(math.MinInt64)}, nil, ReasonUnsignedOverflow},
		{"clip", client.INT64, []any{[]byte("18446744073709551615"), uint64(math.MaxUint64), int64(-1)}, int64(math.MaxInt64), ""},
		{"string", client.STRING, []any{[]byte("18446744073709551615"), uint64(math.MaxUint64), int64(-1)}, "18446744073709551615", ""},
		{"string", client.STRING, []any{int64(5), uint64(5), int64(5)}, "5", ""},
		{"error", client.INT64, []any{int64(math.MaxInt64), uint64(math.MaxInt64), int64(math.MaxInt64)}, int64(math.MaxInt64), ""},
	} {
		m := baseMapping()
		m.Unsigned = tt.policy
		m.Measurements = []config.Measurement{{Column: "big"}}
		mp := mustCompile(t, m, Options{})
		if got := mp.Schema().Types[0]; got != tt.typ {
			t.Errorf("policy %q: type %v, want %v", tt.policy, got, tt.typ)
		}
		for _, in := range tt.in {
			p, err := mp.Map([]any{ts0, "s", "d", in, int64(1)})
			if tt.reason != "" {
				if _, reason := dirtyReason(t, err); reason != tt.reason {
					t.Errorf("policy %q %T: reason %s", tt.policy, in, reason)
				}
				continue
			}
			if err != nil || p.Values[0] != tt.want {
				t.Errorf("policy %q %T(%v): got %#v, %v; want %#v", tt.policy, in, in, p.Values, err, tt.want)
			}
		}
	}
}

func TestTimePrecisionAndZones(t *testing.T) {
	berlin := "Europe/Berlin"
	tests := []struct {
		name      string
		spec      config.TimeSpec
		precision string
		in        []any // both paths' values for one row
		want      int64
		reason    string
	}{
		{"datetime6 ms truncates", config.TimeSpec{Column: "created_at"}, "ms",
			[]any{time.Date(2024, 3, 5, 10, 11, 12, 123999000, time.UTC), "2024-03-05 10:11:12.123999"}, 1709633472123, ""},
		{"datetime6 us", config.TimeSpec{Column: "created_at"}, "us",
			[]any{time.Date(2024, 3, 5, 10, 11, 12, 123456000, time.UTC), "2024-03-05 10:11:12.123456"}, 1709633472123456, ""},
		{"datetime6 ns", config.TimeSpec{Column: "created_at"}, "ns",
			[]any{time.Date(2024, 3, 5, 10, 11, 12, 123456000, time.UTC)}, 1709633472123456000, ""},
		{"pre-1970 ms floors", config.TimeSpec{Column: "created_at"}, "ms",
			[]any{time.Date(1969, 12, 31, 23, 59, 59, 999500000, time.UTC), "1969-12-31 23:59:59.999500"}, -1, ""},
		// Europe/Berlin: wall clock interpreted in the zone.
		{"berlin winter", config.TimeSpec{Column: "created_at", Zone: berlin}, "ms",
			[]any{time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC), "2024-01-15 12:00:00.000000"}, 1705316400000, ""},
		{"berlin before spring gap", config.TimeSpec{Column: "created_at", Zone: berlin}, "ms",
			[]any{time.Date(2024, 3, 31, 1, 59, 59, 0, time.UTC)}, 1711846799000, ""},
		// 02:30 does not exist on 2024-03-31 in Berlin: Go's time.Date applies
		// the offset in force before the gap (+01:00) = 01:30 UTC.
		{"berlin in spring gap", config.TimeSpec{Column: "created_at", Zone: berlin}, "ms",
			[]any{time.Date(2024, 3, 31, 2, 30, 0, 0, time.UTC), "2024-03-31 02:30:00"}, 1711848600000, ""},
		{"berlin after spring gap", config.TimeSpec{Column: "created_at", Zone: berlin}, "ms",
			[]any{time.Date(2024, 3, 31, 3, 0, 0, 0, time.UTC)}, 1711846800000, ""},
		// 02:30 happens twice on 2024-10-27: time.Date picks the second (CET, +01:00).
		{"berlin ambiguous autumn", config.TimeSpec{Column: "created_at", Zone: berlin}, "ms",
			[]any{time.Date(2024, 10, 27, 2, 30, 0, 0, time.UTC), "2024-10-27 02:30:00"}, 1729992600000, ""},
		// TIMESTAMP is absolute: the zone does not apply.
		{"timestamp ignores zone", config.TimeSpec{Column: "ts", Zone: berlin}, "ms",
			[]any{time.Date(2024, 3, 5, 10, 11, 12, 345000000, time.UTC), time.Unix(1709633472, 345000000)}, 1709633472345, ""},
		{"timestamp zero", config.TimeSpec{Column: "ts"}, "ms",
			[]any{time.Time{}, "0000-00-00 00:00:00.000"}, 0, ReasonZeroDate},
		// DATE time column: midnight in the zone.
		{"date in berlin", config.TimeSpec{Column: "day", Zone: berlin}, "ms",
			[]any{time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC), "2024-03-05"}, 1709593200000, ""},
		// Integer epochs.
		{"epoch ms to ms", config.TimeSpec{Column: "ts_ms", Unit: "ms"}, "ms", []any{int64(1709633472123)}, 1709633472123, ""},
		{"epoch ms to ns", config.TimeSpec{Column: "ts_ms", Unit: "ms"}, "ns", []any{int64(1709633472123)}, 1709633472123000000, ""},
		{"epoch s to us", config.TimeSpec{Column: "ts_ms", Unit: "s"}, "us", []any{int64(1709633472)}, 1709633472000000, ""},
		{"epoch ns to ms floors", config.TimeSpec{Column: "ts_ms", Unit: "ns"}, "ms", []any{int64(-1)}, -1, ""},
		{"epoch us written as ms: IoTDB range check", config.TimeSpec{Column: "ts_ms", Unit: "ms"}, "ms",
			[]any{int64(1709633472123456)}, 0, ReasonOutOfRange},
		{"epoch overflow at ns", config.TimeSpec{Column: "ts_ms", Unit: "s"}, "ns", []any{int64(1) << 40}, 0, ReasonOutOfRange},
		{"datetime past 2262 at ns", config.TimeSpec{Column: "created_at"}, "ns",
			[]any{time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), "2300-01-01 00:00:00"}, 0, ReasonOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseMapping()
			m.Time = tt.spec
			m.Measurements = []config.Measurement{{Column: "temperature"}}
			mp := mustCompile(t, m, Options{Precision: tt.precision})
			for _, in := range tt.in {
				row := make([]any, len(mp.Columns()))
				for i, c := range mp.Columns() {
					switch c {
					case tt.spec.Column:
						row[i] = in
					case "site", "device_id":
						row[i] = "x"
					case "temperature":
						row[i] = 1.0
					default:
						row[i] = int64(1)
					}
				}
				dev, ts, err := mp.DeviceAndTime(row)
				if tt.reason != "" {
					if _, reason := dirtyReason(t, err); reason != tt.reason {
						t.Fatalf("%T: reason %s", in, reason)
					}
					continue
				}
				if err != nil || ts != tt.want || dev != "root.factory.x.x" {
					t.Fatalf("%T(%v): got %q %d, %v; want %d", in, in, dev, ts, err, tt.want)
				}
			}
		})
	}
}

func TestDeviceNodes(t *testing.T) {
	mp := mustCompile(t, baseMapping(), Options{})
	tests := []struct {
		id   any
		want string
	}{
		{"pump-7.b", "`pump-7.b`"},
		{"pump 7", "`pump 7`"},
		{"a`b", "`a``b`"},
		{"東京工場", "東京工場"},
		{"pump🚀", "`pump🚀`"},
		{"42", "`42`"},
		{"1e3", "`1e3`"},
		{"time", "`time`"},
		{"Root", "`Root`"},
		{"TimeStamp", "`TimeStamp`"},
		{"rooT", "`rooT`"},
		{"tame", "tame"},
		{"timestamps", "timestamps"},
		{"pump_7", "pump_7"},
		{[]byte("ß"), "`ß`"},
	}
	for _, tt := range tests {
		r := sqlRow()
		r["big"] = int64(1)
		r["device_id"] = tt.id
		p, err := mp.Map(rowOf(t, mp, r))
		if err != nil {
			t.Fatalf("%v: %v", tt.id, err)
		}
		if want := "root.factory.berlin." + tt.want; p.Device != want {
			t.Errorf("%v: device %s, want %s", tt.id, p.Device, want)
		}
	}
}

func TestDeviceTemplateKinds(t *testing.T) {
	m := baseMapping()
	m.Device = "root.plant.`my-factory`.line_${site}.${id}.${day}.${ts}"
	m.Measurements = []config.Measurement{{Column: "temperature"}}
	mp := mustCompile(t, m, Options{})
	r := sqlRow()
	p, err := mp.Map(rowOf(t, mp, r))
	if err != nil {
		t.Fatal(err)
	}
	want := "root.plant.`my-factory`.line_berlin.`42`.`2024-03-05`.`2024-03-05 10:11:12.345`"
	if p.Device != want {
		t.Fatalf("device %s, want %s", p.Device, want)
	}
	// Binlog values render identically.
	b := binlogRow()
	p2, err := mp.Map(rowOf(t, mp, b))
	if err != nil || p2.Device != want {
		t.Fatalf("binlog device %s, %v", p2.Device, err)
	}
	if mp.Schema().Database != "root.plant" {
		t.Fatalf("database %s", mp.Schema().Database)
	}
}

func TestMeasurementNamesQuoted(t *testing.T) {
	m := baseMapping()
	m.Measurements = []config.Measurement{{Column: "temperature", Name: "temp.c"}, {Column: "ts", Name: "time"}, {Column: "humidity", Name: "湿度"}}
	mp := mustCompile(t, m, Options{})
	want := []string{"`temp.c`", "`time`", "湿度"}
	if !reflect.DeepEqual(mp.Schema().Measurements, want) {
		t.Fatalf("measurements = %v, want %v", mp.Schema().Measurements, want)
	}
}

func TestTableModel(t *testing.T) {
	m := baseMapping()
	m.Device = "readings"
	m.Tags = []string{"site", "device_id"}
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "level"}}
	mp := mustCompile(t, m, Options{Model: "table", Database: "factory"})
	s := mp.Schema()
	if s.Model != "table" || s.TargetTable != "readings" || s.Database != "factory" || !s.Aligned {
		t.Fatalf("schema %+v", s)
	}
	if !reflect.DeepEqual(s.Measurements, []string{"site", "device_id", "temperature", "level"}) ||
		!reflect.DeepEqual(s.Types, []client.TSDataType{client.STRING, client.STRING, client.DOUBLE, client.STRING}) ||
		!reflect.DeepEqual(s.Categories, []client.ColumnCategory{client.TAG, client.TAG, client.FIELD, client.FIELD}) {
		t.Fatalf("schema %+v", s)
	}
	for _, r := range []map[string]any{sqlRow(), binlogRow()} {
		p, err := mp.Map(rowOf(t, mp, r))
		if err != nil {
			t.Fatal(err)
		}
		if p.Device != "berlin\x00pump-7.b" || !reflect.DeepEqual(p.Values, []any{"berlin", "pump-7.b", 21.5, "mid"}) {
			t.Fatalf("point %+v", p)
		}
	}
	r := sqlRow()
	r["site"] = nil
	if _, err := mp.Map(rowOf(t, mp, r)); err == nil {
		t.Fatal("NULL tag must be dirty")
	} else if _, reason := dirtyReason(t, err); reason != ReasonNullDevice {
		t.Fatalf("reason %s", reason)
	}
}

func TestDeclaredTypes(t *testing.T) {
	ok := []struct{ col, typ string }{
		{"temperature", "DOUBLE"}, {"temperature", "STRING"}, {"humidity", "DOUBLE"}, {"small", "INT32"},
		{"small", "FLOAT"}, {"cnt", "INT64"}, {"cnt", "DOUBLE"}, {"ok", "INT32"}, {"price", "STRING"},
		{"flag", "INT32"}, {"bits", "INT32"}, {"day", "TIMESTAMP"}, {"ts", "INT64"}, {"created_at", "STRING"},
		{"note", "TEXT"}, {"note", "BLOB"}, {"raw", "STRING"}, {"yr", "INT64"}, {"level", "text"},
	}
	for _, tt := range ok {
		m := baseMapping()
		m.Measurements = []config.Measurement{{Column: tt.col, Type: tt.typ}}
		if _, err := Compile(m, readingsSchema(), Options{}); err != nil {
			t.Errorf("%s as %s: %v", tt.col, tt.typ, err)
		}
	}
	bad := []struct{ col, typ string }{
		{"temperature", "FLOAT"}, {"cnt", "INT32"}, {"id", "DOUBLE"}, {"big", "DOUBLE"}, {"bits", "BOOLEAN"},
		{"created_at", "DATE"}, {"price", "FLOAT"}, {"note", "INT64"}, {"day", "INT32"}, {"temperature", "VECTOR"},
	}
	for _, tt := range bad {
		m := baseMapping()
		m.Measurements = []config.Measurement{{Column: tt.col, Type: tt.typ}}
		if _, err := Compile(m, readingsSchema(), Options{}); err == nil {
			t.Errorf("%s as %s: want an error", tt.col, tt.typ)
		}
	}
	// Declared conversions that change the value's Go type, fed both paths.
	m := baseMapping()
	m.Measurements = []config.Measurement{
		{Column: "humidity", Type: "DOUBLE"}, {Column: "created_at", Name: "c_text", Type: "STRING"},
		{Column: "ts", Name: "ts_text", Type: "STRING"}, {Column: "day", Name: "day_ts", Type: "TIMESTAMP"},
		{Column: "price", Name: "price_s", Type: "STRING"}, {Column: "small", Name: "small_f", Type: "FLOAT"},
	}
	mp := mustCompile(t, m, Options{})
	want := []any{40.1, "2024-03-05 10:11:12.123456", "2024-03-05 10:11:12.345", int64(1709596800000),
		"12345678901234567890123456789012345.123456789012345678901234567890", float32(65535)}
	for _, r := range []map[string]any{sqlRow(), binlogRow()} {
		p, err := mp.Map(rowOf(t, mp, r))
		if err != nil || !reflect.DeepEqual(p.Values, want) {
			t.Errorf("got %#v, %v; want %#v", p.Values, err, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m *config.Mapping)
		o     Options
		wants []string
	}{
		{"missing measurement column", func(m *config.Mapping) {
			m.Measurements = []config.Measurement{{Column: "pressure", Pos: config.Pos{File: "mappings/readings.yaml", Line: 9}}}
		}, Options{}, []string{"mappings/readings.yaml:9", "sensor_readings", `"pressure"`}},
		{"missing time column", func(m *config.Mapping) { m.Time.Column = "when" }, Options{},
			[]string{"mappings/readings.yaml:3", `"when"`, "factory.sensor_readings"}},
		{"missing device column", func(m *config.Mapping) { m.Device = "root.f.${nope}" }, Options{}, []string{`"nope"`}},
		{"unclosed \"${\"", func(m *config.Mapping) { m.Device = "root.f.${site" }, Options{}, []string{"unclosed \"${\""}},
		{"empty placeholder", func(m *config.Mapping) { m.Device = "root.f.${}" }, Options{}, []string{"empty placeholder"}},
		{"lone $", func(m *config.Mapping) { m.Device = "root.f.$site" }, Options{}, []string{"does not start a ${column} placeholder"}},
		{"empty node", func(m *config.Mapping) { m.Device = "root..${site}" }, Options{}, []string{"empty node"}},
		{"not under root", func(m *config.Mapping) { m.Device = "factory.${site}" }, Options{}, []string{"root"}},
		{"illegal literal", func(m *config.Mapping) { m.Device = "root.my-factory.${site}" }, Options{}, []string{"`my-factory`"}},
		{"unclosed backquote", func(m *config.Mapping) { m.Device = "root.`f.${site}" }, Options{}, []string{"unclosed backquote"}},
		{"db not derivable", func(m *config.Mapping) { m.Device = "root.${site}.${device_id}" }, Options{}, []string{"database"}},
		{"db mismatch", func(m *config.Mapping) { m.Database = "root.other" }, Options{}, []string{"root.other"}},
		{"float device", func(m *config.Mapping) { m.Device = "root.f.${temperature}" }, Options{}, []string{"temperature", "device"}},
		{"unit on datetime", func(m *config.Mapping) { m.Time.Unit = "ms" }, Options{}, []string{"time.unit"}},
		{"integer time without unit", func(m *config.Mapping) { m.Time = config.TimeSpec{Column: "ts_ms"} }, Options{}, []string{"time.unit"}},
		{"double time column", func(m *config.Mapping) { m.Time = config.TimeSpec{Column: "temperature"} }, Options{}, []string{"DOUBLE"}},
		{"bad zone", func(m *config.Mapping) { m.Time.Zone = "Mars/Olympus" }, Options{}, []string{"Mars/Olympus"}},
		{"unsupported type", func(m *config.Mapping) { m.Measurements = []config.Measurement{{Column: "geo"}} }, Options{}, []string{"point"}},
		{"latin1", func(m *config.Mapping) { m.Measurements = []config.Measurement{{Column: "legacy"}} }, Options{}, []string{"latin1"}},
		{"duplicate name", func(m *config.Mapping) {
			m.Measurements = []config.Measurement{{Column: "temperature", Name: "t"}, {Column: "humidity", Name: "t"}}
		}, Options{}, []string{"twice"}},
		{"decimal policy conflict", func(m *config.Mapping) {
			m.Decimal = "string"
			m.Measurements = []config.Measurement{{Column: "price", Type: "DOUBLE"}}
		}, Options{}, []string{"decimal: string"}},
		{"unsigned policy conflict", func(m *config.Mapping) {
			m.Unsigned = "string"
			m.Measurements = []config.Measurement{{Column: "big", Type: "INT64"}}
		}, Options{}, []string{"bigint_unsigned"}},
		{"bad policy", func(m *config.Mapping) { m.ZeroDate = "maybe" }, Options{}, []string{"zero_date"}},
		{"bad precision", func(m *config.Mapping) {}, Options{Precision: "s"}, []string{"precision"}},
		{"bad model", func(m *config.Mapping) {}, Options{Model: "graph"}, []string{"model"}},
		{"table model needs db", func(m *config.Mapping) { m.Device = "t"; m.Tags = []string{"site"} }, Options{Model: "table"}, []string{"database"}},
		{"table model template", func(m *config.Mapping) { m.Tags = []string{"site"} }, Options{Model: "table", Database: "d"}, []string{"plain"}},
		{"table model time name", func(m *config.Mapping) {
			m.Device = "t"
			m.Tags = []string{"site"}
			m.Measurements = []config.Measurement{{Column: "ts", Name: "Time"}}
		}, Options{Model: "table", Database: "d"}, []string{"time column"}},
		{"tags in tree", func(m *config.Mapping) { m.Tags = []string{"site"} }, Options{}, []string{"tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseMapping()
			tt.edit(m)
			_, err := Compile(m, readingsSchema(), tt.o)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMapAllocations(t *testing.T) {
	m := baseMapping()
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "humidity"}, {Column: "level"}, {Column: "cnt"}}
	mp := mustCompile(t, m, Options{})
	sql := rowOf(t, mp, sqlRow())
	bin := rowOf(t, mp, binlogRow())
	for name, row := range map[string][]any{"sql": sql, "binlog": bin} {
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := mp.Map(row); err != nil {
				t.Fatal(err)
			}
		})
		// The values slice, the device string, the converted values of
		// level and cnt (temperature and humidity pass through unboxed);
		// the device nodes are read from the row's bytes without a copy.
		if allocs > 4 {
			t.Errorf("%s: %v allocations per Map, want <= 4", name, allocs)
		}
		t.Logf("%s: %v allocations per Map", name, allocs)
	}
}

func BenchmarkMap(b *testing.B) {
	m := baseMapping()
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "humidity"}, {Column: "level"}, {Column: "cnt"}}
	mp, err := Compile(m, readingsSchema(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := sqlRow()
	row := make([]any, len(mp.Columns()))
	for i, c := range mp.Columns() {
		row[i] = r[c]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mp.Map(row); err != nil {
			b.Fatal(err)
		}
	}
}

// MapInto fills the caller's slots and gives the same point as Map, in both
// models; a wrong slot count is a caller error, not a dirty row.
func TestMapInto(t *testing.T) {
	tm := baseMapping()
	tm.Unsigned = "string"
	tree := mustCompile(t, tm, Options{})
	m := baseMapping()
	m.Device = "readings"
	m.Tags = []string{"site", "device_id"}
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "level"}}
	table := mustCompile(t, m, Options{Model: "table", Database: "factory"})
	for _, mp := range []*Mapper{tree, table} {
		row := rowOf(t, mp, binlogRow())
		want, err := mp.Map(row)
		if err != nil {
			t.Fatal(err)
		}
		n := len(mp.Schema().Measurements)
		slab := make([]any, 2*n)
		got, err := mp.MapInto(row, slab[n:])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: MapInto %#v, Map %#v", mp.Schema().Model, got, want)
		}
		if &got.Values[0] != &slab[n] {
			t.Fatalf("%s: MapInto did not use the given slots", mp.Schema().Model)
		}
		if _, err := mp.MapInto(row, slab[:n-1]); err == nil || errors.As(err, new(*DirtyError)) {
			t.Fatalf("%s: short slots: %v, want a caller error", mp.Schema().Model, err)
		}
	}
}

// A reordered mapper reads rows in another column order (with extra
// columns, names in another case) and gives the same points, keys, NULL
// sets and dirty-row columns as the original; in both models.
func TestReorder(t *testing.T) {
	tm := baseMapping()
	tm.Unsigned = "string"
	tm.Device = "root.factory.${site}.x${device_id}"
	m := baseMapping()
	m.Device = "readings"
	m.Tags = []string{"site", "device_id"}
	m.Measurements = []config.Measurement{{Column: "temperature"}, {Column: "level"}}
	for _, mp := range []*Mapper{mustCompile(t, tm, Options{}), mustCompile(t, m, Options{Model: "table", Database: "factory"})} {
		vals := binlogRow()
		vals["unmapped"] = "extra"
		cols := []string{"UNMAPPED"}
		for i := len(mp.Columns()) - 1; i >= 0; i-- {
			cols = append(cols, strings.ToUpper(mp.Columns()[i]))
		}
		rm, err := mp.Reorder(cols)
		if err != nil {
			t.Fatal(err)
		}
		orig := rowOf(t, mp, vals)
		row := make([]any, len(cols))
		for i, c := range cols {
			row[i] = vals[strings.ToLower(c)]
		}
		want, err := mp.Map(orig)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rm.Map(row)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: reordered %#v, want %#v", mp.Schema().Model, got, want)
		}
		if rm.KeyString(row) != mp.KeyString(orig) || rm.KeyString(row) == "" {
			t.Fatalf("key %q, want %q", rm.KeyString(row), mp.KeyString(orig))
		}
		// NULL a measurement and the time: same NULL set, the time column named.
		vals["temperature"], vals["created_at"] = nil, nil
		for i, c := range cols {
			row[i] = vals[strings.ToLower(c)]
		}
		orig = rowOf(t, mp, vals)
		if !reflect.DeepEqual(rm.NullMeasurements(row), mp.NullMeasurements(orig)) {
			t.Fatalf("NullMeasurements %v, want %v", rm.NullMeasurements(row), mp.NullMeasurements(orig))
		}
		_, err = rm.Map(row)
		if de, reason := dirtyReason(t, err); reason != ReasonNullTime || !strings.EqualFold(de.Column, "created_at") {
			t.Fatalf("dirty %+v", de)
		}
		if _, err := mp.Reorder([]string{"id", "site"}); err == nil || !strings.Contains(err.Error(), "not among") {
			t.Fatalf("missing columns: %v", err)
		}
	}
}
