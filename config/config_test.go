package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// minimal is the smallest valid configuration; tests append to or edit it.
const minimal = `mysql:
  user: bridge
  database: factory
  tables:
    - name: sensor_readings
iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings:
    - table: sensor_readings
      device: "root.factory.${site}.${device_id}"
      time: {column: created_at}
      measurements:
        - {column: temperature}
`

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func parseErr(t *testing.T, text string) string {
	t.Helper()
	_, err := Parse([]byte(text), "test.yaml")
	if err == nil {
		t.Fatal("Parse succeeded, want an error")
	}
	return err.Error()
}

// badConfigs is the catalogue of testdata/bad: each file with its exact,
// complete error message. Every file there must be listed, and only those.
var badConfigs = map[string][]string{
	"unknown_key.yaml": {
		`testdata/bad/unknown_key.yaml:4: mysql.tabels: unknown field (did you mean "tables"?)`,
		`testdata/bad/unknown_key.yaml:13: iotdb.mappings[0].time.zoen: unknown field (did you mean "zone"?)`,
		`testdata/bad/unknown_key.yaml:16: verbose: unknown field; known fields: mysql, iotdb, backfill, cdc, sync, dirty_rows, metrics, log`,
	},
	"unlisted_table.yaml": {
		`testdata/bad/unlisted_table.yaml:5: mysql.tables[0]: table "sensor_readings" has no mapping in iotdb.mappings (did you mean "sensor_reading"?; add one, or remove the table)`,
	},
	"template_unclosed.yaml": {
		`testdata/bad/template_unclosed.yaml:10: iotdb.mappings[0].device: "root.factory.${site.${device_id}": unbalanced placeholder "${site.${device_id}" at offset 13`,
	},
	"template_empty.yaml": {
		`testdata/bad/template_empty.yaml:10: iotdb.mappings[0].device: "root.factory.${}.x": empty placeholder "${}" at offset 13`,
	},
	"template_noroot.yaml": {
		`testdata/bad/template_noroot.yaml:10: iotdb.mappings[0].device: "factory.${device_id}" must start with root.`,
	},
	"template_node.yaml": {
		"testdata/bad/template_node.yaml:10: iotdb.mappings[0].device: \"root.factory.pump-1.${device_id}\": node \"pump-1\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `pump-1`",
	},
	"bad_type.yaml": {
		`testdata/bad/bad_type.yaml:14: iotdb.mappings[0].measurements[1].type: "REAL" is not an IoTDB type (BOOLEAN, INT32, INT64, FLOAT, DOUBLE, TEXT, STRING, BLOB, DATE, TIMESTAMP)`,
	},
	"bad_zone.yaml": {
		`testdata/bad/bad_zone.yaml:13: iotdb.mappings[0].time.zone: "Europe/Atlantis" is not a known IANA time zone (e.g. UTC, Europe/Berlin)`,
	},
	"bad_unit.yaml": {
		`testdata/bad/bad_unit.yaml:23: iotdb.mappings[1].time.unit: "sec" is not one of s, ms, us, ns`,
	},
	"bad_enum.yaml": {
		`testdata/bad/bad_enum.yaml:4: mysql.tls: "yes-please" is not one of disabled, preferred, required, verify-ca, verify-identity`,
		`testdata/bad/bad_enum.yaml:5: mysql.flavor: "percona" is not one of auto, mysql, mariadb`,
		`testdata/bad/bad_enum.yaml:10: iotdb.model: "graph" is not one of tree, table`,
		`testdata/bad/bad_enum.yaml:11: iotdb.timestamp_precision: "s" is not one of auto, ms, us, ns`,
		`testdata/bad/bad_enum.yaml:18: iotdb.mappings[0].on_update: "upsert" is not one of overwrite, ignore`,
		`testdata/bad/bad_enum.yaml:19: iotdb.mappings[0].on_delete: "purge" is not one of ignore, delete`,
		`testdata/bad/bad_enum.yaml:20: iotdb.mappings[0].bigint_unsigned: "wrap" is not one of error, clip, string`,
		`testdata/bad/bad_enum.yaml:21: iotdb.mappings[0].decimal: "float" is not one of double, string`,
		`testdata/bad/bad_enum.yaml:22: iotdb.mappings[0].zero_date: "zero" is not one of dirty, null`,
		`testdata/bad/bad_enum.yaml:24: dirty_rows.policy: "retry" is not one of skip, fail`,
		`testdata/bad/bad_enum.yaml:26: log.level: "verbose" is not one of debug, info, warn, error`,
		`testdata/bad/bad_enum.yaml:27: log.format: "text" is not one of auto, json, console`,
	},
	"missing_env.yaml": {
		`testdata/bad/missing_env.yaml:3: mysql.password: environment variable BRIDGE_TEST_UNSET_PASSWORD is not set (write ${BRIDGE_TEST_UNSET_PASSWORD:-default} to give a default)`,
		`testdata/bad/missing_env.yaml:5: mysql.host: "${BRIDGE TEST}": "BRIDGE TEST" is not a variable name (letters, digits, _; not starting with a digit)`,
		`testdata/bad/missing_env.yaml:9: iotdb.nodes[0]: environment variable BRIDGE_TEST_UNSET_NODE is not set (write ${BRIDGE_TEST_UNSET_NODE:-default} to give a default)`,
		`testdata/bad/missing_env.yaml:17: metrics.listen: unclosed "${" (write "$$" for a literal "$")`,
	},
	"dup_measurement.yaml": {
		`testdata/bad/dup_measurement.yaml:14: iotdb.mappings[0].measurements[1]: duplicate measurement name "temperature" (also measurements[0] at testdata/bad/dup_measurement.yaml:13)`,
		"testdata/bad/dup_measurement.yaml:15: iotdb.mappings[0].measurements[2].name: \"time\" is reserved in IoTDB: choose another name, or backquote it (\"`time`\")",
		`testdata/bad/dup_measurement.yaml:16: iotdb.mappings[0].measurements[3].column: the measurement name defaults to the column name "timestamp", which IoTDB reserves: set name`,
		"testdata/bad/dup_measurement.yaml:17: iotdb.mappings[0].measurements[4].name: \"pump-code\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it (\"`pump-code`\")",
	},
	"dup_key.yaml": {
		`testdata/bad/dup_key.yaml:4: mysql.user: duplicate key (first at line 2)`,
		`testdata/bad/dup_key.yaml:7: mysql.tables[1].name: table "sensor_readings" is listed twice (also mysql.tables[0] at testdata/bad/dup_key.yaml:6)`,
		`testdata/bad/dup_key.yaml:16: iotdb.mappings[1].table: a second mapping for table "sensor_readings" (the first is iotdb.mappings[0] at testdata/bad/dup_key.yaml:11)`,
	},
	"syntax.yaml": {
		`testdata/bad/syntax.yaml:6: YAML syntax error: did not find expected key`,
	},
	"type_errors.yaml": {
		`testdata/bad/type_errors.yaml:4: mysql.port: expected an integer, got "abc"`,
		`testdata/bad/type_errors.yaml:5: mysql.server_id: expected a non-negative integer, got "-1"`,
		`testdata/bad/type_errors.yaml:6: mysql.tables: expected a list, got "sensor_readings"`,
		`testdata/bad/type_errors.yaml:8: iotdb.nodes[0]: "127.0.0.1" is not host:port`,
		`testdata/bad/type_errors.yaml:8: iotdb.nodes[2]: "iotdb:6667" is listed twice (also iotdb.nodes[1])`,
		`testdata/bad/type_errors.yaml:8: iotdb.nodes[3]: "iotdb:http": port must be a number from 1 to 65535`,
		`testdata/bad/type_errors.yaml:9: iotdb.create_schema: expected true or false, got "maybe"`,
		`testdata/bad/type_errors.yaml:10: iotdb.batch.interval: expected a duration such as 200ms, 1s or 5m, got "200"`,
		`testdata/bad/type_errors.yaml:10: iotdb.batch.rows: must be a positive number, got 0`,
		`testdata/bad/type_errors.yaml:15: iotdb.mappings[0].measurements: expected a list, got "temperature"`,
		`testdata/bad/type_errors.yaml:17: backfill.readers: must be a positive number, got 0`,
		`testdata/bad/type_errors.yaml:19: dirty_rows.max: must be -1 (no limit), 0 or more, got -2`,
	},
	"verify_ca.yaml": {
		`testdata/bad/verify_ca.yaml:4: mysql.ca_file: required with tls: verify-ca`,
		`testdata/bad/verify_ca.yaml:16: cdc.start: file, gtid cannot be combined: give {file, pos}, {gtid} or {timestamp}`,
	},
	"start_forms.yaml": {
		`testdata/bad/start_forms.yaml:16: cdc.start: timestamp: "yesterday" is not an RFC 3339 time like 2024-05-01T00:00:00Z`,
	},
	"bad_mappings_dir.yaml": {
		`testdata/bad/bad_mappings/a_pump.yaml:5: iotdb.mappings[0].measurements[0].typ: unknown field (did you mean "type"?)`,
		`testdata/bad/bad_mappings/b_sensor.yml:3: YAML syntax error: did not find expected ',' or '}'`,
		`testdata/bad/bad_mappings/c_valve.yaml:6: a second YAML document (after ---): a file holds one document`,
	},
	"missing_mappings_dir.yaml": {
		`testdata/bad/missing_mappings_dir.yaml:8: iotdb.mappings_dir: cannot read folder testdata/bad/no_such_folder: no such file or directory`,
	},
	"table_model.yaml": {
		`testdata/bad/table_model.yaml:10: iotdb.mappings[0].database: required in the table model (here or in iotdb.database)`,
		`testdata/bad/table_model.yaml:11: iotdb.mappings[0].device: "root.factory.${device_id}": in the table model device is the target table name (no template, no dots); device columns go in tags`,
		`testdata/bad/table_model.yaml:12: iotdb.mappings[0].tags[1]: tag "SITE" is listed twice (also tags[0])`,
		`testdata/bad/table_model.yaml:13: iotdb.mappings[0].aligned: the table model is always aligned`,
		`testdata/bad/table_model.yaml:17: iotdb.mappings[0].measurements[1]: measurement "Site" is also a tag`,
	},
	"empty.yaml": {
		`testdata/bad/empty.yaml: the file is empty`,
	},
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	var listed []string
	for name := range badConfigs {
		listed = append(listed, name)
	}
	sort.Strings(listed)
	if !reflect.DeepEqual(names, listed) {
		t.Fatalf("testdata/bad holds %v\nbut the catalogue lists %v", names, listed)
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			c, err := Load(filepath.Join("testdata/bad", name))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if c != nil {
				t.Errorf("Load returned a config with its error")
			}
			got := strings.Split(err.Error(), "\n")
			if want := badConfigs[name]; !reflect.DeepEqual(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var cerr *Error
			if errors.As(err, &cerr) {
				for _, p := range cerr.Problems {
					if p.Pos.File == "" {
						t.Errorf("problem without a file: %v", p)
					}
				}
			} else {
				t.Errorf("error is %T, want *Error", err)
			}
		})
	}
}

