package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// SQL() is verify's push-down: its time expression, bucket floor and
// device grouping must give, in MariaDB, exactly what Map gives for every
// row Map accepts, at every precision and for every time column kind,
// before 1970 and with fractions too.
func TestIntegrationSQLShapeMatchesMap(t *testing.T) {
	srv := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := srv.DB(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.Exec(ctx, `CREATE TABLE times (id INT PRIMARY KEY, site VARCHAR(8) NOT NULL, dev VARCHAR(16) NULL, n INT NOT NULL,
  dt DATETIME(6) NOT NULL, d DATE NOT NULL, ts TIMESTAMP(6) NULL DEFAULT NULL, e BIGINT NOT NULL, v DOUBLE)`))
	rows := []string{
		"(1, 's', 'Dev', 1, '2024-03-05 10:11:12.123456', '2024-03-05', '2024-03-05 10:11:12.123456', 1709633472123456, 1)",
		"(2, 's', 'dev', 2, '1969-12-31 23:59:59.999500', '1969-12-31', '1970-01-01 00:00:01.000001', -1, 2)",
		"(3, 's', 'dev', 3, '1900-01-01 00:00:00.000001', '1900-01-01', '2038-01-19 03:14:07.999999', -1001, 3)",
		"(4, 's', 'd.4', 4, '1970-01-01 00:00:00', '1970-01-01', NULL, 0, 4)",
		"(5, 's', 'x`y', 5, '2262-04-11 23:47:16.854775', '2262-04-11', '2000-02-29 12:00:00.5', -9999999, 5)",
		"(6, 's', NULL, 6, '1678-01-01 00:00:00.000001', '1678-01-01', '1999-12-31 23:59:59.999999', 1234567, 6)",
		"(7, 's', 'root', 7, '1000-01-01 00:00:00', '1000-01-01', NULL, 999, 7)",
		"(8, 's', 'dev', 8, '9999-12-31 23:59:59.999999', '9999-12-31', NULL, 1, 8)",
	}
	must(srv.Exec(ctx, "INSERT INTO times VALUES "+strings.Join(rows, ",")))
	ts, err := LoadTableSchema(ctx, db, srv.Database, "times")
	must(err)

	type timeCol struct {
		col, unit string
	}
	cols := []timeCol{{"dt", ""}, {"d", ""}, {"ts", ""}, {"e", "s"}, {"e", "ms"}, {"e", "us"}, {"e", "ns"}}
	checked := 0
	for _, prec := range []string{"ms", "us", "ns"} {
		for _, tc := range cols {
			for _, model := range []string{"tree", "table"} {
				name := fmt.Sprintf("%s/%s%s/%s", prec, tc.col, tc.unit, model)
				m := &config.Mapping{Table: "times", Device: "root.pd.${site}.${dev}", Time: config.TimeSpec{Column: tc.col, Unit: tc.unit},
					Measurements: []config.Measurement{{Column: "v", Name: "v"}}, Pos: config.Pos{File: "t.yaml", Line: 1}}
				if model == "table" {
					m.Device, m.Tags = "times", []string{"site", "dev"}
				}
				mp, err := Compile(m, ts, Options{Model: model, Precision: prec, Database: "root.pd"})
				must(err)
				shape, err := mp.SQL()
				must(err)
				const bucket = 3_600_007 // not a divisor of anything, so floors differ from truncation
				// whole seconds: a day (the epoch is a whole number of days
				// after year 0) and 7 s (it is not a whole number of those)
				day := 86400 * map[string]int64{"ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[prec]
				week := day / 86400 * 7
				if shape.DeviceKey == "" {
					t.Fatalf("%s: two text device columns and no joined key", name)
				}
				q := "SELECT " + strings.Join(shape.DeviceExprs, ", ") + ", " + shape.DeviceKey + ", " + shape.Bucket(day) + ", " + shape.Bucket(week) + ", " +
					shape.Time + ", " + shape.Bucket(bucket) + ", " + strings.Join(mp.SelectList(), ", ") + " FROM times WHERE id = ?"
				for id := 1; id <= len(rows); id++ {
					row := make([]any, len(mp.Columns()))
					head := make([]any, len(shape.DeviceExprs)+5)
					var ptrs []any
					for i := range head {
						ptrs = append(ptrs, &head[i])
					}
					for i := range row {
						ptrs = append(ptrs, &row[i])
					}
					err := db.QueryRowContext(ctx, q, id).Scan(ptrs...)
					p, mapErr := mp.Map(row)
					if err != nil {
						// MySQL refuses what overflows BIGINT (ns before
						// 1678): verify then reads that table's rows. Map
						// must refuse such a row too.
						if mapErr == nil {
							t.Fatalf("%s row %d: SQL refused (%v), Map accepted %d", name, id, err, p.Time)
						}
						continue
					}
					dev, devErr := mp.DeviceOf(head[:len(shape.DeviceExprs)])
					if mapErr != nil {
						continue // a dirty row: verify drills into its bucket
					}
					checked++
					if got, ok := head[len(head)-2].(int64); !ok || got != p.Time {
						t.Errorf("%s row %d: SQL time %v, Map %d", name, id, head[len(head)-2], p.Time)
					}
					wantB := p.Time / bucket
					if p.Time%bucket < 0 {
						wantB--
					}
					if got, ok := head[len(head)-1].(int64); !ok || got != wantB {
						t.Errorf("%s row %d: SQL bucket %v, want %d", name, id, head[len(head)-1], wantB)
					}
					if devErr != nil || dev != p.Device {
						t.Errorf("%s row %d: DeviceOf %q (%v), Map %q", name, id, dev, devErr, p.Device)
					}
					nd := len(shape.DeviceExprs)
					var joined []any
					for _, part := range strings.Split(string(head[nd].([]byte)), "\x00") {
						joined = append(joined, []byte(part))
					}
					if dev, err := mp.DeviceOf(joined); err != nil || dev != p.Device {
						t.Errorf("%s row %d: DeviceOf(the joined key split) %q (%v), Map %q", name, id, dev, err, p.Device)
					}
					for i, w := range []int64{day, week} {
						want := p.Time / w
						if p.Time%w < 0 {
							want--
						}
						if got, ok := head[nd+1+i].(int64); !ok || got != want {
							t.Errorf("%s row %d: SQL bucket of %d units %v, want %d", name, id, w, head[nd+1+i], want)
						}
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d rows compared", checked)
	}
	// A zone with DST has no SQL form.
	m := &config.Mapping{Table: "times", Device: "root.pd.${site}.${dev}", Time: config.TimeSpec{Column: "dt", Zone: "Europe/Berlin"},
		Measurements: []config.Measurement{{Column: "v", Name: "v"}}, Pos: config.Pos{File: "t.yaml", Line: 1}}
	mp, err := Compile(m, ts, Options{Precision: "ms"})
	must(err)
	if _, err := mp.SQL(); err == nil || !strings.Contains(err.Error(), "Europe/Berlin") {
		t.Fatalf("a DST zone: %v", err)
	}
}
