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
	for _, bad := range [][]string{{"--device-counts", "x"}, {"--device-models", "graph"}, {"--dev-rows", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
