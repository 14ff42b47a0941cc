package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seed returns the workload seed: E2E_SEED, else a fixed default. It is
// logged so a failing run can be repeated (timing still varies).
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(20240611)
	if v := os.Getenv("E2E_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("E2E_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (set E2E_SEED to repeat)", s)
	return s
}

// readingsDDL is the workload table: a device template over two columns,
// a DATETIME(3) time, typed NULLable measurements. The unique key keeps
// one row per IoTDB point key (device, time), so the expected state is
// well defined; moves that would collide are skipped (UPDATE IGNORE).
const readingsDDL = `CREATE TABLE %s (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  site VARCHAR(16) NOT NULL,
  dev VARCHAR(32) CHARACTER SET utf8mb4 NOT NULL,
  ts DATETIME(3) NOT NULL,
  temp DOUBLE NULL,
  hum INT NULL,
  status VARCHAR(16) NULL,
  ok TINYINT(1) NULL,
  UNIQUE KEY point_key (site, dev, ts)
) DEFAULT CHARSET=utf8mb4`

// readingsMapping maps a readings table (tree model, aligned).
func readingsMapping(table, db string) string {
	return fmt.Sprintf(`- table: %s
  device: "root.%s.${site}.${dev}"
  time: {column: ts, zone: UTC}
  aligned: true
  measurements:
    - {column: temp}
    - {column: hum}
    - {column: status}
    - {column: ok}
  on_update: overwrite
  on_delete: delete`, table, db)
}

var (
	wlSites = []string{"s1", "s2", "site-3"}
	wlDevs  = []string{"d1", "d2", "d3", "d4", "d.5", "東京"}
	wlStats = []string{"ok", "warn", "fault"}
)

const wlBase = "2024-01-01 00:00:00"

// wlSpan is the time range of the rows, in seconds after wlBase.
const wlSpan = 3000

// readingsCSV returns n rows for LoadCSV (columns readingsColumns).
func readingsCSV(rng *rand.Rand, n int) string {
	var b strings.Builder
	base, _ := time.Parse(time.DateTime, wlBase)
	for range n {
		ts := base.Add(time.Duration(rng.IntN(wlSpan*4)) * 250 * time.Millisecond)
		temp, hum, st, ok := randomValues(rng)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", wlSites[rng.IntN(len(wlSites))], wlDevs[rng.IntN(len(wlDevs))],
			ts.Format("2006-01-02 15:04:05.000"), temp, hum, st, ok)
	}
	return b.String()
}

var readingsColumns = []string{"site", "dev", "ts", "temp", "hum", "status", "ok"}

// preload loads about n random rows: LOAD DATA into a staging copy without
// the unique key, then INSERT IGNORE (duplicate point keys dropped).
func (e *env) preload(table string, rng *rand.Rand, n int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stage := table + "_stage"
	e.exec("CREATE TABLE " + stage + " LIKE " + table)
	e.exec("ALTER TABLE " + stage + " DROP INDEX point_key")
	if _, err := e.m.LoadCSV(ctx, stage, readingsColumns, strings.NewReader(readingsCSV(rng, n))); err != nil {
		e.t.Fatal(err)
	}
	e.exec("INSERT IGNORE INTO "+table+" (site, dev, ts, temp, hum, status, ok) SELECT site, dev, ts, temp, hum, status, ok FROM "+stage+" ORDER BY id",
		"DROP TABLE "+stage)
}

// workload writes a random mix of row changes into a readings table in
// transactions of varied sizes until stopped.
type workload struct {
	db    *sql.DB
	table string
	rng   *rand.Rand
	// sizes and weights of transactions (rows each), kinds of statements
	// allowed ("insert", "update", "null", "restore", "nullback", "move-dev",
	// "move-time", "delete") with weights.
	sizes   []int
	sizeW   []int
	kinds   []string
	kindW   []int
	pause   time.Duration // between transactions
	changes atomic.Int64  // rows changed (RowsAffected)
	txns    atomic.Int64
	errs    atomic.Int64
	lastErr atomic.Value

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// chaosWorkload is the full mix of DESIGN's change kinds.
func chaosWorkload(db *sql.DB, table string, rng *rand.Rand) *workload {
	return &workload{db: db, table: table, rng: rng,
		sizes: []int{1, 10, 100, 1000, 5000}, sizeW: []int{30, 30, 25, 13, 2},
		kinds: []string{"insert", "update", "null", "restore", "nullback", "move-dev", "move-time", "delete"},
		kindW: []int{30, 20, 8, 6, 6, 10, 10, 10},
		pause: 25 * time.Millisecond,
	}
}

// steadyWorkload inserts and updates in small transactions.
func steadyWorkload(db *sql.DB, table string, rng *rand.Rand) *workload {
	return &workload{db: db, table: table, rng: rng,
		sizes: []int{1, 5, 20, 100}, sizeW: []int{30, 30, 30, 10},
		kinds: []string{"insert", "update", "null", "restore"},
		kindW: []int{50, 30, 10, 10},
		pause: 10 * time.Millisecond,
	}
}

func pick[T any](rng *rand.Rand, items []T, weights []int) T {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return items[i]
		}
		r -= w
	}
	return items[len(items)-1]
}