func TestUnreadableFiles(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	if got, want := fmt.Sprint(err), "testdata/no-such-file.yaml: cannot read: no such file or directory"; got != want {
		t.Errorf("missing file: got %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: errors.Is(err, fs.ErrNotExist) = false")
	}

	_, err = Load("testdata")
	if got, want := fmt.Sprint(err), "testdata: cannot read: is a directory"; got != want {
		t.Errorf("directory: got %q, want %q", got, want)
	}

	t.Run("permission", testUnreadablePermission)
}

func testUnreadablePermission(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o000); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
		t.Skip("running with privileges that read a mode-000 file (root?): permission case not testable")
	}
	_, err := Load(path)
	if got, want := fmt.Sprint(err), path+": cannot read: permission denied"; got != want {
		t.Errorf("no permission: got %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("no permission: errors.Is(err, fs.ErrPermission) = false")
	}
}

func TestUnreadableMappingFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A dangling symlink is unreadable for every user, root included.
	if err := os.Symlink(filepath.Join(dir, "gone.yaml"), filepath.Join(dir, "m", "a.yaml")); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(minimal, "  mappings:\n", "  mappings_dir: m\n  mappings:\n", 1)
	main := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	want := filepath.Join(dir, "m", "a.yaml") + ": cannot read: no such file or directory"
	if fmt.Sprint(err) != want {
		t.Errorf("got %q, want %q", err, want)
	}
}

