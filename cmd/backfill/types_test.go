package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// every holds one row per edge case of mapping/TYPES.md. every_strict is
// a copy mapped with the strict policies (bigint_unsigned: error, decimal:
// double, zero_date: dirty), every with the lenient ones (string, string,
// null). Each row of every_strict has at most one problem, so its dirty
// record is predictable.
const everyDDL = `CREATE TABLE every (
  id INT PRIMARY KEY,
  dev VARCHAR(64) CHARACTER SET utf8mb4 NULL,
  ts DATETIME(6) NULL,
  tstz TIMESTAMP(6) NULL DEFAULT NULL,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, mu MEDIUMINT UNSIGNED, ii INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), f FLOAT, d DOUBLE,
  day DATE, en ENUM('low','mid','high'), st SET('a','b','c'), js JSON,
  b1 BIT(1), b8 BIT(8), bl BLOB, flag TINYINT(1), yr YEAR,
  txt TEXT CHARACTER SET utf8mb4, vb VARBINARY(8), dt DATETIME(3) NULL
) DEFAULT CHARSET=utf8mb4`

// The TIMESTAMP column tstz is written under three session time zones:
// the stored instant must not depend on them.
const everyRows = `
SET time_zone = '+09:00';
INSERT INTO every VALUES (1, 'pump-7.b', '2024-03-05 11:11:12.123456', '2024-03-05 19:11:12.123456',
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '3.14', 40.1, 21.5,
  '2024-03-05', 'mid', 'a,c', '{"a": 1, "b": [true, null]}', b'1', b'10000001', 0x000102ff, 1, 2024,
  'hello 東京 🚀', 0x00ff, '2024-07-01 12:00:00.5');
SET time_zone = '-08:00';
INSERT INTO every VALUES (2, '東京', '2000-02-29 23:59:59.000001', '2038-01-18 19:14:07.999999',
  127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  '12345678901234567890123456789012345.123456789012345678901234567890', 3.4e38, -1.5e300,
  '9999-12-31', 'high', 'a,b,c', '[]', b'0', b'11111111', '', 0, 2155,
  '', '', '1970-01-01 00:00:00');
SET time_zone = '+00:00';
INSERT INTO every VALUES (3, 'a b.c', '1999-12-31 23:59:59.999999', '1970-01-01 00:00:01',
  -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 9223372036854775807,
  '-0.000000000000000000000000000001', -0.5, 0,
  '1000-01-01', 'low', '', 'null', NULL, b'0', NULL, NULL, 1901,
  NULL, 0x61, NULL);
INSERT INTO every (id, dev, ts, bu) VALUES (4, 'q` + "`" + `uote', '2024-01-01 00:00:00', 9223372036854775808);
SET STATEMENT sql_mode = '' FOR INSERT INTO every (id, dev, ts, day, ii) VALUES
  (5, 'zero', '2024-01-02 00:00:00', '0000-00-00', 5),
  (6, 'zero', '2024-01-03 00:00:00', '2024-00-10', 6);
INSERT INTO every (id, dev, ts, ii) VALUES (7, NULL, '2024-01-04 00:00:00', 7), (8, 'nots', NULL, 8);
CREATE TABLE every_strict LIKE every;
INSERT INTO every_strict SELECT * FROM every;
CREATE TABLE tz_events (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), v INT);
SET time_zone = '+05:30';
INSERT INTO tz_events VALUES (1, 'tz', '2024-06-01 12:00:00.250', 1);
SET time_zone = '-08:00';
INSERT INTO tz_events VALUES (2, 'tz', '2024-06-01 04:30:00.250', 2);
SET time_zone = '+00:00';
INSERT INTO tz_events VALUES (3, 'tz', '2024-06-01 06:30:00.500', 3)`

var everyMeasurements = []string{"tstz", "ti", "tu", "si", "su", "mi", "mu", "ii", "iu", "bi", "bu", "dec65",
	"f", "d", "day", "en", "st", "js", "b1", "b8", "bl", "flag", "yr", "txt", "vb", "dt"}

