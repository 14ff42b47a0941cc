package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// fleetCSV is n rows of readingsColumns over devices devices (two rows per
// device when n = 2 × devices), starting at day.
func fleetCSV(rng *rand.Rand, n, devices, day int) string {
	var b strings.Builder
	base, _ := time.Parse(time.DateTime, wlBase)
	base = base.AddDate(0, 0, day)
	for i := range n {
		d := i % devices
		ts := base.Add(time.Duration(i/devices) * time.Second)
		temp, hum, st, ok := randomValues(rng)
		fmt.Fprintf(&b, "%s,m-%d,%s,%s,%s,%s,%s\n", wlSites[d%len(wlSites)], d, ts.Format("2006-01-02 15:04:05.000"), temp, hum, st, ok)
	}
	return b.String()
}

// TestIntegrationFleetTemplateBackfillThenCDC: a table of thousands of
// devices, mapped with a device template (issue 10), copied by backfill and
// then streamed by cdc (hand-over, new devices and changes to existing
// ones, NULLs among them): every point in IoTDB is the source's, every
// device uses the template, and no schema statement was sent per device.
func TestIntegrationFleetTemplateBackfillThenCDC(t *testing.T) {
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(seed(t), 10))
	const devices = 4000
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	e.exec(strings.ReplaceAll(readingsDDL, "%s", "fleet"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := e.m.LoadCSV(ctx, "fleet", readingsColumns, strings.NewReader(fleetCSV(rng, 2*devices, devices, 0))); err != nil {
		t.Fatal(err)
	}
	mapping := strings.Replace(readingsMapping("fleet", "fleet"), "  aligned: true\n", "  aligned: true\n  device_template: meter\n", 1)
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{"fleet"}, Mappings: mapping, Start: "backfill", BatchRows: 5000})
	if cfg.IoTDB.Mappings[0].DeviceTemplate != "meter" {
		t.Fatalf("mapping: %+v", cfg.IoTDB.Mappings[0])
	}

	code, out := e.runProc(e.backfillBin, "backfill", 5*time.Minute, "--config", cfgPath, "--log-format", "json")
	if code != 0 {
		t.Fatalf("backfill: exit %d\n%s", code, out)
	}
	assertSameState(t, "after backfill", expectedState(t, e.db, cfg, "fleet"), actualState(srv))

	p := e.startCDC(cfgPath)
	e.waitStreaming(p, time.Minute)
	// New devices, more rows of known ones, and changes: an update that
	// sets a measurement to NULL (a delete in IoTDB) and one that moves a
	// row in time.
	if _, err := e.m.LoadCSV(ctx, "fleet", readingsColumns, strings.NewReader(fleetCSV(rng, devices+500, devices+500, 1))); err != nil {
		t.Fatal(err)
	}
	e.exec("UPDATE fleet SET temp = NULL WHERE id % 97 = 0",
		"UPDATE IGNORE fleet SET ts = ts + INTERVAL 1 HOUR WHERE id % 101 = 0",
		"DELETE FROM fleet WHERE id % 211 = 0")
	e.waitCaughtUp(p, srv, 5*time.Minute)
	if code := p.terminate(2 * time.Minute); code != 0 {
		t.Fatalf("cdc exited %d after SIGTERM; log:\n%s", code, p.tail(30))
	}
	e.finalRun(cfgPath, srv, 5*time.Minute) // a restart from the checkpoint: caught up, clean exit, no dirty rows
	assertSameState(t, "backfill then cdc", expectedState(t, e.db, cfg, "fleet"), actualState(srv))

	// Every device activated the template; no series was created per device.
	host, port, _ := net.SplitHostPort(srv.Addr())
	sess := client.NewSession(&client.Config{Host: host, Port: port, UserName: "root", Password: "root"})
	if err := sess.Open(false, 5000); err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ds, err := sess.ExecuteQueryStatement("SHOW DEVICES root.fleet.**", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	n := 0
	for {
		ok, err := ds.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		n++
		if tmpl, _ := ds.GetString("Template"); tmpl != "meter" {
			dev, _ := ds.GetString("Device")
			t.Fatalf("device %s has template %q", dev, tmpl)
		}
	}
	if n < devices {
		t.Errorf("%d devices, want at least %d", n, devices)
	}
	if st := srv.Stats(); st.Statements > 50 {
		t.Errorf("%d statements for %d devices: schema went per device", st.Statements, n)
	}
}
