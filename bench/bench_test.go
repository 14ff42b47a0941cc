package main

import (
	"bytes"
	"encoding/csv"
	"os"
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
