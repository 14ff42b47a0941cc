// Command demo shows the bridge end to end on a laptop with no servers
// installed but Debian's mariadb-server. Everything it starts is a local
// STAND-IN, not production infrastructure:
//
//   - a throwaway MariaDB (internal/testenv) in a temp dir, binlog ROW/FULL;
//   - iotdbtest, an IoTDB wire-protocol TEST DOUBLE (not an IoTDB server).
//
// It creates a small factory schema with a few hundred thousand readings,
// runs the real backfill binary against them with a sample config, and reads
// back what landed through the IoTDB Go client.
//
// Usage: go run ./cmd/demo [--bin DIR] [--rows N] [--keep]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/internal/cli"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

var spec = cli.Spec{
	Name:    "demo",
	Summary: "show the bridge end to end on local STAND-INS: a throwaway MariaDB and iotdbtest (an IoTDB test double)",
	Description: `It creates a small factory schema with a few hundred thousand readings in a
throwaway MariaDB, runs the real backfill binary against them, reads back what landed in
iotdbtest through the IoTDB Go client, then runs cdc and shows an INSERT, an UPDATE and a DELETE
arriving. Nothing it starts is production infrastructure. make demo builds the binaries and runs
it.`,
	Examples: []cli.Example{
		{Command: "make demo", What: "build the binaries into bin/ and run the demo"},
		{Command: "go run ./cmd/demo --bin bin --rows 50000 --keep", What: "a smaller table; both stand-ins stay up after the demo until Ctrl-C"},
	},
	ExitCodes: []string{"0  the demo ran", "1  a step failed (the message says which)", "2  a wrong command line"},
}

