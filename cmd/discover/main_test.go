package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type result struct {
	code           int
	stdout, stderr string
}

func discoverRun(t *testing.T, a wire.DiscoverArgs) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, a, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

const tables = `
CREATE TABLE sensor_readings (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  device_id   VARCHAR(64) NOT NULL,
  site        VARCHAR(32) NOT NULL,
  created_at  DATETIME(3) NOT NULL,
  updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  temperature DOUBLE NULL,
  humidity    FLOAT NULL,
  pressure    DECIMAL(8,3) NULL,
  status      ENUM('ok','warn','fault') NOT NULL DEFAULT 'ok',
  counter     BIGINT UNSIGNED NULL,
  ` + "`time`" + `      INT NULL,
  spot        POINT NULL
);
INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity, pressure, status, counter, ` + "`time`" + `)
  SELECT CONCAT(ELT(1 + seq % 4, 'pump', 'press', 'oven', 'mixer'), '-', seq % 5), ELT(1 + seq % 3, 'plant_a', 'plant_b', 'plant-c'),
         '2024-01-01' + INTERVAL seq SECOND, 60 + seq % 17, 40 + seq % 9, 1000 + seq % 50 + 0.125,
         ELT(1 + seq % 3, 'ok', 'warn', 'fault'), seq * 1000, seq % 60
  FROM seq_1_to_2000;
CREATE TABLE sensor_events (
  line_id  INT NOT NULL,
  ts_ms    BIGINT NOT NULL,
  reading  DOUBLE,
  PRIMARY KEY (line_id, ts_ms)
);
INSERT INTO sensor_events SELECT seq % 4, 1704067200000 + seq * 1000, seq / 3 FROM seq_1_to_500;
CREATE TABLE lookup (code VARCHAR(8) PRIMARY KEY, label VARCHAR(64));
INSERT INTO lookup VALUES ('a', 'alpha'), ('b', 'beta');
`

