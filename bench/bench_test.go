package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// Growing the table by appending must give the rows a fresh load gives:
// --sizes relies on it.
func TestGeneratorAppendEqualsFresh(t *testing.T) {
	g := newGenerator(7, 13, 0.05)
	var fresh, parts bytes.Buffer
	want, err := g.writeCSV(&fresh, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := g.writeCSV(&parts, 0, 400)
	b, _ := g.writeCSV(&parts, 400, 1000)
	if !bytes.Equal(fresh.Bytes(), parts.Bytes()) {
		t.Fatal("rows 0..1000 differ when written in two parts")
	}
	if a.rows+b.rows != want.rows || a.points+b.points != want.points {
		t.Fatalf("stats %v + %v != %v", a, b, want)
	}
}

// The CSV must be what LoadCSV reads, the time unique per device, and the
// NULL share close to the requested one.
func TestGeneratorCSV(t *testing.T) {
	const n, devices = 20000, 100
	g := newGenerator(1, devices, 0.01)
	var buf bytes.Buffer
	st, err := g.writeCSV(&buf, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n || st.rows != n {
		t.Fatalf("%d records, %d rows; want %d", len(recs), st.rows, n)
	}
	seen := map[[2]string]bool{}
	var nulls, points int64
	for _, r := range recs {
		if len(r) != len(loadColumns) {
			t.Fatalf("record %q has %d fields", r, len(r))
		}
		if _, err := time.Parse("2006-01-02 15:04:05.000", r[3]); err != nil {
			t.Fatal(err)
		}
		k := [2]string{r[1], r[3]}
		if seen[k] {
			t.Fatalf("device %s has two rows at %s", r[1], r[3])
		}
		seen[k] = true
		for _, v := range r[4:] {
			if v == `\N` {
				nulls++
			} else {
				points++
			}
		}
	}
	if points != st.points {
		t.Fatalf("counted %d points, generator says %d", points, st.points)
	}
	if frac := float64(nulls) / float64(n*5); frac < 0.007 || frac > 0.013 {
		t.Fatalf("NULL share %.4f, want about 0.01", frac)
	}
}

func TestSplitRange(t *testing.T) {
	for _, c := range []struct {
		hi int64
		n  int
	}{{10, 3}, {1, 4}, {2_000_000, 2}, {7, 1}} {
		rs := splitRange(0, c.hi, c.n)
		if len(rs) != c.n || rs[0].lo != 0 || rs[len(rs)-1].hi != c.hi {
			t.Fatalf("splitRange(0, %d, %d) = %v", c.hi, c.n, rs)
		}
		for i := 1; i < len(rs); i++ {
			if rs[i].lo != rs[i-1].hi {
				t.Fatalf("splitRange(0, %d, %d) = %v: gap", c.hi, c.n, rs)
			}
		}
	}
}

func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for x := 0; ; x++ { // burn at least a couple of clock ticks
		if after, _ := procCPU(os.Getpid()); after > before {
			break
		}
		if x > 1e9 {
			t.Fatal("CPU time never advanced")
		}
	}
	if procHWM(os.Getpid()) <= 0 {
		t.Fatal("no VmHWM")
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--rows", "5", "--sizes", "10,3,10", "--only", "backfill"})
	if err != nil {
		t.Fatal(err)
	}
	if o.maxRows() != 10 || len(o.sizes) != 2 || o.sizes[0] != 3 || o.only[0] != "backfill" {
		t.Fatalf("%+v", o)
	}
	for _, bad := range [][]string{{"--only", "nope"}, {"--measurements", "4"}, {"--nulls", "1"}, {"--sizes", "x"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// The generated backfill config must pass the bridge's own strict loader,
// including a password with a "$" in it.
func TestBackfillConfigLoads(t *testing.T) {
	yaml := backfillConfig(bfParams{
		host: "127.0.0.1", port: 3307, user: "bridge", password: `p$w"d${X}`, dbName: "bench",
		iotdb: "127.0.0.1:6668", dir: t.TempDir(),
		readers: 2, writers: 2, partitions: 8, pageRows: 10000, batchRows: 10000,
	})
	cfg, err := config.Parse([]byte(yaml), "bench.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	if cfg.MySQL.Password != `p$w"d${X}` {
		t.Fatalf("password %q", cfg.MySQL.Password)
	}
	m := cfg.IoTDB.Mappings[0]
	if m.Device != "root.bench.${site}.${device_id}" || len(m.Measurements) != 5 || cfg.Backfill.Readers != 2 {
		t.Fatalf("%+v", m)
	}
}

// The generated cdc config must pass the strict loader, with a start
// position and an optional batch interval.
func TestCDCConfigLoads(t *testing.T) {
	dir := t.TempDir()
	for _, iv := range []time.Duration{0, 2 * time.Millisecond} {
		yaml := cdcConfig(cdcParams{
			host: "127.0.0.1", port: 3307, user: "bridge", password: `p$w`, dbName: "bench",
			iotdb: "127.0.0.1:6668", dir: dir, start: `{file: "binlog.000001", pos: 1654}`,
			metrics: "127.0.0.1:9999", batchRows: 10000, batchInterval: iv,
		})
		cfg, err := config.Parse([]byte(yaml), "cdc.yaml")
		if err != nil {
			t.Fatalf("%v\n%s", err, yaml)
		}
		if cfg.CDC.Start.File != "binlog.000001" || cfg.CDC.Start.Pos != 1654 || cfg.Metrics.Listen != "127.0.0.1:9999" {
			t.Fatalf("%+v %+v", cfg.CDC.Start, cfg.Metrics)
		}
		if iv > 0 && cfg.IoTDB.Batch.Interval != iv {
			t.Fatalf("batch interval %v, want %v", cfg.IoTDB.Batch.Interval, iv)
		}
		if m := cfg.IoTDB.Mappings[0]; m.Table != cdcTable || m.Device != "root.cdc.${site}.${device_id}" {
			t.Fatalf("%+v", m)
		}
	}
	if _, err := config.Parse([]byte(cdcConfig(cdcParams{host: "h", port: 1, user: "u", dbName: "d", iotdb: "i:1", dir: dir, start: "latest", batchRows: 1})), "c.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestBinlogPos(t *testing.T) {
	p, err := parseBinlogPos("binlog.000002:154")
	if err != nil || p != (binlogPos{"binlog.000002", 154}) || p.String() != "binlog.000002:154" {
		t.Fatalf("%v %v", p, err)
	}
	if !(binlogPos{"binlog.000001", 9999}).before(p) || !(binlogPos{"binlog.000002", 4}).before(p) || p.before(p) {
		t.Fatal("order")
	}
	for _, bad := range []string{"", "binlog.000001", ":4", "f:x"} {
		if _, err := parseBinlogPos(bad); err == nil {
			t.Errorf("parseBinlogPos(%q) accepted", bad)
		}
	}
}

func TestParseRowsMetric(t *testing.T) {
	text := `# TYPE mysql_iotdb_bridge_cdc_rows_total counter
mysql_iotdb_bridge_cdc_rows_total{outcome="insert_written",table="cdc_readings"} 1.5e+06
mysql_iotdb_bridge_cdc_rows_total{outcome="dirty",table="cdc_readings"} 2
mysql_iotdb_bridge_cdc_rows_total{outcome="update_written",table="cdc_readings"} 7
mysql_iotdb_bridge_cdc_snapshot_rows_total{table="cdc_readings"} 9
`
	w, d := parseRowsMetric(strings.NewReader(text))
	if w != 1.5e6 || d != 2 {
		t.Fatalf("written %v dirty %v", w, d)
	}
}

// The k-th row (in commit order) is visible at the first observation whose
// count reaches the points of rows 1..k; warm-up rows are left out.
func TestLiveSummary(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msec float64) time.Time { return t0.Add(time.Duration(msec * float64(time.Millisecond))) }
	rows := []liveRow{
		{due: at(0), commit: at(1), points: 5}, // warm-up
		{due: at(1), commit: at(2), points: 5},
		{due: at(2), commit: at(3), points: 4},
		{due: at(3), commit: at(4), points: 5},
	}
	obs := []obsPoint{{at(2.5), 5}, {at(6), 14}, {at(9), 19}}
	ls := liveSummary(rows, 1, obs)
	if ls.Rows != 3 || ls.WarmupRows != 1 || ls.Clamped != 0 {
		t.Fatalf("%+v", ls)
	}
	// latencies: 6-2=4, 6-3=3, 9-4=5
	if ls.P50MS != 4 || ls.MaxMS != 5 || ls.P99MS != 5 {
		t.Fatalf("%+v", ls)
	}
	if pct(nil, 50) != 0 || pct([]time.Duration{1, 2, 3, 4}, 50) != 2 || pct([]time.Duration{1, 2, 3, 4}, 99) != 4 {
		t.Fatal("pct")
	}
}

func TestWants(t *testing.T) {
	o, err := parseFlags([]string{"--suite", "cdc"})
	if err != nil {
		t.Fatal(err)
	}
	if o.wants("backfill") || !o.wants("cdc-live") {
		t.Fatal("suite cdc")
	}
	o, _ = parseFlags([]string{"--only", "backfill,cdc-bigtx"})
	if !o.wants("backfill") || !o.wants("cdc-bigtx") || o.wants("cdc-live") || o.wants("raw-scan") {
		t.Fatal("--only")
	}
	if _, err := parseFlags([]string{"--suite", "x"}); err == nil {
		t.Fatal("--suite x accepted")
	}
}
