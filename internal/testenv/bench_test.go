package testenv

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkIntegrationStart measures start-to-ready (Start until a root
// login succeeds, database created) plus Stop, with the cached template
// copy and with mariadb-install-db per server.
func BenchmarkIntegrationStart(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    Options
	}{{"template", Options{}}, {"install-db", Options{NoTemplate: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			var ready time.Duration
			for b.Loop() {
				m := StartMariaDB(b, bc.o)
				ready += m.StartupTime
				if err := m.Stop(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ms-to-ready/op")
		})
	}
}

// BenchmarkIntegrationLoadCSV2M loads 2,000,000 sensor rows per op with
// LoadCSV (run with -benchtime=1x). The rows are generated while streaming.
func BenchmarkIntegrationLoadCSV2M(b *testing.B) {
	const rows = 2_000_000
	m := StartMariaDB(b)
	ctx := b.Context()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; b.Loop(); i++ {
		table := fmt.Sprintf("readings_%d", i)
		if err := m.Exec(ctx, "CREATE TABLE "+table+` (id BIGINT PRIMARY KEY, device_id VARCHAR(32) NOT NULL,
			site VARCHAR(16) NOT NULL, created_at DATETIME(3) NOT NULL, temperature DOUBLE, humidity DOUBLE, status INT)`); err != nil {
			b.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() {
			var err error
			for id := 1; id <= rows && err == nil; id++ {
				_, err = fmt.Fprintf(pw, "%d,pump-%d,site-%d,%s,%d.5,%d.25,%d\n", id, id%500, id%7,
					base.Add(time.Duration(id)*time.Millisecond).Format("2006-01-02 15:04:05.000"), id%40, id%100, id%3)
			}
			pw.CloseWithError(err)
		}()
		start := time.Now()
		n, err := m.LoadCSV(ctx, table, []string{"id", "device_id", "site", "created_at", "temperature", "humidity", "status"}, pr)
		if err != nil || n != rows {
			b.Fatalf("LoadCSV = %d, %v; want %d rows", n, err, rows)
		}
		b.ReportMetric(rows/time.Since(start).Seconds(), "rows/s")
	}
}
