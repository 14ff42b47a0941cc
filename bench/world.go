package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// world is everything the phases share: the throwaway MariaDB holding the
// generated table, the iotdbtest process, the temp dir and the binaries.
// Close removes all of it.
type world struct {
	opts *options
	repo string // module root, where ./cmd/... is built
	tmp  string
	self string // this executable, re-executed for child phases

	db     *testenv.MariaDB
	dbPID  int
	rootDB *sql.DB

	iot       *exec.Cmd
	iotExited chan struct{} // closed once iot has been reaped
	iotAddr   string
	iotRuns   int

	gen    *generator
	rows   int64 // rows in the table now
	points int64 // non-NULL measurement cells in the table now

	cdcNext int64 // next generator index for the CDC suite's table

	bins map[string]string // built ./cmd binaries by name
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// newWorld starts MariaDB and creates the empty table. iotdbtest is started
// by the phases that write (restartIoTDB), each on a fresh server.
func newWorld(ctx context.Context, o *options) (w *world, err error) {
	w = &world{opts: o, bins: map[string]string{}}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	if w.repo, err = moduleRoot(); err != nil {
		return w, err
	}
	if w.self, err = os.Executable(); err != nil {
		return w, err
	}
	if w.tmp, err = os.MkdirTemp("", "bridge-bench-"); err != nil {
		return w, err
	}
	w.gen = newGenerator(o.seed, o.devices, o.nulls)

	logf("starting MariaDB")
	// The whole table stays in the buffer pool, so no phase pays for disk
	// reads that another did not (the load warms it; see ensureRows).
	const chunk = 128 << 20
	pool := max(1<<30, (o.maxRows()*200/chunk+1)*chunk)
	if w.db, err = testenv.Start(ctx, testenv.Options{
		Database:  "bench",
		ExtraArgs: []string{"--innodb-buffer-pool-size=" + strconv.FormatInt(pool, 10)},
	}); err != nil {
		return w, fmt.Errorf("start MariaDB: %w", err)
	}
	w.dbPID = w.db.PID()
	dsn, err := scanDSN(w.db.RootDSN())
	if err != nil {
		return w, err
	}
	if w.rootDB, err = sql.Open("mysql", dsn); err != nil {
		return w, err
	}
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + tableName,
		tableDDL,
	} {
		if err := w.db.Exec(ctx, q); err != nil {
			return w, fmt.Errorf("%s: %w", q, err)
		}
	}
	return w, nil
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run the bench from the repository")
		}
		dir = parent
	}
}

// Close stops both servers and removes the temp dir. It is safe on a
// partly built world.
func (w *world) Close() {
	w.stopIoTDB()
	if w.rootDB != nil {
		w.rootDB.Close()
	}
	if w.db != nil {
		w.db.Stop()
	}
	if w.tmp != "" {
		if w.opts.keep {
			// Binaries are large and rebuilt each run anyway.
			os.RemoveAll(filepath.Join(w.tmp, "bin"))
			logf("kept %s", w.tmp)
		} else {
			os.RemoveAll(w.tmp)
		}
	}
}

// build compiles ./cmd/<name> once into the temp dir.
func (w *world) build(ctx context.Context, name string) (string, error) {
	if p, ok := w.bins[name]; ok {
		return p, nil
	}
	out := filepath.Join(w.tmp, "bin", name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = w.repo
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, b)
	}
	w.bins[name] = out
	return out, nil
}

// ensureRows grows (or truncates and reloads) the table to exactly n rows
// and counts its non-NULL cells, which also pulls every page into the
// buffer pool before any phase is timed.
func (w *world) ensureRows(ctx context.Context, n int64) error {
	if n == w.rows {
		return nil
	}
	if n < w.rows {
		if err := w.db.Exec(ctx, "TRUNCATE TABLE "+tableName); err != nil {
			return err
		}
		w.rows = 0
	}
	from := w.rows
	logf("loading rows %d..%d (%d devices, %.2g NULLs per measurement)", from+1, n, w.opts.devices, w.opts.nulls)
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		_, err := w.gen.writeCSV(pw, from, n)
		pw.CloseWithError(err)
	}()
	loaded, err := w.db.LoadCSV(ctx, tableName, loadColumns, pr)
	pr.CloseWithError(errors.New("load ended"))
	if err != nil {
		return fmt.Errorf("load %s: %w", tableName, err)
	}
	if loaded != n-from {
		return fmt.Errorf("load %s: %d rows loaded, want %d", tableName, loaded, n-from)
	}
	var rows, points int64
	err = w.rootDB.QueryRowContext(ctx, `SELECT COUNT(*),
  COUNT(temperature)+COUNT(humidity)+COUNT(pressure)+COUNT(voltage)+COUNT(status)
FROM `+tableName).Scan(&rows, &points)
	if err != nil {
		return err
	}
	if rows != n {
		return fmt.Errorf("%s holds %d rows, want %d", tableName, rows, n)
	}
	w.rows, w.points = rows, points
	logf("loaded in %.1fs; table has %d rows, %d non-NULL cells", time.Since(start).Seconds(), rows, points)
	return nil
}

