package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// clock is a hand-moved time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }
func terminal(c *clock) *TerminalProgress {
	p := NewTerminalProgress(&bytes.Buffer{})
	p.t.now = c.now
	return p
}
func (p *TerminalProgress) current() string { return p.line(p.t.state()) }

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q lacks %q", what, got, w)
		}
	}
}

func mustNotContain(t *testing.T, what, got string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(got, b) {
			t.Errorf("%s: %q contains %q", what, got, b)
		}
	}
}

// The estimate is twice the truth (the run: 4,221,226 estimated,
// 2,000,002 read): the total follows each finished partition's real size,
// so the bar climbs instead of sitting at 47% and jumping, and ends at the
// true count.
func TestProgressEstimateTooHigh(t *testing.T) {
	c := newClock()
	p := terminal(c)
	p.t.begin(4000)
	p.Partitions(2)
	c.advance(time.Millisecond)
	p.Add("t", 1000, 1000)
	line := p.current()
	mustContain(t, "first page", line, " 25% ", "1,000 / ~4,000 rows")
	// A rate over a millisecond would be 1,000,000 rows/s: none is shown yet.
	mustNotContain(t, "first page", line, "rows/s", "ETA")

	c.advance(time.Second)
	p.PartitionDone("t", 2000, 1000) // the partition was half its estimate
	mustContain(t, "after the first partition", p.current(), " 33% ", "1,000 / ~3,000 rows", "999 rows/s", "ETA 2s")
	p.Add("t", 1000, 1000)
	mustContain(t, "second partition read", p.current(), " 66% ", "2,000 / ~3,000 rows")
	p.PartitionDone("t", 2000, 1000)
	final := p.final(p.t.state())
	mustContain(t, "final", final, "100%", "2,000 rows in 1.001s")
	mustNotContain(t, "final", final, "4,000", "3,000", "~", "stopped")
}

// More rows than estimated: never more than 100%, never 100% while a
// partition is open, and the final count is what was read.
func TestProgressEstimateTooLow(t *testing.T) {
	c := newClock()
	p := terminal(c)
	p.t.begin(100)
	p.Partitions(1)
	p.Add("t", 150, 150)
	mustContain(t, "past the estimate", p.current(), " 99% ", "150 / ~150 rows")
	p.PartitionDone("t", 100, 150)
	mustContain(t, "done", p.final(p.t.state()), "100%", "150 rows")
}

// Interrupted at 20%: the end line says so; it never draws 100%.
func TestProgressInterrupted(t *testing.T) {
	c := newClock()
	p := terminal(c)
	p.t.begin(1000)
	p.Partitions(4)
	p.Add("t", 200, 200)
	p.PartitionDone("t", 250, 200)
	c.advance(2 * time.Second)
	final := p.final(p.t.state())
	mustContain(t, "interrupted", final, "backfill stopped at 21%: 200 of ~950 rows in 2s, 100 rows/s (1 of 4 partitions done)")
	mustNotContain(t, "interrupted", final, "100%")
}

// No estimate (EXPLAIN said 0): counts only, no percentage, until the end.
func TestProgressWithoutEstimate(t *testing.T) {
	c := newClock()
	p := terminal(c)
	p.t.begin(0)
	p.Partitions(2)
	p.Add("t", 10, 10)
	line := p.current()
	mustContain(t, "no estimate", line, "backfill 10 rows")
	mustNotContain(t, "no estimate", line, "%", "~")
	p.PartitionDone("t", 0, 4)
	p.PartitionDone("t", 0, 6)
	mustContain(t, "done", p.final(p.t.state()), "100%", "10 rows")
}

// The log display: rounded rates, durations in seconds with _s keys, and a
// last line that says whether the run finished.
func TestLogProgress(t *testing.T) {
	lines := func(b *bytes.Buffer) []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			out = append(out, m)
		}
		return out
	}
	zerolog.DurationFieldUnit = time.Second
	c := newClock()
	var b bytes.Buffer
	p := &LogProgress{Log: zerolog.New(&b), Name: "snapshot", Every: time.Hour}
	p.t.now = c.now
	p.Start(nil, 900)
	p.Partitions(3)
	p.Add("t", 300, 300)
	c.advance(1500 * time.Millisecond)
	p.PartitionDone("t", 300, 300)
	p.progress(p.t.state())
	p.Finish()
	got := lines(&b)
	if len(got) != 2 {
		t.Fatalf("%d lines:\n%s", len(got), b.String())
	}
	prog, end := got[0], got[1]
	if prog["message"] != "snapshot progress" || prog["rows"] != 300.0 || prog["rows_total"] != 900.0 || prog["percent"] != 33.0 ||
		prog["rows_per_s"] != 200.0 || prog["eta_s"] != 3.0 || prog["partitions_done"] != 1.0 || prog["partitions"] != 3.0 {
		t.Errorf("progress line %v", prog)
	}
	if end["message"] != "snapshot stopped before the end (run again to resume)" || end["duration_s"] != 1.5 || end["percent"] != 33.0 {
		t.Errorf("end line of an unfinished run %v", end)
	}

	b.Reset()
	p = &LogProgress{Log: zerolog.New(&b), Every: time.Hour}
	p.t.now = c.now
	p.Start(nil, 10)
	p.Partitions(1)
	p.Add("t", 12, 12)
	p.PartitionDone("t", 10, 12)
	p.Finish()
	if end := lines(&b)[0]; end["message"] != "backfill finished" || end["rows"] != 12.0 {
		t.Errorf("end line of a finished run %v", end)
	}
}