// start runs the workload in a goroutine.
func (w *workload) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			if err := w.txn(ctx); err != nil && ctx.Err() == nil {
				w.errs.Add(1)
				w.lastErr.Store(err.Error())
				time.Sleep(100 * time.Millisecond)
			}
			if w.pause > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(w.rng.Int64N(int64(w.pause) * 2))):
				}
			}
		}
	}()
}

// stop stops the workload and waits for its transaction to end.
func (w *workload) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel = nil
}

func (w *workload) String() string {
	s := fmt.Sprintf("%d transactions, %d rows changed", w.txns.Load(), w.changes.Load())
	if n := w.errs.Load(); n > 0 {
		s += fmt.Sprintf(", %d failed transactions (last: %v)", n, w.lastErr.Load())
	}
	return s
}

// txn runs one transaction of a random size.
func (w *workload) txn(ctx context.Context) error {
	size := pick(w.rng, w.sizes, w.sizeW)
	// The transaction runs to its end even when ctx ends (no half-sent
	// transactions left to the server), bounded by its own timeout.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var maxID int64
	if err := w.db.QueryRowContext(tctx, "SELECT COALESCE(MAX(id), 0) FROM "+w.table).Scan(&maxID); err != nil {
		return err
	}
	tx, err := w.db.BeginTx(tctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var changed int64
	left := size
	for left > 0 {
		n := left
		if left > 1 && w.rng.IntN(3) == 0 {
			n = 1 + w.rng.IntN(left) // several statements in one transaction
		}
		left -= n
		for _, q := range w.statements(pick(w.rng, w.kinds, w.kindW), n, maxID) {
			res, err := tx.ExecContext(tctx, q)
			if err != nil {
				return fmt.Errorf("%s: %w", abbrev(q, 120), err)
			}
			if k, err := res.RowsAffected(); err == nil {
				changed += k
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.changes.Add(changed)
	w.txns.Add(1)
	return nil
}

// statements renders one change of kind touching about n rows.
func (w *workload) statements(kind string, n int, maxID int64) []string {
	rng := w.rng
	lo := int64(1)
	if maxID > int64(n) {
		lo = 1 + rng.Int64N(maxID-int64(n)+1)
	}
	rangeW := fmt.Sprintf("id BETWEEN %d AND %d", lo, lo+int64(n)-1)
	sv := rng.IntN(1000)
	switch kind {
	case "insert":
		var b strings.Builder
		b.WriteString("INSERT IGNORE INTO " + w.table + " (site, dev, ts, temp, hum, status, ok) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "('%s','%s','%s' + INTERVAL %d MICROSECOND,%s,%s,%s,%s)",
				wlSites[rng.IntN(len(wlSites))], wlDevs[rng.IntN(len(wlDevs))], wlBase,
				rng.IntN(wlSpan*4)*250000,
				nullOr(rng, 8, strconv.FormatFloat(float64(rng.IntN(100000))/1000, 'f', -1, 64)),
				nullOr(rng, 8, strconv.Itoa(rng.IntN(1000))),
				nullOr(rng, 4, "'"+wlStats[rng.IntN(len(wlStats))]+"'"),
				nullOr(rng, 3, strconv.Itoa(rng.IntN(2))))
		}
		return []string{b.String()}
	case "update":
		return []string{fmt.Sprintf("UPDATE %s SET temp = IF(MOD(id + %d, 7) = 0, NULL, MOD(id * 31 + %d, 100000) / 1000), "+
			"hum = IF(MOD(id + %d, 5) = 0, NULL, MOD(id * 13 + %d, 1000)), "+
			"status = ELT(1 + MOD(id + %d, 4), 'ok', 'warn', 'fault', NULL), ok = MOD(id + %d, 2) WHERE %s",
			w.table, sv, sv, sv, sv, sv, sv, rangeW)}
	case "null":
		cols := []string{"temp", "hum", "status", "ok"}
		c1, c2 := cols[rng.IntN(4)], cols[rng.IntN(4)]
		return []string{fmt.Sprintf("UPDATE %s SET %s = NULL, %s = NULL WHERE %s", w.table, c1, c2, rangeW)}
	case "restore":
		return []string{fmt.Sprintf("UPDATE %s SET temp = COALESCE(temp, id / 4), hum = COALESCE(hum, %d), "+
			"status = COALESCE(status, 'back'), ok = COALESCE(ok, 1) WHERE %s", w.table, sv, rangeW)}
	case "nullback": // to NULL and back within one transaction
		return []string{
			fmt.Sprintf("UPDATE %s SET temp = NULL, status = NULL WHERE %s", w.table, rangeW),
			fmt.Sprintf("UPDATE %s SET temp = id + %d, status = 'again' WHERE %s AND MOD(id, 3) > 0", w.table, sv, rangeW),
		}
	case "move-dev":
		return []string{fmt.Sprintf("UPDATE IGNORE %s SET dev = ELT(1 + MOD(id + %d, 6), 'd1', 'd2', 'd3', 'd4', 'd.5', '東京'), "+
			"site = IF(MOD(id + %d, 4) = 0, ELT(1 + MOD(id, 3), 's1', 's2', 'site-3'), site) WHERE %s", w.table, sv, sv, rangeW)}
	case "move-time":
		return []string{fmt.Sprintf("UPDATE IGNORE %s SET ts = ts + INTERVAL (MOD(id + %d, 9) - 4) * 250000 MICROSECOND WHERE %s",
			w.table, sv, rangeW)}
	case "delete":
		k := max(n/2, 1)
		return []string{fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", w.table, lo, lo+int64(k)-1)}
	}
	panic("unknown kind " + kind)
}

// nullOr returns NULL one time in oneIn, else v.
func nullOr(rng *rand.Rand, oneIn int, v string) string {
	if rng.IntN(oneIn) == 0 {
		return "NULL"
	}
	return v
}

// bigCSV returns n rows for LoadCSV with distinct point keys: row i goes to
// device i mod 18 at 250 ms steps, starting day days after wlBase (so the
// workload's random inserts, within the first hour, do not collide).
func bigCSV(rng *rand.Rand, n, day int) string {
	var b strings.Builder
	base, _ := time.Parse(time.DateTime, wlBase)
	base = base.AddDate(0, 0, day)
	nd := len(wlSites) * len(wlDevs)
	for i := range n {
		d := i % nd
		ts := base.Add(time.Duration(i/nd) * 250 * time.Millisecond)
		temp, hum, st, ok := randomValues(rng)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", wlSites[d/len(wlDevs)], wlDevs[d%len(wlDevs)],
			ts.Format("2006-01-02 15:04:05.000"), temp, hum, st, ok)
	}
	return b.String()
}

// loadBig loads n rows of bigCSV into table.
func (e *env) loadBig(table string, rng *rand.Rand, n, day int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got, err := e.m.LoadCSV(ctx, table, readingsColumns, strings.NewReader(bigCSV(rng, n, day)))
	if err != nil {
		e.t.Fatal(err)
	}
	if got != int64(n) {
		e.t.Fatalf("loaded %d rows into %s, want %d", got, table, n)
	}
}

// randomValues draws one row's measurement columns as LOAD DATA fields
// (\N for NULL, some of each column NULL).
func randomValues(rng *rand.Rand) (temp, hum, st, ok string) {
	temp, hum, st, ok = `\N`, `\N`, `\N`, `\N`
	if rng.IntN(10) > 0 {
		temp = strconv.FormatFloat(float64(rng.IntN(100000))/1000, 'f', -1, 64)
	}
	if rng.IntN(10) > 0 {
		hum = strconv.Itoa(rng.IntN(1000))
	}
	if rng.IntN(4) > 0 {
		st = wlStats[rng.IntN(len(wlStats))]
	}
	if rng.IntN(3) > 0 {
		ok = strconv.Itoa(rng.IntN(2))
	}
	return temp, hum, st, ok
}
