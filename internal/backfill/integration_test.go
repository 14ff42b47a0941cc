package backfill

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func readingsTable(f *fixture) {
	// 5000 rows with gaps: ids 3, 6, ..., 7500 and a far cluster near 10^6.
	f.exec(
		"CREATE TABLE readings (id BIGINT PRIMARY KEY, dev VARCHAR(16) NOT NULL, ts DATETIME(3) NOT NULL, v DOUBLE)",
		"INSERT INTO readings SELECT seq*3, CONCAT('d', seq % 7), '2024-01-01' + INTERVAL seq SECOND, seq / 10 FROM seq_1_to_2500",
		"INSERT INTO readings SELECT 1000000 + seq, CONCAT('d', seq % 5), '2024-02-01' + INTERVAL seq SECOND, NULL FROM seq_1_to_2500",
	)
}

func readingsMapper() *testMapper {
	return &testMapper{cols: []string{"id", "dev", "ts", "v"}, keyCols: 1, devCol: 1, timeCol: 2}
}

func TestIntegrationFullRunIntegerKeys(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	w := newMemWriter()
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 6}}, Mapper: readingsMapper()}
	opts := f.opts(w, tbl)
	var qc queryCounter
	opts.beforeQuery = qc.hook
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
	ts := sum.Tables[0]
	if ts.RowsRead != 5000 || ts.PointsWritten != 5000 || ts.Done != ts.Partitions || ts.Partitions < 6 {
		t.Fatalf("summary %+v", ts)
	}
	t.Log(sum)
	st, _, err := LoadState(opts.Backfill.State)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Tables["readings"].Plan; !p.Paged || p.Column != "id" || p.Max.Text != "1002500" {
		t.Fatalf("plan %+v", p)
	}

	// A second run reads nothing: every partition is finished.
	var qc2 queryCounter
	opts.beforeQuery = qc2.hook
	w2 := newMemWriter()
	opts.Writer = w2
	sum, err = Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if qc2.total() != 0 || len(w2.snapshot()) != 0 || sum.Tables[0].Skipped != sum.Tables[0].Partitions {
		t.Fatalf("rerun read %d pages, wrote %d keys: %+v", qc2.total(), len(w2.snapshot()), sum.Tables[0])
	}
}

// A page is bounded by its values too: with room for 50 values a page of
// the 5 selected columns (4 mapped, the key) holds 10 rows, not page_rows
// (250), and every row is still copied once.
func TestIntegrationPagesBoundedByValues(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	w := newMemWriter()
	opts := f.opts(w, Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 1}}, Mapper: readingsMapper()})
	opts.pageValues = 50
	var qc queryCounter
	opts.beforeQuery = qc.hook
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
	if sum.Tables[0].RowsRead != 5000 {
		t.Fatalf("%+v", sum.Tables[0])
	}
	// 5000 rows in pages of 10, then the empty page that ends the partition.
	if got := qc.total(); got != 501 {
		t.Fatalf("%d page queries, want 501", got)
	}
}

func TestIntegrationCompositeDatetimeKey(t *testing.T) {
	f := newFixture(t)
	// Many rows share a timestamp: paging must continue inside one ts value.
	f.exec(
		"CREATE TABLE events (ts DATETIME(3) NOT NULL, dev VARCHAR(16) NOT NULL, v INT, PRIMARY KEY (ts, dev))",
		"INSERT INTO events SELECT '2024-03-01' + INTERVAL (seq DIV 40) SECOND, CONCAT('dev-', seq % 40), seq FROM seq_0_to_3999",
		"INSERT INTO events SELECT '2024-03-05 12:00:00.123' + INTERVAL seq MINUTE, 'late', seq FROM seq_0_to_99",
	)
	w := newMemWriter()
	m := &testMapper{cols: []string{"ts", "dev", "v"}, keyCols: 2, devCol: 1, timeCol: 0}
	opts := f.opts(w, Table{Config: config.Table{Name: "events", Partition: config.Partition{Count: 5}}, Mapper: m})
	opts.Backfill.PageRows = 97
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT ts, dev FROM events", 2))
	if sum.Tables[0].RowsRead != 4100 || sum.Tables[0].Collisions != 0 {
		t.Fatalf("%+v", sum.Tables[0])
	}
	st, _, _ := LoadState(opts.Backfill.State)
	p := st.Tables["events"].Plan
	if p.Column != "ts" || len(p.Order) != 2 || p.Order[1].Name != "dev" || p.Min.Kind != KindTime {
		t.Fatalf("plan %+v", p)
	}
	var total int64
	for _, n := range f.rangeCounts(p) {
		total += n
	}
	if total != 4100 {
		t.Fatalf("ranges cover %d rows, want 4100 (overlap or gap)", total)
	}
}

