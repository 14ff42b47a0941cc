package backfill

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

type nopWriter struct{}

func (nopWriter) Write(context.Context, []mapping.Point) (iotdbsink.Result, error) {
	return iotdbsink.Result{}, nil
}

// BenchmarkScan compares one raw prepared-statement scan of 200k rows with
// the engine (4 readers, 2 writers, a no-op writer) over the same table.
func BenchmarkScan(b *testing.B) {
	m := testenv.StartMariaDB(b)
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE bench (id BIGINT PRIMARY KEY, dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, v DOUBLE)",
		"INSERT INTO bench SELECT seq, CONCAT('d', seq % 100), '2024-01-01' + INTERVAL seq SECOND, seq / 7 FROM seq_1_to_200000",
	} {
		if err := m.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	db, err := sql.Open("mysql", m.BridgeDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			st, err := db.PrepareContext(ctx, "SELECT id, dev, ts, v FROM bench WHERE id > ?")
			if err != nil {
				b.Fatal(err)
			}
			rows, err := st.QueryContext(ctx, int64(0))
			if err != nil {
				b.Fatal(err)
			}
			vals := make([]any, 4)
			ptrs := []any{&vals[0], &vals[1], &vals[2], &vals[3]}
			n := 0
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			st.Close()
			if n != 200000 {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric(200000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("engine", func(b *testing.B) {
		dir := b.TempDir()
		for b.Loop() {
			opts := Options{DB: db, Database: m.Database, Writer: nopWriter{}, Restart: true,
				Tables:   []Table{{Config: config.Table{Name: "bench", Partition: config.Partition{Count: 8}}, Mapper: &testMapper{cols: []string{"id", "dev", "ts", "v"}, keyCols: 1, devCol: 1, timeCol: 2}}},
				Backfill: config.Backfill{State: filepath.Join(dir, "s.json")},
				Dirty:    dirty.New(config.DirtyRows{File: filepath.Join(dir, "d.jsonl"), Max: -1})}
			sum, err := Run(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			if sum.Tables[0].RowsRead != 200000 {
				b.Fatalf("%+v", sum.Tables[0])
			}
		}
		b.ReportMetric(200000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