func TestExample(t *testing.T) {
	t.Setenv("MYSQL_PASSWORD", "example-secret")
	t.Setenv("IOTDB_PASSWORD", "") // empty: ${IOTDB_PASSWORD:-root} takes the default
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("mysql.password", c.MySQL.Password, "example-secret")
	check("iotdb.password", c.IoTDB.Password, "root")
	check("mysql.Addr()", c.MySQL.Addr(), "127.0.0.1:3306")
	check("mysql.server_id", c.MySQL.ServerID, uint32(5401))
	check("tables", len(c.MySQL.Tables), 1)
	check("partition", c.MySQL.Tables[0].Partition, Partition{Column: "id", Count: 8})
	check("where", c.MySQL.Tables[0].Where, "created_at >= '2020-01-01'")
	check("cursor", *c.MySQL.Tables[0].Cursor, Cursor{Columns: []string{"updated_at", "created_at"},
		Lookback: Lookback{Set: true, Duration: 5 * time.Minute}, Zone: "UTC", Nulls: CursorNullsDirty})
	check("sync", c.Sync, Sync{State: "./sync.state.json", Lookback: 5 * time.Minute, PageRows: 10000, Listen: "127.0.0.1:10667", ShutdownTimeout: 30 * time.Second})
	check("nodes", c.IoTDB.Nodes, []string{"127.0.0.1:6667"})
	check("batch", c.IoTDB.Batch, Batch{Rows: 10000, Interval: 200 * time.Millisecond, MaxBytes: 8 << 20})
	m, ok := c.Mapping("sensor_readings")
	if !ok {
		t.Fatal("no mapping for sensor_readings")
	}
	check("device", m.Device, "root.factory.${site}.${device_id}")
	check("database", m.Database, "root.factory")
	check("time", m.Time, TimeSpec{Column: "created_at", Zone: "UTC"})
	check("measurements", m.Measurements, []Measurement{
		{Column: "temperature", Name: "temperature", Type: "DOUBLE", Pos: Pos{"../config.example.yaml", 78}},
		{Column: "humidity", Name: "humidity", Pos: Pos{"../config.example.yaml", 81}},
		{Column: "status", Name: "state", Type: "INT32", Pos: Pos{"../config.example.yaml", 82}},
	})
	check("start", c.CDC.Start, Start{Mode: StartInitial})
	check("metrics", c.Metrics.Listen, "127.0.0.1:10667")
	check("log", c.Log, Log{Level: "info", Format: "auto"})
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	tr := true
	want := &Config{
		MySQL: MySQL{
			Host: "127.0.0.1", Port: 3306, User: "bridge", Database: "factory", TLS: "preferred",
			ServerID: 5401, Flavor: "auto",
			Tables: []Table{{Name: "sensor_readings", Partition: Partition{Count: 16}, Pos: Pos{"test.yaml", 5}}},
		},
		IoTDB: IoTDB{
			Nodes: []string{"127.0.0.1:6667"}, User: "root", Password: "root", Model: "tree", CreateSchema: true,
			Precision: "auto", Sessions: 4, WriteTimeout: 30 * time.Second,
			Batch: Batch{Rows: 10000, Interval: 200 * time.Millisecond, MaxBytes: 8 << 20},
			Retry: Retry{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Elapsed: 5 * time.Minute},
			TLS:   IoTDBTLS{Mode: TLSDisabled},
			Mappings: []Mapping{{
				Table: "sensor_readings", Device: "root.factory.${site}.${device_id}", Database: "root.factory",
				Time: TimeSpec{Column: "created_at", Zone: "UTC"}, Aligned: &tr,
				Measurements: []Measurement{{Column: "temperature", Name: "temperature", Pos: Pos{"test.yaml", 13}}},
				OnUpdate:     "overwrite", OnDelete: "ignore", Unsigned: "error", Decimal: "double", ZeroDate: "dirty",
				Pos: Pos{"test.yaml", 9},
			}},
		},
		Backfill:  Backfill{Readers: 4, Writers: 2, PageRows: 10000, Queue: 8, State: "./backfill.state.json", ShutdownTimeout: 30 * time.Second},
		CDC:       CDC{Start: Start{Mode: "initial"}, Checkpoint: Checkpoint{Path: "./cdc.checkpoint.json", Interval: time.Second}, Heartbeat: time.Second, ShutdownTimeout: 30 * time.Second, OnPurged: "fail", GiveUpAfter: Unbounded},
		Sync:      Sync{State: "./sync.state.json", Lookback: 5 * time.Minute, PageRows: 10000, Listen: "127.0.0.1:10667", ShutdownTimeout: 30 * time.Second},
		DirtyRows: DirtyRows{Policy: "skip", File: "./dirty-rows.jsonl", Max: 1000},
		Metrics:   Metrics{Listen: "127.0.0.1:10667"},
		Log:       Log{Level: "info", Format: "auto"},
		Path:      "test.yaml",
	}
	c.fields = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\ngot  %#v\nwant %#v", c, want)
	}
	m, _ := c.Mapping("sensor_readings")
	if !m.IsAligned() {
		t.Error("IsAligned() = false by default")
	}
}

