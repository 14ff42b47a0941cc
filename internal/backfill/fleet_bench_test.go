package backfill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// BenchmarkFleetWritePage runs the backfill's write path (writePage: map,
// sink, collision count) over pages already in memory, into an iotdbtest
// process (--discard), at 10^3 and 10^6 devices with the device template
// of the devices suite (bench/devices.go): no MySQL, so the difference
// between the two is the device cardinality's alone. Metric: this
// process's CPU per million rows.
//
//	go test -run '^$' -bench FleetWritePage -benchtime 3x ./internal/backfill/
//	BENCH_ROWS=1000000 go test -run '^$' -bench 'FleetWritePage/1000000' -cpuprofile /tmp/fleet.pprof ./internal/backfill/
func BenchmarkFleetWritePage(b *testing.B) {
	rows := 1_000_000
	if s := os.Getenv("BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_ROWS=%q", s)
		}
		rows = n
	}
	ts := &mapping.TableSchema{Database: "bench", Name: "sensor_readings", PrimaryKey: []string{"id"}, Columns: []mapping.Column{
		{Name: "id", Ordinal: 1, DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "device_id", Ordinal: 2, DataType: "varchar", ColumnType: "varchar(32)", Charset: "utf8mb4"},
		{Name: "site", Ordinal: 3, DataType: "varchar", ColumnType: "varchar(16)", Charset: "utf8mb4"},
		{Name: "created_at", Ordinal: 4, DataType: "datetime", ColumnType: "datetime(3)", DatetimePrecision: 3},
		{Name: "temperature", Ordinal: 5, DataType: "double", ColumnType: "double", Nullable: true},
		{Name: "humidity", Ordinal: 6, DataType: "double", ColumnType: "double", Nullable: true},
		{Name: "pressure", Ordinal: 7, DataType: "double", ColumnType: "double", Nullable: true},
		{Name: "voltage", Ordinal: 8, DataType: "float", ColumnType: "float", Nullable: true},
		{Name: "status", Ordinal: 9, DataType: "int", ColumnType: "int(11)", Nullable: true},
	}}
	aligned := true
	for _, devices := range []int{1000, 1_000_000} {
		b.Run(strconv.Itoa(devices), func(b *testing.B) {
			ctx := context.Background()
			mp, err := mapping.Compile(&config.Mapping{
				Table: "sensor_readings", Device: "root.bench.${site}.${device_id}", DeviceTemplate: "fleet",
				Time: config.TimeSpec{Column: "created_at"}, Aligned: &aligned,
				Measurements: []config.Measurement{{Column: "temperature"}, {Column: "humidity"}, {Column: "pressure"}, {Column: "voltage"}, {Column: "status"}},
			}, ts, mapping.Options{Precision: "ms"})
			if err != nil {
				b.Fatal(err)
			}
			// The rows as the reader hands them over (Columns() order, then
			// the key; text, DATETIME read as CHAR too, as []byte), made
			// page by page while the writers run from tables built once:
			// the names in one array and a fixed set of boxed values, so
			// that neither making them nor a large live heap of fixtures
			// weighs on the figure.
			cols := mp.Columns()
			const pageRows = 10_000
			var names []byte
			nameAt := make([]int32, devices+1)
			for d := range devices {
				names = fmt.Appendf(names, "dev%05d", d)
				nameAt[d+1] = int32(len(names))
			}
			var sites []byte
			for d := range 20 {
				sites = fmt.Appendf(sites, "site%02d", d)
			}
			var stamps []byte // per second (up to 64) and millisecond
			base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for sec := range 64 {
				for ms := range 1000 {
					stamps = base.Add(time.Duration(sec)*time.Second+time.Duration(ms)*time.Millisecond).AppendFormat(stamps, "2006-01-02 15:04:05.000")
				}
			}
			const stampLen = len("2006-01-02 15:04:05.000")
			floats := make([]any, 1000)
			float32s := make([]any, 1000)
			for k := range floats {
				floats[k], float32s[k] = float64(k)/7, float32(k)/100
			}
			ints := []any{int64(0), int64(1), int64(2), int64(3)}
			pagePool := sync.Pool{New: func() any { return make([]any, pageRows*(len(cols)+1)) }}
			type fpage struct {
				buf  []any
				rows [][]any
			}
			makePage := func(lo, hi int) fpage {
				buf := pagePool.Get().([]any)
				rs := make([][]any, 0, hi-lo)
				w := len(cols) + 1
				for i := lo; i < hi; i++ {
					d := i % devices
					row := buf[(i-lo)*w : (i-lo+1)*w : (i-lo+1)*w]
					for c, name := range cols {
						switch name {
						case "device_id":
							row[c] = names[nameAt[d]:nameAt[d+1]:nameAt[d+1]]
						case "site":
							row[c] = sites[d%20*6 : d%20*6+6 : d%20*6+6]
						case "created_at":
							at := (i/devices%64*1000 + d*7%1000) * stampLen
							row[c] = stamps[at : at+stampLen : at+stampLen]
						case "voltage":
							row[c] = float32s[i%1000]
						case "status":
							row[c] = ints[i%4]
						case "id":
							row[c] = int64(i + 1)
						default:
							if i%97 == 0 {
								row[c] = nil
							} else {
								row[c] = floats[(i+c)%1000]
							}
						}
					}
					row[len(cols)] = int64(i + 1)
					rs = append(rs, row)
				}
				return fpage{buf, rs}
			}
			addr, pid := startIoTDBTest(b)
			sink, err := iotdbsink.New(config.IoTDB{Nodes: []string{addr}, User: "root", Password: "root", CreateSchema: true,
				Batch: config.Batch{Rows: 10000}}, zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			if err := sink.Open(ctx); err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			dir := b.TempDir()
			plan := &TablePlan{Paged: true, Order: []KeyColumn{{Name: "id"}}, Partitions: []Partition{{ID: 0}}}
			tr, err := newTableRun("sensor_readings", plan, mp)
			if err != nil {
				b.Fatal(err)
			}
			tr.ts = &TableProgress{Plan: plan, Progress: make([]PartProgress, 1)}
			e := &engine{opts: Options{Writer: sink, Progress: NopProgress{}},
				dirty: dirty.New(config.DirtyRows{File: filepath.Join(dir, "d.jsonl"), Max: 0}), cancel: func() {}}
			e.st = newState()
			pr := &partRun{t: tr, pending: map[int]*ackInfo{}}
			seq := 0
			cpu0, iot0 := selfCPU(b), procCPU(b, pid)
			for b.Loop() {
				ch := make(chan fpage, 4)
				var wg sync.WaitGroup
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for fp := range ch {
							e.mu.Lock()
							s := seq
							seq++
							e.mu.Unlock()
							if err := e.writePage(ctx, &page{part: pr, seq: s, rows: fp.rows}); err != nil {
								b.Error(err)
							}
							pagePool.Put(fp.buf)
						}
					}()
				}
				for lo := 0; lo < rows; lo += pageRows {
					ch <- makePage(lo, min(rows, lo+pageRows))
				}
				close(ch)
				wg.Wait()
			}
			total := float64(rows) * float64(b.N) / 1e6
			b.ReportMetric((selfCPU(b)-cpu0).Seconds()/total, "cpu-s/Mrows")
			b.ReportMetric((procCPU(b, pid)-iot0).Seconds()/total, "iotdbtest-cpu-s/Mrows")
			if got := tr.points.Load(); got != int64(rows)*int64(b.N) {
				b.Fatalf("%d points written, want %d", got, int64(rows)*int64(b.N))
			}
		})
	}
}

// selfCPU is this process's user+sys time (rusage).
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
