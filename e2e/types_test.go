package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// typesDDL has every MySQL type of mapping/TYPES.md. The device column
// takes utf8mb4 ids with dots, spaces, backquotes and CJK.
const typesDDL = `CREATE TABLE every (
  id INT PRIMARY KEY,
  dev VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
  ts DATETIME(6) NOT NULL,
  tstz TIMESTAMP(3) NULL DEFAULT NULL,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, mu MEDIUMINT UNSIGNED, ii INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), f FLOAT, d DOUBLE,
  dt6 DATETIME(6), day DATE,
  en ENUM('low','mid','high'), st SET('a','b','c'), js JSON,
  b1 BIT(1), b12 BIT(12), bl BLOB, vb VARBINARY(16),
  flag TINYINT(1), yr YEAR,
  txt VARCHAR(64) CHARACTER SET utf8mb4, ch CHAR(8)
) DEFAULT CHARSET=utf8mb4`

// typesColumns are the measurement columns with their MySQL types (for
// the per-type report).
var typesColumns = [][2]string{
	{"tstz", "TIMESTAMP(3)"}, {"ti", "TINYINT"}, {"tu", "TINYINT UNSIGNED"}, {"si", "SMALLINT"},
	{"su", "SMALLINT UNSIGNED"}, {"mi", "MEDIUMINT"}, {"mu", "MEDIUMINT UNSIGNED"}, {"ii", "INT"},
	{"iu", "INT UNSIGNED"}, {"bi", "BIGINT"}, {"bu", "BIGINT UNSIGNED"}, {"dec65", "DECIMAL(65,30)"},
	{"f", "FLOAT"}, {"d", "DOUBLE"}, {"dt6", "DATETIME(6)"}, {"day", "DATE"}, {"en", "ENUM"}, {"st", "SET"},
	{"js", "JSON"}, {"b1", "BIT(1)"}, {"b12", "BIT(12)"}, {"bl", "BLOB"}, {"vb", "VARBINARY(16)"},
	{"flag", "TINYINT(1)"}, {"yr", "YEAR"}, {"txt", "VARCHAR utf8mb4"}, {"ch", "CHAR(8)"},
}

// typesRows are inserted after cdc started; TIMESTAMP values under several
// session zones (the instant must not depend on them).
const typesRows = `
SET time_zone = '+09:00';
INSERT INTO every VALUES (1, 'pump-7.b', '2024-03-05 11:11:12.123456', '2024-03-05 19:11:12.123',
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '3.14', 40.1, 21.5, '2024-03-05 01:02:03.000004', '2024-03-05',
  'mid', 'a,c', '{"a": 1, "b": [true, null, 1.5e2, "x\\"y"], "ü": "東京"}', b'1', b'101010101010',
  0x000102ff, 0x00ff, 1, 2024, 'hello 東京 🚀', 'ab');
SET time_zone = '-08:00';
INSERT INTO every VALUES (2, '東京', '2000-02-29 23:59:59.000001', '2038-01-18 19:14:07.999',
  127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  '12345678901234567890123456789012345.123456789012345678901234567890', 3.4e38, 1.7976931348623157e308,
  '9999-12-31 23:59:59.999999', '9999-12-31', 'high', 'a,b,c', '[]', b'0', b'111111111111', '', '', 0, 2155, '', 'full8chr');
SET time_zone = '+00:00';
INSERT INTO every VALUES (3, 'a b.c', '1999-12-31 23:59:59.999999', '1970-01-01 00:00:01',
  -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 9223372036854775807,
  '-0.000000000000000000000000000001', -0.5, -1.5e-300, '1000-01-01 00:00:00', '1000-01-01',
  'low', '', 'null', b'0', b'000000000000', 0x00, 0x61, 0, 1901, '  lead', 'tr  ');
INSERT INTO every (id, dev, ts) VALUES (4, 'q` + "`" + `uote', '2024-01-01 00:00:00');
INSERT INTO every (id, dev, ts, bu, dec65, d, f) VALUES
  (5, 'x.y z` + "`" + `東京', '2024-01-01 00:00:00.5', 9223372036854775808, '-99999999999999999999999999999999999.999999999999999999999999999999', 0.1, 0.1),
  (6, 'x.y z` + "`" + `東京', '2024-01-01 00:00:01', 18446744073709551614, '0.000000000000000000000000000001', -0, 1e-38);
INSERT INTO every (id, dev, ts, js, txt, ch, flag, yr, st, en) VALUES
  (7, 'plain', '2024-10-27 02:30:00', '{"k": {"n": [1, 2, {"m": null}]}, "e": ""}', 'tab\there', 'x', 1, 0, 'b', NULL),
  -- row 8 is dirty on purpose (TINYINT(1) -1 is not a BOOLEAN): both binaries must reject it alike
  (8, 'plain', '2024-03-31 03:30:00', '"just a string"', '😀', NULL, -1, NULL, 'c,a', 'low'),
  (9, 'dev 😀', '2024-06-01 12:00:00', '12.50', 'ünïcödé', '東京', NULL, 2000, NULL, 'mid');
SET STATEMENT sql_mode = '' FOR INSERT INTO every (id, dev, ts, day, ii, en) VALUES
  (10, 'zero', '2024-01-02 00:00:00', '0000-00-00', 10, 'bogus');
SET time_zone = '+05:30';
INSERT INTO every (id, dev, ts, tstz, ii) VALUES (11, 'tz', '2024-06-01 00:00:00', '2024-06-01 12:00:00.250', 11);
SET time_zone = '+00:00';
UPDATE every SET txt = CONCAT(txt, ' (updated)'), d = d / 2 WHERE id IN (1, 3);
INSERT INTO every_dbl SELECT * FROM every`