// restartIoTDB gives the next phase a fresh, empty iotdbtest process, so
// neither its memory nor its CPU carries over from an earlier phase.
func (w *world) restartIoTDB(ctx context.Context) error {
	w.stopIoTDB()
	bin, err := w.build(ctx, "iotdbtest")
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	w.iotRuns++
	w.iotAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(w.tmp, fmt.Sprintf("iotdbtest-%d.log", w.iotRuns))
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, "--listen", w.iotAddr)
	if dir := os.Getenv("BENCH_PROFILE_DIR"); dir != "" { // a CPU profile per iotdbtest run
		cmd.Env = append(os.Environ(), fmt.Sprintf("IOTDBTEST_CPUPROFILE=%s/iotdbtest-%d.pprof", dir, w.iotRuns))
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.iot = cmd
	exited := make(chan struct{})
	w.iotExited = exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", w.iotAddr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			w.iot = nil
			return fmt.Errorf("iotdbtest exited at start:\n%s", tailFile(logPath, 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("iotdbtest not listening on %s after 30s:\n%s", w.iotAddr, tailFile(logPath, 2000))
		}
	}
}

// stopIoTDB sends SIGTERM and waits; SIGKILL after 10s.
func (w *world) stopIoTDB() {
	if w.iot == nil {
		return
	}
	p, exited := w.iot.Process, w.iotExited
	w.iot = nil
	p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		p.Kill()
		<-exited
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// servers are the processes whose CPU is charged to each phase.
func (w *world) servers() []server {
	s := []server{{name: "mariadbd", pid: w.dbPID}}
	if w.iot != nil && w.iot.Process != nil {
		s = append(s, server{name: "iotdbtest", pid: w.iot.Process.Pid})
	}
	return s
}

// countPoints asks iotdbtest, through the IoTDB Go client, how many points
// it holds under a path pattern: SELECT COUNT(*) ... ALIGN BY DEVICE gives
// one row per device with a count column per measurement, summed here. (One
// row with a column per series, without ALIGN BY DEVICE, does not fit the
// client's 16 MB frame beyond some 10^5 series: docs/iotdb.md §1.1.)
func (w *world) countPoints(ctx context.Context, pattern string) (int64, error) {
	host, port, _ := net.SplitHostPort(w.iotAddr)
	sess := client.NewSession(&client.Config{Host: host, Port: port, UserName: "root", Password: "root"})
	if err := sess.Open(false, 10000); err != nil {
		return 0, err
	}
	defer sess.Close()
	timeout := int64(60000)
	ds, err := sess.ExecuteQueryStatement("SELECT COUNT(*) FROM "+pattern+" ALIGN BY DEVICE", &timeout)
	if err != nil {
		return 0, err
	}
	defer ds.Close()
	return sumCounts(ds)
}

// sumCounts adds up every count column of a query answer (tree model:
// one row per device; table model: one row), skipping Time and Device.
func sumCounts(ds *client.SessionDataSet) (int64, error) {
	var total int64
	for {
		ok, err := ds.Next()
		if err != nil {
			return total, err
		}
		if !ok {
			return total, nil
		}
		for _, c := range ds.GetColumnNames() {
			if c == "Time" || c == "Device" {
				continue
			}
			v, err := ds.GetObject(c)
			if err != nil {
				return total, fmt.Errorf("column %s: %w", c, err)
			}
			switch v := v.(type) {
			case int64:
				total += v
			case int32:
				total += int64(v)
			case nil:
			default:
				return total, fmt.Errorf("column %s: count of type %T", c, v)
			}
		}
	}
}