func TestIntegrationWhereFilterIsParenthesised(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	w := newMemWriter()
	// Without parentheses "k <= ? AND dev = 'd1' OR dev = 'd2'" would return
	// every d2 row in every partition.
	where := "dev = 'd1' OR dev = 'd2'"
	tbl := Table{Config: config.Table{Name: "readings", Where: where, Partition: config.Partition{Count: 4}}, Mapper: readingsMapper()}
	if _, err := Run(context.Background(), f.opts(w, tbl)); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings WHERE "+where, 1))
}

func TestIntegrationKeylessTable(t *testing.T) {
	f := newFixture(t)
	f.exec(
		"CREATE TABLE nokey (dev VARCHAR(8), ts DATETIME, v INT)",
		"INSERT INTO nokey SELECT CONCAT('d', seq % 3), '2024-01-01' + INTERVAL seq MINUTE, seq FROM seq_1_to_1234",
	)
	m := &testMapper{cols: []string{"v", "dev", "ts"}, keyCols: 1, devCol: 1, timeCol: 2}

	t.Run("single stream", func(t *testing.T) {
		w := newMemWriter()
		// The mapper's SELECT expressions are used: ts arrives as text.
		lm := &listerMapper{testMapper: &testMapper{cols: m.cols, keyCols: 1, devCol: 1, timeCol: -1,
			dirty: func(row []any) *mapping.DirtyError {
				if _, ok := row[2].([]byte); !ok {
					return &mapping.DirtyError{Column: "ts", Reason: fmt.Sprintf("got %T, want text", row[2])}
				}
				return nil
			}}, exprs: []string{"`v`", "`dev`", "CAST(`ts` AS CHAR) AS `ts`"}}
		opts := f.opts(w, Table{Config: config.Table{Name: "nokey"}, Mapper: lm})
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		plan, _, _, err := DryRun(context.Background(), opts, 0)
		if err != nil {
			t.Fatal(err)
		}
		tp := plan.Tables[0]
		if tp.Paged || len(tp.Partitions) != 1 || !strings.Contains(plan.String(), "streaming scan") {
			t.Fatalf("plan:\n%s", plan)
		}
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT v FROM nokey", 1))
	})
	t.Run("ranges on a column, streamed", func(t *testing.T) {
		w := newMemWriter()
		opts := f.opts(w, Table{Config: config.Table{Name: "nokey", Partition: config.Partition{Column: "ts", Count: 4}}, Mapper: m})
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		f.exec("INSERT INTO nokey VALUES ('dn', NULL, 99999)") // NULL partition column
		defer f.exec("DELETE FROM nokey WHERE v = 99999")
		sum, err := Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT v FROM nokey", 1))
		if sum.Tables[0].Partitions != 5 { // 4 ranges + IS NULL
			t.Fatalf("%+v", sum.Tables[0])
		}
	})
}

