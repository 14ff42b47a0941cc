package main

import (
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// The devices suite's generated configs (tree with a device template,
// table model, the wide case, backfill and cdc) pass the strict loader.
func TestDeviceSpecConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []mappingSpec{
		specFor("tree", tableName, "root.bench", "bench", nil),
		specFor("table", tableName, "root.bench", "bench", nil),
		specFor("tree", wideTable, "root.wide", "wide", wideColumns(200)),
		specFor("table", cdcTable, cdcPrefix, "cdc", nil),
	} {
		yaml := backfillConfig(bfParams{host: "127.0.0.1", port: 3307, user: "bridge", dbName: "bench", iotdb: "127.0.0.1:6668",
			dir: dir, readers: 2, writers: 2, partitions: 8, pageRows: 10000, batchRows: 10000, spec: spec})
		cyaml := cdcConfig(cdcParams{host: "127.0.0.1", port: 3307, user: "bridge", dbName: "bench", iotdb: "127.0.0.1:6668",
			dir: dir, start: "latest", metrics: "127.0.0.1:9999", batchRows: 10000, batchInterval: time.Millisecond, spec: spec})
		for name, text := range map[string]string{"backfill": yaml, "cdc": cyaml} {
			cfg, err := config.Parse([]byte(text), name+".yaml")
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", spec.model, name, err, text)
			}
			m := cfg.IoTDB.Mappings[0]
			if m.Table != spec.srcTable || len(m.Measurements) != len(spec.cols) || cfg.IoTDB.Model != spec.model {
				t.Fatalf("%s %s: %+v", spec.model, name, m)
			}
			if spec.model == "tree" && m.DeviceTemplate != "fleet" || spec.model == "table" && (len(m.Tags) != 2 || m.Device != "readings") {
				t.Fatalf("%s %s: %+v", spec.model, name, m)
			}
		}
	}
}

func TestDeviceFlags(t *testing.T) {
	o, err := parseFlags([]string{"--suite", "devices", "--device-counts", "1000,5000", "--device-models", "table"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.deviceCounts) != 2 || o.deviceCounts[1] != 5000 || len(o.deviceModels) != 1 || o.deviceModels[0] != "table" {
		t.Fatalf("%+v", o.devOpts)
	}
	for _, bad := range [][]string{{"--device-counts", "x"}, {"--device-models", "graph"}, {"--dev-rows", "0"}, {"--dev-repeat", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// With --dev-repeat the case shows the run that cost the bridge the least
// CPU, unless a run failed: then the failure shows. Every run is listed.
func TestDevResultKeepsCheapestRun(t *testing.T) {
	run := func(cpu float64, check string) *result {
		return &result{Phase: "dev-1000-tree-backfill", Rows: 1000, ClientCPUS: cpu, Check: check}
	}
	d := &devResult{}
	for _, r := range []*result{run(3, "ok"), run(2, "ok"), run(4, "ok")} {
		d.keep(r, 3)
	}
	if d.ClientCPUS != 2 || len(d.Runs) != 3 {
		t.Fatalf("kept %v of %d runs, want the 2 s run of 3", d.ClientCPUS, len(d.Runs))
	}
	d = &devResult{}
	for _, r := range []*result{run(3, "ok"), run(5, "FAIL: count"), run(1, "ok")} {
		d.keep(r, 3)
	}
	if d.ok() || d.ClientCPUS != 5 {
		t.Fatalf("kept %+v, want the failed run", d.result)
	}
	d = &devResult{}
	d.keep(run(3, "ok"), 1)
	if d.ClientCPUS != 3 || d.Runs != nil {
		t.Fatalf("one run: %+v", d)
	}
}
