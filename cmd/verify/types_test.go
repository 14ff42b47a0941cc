package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
)

// Every IoTDB type the mappings write compares exactly on both sides, in
// both models: a clean copy is equal in both modes, and an interior value
// changed in every series is found by --exact, with both values shown as
// the type renders them.
func TestIntegrationVerifyEveryType(t *testing.T) {
	for _, model := range []string{"tree", "table"} {
		t.Run(model, func(t *testing.T) {
			h := newHarness(t)
			h.exec(`CREATE TABLE readings (
  id INT PRIMARY KEY, site VARCHAR(8) NOT NULL, device_id VARCHAR(8) NOT NULL, created_at DATETIME(3) NOT NULL,
  i INT, b BIGINT, d DATE, ts2 DATETIME(3), bin VARBINARY(8), txt VARCHAR(20), dec1 DECIMAL(10,3), f FLOAT, flag TINYINT(1))`)
			var vals []string
			for k := range 10 {
				vals = append(vals, fmt.Sprintf("(%d,'s1','d1','%s',%d,%d,'2024-02-%02d','2024-03-01 00:00:%02d.500',x'00%02x',%s,%d.125,%d.5,%d)",
					k+1, time.UnixMilli(base+int64(k)*60000).UTC().Format("2006-01-02 15:04:05.000"), -k, int64(k-4)<<40, k+1, k, k,
					fmt.Sprintf("'t%d'", k), k, k, k%2))
			}
			h.exec("INSERT INTO readings VALUES " + strings.Join(vals, ","))
			measurements := `      measurements:
        - {column: i}
        - {column: b}
        - {column: d}
        - {column: ts2, type: TIMESTAMP}
        - {column: bin}
        - {column: txt, type: TEXT}
        - {column: dec1}
        - {column: f}
        - {column: flag}
`
			if model == "tree" {
				h.writeConfig("tree", "", "    - table: readings\n      device: \"root.vt.${site}.${device_id}\"\n      time: {column: created_at}\n      on_delete: delete\n"+measurements)
			} else {
				h.writeConfig("table", "vtdb", "    - table: readings\n      device: readings\n      tags: [site, device_id]\n      time: {column: created_at}\n      on_delete: delete\n"+measurements)
			}
			h.backfill()
			for _, a := range []wire.VerifyArgs{{}, {NoPushdown: true}, {Exact: true}} {
				code, rep, r := h.verifyJSON(a)
				if code != 0 || rep.Tables[0].SourcePoints != 90 || rep.Tables[0].IoTDBPoints != 90 {
					t.Fatalf("clean copy, %+v: exit %d\n%s\n%s", a, code, r.stdout, tailLines(r.stderr, 20))
				}
				if src, want := rep.Tables[0].Source, map[bool]string{false: "mysql", true: "rows"}[a.Exact || a.NoPushdown]; src != want {
					t.Fatalf("%+v: source figures from %q, want %q", a, src, want)
				}
			}
			tm := base + 5*60000
			changes := []struct {
				meas     string
				v        any
				src, iot string
			}{
				{"i", int32(777), "-5", "777"},
				{"b", int64(3), fmt.Sprint(int64(1) << 40), "3"},
				{"d", int32(20240202), "2024-02-06", "2024-02-02"},
				{"ts2", int64(1709251200000), "1709251205500", "1709251200000"},
				{"bin", []byte{0, 9}, "base64:AAU=", "base64:AAk="},
				{"txt", "t5!", `"t5"`, `"t5!"`},
				{"dec1", 5.126, "5.125", "5.126"},
				{"f", float32(5.25), "5.5", "5.25"},
				{"flag", false, "true", "false"},
			}
			// One interior change at a time, coarse mode with MySQL's
			// figures: what SQL reproduces is found (sums of numbers; in
			// the table model also crc32 sums of integers, text and bytes,
			// and true counts), the rest is coarse mode's documented blind
			// spot (dates, timestamps converted from DATETIME; tree-model
			// text, bytes and booleans).
			seen := map[string]map[string]bool{
				"tree":  {"i": true, "b": true, "dec1": true, "f": true},
				"table": {"i": true, "b": true, "dec1": true, "f": true, "bin": true, "txt": true, "flag": true},
			}[model]
			for _, c := range changes {
				var device string
				if model == "tree" {
					device = "root.vt.s1.d1"
					must(t, h.iot.SetPoint(device+"."+c.meas, tm, c.v))
				} else {
					device = "readings[site=s1,device_id=d1]"
					must(t, h.iot.SetRowValue("vtdb", "readings", []string{"s1", "d1"}, tm, c.meas, c.v))
				}
				code, rep, r := h.verifyJSON(wire.VerifyArgs{})
				if !seen[c.meas] {
					if code != 0 {
						t.Fatalf("%s changed: coarse mode over MySQL's figures was not expected to see it: exit %d\n%s", c.meas, code, r.stdout)
					}
				} else {
					if code != 1 {
						t.Fatalf("%s changed: coarse mode over MySQL's figures did not see it: exit %d\n%s", c.meas, code, r.stdout)
					}
					sameDiffs(t, c.meas, rep, []diffKey{{device, tm, c.meas, "value"}}, r)
				}
				if code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: true, Repair: true}); code != 0 || !rep.Repair.After.Equal {
					t.Fatalf("restoring %s with --repair: exit %d\n%s", c.meas, code, r.stdout)
				}
			}
			var want []diffKey
			var device string
			for _, c := range changes {
				var err error
				if model == "tree" {
					device = "root.vt.s1.d1"
					err = h.iot.SetPoint(device+"."+c.meas, tm, c.v)
				} else {
					device = "readings[site=s1,device_id=d1]"
					err = h.iot.SetRowValue("vtdb", "readings", []string{"s1", "d1"}, tm, c.meas, c.v)
				}
				must(t, err)
				want = append(want, diffKey{device, tm, c.meas, "value"})
			}
			code, rep, r := h.verifyJSON(wire.VerifyArgs{Exact: true})
			if code != 1 {
				t.Fatalf("exit %d\n%s", code, r.stdout)
			}
			sameDiffs(t, "every type", rep, want, r)
			for _, d := range rep.Differences {
				for _, c := range changes {
					if c.meas == d.Measurement && (d.Source != c.src || d.IoTDB != c.iot) {
						t.Errorf("%s: source %s, IoTDB %s; want %s, %s", c.meas, d.Source, d.IoTDB, c.src, c.iot)
					}
				}
			}
			if code, rep, r = h.verifyJSON(wire.VerifyArgs{Exact: true, Repair: true}); code != 0 || !rep.Repair.After.Equal {
				t.Fatalf("--repair: exit %d\n%s", code, r.stdout)
			}
		})
	}
}