func TestIntegrationSkewedKeysSplitAdaptively(t *testing.T) {
	f := newFixture(t)
	// 20000 rows: 18000 in ids 1..18000 (0.9% of the key space), 2000 spread
	// over 18001..2000000.
	f.exec(
		"CREATE TABLE skewed (id INT UNSIGNED PRIMARY KEY, dev VARCHAR(8) NOT NULL, v INT)",
		"INSERT INTO skewed SELECT seq, 'a', seq FROM seq_1_to_18000",
		"INSERT INTO skewed SELECT 18000 + seq * 991, 'b', seq FROM seq_1_to_2000",
		"ANALYZE TABLE skewed",
	)
	m := &testMapper{cols: []string{"id", "dev"}, keyCols: 1, devCol: -1, timeCol: -1}
	tbl := Table{Config: config.Table{Name: "skewed", Partition: config.Partition{Count: 4}}, Mapper: m}
	opts := f.opts(newMemWriter(), tbl)
	plan, _, _, err := DryRun(context.Background(), opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	tp := plan.Tables[0]
	counts := f.rangeCounts(tp)
	t.Logf("plan:\n%sreal counts %v", plan, counts)
	var total, biggest int64
	for _, n := range counts {
		total += n
		biggest = max(biggest, n)
	}
	if total != 20000 {
		t.Fatalf("ranges cover %d rows", total)
	}
	// Without splitting, the first of 4 equal-span ranges holds ~18250 rows.
	// Target is 5000 a range; allow the estimate some slack.
	if len(tp.Partitions) <= 4 || biggest > 12500 {
		t.Fatalf("skew not split: %d partitions, biggest %d rows", len(tp.Partitions), biggest)
	}
	w := newMemWriter()
	opts.Writer = w
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM skewed", 1))
}

func TestIntegrationResumeAfterInterrupts(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	f.exec(
		"CREATE TABLE nokey (dev VARCHAR(8), v INT)",
		"INSERT INTO nokey SELECT CONCAT('d', seq % 3), 5000000 + seq FROM seq_1_to_1500", // keys distinct from readings' ids
	)
	union := newMemWriter()
	tables := []Table{
		{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 8}}, Mapper: readingsMapper()},
		{Config: config.Table{Name: "nokey"}, Mapper: &testMapper{cols: []string{"v", "dev"}, keyCols: 1, devCol: 1, timeCol: -1}},
	}
	// Interrupt after 3, 5 and 9 acknowledged writes, then run to the end.
	var resumedAfterKey atomic.Int64
	for run, stopAfter := range []int{3, 5, 9, 0} {
		st, _, err := LoadState(filepath.Join(f.dir, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		finished := map[string]bool{}
		for name, ts := range st.Tables {
			for i, p := range ts.Progress {
				if p.Done {
					finished[name+"/"+itoaTest(ts.Plan.Partitions[i].ID)] = true
				}
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		w := union
		w.after = func(n int) {}
		var writes atomic.Int64
		if stopAfter > 0 {
			w.after = func(int) {
				if writes.Add(1) == int64(stopAfter) {
					cancel()
				}
			}
		}
		opts := f.opts(w, tables...)
		var mu sync.Mutex
		var reread []string
		started := map[string]bool{}
		opts.beforeQuery = func(table string, part int, after Key) {
			mu.Lock()
			if !started[table+"/"+itoaTest(part)] && after != nil {
				resumedAfterKey.Add(1) // the first query of this partition in this run starts after a saved key
			}
			started[table+"/"+itoaTest(part)] = true
			mu.Unlock()
			if finished[table+"/"+itoaTest(part)] {
				mu.Lock()
				reread = append(reread, table+"/"+itoaTest(part))
				mu.Unlock()
			}
		}
		_, err = Run(ctx, opts)
		cancel()
		if stopAfter > 0 {
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("run %d: want ErrInterrupted, got %v", run, err)
			}
		} else if err != nil {
			t.Fatalf("final run: %v", err)
		}
		if len(reread) > 0 {
			t.Fatalf("run %d read finished partitions again: %v", run, reread)
		}
		t.Logf("run %d: %d partitions were finished before it", run, len(finished))
	}
	want := sourceKeys(t, f.root, "SELECT id FROM readings UNION ALL SELECT v FROM nokey", 1)
	atLeastOnce(t, union.snapshot(), want)
	if resumedAfterKey.Load() == 0 {
		t.Fatal("no partition resumed after a saved key")
	}
}

func itoaTest(n int) string { return strconv.Itoa(n) }

func TestIntegrationConnectionKilledMidScan(t *testing.T) {
	f := newFixture(t)
	f.exec(
		"CREATE TABLE slow (id INT PRIMARY KEY, v INT)",
		"INSERT INTO slow SELECT seq, seq FROM seq_1_to_3000",
	)
	w := newMemWriter()
	m := &testMapper{cols: []string{"id", "v"}, keyCols: 1, devCol: -1, timeCol: -1}
	// SLEEP in the filter makes every page take ~0.3 s, so the kills land
	// inside a running page query.
	tbl := Table{Config: config.Table{Name: "slow", Where: "SLEEP(0.001) = 0", Partition: config.Partition{Count: 2}}, Mapper: m}
	opts := f.opts(w, tbl)
	opts.Backfill.PageRows = 300
	opts.Backfill.Readers = 2
	var killed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for killed.Load() < 3 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
			n, err := f.m.KillConnections(ctx, func(user, command, info string) bool {
				return user == f.m.BridgeUser && strings.Contains(info, "`slow`") && strings.Contains(info, "LIMIT")
			})
			if err == nil {
				killed.Add(int64(n))
			}
		}
	}()
	sum, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if killed.Load() == 0 {
		t.Fatal("no reader query was killed: the test proved nothing")
	}
	t.Logf("killed %d reader connections; %+v", killed.Load(), sum.Tables[0])
	// Pages are re-read from the last key read, never re-sent: still exactly once.
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM slow", 1))
}