func TestExplicitValuesBeatDefaults(t *testing.T) {
	c := mustParse(t, minimal+`metrics:
  listen: ""
dirty_rows:
  max: 0
log:
  level: DEBUG
  format: Console
`)
	if c.Metrics.Listen != "" {
		t.Errorf("metrics.listen \"\" should disable, got %q", c.Metrics.Listen)
	}
	if c.DirtyRows.Max != 0 {
		t.Errorf("dirty_rows.max 0 should stay 0, got %d", c.DirtyRows.Max)
	}
	if c.Log.Level != "debug" || c.Log.Format != "console" {
		t.Errorf("enums not lower-cased: %+v", c.Log)
	}

	c = mustParse(t, strings.Replace(minimal, "iotdb:\n", "iotdb:\n  create_schema: false\n  retry: {give_up_after: 0}\n", 1))
	if c.IoTDB.CreateSchema {
		t.Error("create_schema: false was overridden by the default")
	}
	if c.IoTDB.Retry.Elapsed != Unbounded {
		t.Errorf("give_up_after: 0 should mean no bound (Unbounded), got %s", c.IoTDB.Retry.Elapsed)
	}

	got := parseErr(t, strings.Replace(minimal, "mysql:\n", "mysql:\n  port: 0\n  server_id: 0\n", 1))
	want := "test.yaml:2: mysql.port: must be from 1 to 65535, got 0\n" +
		"test.yaml:3: mysql.server_id: must not be 0 (a replica needs a non-zero id unique among the server's replicas)"
	if got != want {
		t.Errorf("explicit zeros:\ngot  %s\nwant %s", got, want)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("BRIDGE_T_USER", "replicator")
	t.Setenv("BRIDGE_T_PORT", "3307")
	t.Setenv("BRIDGE_T_PW", "null") // a string field keeps it as text, not YAML null
	t.Setenv("BRIDGE_T_EMPTY", "")
	t.Setenv("BRIDGE_T_ALIGNED", "false")
	t.Setenv("site", "MUST-NOT-APPEAR") // device placeholders are columns, not variables
	text := `mysql:
  host: ${BRIDGE_T_HOST_UNSET:-db.internal}
  port: ${BRIDGE_T_PORT}
  user: ${BRIDGE_T_USER}
  password: ${BRIDGE_T_PW}
  database: "${BRIDGE_T_EMPTY:-factory}"
  tables:
    - name: sensor_readings
      where: "note = 'costs $$5' AND tag = '$x' AND raw = '$${NOT_A_VAR}'"
iotdb:
  nodes: ["${BRIDGE_T_IOTDB_UNSET:-iotdb}:6667"]
  password: '0123'
  mappings:
    - table: sensor_readings
      device: "root.factory.${site}.${device_id}"
      aligned: ${BRIDGE_T_ALIGNED}
      time: {column: created_at}
      measurements:
        - {column: temperature}
# ${IN_A_COMMENT} is never expanded
`
	c := mustParse(t, text)
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("host", c.MySQL.Host, "db.internal")
	check("port", c.MySQL.Port, 3307)
	check("user", c.MySQL.User, "replicator")
	check("password", c.MySQL.Password, "null")
	check("database", c.MySQL.Database, "factory")
	check("where", c.MySQL.Tables[0].Where, "note = 'costs $5' AND tag = '$x' AND raw = '${NOT_A_VAR}'")
	check("nodes", c.IoTDB.Nodes, []string{"iotdb:6667"})
	check("iotdb password", c.IoTDB.Password, "0123")
	check("device", c.IoTDB.Mappings[0].Device, "root.factory.${site}.${device_id}")
	check("aligned", c.IoTDB.Mappings[0].IsAligned(), false)
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct{ in, want, err string }{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "1"},
		{in: "x${A}y${A}", want: "x1y1"},
		{in: "${B:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${EMPTY}", want: ""},
		{in: "${B:-}", want: ""},
		{in: "${B:-a:b c}", want: "a:b c"},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "$$$${A}", want: "$${A}"},
		{in: "$", want: "$"},
		{in: "a$b $1 $", want: "a$b $1 $"},
		{in: "${B}", err: "environment variable B is not set (write ${B:-default} to give a default)"},
		{in: "${A", err: `unclosed "${" (write "$$" for a literal "$")`},
		{in: "${}", err: `"${}": "" is not a variable name (letters, digits, _; not starting with a digit)`},
		{in: "${1A}", err: `"${1A}": "1A" is not a variable name (letters, digits, _; not starting with a digit)`},
	}
	for _, tc := range cases {
		got, err := expandEnv(tc.in, lookup)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("expandEnv(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestMappingsDir(t *testing.T) {
	c, err := Load("testdata/good/with_dir.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range c.IoTDB.Mappings {
		got = append(got, fmt.Sprintf("%s %s %s aligned=%v", m.Pos, m.Table, m.Database, m.IsAligned()))
	}
	want := []string{
		"testdata/good/with_dir.yaml:12 sensor_readings root.factory aligned=true",
		"testdata/good/mappings/10-pump.yaml:1 pump_events root.plant aligned=false",
		"testdata/good/mappings/20-valve.yml:2 valve_events root.factory aligned=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mappings:\ngot  %q\nwant %q", got, want)
	}
	pump, _ := c.Mapping("pump_events")
	wantMs := []Measurement{
		{Column: "pressure", Name: "pressure", Type: "FLOAT", Pos: Pos{"testdata/good/mappings/10-pump.yaml", 7}},
		{Column: "time", Name: "time", Pos: Pos{"testdata/good/mappings/10-pump.yaml", 9}},
	}
	if !reflect.DeepEqual(pump.Measurements, wantMs) {
		t.Errorf("pump measurements = %+v, want %+v", pump.Measurements, wantMs)
	}
	if pump.Time != (TimeSpec{Column: "ts_ms", Unit: "ms"}) {
		t.Errorf("pump time = %+v (a unit must not get a default zone)", pump.Time)
	}
	valve, _ := c.Mapping("valve_events")
	if valve.Measurements[0].Type != "BOOLEAN" {
		t.Errorf("type not normalised: %q", valve.Measurements[0].Type)
	}
	if p := c.PosOf("iotdb.mappings[2].time.unit"); p != (Pos{"testdata/good/mappings/20-valve.yml", 4}) {
		t.Errorf("PosOf(unit) = %v", p)
	}
	if p := c.PosOf("iotdb.mappings[2].on_delete"); p != (Pos{"testdata/good/mappings/20-valve.yml", 2}) {
		t.Errorf("PosOf(absent field) = %v, want the mapping's position", p)
	}
	if _, ok := c.Table("valve_events"); !ok {
		t.Error("Table(valve_events) not found")
	}
	if _, ok := c.Mapping("nope"); ok {
		t.Error("Mapping(nope) found")
	}
}