func main() {
	c := cli.New(spec)
	fs := c.Flags()
	bin := fs.String("bin", "bin", "`FOLDER` holding the built backfill and cdc binaries (make build)")
	rows := fs.Int("rows", 300000, "readings to generate")
	keep := fs.Bool("keep", false, "keep both stand-in servers running after the demo until Ctrl-C")
	if code, done := c.Parse(os.Args[1:]); done {
		os.Exit(code)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *rows, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// Sites and devices of the demo plant. Device ids deliberately include
// characters IoTDB node names cannot hold unquoted.
var (
	sites   = []string{"plant_a", "plant_b", "plant-c"}
	kinds   = []string{"pump", "press", "oven", "mixer"}
	perKind = 5
)

const schema = `
CREATE TABLE sensor_readings (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  device_id   VARCHAR(64) NOT NULL,
  site        VARCHAR(32) NOT NULL,
  created_at  DATETIME(3) NOT NULL,
  temperature DOUBLE NULL,
  humidity    FLOAT NULL,
  pressure    DECIMAL(8,3) NULL,
  status      ENUM('ok','warn','fault') NOT NULL DEFAULT 'ok',
  KEY (site, device_id, created_at)
) ENGINE=InnoDB`

func run(ctx context.Context, bin string, rows int, keep bool) error {
	backfill, err := filepath.Abs(filepath.Join(bin, "backfill"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(backfill); err != nil {
		return fmt.Errorf("%s not found: run `make build` first (or `make demo`, which does)", backfill)
	}
	banner("Stand-ins (demo only, not production servers)")

	db, err := testenv.Start(ctx, testenv.Options{Database: "factory"})
	if err != nil {
		return fmt.Errorf("starting the throwaway MariaDB: %w", err)
	}
	defer db.Stop()
	fmt.Printf("  throwaway MariaDB %s:%d (binlog ROW/FULL), ready in %.2fs\n", db.Host, db.Port, db.StartupTime.Seconds())

	iot, err := iotdbtest.NewServer(iotdbtest.Options{})
	if err != nil {
		return fmt.Errorf("starting iotdbtest: %w", err)
	}
	defer iot.Close()
	fmt.Printf("  iotdbtest %s: an IoTDB wire-protocol TEST DOUBLE, not an IoTDB server\n", iot.Addr())

	banner(fmt.Sprintf("Source: factory.sensor_readings, %d readings", rows))
	if err := db.Exec(ctx, schema); err != nil {
		return err
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(generate(pw, rows)) }()
	n, err := db.LoadCSV(ctx, "sensor_readings", []string{"device_id", "site", "created_at", "temperature", "humidity", "pressure", "status"}, pr)
	if err != nil {
		return err
	}
	fmt.Printf("  loaded %d rows across %d sites and %d devices in %.1fs\n", n, len(sites), len(sites)*len(kinds)*perKind, time.Since(start).Seconds())

	dir, err := os.MkdirTemp("", "bridge-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(db, iot, dir)), 0o600); err != nil {
		return err
	}

	// cdc will start from the binlog position taken before the backfill, so
	// no row committed between the two is missed (replays are harmless).
	file, pos, _, err := db.BinlogPosition(ctx)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, []byte(demoConfig(db, iot, dir)+cdcConfig(file, pos, dir)), 0o600); err != nil {
		return err
	}

	banner("backfill --config " + cfgPath)
	cmd := exec.CommandContext(ctx, backfill, "--config", cfgPath)
	cmd.Env = append(os.Environ(), "MYSQL_PASSWORD="+db.BridgePassword, "IOTDB_PASSWORD=root")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}

	banner("What landed in IoTDB (read back through the IoTDB Go client)")
	if err := show(iot); err != nil {
		return err
	}

	cdcBin := filepath.Join(filepath.Dir(backfill), "cdc")
	if err := cdcStep(ctx, cdcBin, cfgPath, db, iot); err != nil {
		return err
	}
	if keep {
		fmt.Printf("\nServers stay up until Ctrl-C:\n  MariaDB: %s\n  IoTDB (test double): %s  user root / root\n", db.ClientCommand(), iot.Addr())
		<-ctx.Done()
	}
	return nil
}

// generate writes rows CSV lines for LoadCSV: readings every second per
// device, a few NULLs, a slow temperature wave per device.
func generate(w io.Writer, rows int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	type dev struct{ site, id string }
	var devs []dev
	for _, s := range sites {
		for _, k := range kinds {
			for i := 1; i <= perKind; i++ {
				id := fmt.Sprintf("%s-%d", k, i)
				if k == "pump" && i == 7%perKind {
					id += ".b" // a dot inside a device id: quoted as one node
				}
				devs = append(devs, dev{s, id})
			}
		}
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"ok", "ok", "ok", "ok", "warn", "ok", "ok", "fault"}
	for r := 0; r < rows; r++ {
		d := devs[r%len(devs)]
		step := r / len(devs)
		ts := base.Add(time.Duration(step) * time.Second).Add(time.Duration(r%len(devs)) * time.Millisecond)
		temp := fmt.Sprintf("%.3f", 60+15*math.Sin(float64(step)/300+float64(r%len(devs))))
		hum := fmt.Sprintf("%.2f", 40+float64((r*7)%200)/10)
		pres := fmt.Sprintf("%d.%03d", 1000+(r%50), (r*13)%1000)
		if r%97 == 0 {
			temp = `\N`
		}
		if r%89 == 0 {
			hum = `\N`
		}
		fmt.Fprintf(bw, "%s,%s,%s,%s,%s,%s,%s\n", d.id, d.site, ts.Format("2006-01-02 15:04:05.000"), temp, hum, pres, statuses[r%len(statuses)])
	}
	return bw.Flush()
}

func demoConfig(db *testenv.MariaDB, iot *iotdbtest.Server, dir string) string {
	return fmt.Sprintf(`# demo config: throwaway MariaDB + iotdbtest (stand-ins)
mysql:
  host: %s
  port: %d
  user: %s
  password: ${MYSQL_PASSWORD}
  database: factory
  tls: disabled
  tables:
    - name: sensor_readings
      partition: {column: id, count: 8}
iotdb:
  nodes: ["%s"]
  user: root
  password: ${IOTDB_PASSWORD}
  create_schema: true
  mappings:
    - table: sensor_readings
      device: "root.factory.${site}.${device_id}"
      time: {column: created_at, zone: UTC}
      aligned: true
      measurements:
        - {column: temperature}
        - {column: humidity}
        - {column: pressure, type: DOUBLE}
        - {column: status, name: state}
      on_update: overwrite
      on_delete: delete
backfill:
  readers: 2
  writers: 2
  state: %s/backfill.state.json
dirty_rows:
  file: %s/dirty-rows.jsonl
log:
  format: console
`, db.Host, db.Port, db.BridgeUser, iot.Addr(), dir, dir)
}

// show prints per-device point counts and a few points, all through the
// IoTDB client over the wire, as a user would check a real server.
func show(iot *iotdbtest.Server) error {
	s := client.NewSession(&client.Config{Host: iot.Host(), Port: fmt.Sprint(iot.Port()), UserName: "root", Password: "root", TimeZone: "UTC"})
	if err := s.Open(false, 0); err != nil {
		return err
	}
	defer s.Close()

	ds, err := s.ExecuteQueryStatement("SELECT COUNT(*) FROM root.factory.**", nil)
	if err != nil {
		return fmt.Errorf("count query: %w", err)
	}
	counts := map[string]int64{}
	var total int64
	if ok, err := ds.Next(); err != nil {
		return err
	} else if ok {
		for _, col := range ds.GetColumnNames() {
			n, err := ds.GetLong(col)
			if err != nil {
				return err
			}
			// count(root.factory.site.device.measurement)
			series := strings.TrimSuffix(strings.TrimPrefix(col, "count("), ")")
			dev := series[:strings.LastIndexByte(series, '.')]
			counts[dev] += n
			total += n
		}
	}
	ds.Close()
	devs := make([]string, 0, len(counts))
	for d := range counts {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	fmt.Printf("  %-40s %10s\n", "device", "points")
	for i, d := range devs {
		if i == 6 && len(devs) > 8 {
			fmt.Printf("  %-40s %10s\n", fmt.Sprintf("... %d more devices", len(devs)-7), "")
			i = len(devs) - 1
			d = devs[i]
			fmt.Printf("  %-40s %10d\n", d, counts[d])
			break
		}
		fmt.Printf("  %-40s %10d\n", d, counts[d])
	}
	fmt.Printf("  %-40s %10d  (%d devices)\n", "total", total, len(devs))

	var sample string
	for _, d := range devs {
		if strings.Contains(d, "`") {
			sample = d
			break
		}
	}
	if sample == "" && len(devs) > 0 {
		sample = devs[0]
	}
	if sample == "" {
		return errors.New("nothing landed in IoTDB")
	}
	q := "SELECT * FROM " + sample + " LIMIT 3"
	fmt.Printf("\n  %s\n", q)
	ds, err = s.ExecuteQueryStatement(q, nil)
	if err != nil {
		return fmt.Errorf("sample query: %w", err)
	}
	defer ds.Close()
	cols := ds.GetColumnNames()
	for {
		ok, err := ds.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		var b strings.Builder
		ts, _ := ds.GetTimestamp("Time")
		fmt.Fprintf(&b, "  %s", ts.UTC().Format("2006-01-02T15:04:05.000Z"))
		for _, c := range cols {
			if c == "Time" {
				continue
			}
			v, _ := ds.GetObject(c)
			fmt.Fprintf(&b, "  %s=%v", c[strings.LastIndexByte(c, '.')+1:], v)
		}
		fmt.Println(b.String())
	}
	return nil
}

func cdcConfig(file string, pos uint32, dir string) string {
	return fmt.Sprintf(`cdc:
  start: {file: %s, pos: %d}
  checkpoint: {path: %s/cdc.checkpoint.json, interval: 200ms}
metrics:
  listen: ""
`, file, pos, dir)
}

// cdcStep runs the cdc binary, changes rows in MariaDB and shows each change
// arriving in IoTDB, then stops cdc with SIGTERM (flush, checkpoint, exit 0).
func cdcStep(ctx context.Context, bin, cfgPath string, db *testenv.MariaDB, iot *iotdbtest.Server) error {
	banner("cdc --config " + cfgPath + "   (tails the binlog from the position taken before the backfill)")
	cmd := exec.Command(bin, "--config", cfgPath, "--log-format", "console")
	cmd.Env = append(os.Environ(), "MYSQL_PASSWORD="+db.BridgePassword, "IOTDB_PASSWORD=root")
	logf, err := os.CreateTemp("", "bridge-demo-cdc-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cdc: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	dev := "root.factory.plant_a.`pump-1`"
	series := func(m string) string { return dev + "." + m }
	at := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	ms := at.UnixMilli()
	valueAt := func(m string) (any, bool) {
		for _, p := range iot.Points(series(m)) {
			if p.Time == ms {
				return p.Value, true
			}
		}
		return nil, false
	}
	wait := func(what string, cond func() bool) error {
		start := time.Now()
		for !cond() {
			select {
			case err := <-exited:
				stopped = true
				out, _ := os.ReadFile(logf.Name())
				return fmt.Errorf("cdc exited (%v) before %s:\n%s", err, what, out)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			if time.Since(start) > time.Minute {
				out, _ := os.ReadFile(logf.Name())
				return fmt.Errorf("%s did not reach IoTDB within a minute; cdc log:\n%s", what, out)
			}
		}
		fmt.Printf("  -> visible in IoTDB after %s\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	step := func(sql string) (time.Time, error) {
		fmt.Printf("\n  mysql> %s\n", sql)
		return time.Now(), db.Exec(ctx, sql)
	}

	if _, err := step("INSERT INTO sensor_readings (device_id, site, created_at, temperature, humidity, pressure, status) VALUES ('pump-1', 'plant_a', '2030-01-01 08:00:00', 70.5, 41.0, 1001.5, 'ok')"); err != nil {
		return err
	}
	if err := wait("the insert", func() bool { v, ok := valueAt("temperature"); return ok && v == 70.5 }); err != nil {
		return err
	}
	fmt.Printf("  %s temperature=70.5 humidity=41\n", dev)

	if _, err := step("UPDATE sensor_readings SET temperature = 99.25, humidity = NULL WHERE device_id = 'pump-1' AND site = 'plant_a' AND created_at = '2030-01-01 08:00:00'"); err != nil {
		return err
	}
	if err := wait("the update", func() bool {
		v, ok := valueAt("temperature")
		_, hum := valueAt("humidity")
		return ok && v == 99.25 && !hum
	}); err != nil {
		return err
	}
	fmt.Printf("  %s temperature=99.25, humidity point deleted (a NULL write would not clear it)\n", dev)

	if _, err := step("DELETE FROM sensor_readings WHERE device_id = 'pump-1' AND site = 'plant_a' AND created_at = '2030-01-01 08:00:00'"); err != nil {
		return err
	}
	if err := wait("the delete", func() bool { _, ok := valueAt("temperature"); return !ok }); err != nil {
		return err
	}
	fmt.Printf("  %s point deleted (on_delete: delete)\n", dev)

	fmt.Println("\n  SIGTERM -> cdc flushes, saves its checkpoint and exits 0")
	cmd.Process.Signal(syscall.SIGTERM)
	err = <-exited
	stopped = true
	if err != nil {
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("cdc did not stop cleanly: %v\n%s", err, out)
	}
	ck, err := os.ReadFile(filepath.Join(filepath.Dir(cfgPath), "cdc.checkpoint.json"))
	if err != nil {
		return err
	}
	var state struct {
		Position struct {
			File string `json:"file"`
			Pos  uint32 `json:"pos"`
		} `json:"position"`
	}
	if err := json.Unmarshal(ck, &state); err != nil {
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	fmt.Printf("  checkpoint saved at %s:%d\n", state.Position.File, state.Position.Pos)
	return nil
}

func banner(s string) { fmt.Printf("\n== %s\n", s) }