func TestIntegrationWriterFailures(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 4}}, Mapper: readingsMapper()}

	t.Run("a failed write stops the run, which names table and range", func(t *testing.T) {
		// The writer (the sink) has retried already: the engine does not
		// retry again, it stops with the page unacknowledged.
		w := newMemWriter()
		w.fail = func(n int) error {
			if n == 3 {
				return errors.New("iotdb: access denied")
			}
			return nil
		}
		opts := f.opts(w, tbl)
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		_, err := Run(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "table readings partition p") || !strings.Contains(err.Error(), "access denied") {
			t.Fatalf("got %v", err)
		}
		// The rerun finishes what the first one left.
		w.fail = nil
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		atLeastOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
	})
}

func TestIntegrationDirtyRows(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	m := readingsMapper()
	m.dirty = func(row []any) *mapping.DirtyError {
		if row[3] == nil && row[0].(int64)%100 == 1 {
			return &mapping.DirtyError{Column: "v", Value: "NULL", Reason: "NULL value"}
		}
		return nil
	}
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 4}}, Mapper: m}
	wantDirty := 25 // ids 1000001, 1000101, ..., 1002401
	rejectDev := func(p mapping.Point) bool { return p.Device == "root.t.d6" }
	var wantRejected int
	f.root.QueryRow("SELECT COUNT(*) FROM readings WHERE dev = 'd6'").Scan(&wantRejected)

	t.Run("skip", func(t *testing.T) {
		w := newMemWriter()
		w.reject = rejectDev
		opts := f.opts(w, tbl)
		sum, err := Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		ts := sum.Tables[0]
		if ts.DirtyRows != int64(wantDirty+wantRejected) || ts.DirtyByReason["NULL value"] != int64(wantDirty) ||
			ts.DirtyByReason[dirty.ReasonRejected] != int64(wantRejected) || ts.PointsWritten != int64(5000-wantDirty-wantRejected) {
			t.Fatalf("summary %+v", ts)
		}
		if sum.DirtyFile != opts.Dirty.Path() {
			t.Fatalf("dirty file %q", sum.DirtyFile)
		}
		fh, err := os.Open(opts.Dirty.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		lines := 0
		for sc.Scan() {
			var r dirty.Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if r.Table != "readings" || r.Key == "" || r.Time.IsZero() || r.Reason == "" {
				t.Fatalf("record %+v", r)
			}
			if r.Reason == "NULL value" && (r.Column != "v" || !strings.HasPrefix(r.Key, "10")) {
				t.Fatalf("record %+v", r)
			}
			lines++
		}
		if lines != wantDirty+wantRejected {
			t.Fatalf("%d lines", lines)
		}
	})
	t.Run("fail", func(t *testing.T) {
		opts := f.opts(newMemWriter(), tbl)
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		opts.Dirty = dirty.New(config.DirtyRows{Policy: "fail", File: filepath.Join(t.TempDir(), "d.jsonl")})
		_, err := Run(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "key 1000") || !strings.Contains(err.Error(), "column v") || !strings.Contains(err.Error(), "NULL value") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("max", func(t *testing.T) {
		opts := f.opts(newMemWriter(), tbl)
		opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
		opts.Dirty = dirty.New(config.DirtyRows{Policy: "skip", File: filepath.Join(t.TempDir(), "d.jsonl"), Max: 10})
		_, err := Run(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), "more than dirty_rows.max=10") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestIntegrationStateErrors(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 4}}, Mapper: readingsMapper()}
	opts := f.opts(newMemWriter(), tbl)
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	// Changed partitioning.
	changed := opts
	changed.Tables = []Table{{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 5}}, Mapper: readingsMapper()}}
	if _, err := Run(context.Background(), changed); err == nil || !strings.Contains(err.Error(), "partitioning changed") || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("got %v", err)
	}
	// Restart wipes.
	changed.Restart = true
	w := newMemWriter()
	changed.Writer = w
	if _, err := Run(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
	// Corrupt file.
	if err := os.WriteFile(opts.Backfill.State, []byte("{\"version\": 1, \"tables\": {\"readings\": {\"plan\""), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), opts.Backfill.State) {
		t.Fatalf("got %v", err)
	}
}