func TestStartForms(t *testing.T) {
	ts := time.Date(2024, 5, 1, 12, 30, 0, 0, time.FixedZone("", 2*3600))
	cases := []struct {
		yaml string
		want Start
		str  string
	}{
		{"", Start{Mode: StartInitial}, "initial"},
		{"start: initial", Start{Mode: StartInitial}, "initial"},
		{"start: LATEST", Start{Mode: StartLatest}, "latest"},
		{"start: earliest", Start{Mode: StartEarliest}, "earliest"},
		{"start: {file: mysql-bin.000003, pos: 157}", Start{Mode: StartPosition, File: "mysql-bin.000003", Pos: 157}, "mysql-bin.000003:157"},
		{"start: {file: mysql-bin.000003}", Start{Mode: StartPosition, File: "mysql-bin.000003", Pos: 4}, "mysql-bin.000003:4"},
		{"start:\n    gtid: \"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5\"", Start{Mode: StartGTID, GTID: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}, "gtid 3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"},
		{"start: {gtid: 0-1-100}", Start{Mode: StartGTID, GTID: "0-1-100"}, "gtid 0-1-100"},
		{"start: {timestamp: \"2024-05-01T12:30:00+02:00\"}", Start{Mode: StartTimestamp, Timestamp: ts}, "timestamp 2024-05-01T12:30:00+02:00"},
		{"start: {file: \"${BRIDGE_T_BINLOG:-mysql-bin.000009}\", pos: \"${BRIDGE_T_POS:-1234}\"}", Start{Mode: StartPosition, File: "mysql-bin.000009", Pos: 1234}, "mysql-bin.000009:1234"},
	}
	for _, tc := range cases {
		c := mustParse(t, minimal+"cdc:\n  "+tc.yaml+"\n")
		if !reflect.DeepEqual(c.CDC.Start, tc.want) || !c.CDC.Start.Timestamp.Equal(tc.want.Timestamp) {
			t.Errorf("%s: got %+v, want %+v", tc.yaml, c.CDC.Start, tc.want)
		}
		if s := c.CDC.Start.String(); s != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.yaml, s, tc.str)
		}
		// The YAML form round-trips.
		out, err := yaml.Marshal(c.CDC.Start)
		if err != nil {
			t.Fatal(err)
		}
		var back Start
		if err := yaml.Unmarshal(out, &back); err != nil || back.String() != tc.str {
			t.Errorf("%s: round trip %q -> %+v, %v", tc.yaml, out, back, err)
		}
	}

	bad := []struct{ yaml, want string }{
		{"start: now", `test.yaml:15: cdc.start: "now" is not one of initial, latest, earliest, backfill, {file, pos}, {gtid}, {timestamp}`},
		{"start: {pos: 4}", `test.yaml:15: cdc.start: pos needs file (the binlog file it is an offset in)`},
		{"start: {file: a, pos: 3}", `test.yaml:15: cdc.start: pos: 3 is before the first event of a binlog file (4)`},
		{"start: {file: a, pos: -1}", `test.yaml:15: cdc.start: pos: "-1" is not a binlog offset (an integer >= 4)`},
		{"start: {file: \"\"}", `test.yaml:15: cdc.start: file: empty binlog file name`},
		{"start: {gtid: a, timestamp: \"2024-05-01T00:00:00Z\"}", `test.yaml:15: cdc.start: gtid, timestamp cannot be combined: give {file, pos}, {gtid} or {timestamp}`},
		{"start: {position: 4}", `test.yaml:15: cdc.start: unknown key "position" (want file and pos, or gtid, or timestamp)`},
		{"start: {}", `test.yaml:15: cdc.start: empty map: give {file, pos}, {gtid} or {timestamp}`},
		{"start: [initial]", `test.yaml:15: cdc.start: expected initial, latest, earliest, backfill or a map {file, pos} | {gtid} | {timestamp}`},
		{"start: {gtid: \"${BRIDGE_T_GTID_UNSET}\"}", `test.yaml:15: cdc.start: environment variable BRIDGE_T_GTID_UNSET is not set (write ${BRIDGE_T_GTID_UNSET:-default} to give a default)`},
		{"start:\n    file: a\n    file: b", `test.yaml:17: cdc.start: duplicate key "file" (first at line 16)`},
	}
	for _, tc := range bad {
		if got := parseErr(t, minimal+"cdc:\n  "+tc.yaml+"\n"); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.yaml, got, tc.want)
		}
	}
}