// TestIntegrationDiscoverThenBackfill: mappings generated for real tables
// load, compile and copy: discover writes them into mappings_dir (absent at
// first), with the types the converter picks and the warnings; backfill then
// copies the tables into iotdbtest with those files and a configuration that
// names no table.
func TestIntegrationDiscoverThenBackfill(t *testing.T) {
	my := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := my.ExecScript(ctx, tables); err != nil {
		t.Fatal(err)
	}
	iot := iotdbtest.Start(t, iotdbtest.Options{})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	cfgText := fmt.Sprintf(`mysql:
  host: %s
  port: %d
  user: %s
  password_file: mysql-password
  database: %s
  tls: disabled
iotdb:
  nodes: [%q]
  mappings_dir: mappings
backfill:
  state: %s
dirty_rows:
  file: %s
`, my.Host, my.Port, my.BridgeUser, my.Database, iot.Addr(), filepath.Join(dir, "state.json"), filepath.Join(dir, "dirty.jsonl"))
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mysql-password"), []byte(my.BridgePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_*", "lookup"}})
	if r.code != 0 {
		t.Fatalf("discover exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	mappings := filepath.Join(dir, "mappings")
	for _, want := range []string{
		"sensor_events: wrote " + filepath.Join(mappings, "sensor_events.yaml"),
		"sensor_readings: wrote " + filepath.Join(mappings, "sensor_readings.yaml"),
		"lookup: wrote the draft " + filepath.Join(mappings, "lookup.yaml.draft"),
		"warning: no usable time column",
		"checked: the written mappings load and compile against the live tables",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("discover output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, my.BridgePassword) {
		t.Errorf("the password from password_file is printed")
	}

	readings := read(t, filepath.Join(mappings, "sensor_readings.yaml"))
	for _, want := range []string{
		"table: sensor_readings\n",
		// site has 3 distinct values, device_id 20: site first.
		`device: "root.factory.sensor_readings.${site}.${device_id}"`,
		"  column: created_at ", "  zone: UTC ",
		"{column: temperature, type: DOUBLE}",
		"{column: humidity, type: FLOAT}",
		"{column: pressure, type: DOUBLE}", "rounded to DOUBLE",
		"{column: status, type: STRING}", "3 distinct values in the sample: a tag?",
		"{column: counter, type: INT64}", "values above 2^63-1 become dirty rows",
		"{column: updated_at, type: TIMESTAMP}",
		"{column: time, name: \"`time`\", type: INT32}",
		"# - {column: spot}   # point: refused",
		"# - {column: id, type: INT64}", "the primary key (a row counter",
		"column status has 3 distinct values in 2000 sampled rows",
		"column spot has type point, which the bridge does not map", "it is left out",
	} {
		if !strings.Contains(readings, want) {
			t.Errorf("sensor_readings.yaml lacks %q:\n%s", want, readings)
		}
	}
	events := read(t, filepath.Join(mappings, "sensor_events.yaml"))
	for _, want := range []string{`device: "root.factory.sensor_events.${line_id}"`, "  column: ts_ms ", "  unit: ms ", "{column: reading, type: DOUBLE}"} {
		if !strings.Contains(events, want) {
			t.Errorf("sensor_events.yaml lacks %q:\n%s", want, events)
		}
	}

	// The configuration now loads with the generated files, and backfill
	// copies both tables with them.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("the configuration with the generated mappings does not load: %v", err)
	}
	if len(cfg.IoTDB.Mappings) != 2 || len(cfg.MySQL.Tables) != 2 {
		t.Fatalf("loaded %d mappings and %d tables, want the two generated ones", len(cfg.IoTDB.Mappings), len(cfg.MySQL.Tables))
	}
	var stdout, stderr syncBuffer
	if code := wire.RunBackfill(ctx, wire.BackfillArgs{Config: cfgPath, Sample: 5}, &stdout, &stderr); code != 0 {
		t.Fatalf("backfill with the generated mappings: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"sensor_readings: 2000 rows read, 2000 points written, 0 dirty rows skipped", "sensor_events: 500 rows read, 500 points written"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("backfill summary lacks %q:\n%s", want, stdout.String())
		}
	}
	dev := "root.factory.sensor_readings.`plant-c`.`pump-0`"
	if typ, ok := iot.SeriesType(dev + ".temperature"); !ok || typ != iotdbtest.DOUBLE {
		t.Errorf("series %s.temperature: %v %v; series: %v", dev, typ, ok, iot.Devices())
	}
	if typ, ok := iot.SeriesType(dev + ".`time`"); !ok || typ != iotdbtest.INT32 {
		t.Errorf("series %s.`time`: %v %v", dev, typ, ok)
	}
	// Every (row, measurement) is one point: 2000 rows x 7 measurements
	// (site and device_id name the device, created_at is the time, id and
	// spot are left out) + 500 events.
	if n := iot.TotalPoints(); n != 2000*7+500 {
		t.Errorf("IoTDB holds %d points, want %d", n, 2000*7+500)
	}
	t.Logf("sensor_readings.yaml:\n%s", readings)

	// Again: the tables are mapped now, and their files are kept.
	r = discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_readings"}})
	if r.code != 0 || !strings.Contains(r.stdout, "sensor_readings: already mapped at "+filepath.Join(mappings, "sensor_readings.yaml")+":") {
		t.Errorf("second discover: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := read(t, filepath.Join(mappings, "sensor_readings.yaml")); got != readings {
		t.Errorf("a mapped table's file was rewritten")
	}
}

// TestIntegrationDiscoverRefusals: a misspelt table names its neighbour;
// without a folder to write to, discover says which key to set and
// connects to nothing.
func TestIntegrationDiscoverRefusals(t *testing.T) {
	my := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := my.ExecScript(ctx, tables); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	write := func(extra string) {
		text := fmt.Sprintf("mysql:\n  host: %s\n  port: %d\n  user: %s\n  password: %q\n  database: %s\n  tls: disabled\niotdb:\n  nodes: [\"127.0.0.1:6667\"]\n%s",
			my.Host, my.Port, my.BridgeUser, my.BridgePassword, my.Database, extra)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("  mappings_dir: mappings\n")
	r := discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_reading", "nothing_*"}})
	if r.code != 1 || !strings.Contains(r.stderr, `table factory.sensor_reading does not exist (or the user cannot see it) (did you mean "sensor_readings"?)`) ||
		!strings.Contains(r.stderr, `no table of factory matches "nothing_*"`) {
		t.Errorf("misspelt table: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "mappings")); !os.IsNotExist(err) {
		t.Errorf("a failed discover created the mappings folder (%v)", err)
	}

	write("")
	r = discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_readings"}})
	if r.code != 2 || !strings.Contains(r.stderr, "iotdb.mappings_dir is not set") {
		t.Errorf("no mappings_dir: exit %d\n%s", r.code, r.stderr)
	}
	// --stdout needs no folder.
	r = discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_readings"}, Stdout: true})
	if r.code != 0 || !strings.Contains(r.stdout, "table: sensor_readings\n") || !strings.Contains(r.stderr, "warning: column status has 3 distinct values") {
		t.Errorf("--stdout: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIntegrationDiscoverTableModel: in the IoTDB table model the device
// columns become tags and the file compiles there too.
func TestIntegrationDiscoverTableModel(t *testing.T) {
	my := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := my.ExecScript(ctx, tables); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf("mysql:\n  host: %s\n  port: %d\n  user: %s\n  password: %q\n  database: %s\n  tls: disabled\n"+
		"iotdb:\n  nodes: [\"127.0.0.1:6667\"]\n  model: table\n  database: plant\n  mappings_dir: m\n",
		my.Host, my.Port, my.BridgeUser, my.BridgePassword, my.Database)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := discoverRun(t, wire.DiscoverArgs{Config: cfgPath, Tables: []string{"sensor_readings"}})
	if r.code != 0 || !strings.Contains(r.stdout, "checked: the written mapping load") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := read(t, filepath.Join(dir, "m", "sensor_readings.yaml"))
	for _, want := range []string{"device: sensor_readings\n", "tags: [site, device_id]\n", "{column: time, name: \"time_value\", type: INT32}", "move it into tags"} {
		if !strings.Contains(got, want) {
			t.Errorf("table-model mapping lacks %q:\n%s", want, got)
		}
	}
}