func TestIntegrationShards(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	w := newMemWriter()
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 7}}, Mapper: readingsMapper()}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	sums := make([]Summary, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := f.opts(w, tbl)
			opts.Shard = Shard{Index: i, Count: 2}
			sums[i], errs[i] = Run(context.Background(), opts)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	exactlyOnce(t, w.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
	if sums[0].StatePath == sums[1].StatePath || sums[0].Tables[0].RowsRead == 0 || sums[1].Tables[0].RowsRead == 0 {
		t.Fatalf("%+v %+v", sums[0], sums[1])
	}
	// A state file belongs to its shard.
	opts := f.opts(w, tbl)
	opts.Backfill.State = sums[1].StatePath
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "shard") {
		t.Fatalf("got %v", err)
	}
}

func TestIntegrationCollisionsAndDryRun(t *testing.T) {
	f := newFixture(t)
	// Two rows per (dev, ts): every second row collides.
	f.exec(
		"CREATE TABLE dup (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts DATETIME NOT NULL)",
		"INSERT INTO dup SELECT seq, CONCAT('d', (seq DIV 2) % 4), '2024-01-01' + INTERVAL (seq DIV 2) SECOND FROM seq_0_to_999",
	)
	m := &testMapper{cols: []string{"id", "dev", "ts"}, keyCols: 1, devCol: 1, timeCol: 2}
	tbl := Table{Config: config.Table{Name: "dup", Partition: config.Partition{Count: 3}}, Mapper: m}
	opts := f.opts(newMemWriter(), tbl)
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Tables[0].Collisions; c < 498 || c > 500 { // pairs split across partition boundaries still count
		t.Fatalf("collisions %d, want 500", c)
	}
	plan, points, dirty, err := DryRun(context.Background(), opts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 5 || len(dirty) != 0 || points[0].Values[0] != "0" || !strings.Contains(plan.String(), "table dup: ") {
		t.Fatalf("dry run: %v %v\n%s", points, dirty, plan)
	}
}

// stuckWriter is a sink that never answers (IoTDB hanging, or the sink
// retrying a busy server for iotdb.retry.give_up_after): each Write waits
// for its context.
type stuckWriter struct {
	*memWriter
	entered chan struct{}
}

func (w *stuckWriter) Write(ctx context.Context, points []mapping.Point) (iotdbsink.Result, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return iotdbsink.Result{}, ctx.Err()
}

// An interrupt bounds the writes in flight by backfill.shutdown_timeout:
// Run saves its state and returns ErrInterrupted instead of waiting for a
// write that does not end, and the next run copies every row.
func TestIntegrationShutdownIsBounded(t *testing.T) {
	f := newFixture(t)
	readingsTable(f)
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 4}}, Mapper: readingsMapper()}
	w := &stuckWriter{memWriter: newMemWriter(), entered: make(chan struct{}, 1)}
	opts := f.opts(w, tbl)
	opts.Backfill.State = filepath.Join(t.TempDir(), "s.json")
	opts.Backfill.ShutdownTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Run(ctx, opts); done <- err }()
	<-w.entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("Run after an interrupt: %v, want ErrInterrupted", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waiting for a stuck write 30s after the interrupt (shutdown_timeout 200ms)")
	}
	if _, ok, err := LoadState(opts.Backfill.State); err != nil || !ok {
		t.Fatalf("state after the interrupt: found %v, %v", ok, err)
	}
	mw := newMemWriter()
	opts.Writer = mw
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, mw.snapshot(), sourceKeys(t, f.root, "SELECT id FROM readings", 1))
}