const everyConfig = `
mysql:
  {{mysql}}
  tables:
    - name: every
      partition: {count: 2}
    - name: every_strict
      partition: {count: 2}
    - name: tz_events
iotdb:
  {{iotdb}}
  mappings:
    - table: every
      device: "root.bf.${dev}"
      time: {column: ts, zone: Europe/Berlin}
      bigint_unsigned: string
      decimal: string
      zero_date: "null"
      measurements: [MEASUREMENTS]
    - table: every_strict
      device: "root.strict.${dev}"
      time: {column: ts, zone: Europe/Berlin}
      bigint_unsigned: error
      decimal: double
      zero_date: dirty
      measurements: [MEASUREMENTS]
    - table: tz_events
      device: "root.tz.${dev}"
      time: {column: ts, zone: Asia/Tokyo}   # TIMESTAMP is absolute: the zone must not matter
      measurements:
        - {column: v}
backfill:
  {{state}}
  readers: 2
  page_rows: 3
dirty_rows:
  {{dirty}}
  max: -1
`

func us(y int, mo time.Month, d, h, mi, s, nsec int) int64 {
	return time.Date(y, mo, d, h, mi, s, nsec, time.UTC).UnixMicro()
}

func TestIntegrationEveryTypeLandsExactly(t *testing.T) {
	h := newHarness(t, iotdbtest.Options{Precision: "us"})
	h.exec(everyDDL)
	h.script(everyRows)

	var ms []string
	for _, m := range everyMeasurements {
		ms = append(ms, "{column: "+m+"}")
	}
	cfg := h.writeConfig(strings.ReplaceAll(everyConfig, "MEASUREMENTS", strings.Join(ms, ", ")))
	r := h.run(flags{config: cfg})
	mustSucceed(t, r)
	checkLogLines(t, r.stderr)

	// Row times: DATETIME(6) wall clocks in Europe/Berlin, kept to the
	// microsecond (the server's precision is us).
	t1 := us(2024, 3, 5, 10, 11, 12, 123456000) // 11:11:12.123456 CET
	t2 := us(2000, 2, 29, 22, 59, 59, 1000)     // 23:59:59.000001 CET
	t3 := us(1999, 12, 31, 22, 59, 59, 999999000)
	t4 := us(2023, 12, 31, 23, 0, 0, 0)
	t5 := us(2024, 1, 1, 23, 0, 0, 0)
	t6 := us(2024, 1, 2, 23, 0, 0, 0)
	if t1 != 1709633472123456 {
		t.Fatalf("test arithmetic: %d", t1)
	}

	type row map[string]any
	common := map[int64]row{
		t1: {
			"tstz": us(2024, 3, 5, 10, 11, 12, 123456000), // 19:11:12.123456 at +09:00
			"ti":   int32(1), "tu": int32(2), "si": int32(3), "su": int32(4), "mi": int32(5), "mu": int32(6),
			"ii": int32(7), "iu": int64(8), "bi": int64(9),
			"f": float32(40.1), "d": 21.5,
			"day": int32(20240305), "en": "mid", "st": "a,c", "js": `{"a": 1, "b": [true, null]}`,
			"b1": true, "b8": int64(129), "bl": []byte{0, 1, 2, 0xff}, "flag": true, "yr": int32(2024),
			"txt": "hello 東京 🚀", "vb": []byte{0, 0xff},
			"dt": us(2024, 7, 1, 10, 0, 0, 500000000), // 12:00:00.5 CEST
		},
		t2: {
			"tstz": us(2038, 1, 19, 3, 14, 7, 999999000), // 19:14:07.999999 at -08:00
			"ti":   int32(127), "tu": int32(255), "si": int32(32767), "su": int32(65535),
			"mi": int32(8388607), "mu": int32(16777215), "ii": int32(2147483647), "iu": int64(4294967295),
			"bi": int64(9223372036854775807),
			"f":  float32(3.4e38), "d": -1.5e300,
			"day": int32(99991231), "en": "high", "st": "a,b,c", "js": "[]",
			"b1": false, "b8": int64(255), "bl": []byte{}, "flag": false, "yr": int32(2155),
			"txt": "", "vb": []byte{},
			"dt": us(1969, 12, 31, 23, 0, 0, 0), // 1970-01-01 00:00 CET
		},
		t3: {
			"tstz": int64(1000000),
			"ti":   int32(-128), "tu": int32(0), "si": int32(-32768), "su": int32(0),
			"mi": int32(-8388608), "mu": int32(0), "ii": int32(-2147483648), "iu": int64(0),
			"bi": int64(-9223372036854775808),
			"f":  float32(-0.5), "d": float64(0),
			"day": int32(10000101), "en": "low", "st": "", "js": "null",
			"b8": int64(0), "yr": int32(1901), "vb": []byte("a"),
		},
		t4: {},
		t5: {"ii": int32(5)},
		t6: {"ii": int32(6)},
	}
	// Policy-dependent values.
	lenient := map[int64]row{
		t1: {"bu": "10", "dec65": "3.140000000000000000000000000000"},
		t2: {"bu": "18446744073709551615", "dec65": "12345678901234567890123456789012345.123456789012345678901234567890"},
		t3: {"bu": "9223372036854775807", "dec65": "-0.000000000000000000000000000001"},
		t4: {"bu": "9223372036854775808"},
	}
	strict := map[int64]row{
		t1: {"bu": int64(10), "dec65": 3.14},
		t3: {"bu": int64(9223372036854775807), "dec65": -1e-30},
	}
	lenientDevices := map[int64]string{t1: "root.bf.`pump-7.b`", t2: "root.bf.東京", t3: "root.bf.`a b.c`",
		t4: "root.bf.`q``uote`", t5: "root.bf.zero", t6: "root.bf.zero"}
	strictDevices := map[int64]string{t1: "root.strict.`pump-7.b`", t3: "root.strict.`a b.c`"}

	build := func(devices map[int64]string, policy map[int64]row) points {
		want := points{}
		for ts, dev := range devices {
			for m, v := range common[ts] {
				want.add(dev+"."+m, ts, v)
			}
			for m, v := range policy[ts] {
				want.add(dev+"."+m, ts, v)
			}
		}
		return want
	}
	comparePoints(t, "lenient policies", build(lenientDevices, lenient), storedPoints(h.iot, "root.bf."))
	comparePoints(t, "strict policies", build(strictDevices, strict), storedPoints(h.iot, "root.strict."))
	comparePoints(t, "TIMESTAMP time column", points{"root.tz.tz.v": {
		us(2024, 6, 1, 6, 30, 0, 250000000):  int32(1), // 12:00:00.250 at +05:30
		us(2024, 6, 1, 12, 30, 0, 250000000): int32(2), // 04:30:00.250 at -08:00
		us(2024, 6, 1, 6, 30, 0, 500000000):  int32(3),
	}}, storedPoints(h.iot, "root.tz."))

	// Series types: created ahead from the mapping (every measurement of a
	// written device, NULL-only ones included), never inferred.
	types := func(bu, dec iotdbtest.TSDataType) map[string]iotdbtest.TSDataType {
		return map[string]iotdbtest.TSDataType{
			"tstz": iotdbtest.TIMESTAMP, "ti": iotdbtest.INT32, "tu": iotdbtest.INT32, "si": iotdbtest.INT32,
			"su": iotdbtest.INT32, "mi": iotdbtest.INT32, "mu": iotdbtest.INT32, "ii": iotdbtest.INT32,
			"iu": iotdbtest.INT64, "bi": iotdbtest.INT64, "bu": bu, "dec65": dec,
			"f": iotdbtest.FLOAT, "d": iotdbtest.DOUBLE, "day": iotdbtest.DATE, "en": iotdbtest.STRING,
			"st": iotdbtest.STRING, "js": iotdbtest.STRING, "b1": iotdbtest.BOOLEAN, "b8": iotdbtest.INT64,
			"bl": iotdbtest.BLOB, "flag": iotdbtest.BOOLEAN, "yr": iotdbtest.INT32, "txt": iotdbtest.STRING,
			"vb": iotdbtest.BLOB, "dt": iotdbtest.TIMESTAMP,
		}
	}
	wantSeries := map[string]iotdbtest.TSDataType{"root.tz.tz.v": iotdbtest.INT32}
	for _, dev := range lenientDevices {
		for m, tp := range types(iotdbtest.STRING, iotdbtest.STRING) {
			wantSeries[dev+"."+m] = tp
		}
	}
	for _, dev := range strictDevices {
		for m, tp := range types(iotdbtest.INT64, iotdbtest.DOUBLE) {
			wantSeries[dev+"."+m] = tp
		}
	}
	gotSeries := map[string]iotdbtest.TSDataType{}
	for _, s := range h.iot.Series() {
		gotSeries[s.Path] = s.Type
		if !s.Aligned {
			t.Errorf("series %s is not aligned (aligned: true is the default)", s.Path)
		}
	}
	if !reflect.DeepEqual(gotSeries, wantSeries) {
		for p, tp := range wantSeries {
			if g, ok := gotSeries[p]; !ok || g != tp {
				t.Errorf("series %s: got %v (present %v), want %v", p, g, ok, tp)
			}
		}
		for p, tp := range gotSeries {
			if _, ok := wantSeries[p]; !ok {
				t.Errorf("unexpected series %s %v", p, tp)
			}
		}
	}

	// Dirty rows: table, key, column, value and reason of each.
	wantDirty := []dirtyLine{
		{"every", "id=7", "dev", "NULL", "null_device"},
		{"every", "id=8", "ts", "NULL", "null_time"},
		{"every_strict", "id=2", "bu", "18446744073709551615", "unsigned_overflow"},
		{"every_strict", "id=4", "bu", "9223372036854775808", "unsigned_overflow"},
		{"every_strict", "id=5", "day", "0000-00-00", "zero_date"},
		{"every_strict", "id=6", "day", "2024-00-10", "zero_date"},
		{"every_strict", "id=7", "dev", "NULL", "null_device"},
		{"every_strict", "id=8", "ts", "NULL", "null_time"},
	}
	if got := readDirty(t, h.dirtyPath()); !reflect.DeepEqual(got, wantDirty) {
		t.Errorf("dirty rows:\n got  %v\n want %v", got, wantDirty)
	}

	// Summary.
	sum, state, dirty := parseSummary(t, r.stdout)
	if state != h.statePath() || dirty != h.dirtyPath() {
		t.Errorf("summary names state %q and dirty file %q, want %q and %q", state, dirty, h.statePath(), h.dirtyPath())
	}
	want := map[string]tableSummary{
		"every":        {rows: 8, points: 6, dirty: 2, skipped: map[string]int64{"null_device": 1, "null_time": 1}},
		"every_strict": {rows: 8, points: 2, dirty: 6, skipped: map[string]int64{"unsigned_overflow": 2, "zero_date": 2, "null_device": 1, "null_time": 1}},
		"tz_events":    {rows: 3, points: 3, skipped: map[string]int64{}},
	}
	if len(sum) != len(want) {
		t.Errorf("summary has %d tables, want %d:\n%s", len(sum), len(want), r.stdout)
	}
	for name, w := range want {
		g := sum[name]
		if g == nil {
			t.Errorf("summary: no line for %s:\n%s", name, r.stdout)
			continue
		}
		if g.rows != w.rows || g.points != w.points || g.dirty != w.dirty || g.collisions != 0 ||
			g.done != g.partitions || g.partitions < 1 || g.earlier != 0 || !reflect.DeepEqual(g.skipped, w.skipped) {
			t.Errorf("summary of %s: %+v, want %+v with every partition done, none earlier\n%s", name, *g, w, r.stdout)
		}
	}
	if got := sum["every"].partitions; got != 2 {
		t.Errorf("every: %d partitions, want 2 (partition.count)", got)
	}
}