// recordingProgress keeps what the engine reported.
type recordingProgress struct {
	mu                  sync.Mutex
	remaining, added    int64
	parts               int
	estimated, doneRows int64
	doneParts           int
	finished            bool
}

func (r *recordingProgress) Start(_ *Plan, remaining int64) {
	r.mu.Lock()
	r.remaining = remaining
	r.mu.Unlock()
}
func (r *recordingProgress) Add(_ string, n, _ int64) { r.mu.Lock(); r.added += n; r.mu.Unlock() }
func (r *recordingProgress) Finish()                  { r.mu.Lock(); r.finished = true; r.mu.Unlock() }
func (r *recordingProgress) Partitions(n int)         { r.mu.Lock(); r.parts = n; r.mu.Unlock() }
func (r *recordingProgress) PartitionDone(_ string, est, rows int64) {
	r.mu.Lock()
	r.estimated += est
	r.doneRows += rows
	r.doneParts++
	r.mu.Unlock()
}

// TestIntegrationProgressAccounting: the engine's reports add up on a real
// table: the partitions it announces, each one's estimate as Start counted
// it, and each one's rows, which together are the rows read; a resumed run
// counts only what is left. An interrupted run's terminal line says it
// stopped.
func TestIntegrationProgressAccounting(t *testing.T) {
	f := newFixture(t)
	readingsTable(f) // 5000 rows
	tbl := Table{Config: config.Table{Name: "readings", Partition: config.Partition{Count: 6}}, Mapper: readingsMapper()}

	// Interrupted after two acknowledged pages.
	ctx, cancel := context.WithCancel(context.Background())
	w := newMemWriter()
	var writes atomic.Int64
	w.after = func(int) {
		if writes.Add(1) == 2 {
			cancel()
		}
	}
	opts := f.opts(w, tbl)
	rec := &recordingProgress{}
	var screen bytes.Buffer
	term := NewTerminalProgress(&screen)
	opts.Progress = Tee(rec, term)
	sum1, err := Run(ctx, opts)
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v", err)
	}
	last := screen.String()[strings.LastIndex(screen.String(), "\r")+1:]
	mustContain(t, "interrupted run's last line", last, "backfill stopped")
	mustNotContain(t, "interrupted run's last line", last, "100%")
	if rec.parts != sum1.Tables[0].Partitions || rec.doneParts != sum1.Tables[0].Done || !rec.finished {
		t.Errorf("interrupted: progress %+v, summary %+v", rec, sum1.Tables[0])
	}
	firstRun := rec.added
	// What the resumed run should expect: the open partitions' estimates
	// less what run 1 acknowledged of them.
	st, _, err := LoadState(opts.Backfill.State)
	if err != nil {
		t.Fatal(err)
	}
	var left, ackedOpen int64
	for i, p := range st.Tables["readings"].Plan.Partitions {
		if pr := st.Tables["readings"].Progress[i]; !pr.Done {
			left += max(0, p.Est-pr.Rows)
			ackedOpen += pr.Rows
		}
	}
	if ackedOpen == 0 {
		t.Fatalf("run 1 acknowledged nothing of an unfinished partition: the test shows nothing")
	}

	// The rest.
	opts.Writer = newMemWriter()
	rec2 := &recordingProgress{}
	screen.Reset()
	opts.Progress = Tee(rec2, NewTerminalProgress(&screen))
	sum2, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if firstRun+rec2.added < 5000 {
		t.Errorf("rows reported %d + %d, want at least the table's 5000", firstRun, rec2.added)
	}
	if rec2.remaining != left {
		t.Errorf("resumed run: Start got %d rows to go, want the open partitions' estimates less the %d rows run 1 acknowledged: %d",
			rec2.remaining, ackedOpen, left)
	}
	if rec2.doneRows != rec2.added || rec2.estimated != rec2.remaining {
		t.Errorf("resumed run: partition rows %d vs rows added %d; partition estimates %d vs Start's %d",
			rec2.doneRows, rec2.added, rec2.estimated, rec2.remaining)
	}
	if rec2.parts != rec2.doneParts || rec2.parts != sum2.Tables[0].Partitions-sum1.Tables[0].Done {
		t.Errorf("resumed run: %d partitions announced, %d done; summary %+v", rec2.parts, rec2.doneParts, sum2.Tables[0])
	}
	last = screen.String()[strings.LastIndex(screen.String(), "\r")+1:]
	mustContain(t, "finished run's last line", last, "backfill 100%", " "+group(rec2.added)+" rows in ")
}
