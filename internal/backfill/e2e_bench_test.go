package backfill

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// BenchmarkBackfillE2E measures the whole backfill path (engine, real
// mapping, real sink) on the table shape: sensor_readings with 1000
// devices, 5 measurements and 1% NULLs, into an iotdbtest process
// (--discard) so that this process's CPU time is the bridge's alone. The raw
// sub-benchmark is the floor of the same run: a bare prepared-statement
// keyset scan with typed Scan, 2 readers.
//
// Metrics: rows/s (wall) and cpu-s/Mrows (this process's user+sys time per
// million rows, from rusage), so the figures hold on a shared machine.
//
//	BENCH_ROWS=500000 go test -run '^$' -bench BackfillE2E -benchtime 3x ./internal/backfill/
//	go test -run '^$' -bench 'BackfillE2E/engine' -benchtime 2x -cpuprofile cpu.out ./internal/backfill/
func BenchmarkBackfillE2E(b *testing.B) {
	rows := int64(200000)
	if s := os.Getenv("BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_ROWS=%q", s)
		}
		rows = n
	}
	m := testenv.StartMariaDB(b)
	ctx := context.Background()
	const ddl = `CREATE TABLE sensor_readings (
  id BIGINT PRIMARY KEY,
  device_id VARCHAR(32) NOT NULL,
  site VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  temperature DOUBLE NULL,
  humidity DOUBLE NULL,
  pressure DOUBLE NULL,
  voltage FLOAT NULL,
  status INT NULL) ENGINE=InnoDB`
	// Row i (0-based): device i%1000 at site device%20, one reading per
	// device per second at the device's own millisecond offset, each
	// measurement NULL with probability 1%.
	load := fmt.Sprintf(`INSERT INTO sensor_readings
SELECT s.seq, CONCAT('dev', LPAD((s.seq-1) %% 1000, 5, '0')), CONCAT('site', LPAD((s.seq-1) %% 1000 %% 20, 2, '0')),
  TIMESTAMP'2024-01-01 00:00:00.000' + INTERVAL (((s.seq-1) DIV 1000) * 1000 + ((s.seq-1) %% 1000) * 7 %% 1000) * 1000 MICROSECOND,
  IF(RAND(s.seq*5+0) < 0.01, NULL, ROUND(15 + RAND(s.seq*5+10) * 20, 3)),
  IF(RAND(s.seq*5+1) < 0.01, NULL, ROUND(30 + RAND(s.seq*5+11) * 60, 2)),
  IF(RAND(s.seq*5+2) < 0.01, NULL, ROUND(990 + RAND(s.seq*5+12) * 40, 2)),
  IF(RAND(s.seq*5+3) < 0.01, NULL, ROUND(3 + RAND(s.seq*5+13) * 0.6, 3)),
  IF(RAND(s.seq*5+4) < 0.01, NULL, FLOOR(POW(RAND(s.seq*5+14), 2) * 4))
FROM seq_1_to_%d s`, rows)
	for _, q := range []string{ddl, load, "ANALYZE TABLE sensor_readings"} {
		if err := m.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sql.Open("mysql", m.BridgeDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	var cells int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(temperature)+COUNT(humidity)+COUNT(pressure)+COUNT(voltage)+COUNT(status) FROM sensor_readings`).Scan(&cells); err != nil {
		b.Fatal(err)
	}

	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	report := func(b *testing.B, c0 time.Duration) {
		total := float64(rows) * float64(b.N)
		b.ReportMetric(total/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric((cpu()-c0).Seconds()/(total/1e6), "cpu-s/Mrows")
	}

	b.Run("raw", func(b *testing.B) {
		st, err := db.PrepareContext(ctx, `SELECT id, device_id, site, created_at, temperature, humidity, pressure, voltage, status
FROM sensor_readings WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		c0 := cpu()
		for b.Loop() {
			var wg sync.WaitGroup
			var mu sync.Mutex
			var n int64
			var firstErr error
			for r := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					lo, hi := int64(r)*rows/2, int64(r+1)*rows/2
					var cnt int64
					var (
						id         int64
						dev, site  string
						at         time.Time
						t, h, p, v sql.NullFloat64
						status     sql.NullInt32
					)
					for {
						rs, err := st.QueryContext(ctx, lo, hi, 10000)
						if err != nil {
							firstErr = err
							return
						}
						k := 0
						for rs.Next() {
							if err := rs.Scan(&id, &dev, &site, &at, &t, &h, &p, &v, &status); err != nil {
								firstErr = err
								return
							}
							k++
							lo = id
						}
						rs.Close()
						cnt += int64(k)
						if k < 10000 {
							break
						}
					}
					mu.Lock()
					n += cnt
					mu.Unlock()
				}()
			}
			wg.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			if n != rows {
				b.Fatalf("%d rows", n)
			}
		}
		report(b, c0)
	})

	ts, err := mapping.LoadTableSchema(ctx, db, m.Database, "sensor_readings")
	if err != nil {
		b.Fatal(err)
	}
	aligned := true
	mp, err := mapping.Compile(&config.Mapping{
		Table: "sensor_readings", Device: "root.bench.${site}.${device_id}",
		Time: config.TimeSpec{Column: "created_at"}, Aligned: &aligned,
		Measurements: []config.Measurement{{Column: "temperature"}, {Column: "humidity"}, {Column: "pressure"}, {Column: "voltage"}, {Column: "status"}},
	}, ts, mapping.Options{Precision: "ms"})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, w PointWriter, check func(Summary), peers ...int) {
		dir := b.TempDir()
		c0 := cpu()
		p0 := make([]time.Duration, len(peers))
		for i, pid := range peers {
			p0[i] = procCPU(b, pid)
		}
		for b.Loop() {
			opts := Options{DB: db, Database: m.Database, Writer: w, Restart: true,
				Tables:   []Table{{Config: config.Table{Name: "sensor_readings", Partition: config.Partition{Column: "id", Count: 8}}, Mapper: mp}},
				Backfill: config.Backfill{Readers: 2, Writers: 2, State: filepath.Join(dir, "s.json")},
				Dirty:    dirty.New(config.DirtyRows{File: filepath.Join(dir, "d.jsonl"), Max: -1})}
			sum, err := Run(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			if sum.Tables[0].RowsRead != rows || sum.Tables[0].DirtyRows != 0 {
				b.Fatalf("%+v", sum.Tables[0])
			}
			check(sum)
		}
		report(b, c0)
		for i, pid := range peers {
			b.ReportMetric((procCPU(b, pid)-p0[i]).Seconds()/(float64(rows)*float64(b.N)/1e6), "iotdbtest-cpu-s/Mrows")
		}
	}
	b.Run("map-nop", func(b *testing.B) {
		run(b, nopWriter{}, func(Summary) {})
	})
	b.Run("engine", func(b *testing.B) {
		addr, pid := startIoTDBTest(b)
		sink, err := iotdbsink.New(config.IoTDB{Nodes: []string{addr}, User: "root", Password: "root", CreateSchema: true}, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		if err := sink.Open(ctx); err != nil {
			b.Fatal(err)
		}
		defer sink.Close()
		w := &e2eWriter{sink: sink}
		run(b, w, func(sum Summary) {
			if got := w.points.Swap(0); got != cells {
				b.Fatalf("sink wrote %d values, want %d", got, cells)
			}
		}, pid)
	})
}

// startIoTDBTest runs cmd/iotdbtest --discard as a separate process, so
// that its CPU does not count as the bridge's.
func startIoTDBTest(b *testing.B) (string, int) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "iotdbtest")
	build := exec.Command("go", "build", "-o", bin, "github.com/mysql-iotdb-bridge/bridge/cmd/iotdbtest")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building iotdbtest: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--listen", addr, "--discard")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			b.Fatalf("iotdbtest not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procCPU is the user+sys time of process pid (/proc/pid/stat).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command (which may contain spaces) in parentheses.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// e2eWriter counts the non-NULL values the sink acknowledged.
type e2eWriter struct {
	sink   *iotdbsink.Sink
	points countInt64
}

type countInt64 struct {
	mu sync.Mutex
	n  int64
}

func (c *countInt64) Add(n int64) { c.mu.Lock(); c.n += n; c.mu.Unlock() }
func (c *countInt64) Swap(n int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.n
	c.n = n
	return o
}

func (w *e2eWriter) Write(ctx context.Context, pts []mapping.Point) (iotdbsink.Result, error) {
	res, err := w.sink.Write(ctx, pts)
	if err != nil {
		return res, err
	}
	if len(res.Rejected) > 0 {
		return res, fmt.Errorf("%d rejections, first %+v", len(res.Rejected), res.Rejected[0])
	}
	var n int64
	for i := range pts {
		for _, v := range pts[i].Values {
			if v != nil {
				n++
			}
		}
	}
	w.points.Add(n)
	return res, nil
}