func TestDeviceTemplate(t *testing.T) {
	tpl, err := ParseDeviceTemplate("root.factory.`pump-7.b`.line_${no}.${device_id}")
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for _, n := range tpl.Nodes {
		raws = append(raws, n.Raw)
	}
	if want := []string{"root", "factory", "`pump-7.b`", "line_${no}", "${device_id}"}; !reflect.DeepEqual(raws, want) {
		t.Errorf("nodes = %q, want %q", raws, want)
	}
	if want := []DevicePart{{Literal: "line_"}, {Column: "no"}}; !reflect.DeepEqual(tpl.Nodes[3].Parts, want) {
		t.Errorf("parts = %+v", tpl.Nodes[3].Parts)
	}
	if got := tpl.Columns(); !reflect.DeepEqual(got, []string{"no", "device_id"}) {
		t.Errorf("Columns() = %q", got)
	}
	if !tpl.Nodes[2].IsLiteral() || tpl.Nodes[4].IsLiteral() {
		t.Error("IsLiteral wrong")
	}

	bad := map[string]string{
		"":                         "empty device template",
		"root.factory.${site":      `unclosed "${" at offset 13`,
		"root.factory.${}":         `empty placeholder "${}" at offset 13`,
		"root.factory.${ site }":   `placeholder "${ site }" at offset 13 has spaces around the column name`,
		"root.factory.site}":       `"}" without "${" at offset 17`,
		"root..x":                  "empty node (a leading, trailing or doubled dot)",
		"root.x.":                  "empty node (a leading, trailing or doubled dot)",
		"root.`x":                  "unclosed backquote at offset 5",
		"root.``.x":                "empty backquoted node at offset 5",
		"root.a`b`":                "a backquote may only start a node (at offset 6)",
		"root.`a`b.x":              "text after a closing backquote at offset 7: a backquoted node must be the whole node",
		"root.`${id}`":             "placeholder inside backquotes at offset 5: placeholder values are quoted automatically, drop the backquotes",
		"root.factory.123.${id}":   "node \"123\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `123`",
		"root.factory.a b.${id}":   "node \"a b\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `a b`",
		"root.factory.a*b.${id}":   "node \"a*b\" is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `a*b`",
		"root.factory.${a${b}}.xy": `unbalanced placeholder "${a${b}" at offset 13`,
		"root.factory.${a}$b":      `"$" at offset 17 does not start a ${column} placeholder`,
	}
	for in, want := range bad {
		if _, err := ParseDeviceTemplate(in); err == nil || err.Error() != want {
			t.Errorf("ParseDeviceTemplate(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestTreeDatabaseRules(t *testing.T) {
	cases := map[string]string{
		`device: "root.${site}.${device_id}"`:                        `test.yaml:10: iotdb.mappings[0].database: cannot derive the database from "root.${site}.${device_id}" (its second node must be literal and a device node must follow): set database`,
		`device: "root.factory"`:                                     `test.yaml:10: iotdb.mappings[0].database: cannot derive the database from "root.factory" (its second node must be literal and a device node must follow): set database`,
		"device: \"root.plant.${id}\"\n      database: root.factory": `test.yaml:10: iotdb.mappings[0].device: "root.plant.${id}" is not below database root.factory with at least one node after it`,
		"device: \"root.a.b.${id}\"\n      database: root.a.$${id}":  `test.yaml:11: iotdb.mappings[0].database: "root.a.${id}": a database cannot hold ${...} placeholders`,
		"device: \"root.a.${id}\"\n      database: \"root.`a-b`\"":   "test.yaml:11: iotdb.mappings[0].database: \"root.`a-b`\": database nodes must be plain names (letters, digits, _), not backquoted",
		`device: "root.factory.root.${id}"`:                          `test.yaml:10: iotdb.mappings[0].device: "root.factory.root.${id}": root may only be the first node`,
	}
	for dev, want := range cases {
		text := strings.Replace(minimal, `device: "root.factory.${site}.${device_id}"`, dev, 1)
		if got := parseErr(t, text); got != want {
			t.Errorf("%s:\ngot  %s\nwant %s", dev, got, want)
		}
	}
	// A database deeper than two nodes, from iotdb.database.
	text := strings.Replace(minimal, "iotdb:\n", "iotdb:\n  database: root.factory.site1\n", 1)
	c := mustParse(t, strings.Replace(text, "${site}", "site1", 1))
	if got := c.IoTDB.Mappings[0].Database; got != "root.factory.site1" {
		t.Errorf("database = %q", got)
	}
}

func TestTableModel(t *testing.T) {
	c := mustParse(t, `mysql:
  user: bridge
  database: factory
  tables: [{name: sensor_readings}]
iotdb:
  nodes: ["[::1]:6667"]
  model: TABLE
  database: factory
  mappings:
    - table: sensor_readings
      device: sensor_readings
      tags: [site, device_id]
      time: {column: created_at}
      measurements:
        - {column: temperature}
        - {column: timestamp_col, name: Timestamp}
`)
	m := c.IoTDB.Mappings[0]
	if c.IoTDB.Model != ModelTable || m.Database != "factory" || !m.IsAligned() {
		t.Errorf("table model: model=%q database=%q aligned=%v", c.IoTDB.Model, m.Database, m.IsAligned())
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	text := `mysql:
  user: ""
  database: factory
  tables:
    - name: sensor_readings
      partition: {count: 4, chunk_rows: 1000}
iotdb:
  nodes: []
  sessions: -1
  retry: {initial: 2s, max: 1s}
  mappings:
    - table: sensor_readings
      device: "root.factory.${device_id}"
      time: {column: "", unit: ms, zone: UTC}
      measurements: []
      tags: [x]
cdc:
  heartbeat: 0s
metrics:
  listen: "nine"
backfill:
  listen: "10.0.0.1:99999"
`
	want := []string{
		"test.yaml:2: mysql.user: required",
		"test.yaml:6: mysql.tables[0].partition: count and chunk_rows exclude each other: give one",
		"test.yaml:8: iotdb.nodes: at least one host:port is required",
		"test.yaml:9: iotdb.sessions: must be a positive number, got -1",
		"test.yaml:10: iotdb.retry.max: 1s is less than retry.initial (2s)",
		"test.yaml:14: iotdb.mappings[0].time.column: required",
		"test.yaml:14: iotdb.mappings[0].time.zone: zone and unit exclude each other: unit is for integer epoch columns, zone for DATETIME and DATE columns",
		"test.yaml:15: iotdb.mappings[0].measurements: at least one measurement is required",
		"test.yaml:16: iotdb.mappings[0].tags: tags are for model: table; in the tree model device columns go in the device template",
		"test.yaml:18: cdc.heartbeat: must be a positive duration, got 0s",
		`test.yaml:20: metrics.listen: "nine" is not host:port`,
		`test.yaml:22: backfill.listen: "10.0.0.1:99999": port must be a number from 1 to 65535`,
	}
	if got := strings.Split(parseErr(t, text), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPasswordsNeverPrinted formats a loaded config every way a caller
// might, and checks errors from files that hold a password.
func TestPasswordsNeverPrinted(t *testing.T) {
	const mysqlPW, iotdbPW = "hunter2-mysql", "hunter2-iotdb"
	t.Setenv("BRIDGE_T_MYSQL_PW", mysqlPW)
	text := strings.Replace(minimal, "  user: bridge\n", "  user: bridge\n  password: ${BRIDGE_T_MYSQL_PW}\n", 1)
	text = strings.Replace(text, "iotdb:\n", "iotdb:\n  password: "+iotdbPW+"\n", 1)
	c := mustParse(t, text)
	if c.MySQL.Password != mysqlPW || c.IoTDB.Password != iotdbPW {
		t.Fatalf("passwords not loaded: %q %q", c.MySQL.Password, c.IoTDB.Password)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	ym, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":           c.String(),
		"%v *Config":       fmt.Sprintf("%v", c),
		"%+v *Config":      fmt.Sprintf("%+v", c),
		"%#v *Config":      fmt.Sprintf("%#v", c),
		"%v Config":        fmt.Sprintf("%v", *c),
		"%+v Config":       fmt.Sprintf("%+v", *c),
		"%#v Config":       fmt.Sprintf("%#v", *c),
		"%s Config":        fmt.Sprintf("%s", *c),
		"%v MySQL":         fmt.Sprintf("%v", c.MySQL),
		"%+v MySQL":        fmt.Sprintf("%+v", c.MySQL),
		"%#v MySQL":        fmt.Sprintf("%#v", c.MySQL),
		"%v IoTDB":         fmt.Sprintf("%v", c.IoTDB),
		"%+v IoTDB":        fmt.Sprintf("%+v", c.IoTDB),
		"%#v IoTDB":        fmt.Sprintf("%#v", c.IoTDB),
		"%v &MySQL":        fmt.Sprintf("%v", &c.MySQL),
		"json":             string(js),
		"yaml":             string(ym),
		"Redacted":         fmt.Sprintf("%#v %s", c.Redacted().MySQL.Password, c.Redacted().IoTDB.Password),
		"wrapped in error": fmt.Errorf("starting with %v", c).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, mysqlPW) || strings.Contains(out, iotdbPW) {
			t.Errorf("%s prints a password:\n%s", name, out)
		}
		if !strings.Contains(out, RedactedPassword) {
			t.Errorf("%s does not show the redaction marker:\n%s", name, out)
		}
	}
	// Redacted copies; it does not edit the original.
	if c.MySQL.Password != mysqlPW || c.IoTDB.Password != iotdbPW {
		t.Error("formatting changed the passwords")
	}
	r := c.Redacted()
	r.IoTDB.Mappings[0].Measurements[0].Name = "changed"
	if c.IoTDB.Mappings[0].Measurements[0].Name == "changed" {
		t.Error("Redacted shares mappings with the original")
	}

	// Errors: a bad zone (the example the brief names), a password in a
	// field of the wrong type, and a password from the environment put into
	// a numeric field.
	_, err = Load("testdata/bad/bad_zone.yaml")
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") {
		t.Errorf("bad zone error echoes the password: %v", err)
	}
	bad := strings.Replace(text, "  database: factory\n", "  database: factory\n  port: ${BRIDGE_T_MYSQL_PW}\n", 1)
	bad = strings.Replace(bad, "time: {column: created_at}", "time: {column: created_at, zone: Nowhere/"+iotdbPW[:3]+"}", 1)
	msg := parseErr(t, bad)
	if strings.Contains(msg, mysqlPW) || strings.Contains(msg, iotdbPW) {
		t.Errorf("error echoes a password:\n%s", msg)
	}
	if !strings.Contains(msg, `mysql.port: expected an integer, got "${BRIDGE_T_MYSQL_PW}"`) {
		t.Errorf("error should quote the text as written:\n%s", msg)
	}
}

func TestHelpers(t *testing.T) {
	if got := (MySQL{Host: "::1", Port: 3306}).Addr(); got != "[::1]:3306" {
		t.Errorf("Addr() = %q", got)
	}
	c := mustParse(t, minimal)
	if tb, ok := c.Table("sensor_readings"); !ok || tb.Pos.Line != 5 {
		t.Errorf("Table() = %+v, %v", tb, ok)
	}
	if _, ok := c.Table("Sensor_Readings"); ok {
		t.Error("Table() should match exactly")
	}
	m, ok := c.Mapping("sensor_readings")
	if !ok {
		t.Fatal("Mapping() not found")
	}
	tpl, err := m.Template()
	if err != nil || !reflect.DeepEqual(tpl.Columns(), []string{"site", "device_id"}) {
		t.Errorf("Template() = %+v, %v", tpl, err)
	}
	if p := c.PosOf("iotdb.mappings[0].measurements[0].column"); p.String() != "test.yaml:13" {
		t.Errorf("PosOf = %v", p)
	}
	if p := c.PosOf("backfill.readers"); p.String() != "test.yaml:1" {
		t.Errorf("PosOf(unwritten section) = %v", p)
	}
	var nilAligned Mapping
	if !nilAligned.IsAligned() {
		t.Error("nil Aligned should mean aligned")
	}
}

func TestYAMLFeatures(t *testing.T) {
	// Anchors and aliases work; merge keys are refused rather than ignored.
	c := mustParse(t, `mysql:
  user: bridge
  database: &db factory
  tables: [{name: sensor_readings}]
iotdb:
  nodes: ["127.0.0.1:6667"]
  user: *db
  mappings:
    - table: sensor_readings
      device: "root.factory.${device_id}"
      time: &t {column: created_at}
      measurements: [{column: temperature}]
`)
	if c.IoTDB.User != "factory" || c.IoTDB.Mappings[0].Time.Column != "created_at" {
		t.Errorf("aliases: %+v", c.IoTDB)
	}
	got := parseErr(t, strings.Replace(minimal, "      time: {column: created_at}\n", "      time:\n        <<: {column: created_at}\n", 1))
	if want := "test.yaml:12: iotdb.mappings[0].time.<<: merge keys (<<) are not supported: write the keys out"; got != want {
		t.Errorf("merge key:\ngot  %s\nwant %s", got, want)
	}
	got = parseErr(t, "- a\n- b\n")
	if want := `test.yaml:1: expected a map with keys mysql, iotdb, ...; got a list`; got != want {
		t.Errorf("root list: got %s", got)
	}
}

// TestDockerConfig loads the config docker-compose.yml mounts, so it cannot
// drift from the loader.
func TestDockerConfig(t *testing.T) {
	t.Setenv("MYSQL_PASSWORD", "pw")
	c, err := Load("../docker/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.MySQL.Host != "mysql" || c.IoTDB.Nodes[0] != "iotdb:6667" || c.CDC.Checkpoint.Path != "/var/lib/bridge/cdc.checkpoint.json" {
		t.Fatalf("unexpected values: %+v", c.Redacted())
	}
	if c.CDC.Start.Mode != StartBackfill || len(c.IoTDB.Mappings) != 1 || c.IoTDB.Mappings[0].Database != "root.factory" {
		t.Fatalf("unexpected values: start %v, mappings %+v", c.CDC.Start, c.IoTDB.Mappings)
	}
}