func typesMappings() string {
	var ms []string
	for _, c := range typesColumns {
		ms = append(ms, "{column: "+c[0]+"}")
	}
	list := strings.Join(ms, ", ")
	return fmt.Sprintf(`- table: every
  device: "root.types.${dev}"
  time: {column: ts, zone: Europe/Berlin}
  bigint_unsigned: string
  decimal: string
  zero_date: "null"
  measurements: [%s]
- table: every_dbl
  device: "root.dbl.${dev}"
  time: {column: ts, zone: Europe/Berlin}
  bigint_unsigned: clip
  decimal: double
  zero_date: "null"
  measurements: [%s]`, list, list)
}

// TestIntegrationBackfillAndCDCIdentical writes the same rows of every type
// through all three binaries: cdc streams the inserts into IoTDB A, backfill
// copies the table into IoTDB B, sync's incremental lane (not its first
// copy, which is a backfill run: it ran on the empty tables) reads them by
// cursor into IoTDB C (all at precision us). A, B and C must hold the same
// series with the same types and the same points; the report is per type.
func TestIntegrationBackfillAndCDCIdentical(t *testing.T) {
	e := newEnv(t)
	srvA := iotdbtest.Start(t, iotdbtest.Options{Precision: "us"})
	srvB := iotdbtest.Start(t, iotdbtest.Options{Precision: "us"})
	srvC := iotdbtest.Start(t, iotdbtest.Options{Precision: "us"})
	// every_dbl is created by the script; cdc must know it from the start.
	e.exec(typesDDL, strings.Replace(typesDDL, "CREATE TABLE every (", "CREATE TABLE every_dbl (", 1))

	tables := []string{"every", "every_dbl"}
	dirtyA, dirtyB := filepath.Join(e.dir, "dirty-cdc.jsonl"), filepath.Join(e.dir, "dirty-backfill.jsonl")
	cfgA, _ := e.writeConfig(cfgOpts{Name: "cdc.yaml", IoTDB: srvA, Tables: tables, Mappings: typesMappings(),
		Start: "latest", Dirty: dirtyA}) // precision auto: read from the server (us)
	cfgBPath, cfgB := e.writeConfig(cfgOpts{Name: "backfill.yaml", IoTDB: srvB, Tables: tables, Mappings: typesMappings(),
		Precision: "us", Checkpoint: filepath.Join(e.dir, "unused.checkpoint.json"), Dirty: dirtyB})

	dirtyC := filepath.Join(e.dir, "dirty-sync.jsonl")
	cfgC, _ := e.writeConfig(cfgOpts{Name: "sync.yaml", IoTDB: srvC, Tables: tables, Mappings: typesMappings(),
		Checkpoint: filepath.Join(e.dir, "unused2.checkpoint.json"), Dirty: dirtyC,
		TableExtra: "cursor: {columns: [ts], zone: Europe/Berlin}"})
	e.runSync(cfgC) // the empty tables: the first copy copies nothing, the lanes start with no mark

	p := e.startCDC(cfgA)
	e.waitStreaming(p, 2*time.Minute)
	e.script(typesRows)
	e.waitCaughtUp(p, srvA, 3*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Errorf("cdc exited %d after SIGTERM; log:\n%s", code, p.tail(30))
	}

	code, out := e.runProc(e.backfillBin, "backfill", 5*time.Minute, "--config", cfgBPath, "--log-format", "json")
	if code != 0 {
		t.Fatalf("backfill exited %d; output:\n%s", code, out)
	}
	// The same rows are dirty for the same reason.
	da, db := dirtyKeys(t, dirtyA), dirtyKeys(t, dirtyB)
	t.Logf("dirty rows: cdc %v, backfill %v", da, db)
	if !slices.Equal(da, db) {
		t.Errorf("dirty rows differ: cdc %v, backfill %v", da, db)
	}
	if len(db) != 2 {
		t.Errorf("want 2 dirty rows (row 8 of both tables), backfill recorded %v", db)
	}

	// Series and types.
	typeOf := func(srv *iotdbtest.Server) map[string]string {
		m := map[string]string{}
		for _, si := range srv.Series() {
			m[normPath(si.Path)] = fmt.Sprintf("%s aligned=%v", typeName(si.Type), si.Aligned)
		}
		return m
	}
	ta, tb := typeOf(srvA), typeOf(srvB)
	for s, b := range tb {
		if a, ok := ta[s]; !ok {
			t.Errorf("series %s (%s) written by backfill, not by cdc", s, b)
		} else if a != b {
			t.Errorf("series %s: cdc created %s, backfill %s", s, a, b)
		}
	}
	for s, a := range ta {
		if _, ok := tb[s]; !ok {
			t.Errorf("series %s (%s) written by cdc, not by backfill", s, a)
		}
	}

	// Points, type by type.
	a, b := actualState(srvA), actualState(srvB)
	if len(b) == 0 {
		t.Fatal("backfill wrote nothing")
	}
	mysqlType := map[string]string{}
	for _, c := range typesColumns {
		mysqlType[c[0]] = c[1]
	}
	byCol := func(s state) map[string]state {
		out := map[string]state{}
		for k, v := range s {
			c := measurementOf(k)
			if out[c] == nil {
				out[c] = state{}
			}
			out[c][k] = v
		}
		return out
	}
	ca, cb := byCol(a), byCol(b)
	var report []string
	failed := 0
	for _, c := range typesColumns {
		col := c[0]
		n, diff := diffStates(cb[col], ca[col], 5)
		iot := map[string]bool{}
		for s := range cb[col] {
			iot[strings.SplitN(tb[s], " ", 2)[0]] = true
		}
		var iots []string
		for k := range iot {
			iots = append(iots, k)
		}
		sort.Strings(iots)
		verdict := "same"
		if n > 0 {
			verdict = fmt.Sprintf("%d DIFFERENCES (want = backfill, got = cdc):\n%s", n, diff)
			failed++
		}
		report = append(report, fmt.Sprintf("  %-7s %-19s -> %-15s cdc %2d / backfill %2d points: %s",
			col, c[1], strings.Join(iots, ","), ca[col].points(), cb[col].points(), verdict))
	}
	t.Logf("cdc (A) vs backfill (B), per type:\n%s", strings.Join(report, "\n"))
	if failed > 0 {
		t.Errorf("%d of %d types differ between cdc and backfill (see the report above)", failed, len(typesColumns))
	}
	if n, diff := diffStates(b, a, 20); n > 0 {
		t.Errorf("cdc (got) and backfill (want) differ in %d points overall:\n%s", n, diff)
	}
	// And both equal the source mapped in this process.
	want := expectedState(t, e.db, cfgB, "every")
	expectedInto(t, e.db, cfgB, "every_dbl", want)
	assertSameState(t, "backfill vs source", want, b)

	// sync: its incremental lane reads every row (no mark yet) by (ts, id).
	ps := e.runSync(cfgC)
	if fin := ps.logEntries("sync run finished"); len(fin) != 1 || fin[0]["first_copy_rows"] != nil || fin[0]["rows"] == float64(0) {
		t.Errorf("the sync run was not an incremental read of the rows: %v", fin)
	}
	if dc := dirtyKeys(t, dirtyC); !slices.Equal(dc, db) {
		t.Errorf("dirty rows differ: sync %v, backfill %v", dc, db)
	}
	tc := typeOf(srvC)
	for s, b := range tb {
		if c, ok := tc[s]; !ok || c != b {
			t.Errorf("series %s: backfill created %s, sync %q", s, b, c)
		}
	}
	if len(tc) != len(tb) {
		t.Errorf("sync created %d series, backfill %d", len(tc), len(tb))
	}
	if n, diff := diffStates(b, actualState(srvC), 20); n > 0 {
		t.Errorf("sync (got) and backfill (want) differ in %d points:\n%s", n, diff)
	}
}

func typeName(t iotdbtest.TSDataType) string {
	names := map[iotdbtest.TSDataType]string{0: "BOOLEAN", 1: "INT32", 2: "INT64", 3: "FLOAT", 4: "DOUBLE",
		5: "TEXT", 8: "TIMESTAMP", 9: "DATE", 10: "BLOB", 11: "STRING"}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", int(t))
}

// dirtyKeys reads a dirty-rows file as sorted "table key column reason".
func dirtyKeys(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, l := range readLines(path) {
		var r struct{ Table, Key, Column, Reason string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Errorf("%s: %v: %s", path, err, l)
			continue
		}
		out = append(out, strings.Join([]string{r.Table, r.Key, r.Column, r.Reason}, " "))
	}
	sort.Strings(out)
	return out
}
