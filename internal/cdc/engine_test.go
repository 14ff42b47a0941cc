package cdc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/common"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/ops"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Unit tests of the handler, the writer and the stream loop with fakes: a
// scripted binlog, an in-memory sink. They run under -short.

const unitYAML = `
mysql:
  user: bridge
  database: plant
  tables: [{name: t}]
iotdb:
  nodes: ["127.0.0.1:1"]
  retry: {initial: 5ms, max: 20ms, give_up_after: 1s}
  batch: {rows: 1000, interval: 1h}
  mappings:
    - table: t
      device: "root.plant.${dev}"
      time: {column: ts, unit: ms}
      measurements: [{column: v}]
      on_delete: delete
cdc:
  checkpoint: {interval: 1ms}
dirty_rows: {max: -1}
metrics: {listen: ""}
`

var unitColumns = []string{"id", "dev", "ts", "v"}

// unitEngine is an engine on fakes, its table t compiled against a
// handwritten schema.
func unitEngine(t *testing.T, sink Sink, bs binlogStream) *Engine {
	t.Helper()
	cfg, err := config.Parse([]byte(unitYAML), "unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.CDC.Checkpoint.Path = filepath.Join(dir, "cp.json")
	cfg.DirtyRows.File = filepath.Join(dir, "dirty.jsonl")
	ts := &mapping.TableSchema{Database: "plant", Name: "t", PrimaryKey: []string{"id"}, Columns: []mapping.Column{
		{Name: "id", Ordinal: 1, DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "dev", Ordinal: 2, DataType: "varchar", ColumnType: "varchar(16)", Charset: "utf8mb4"},
		{Name: "ts", Ordinal: 3, DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "v", Ordinal: 4, DataType: "double", ColumnType: "double", Nullable: true},
	}}
	mp, err := mapping.Compile(&cfg.IoTDB.Mappings[0], ts, mapping.Options{Precision: "ms"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Config: cfg, Wiring: nopWiring{}, Registry: ops.NewRegistry("cdc"), Log: zerolog.Nop(),
		StatusEvery: time.Hour, RestartInitial: 5 * time.Millisecond, RestartMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.sink, e.binlog = sink, bs
	e.tables["t"] = &tableState{name: "t", cfg: &e.cfg.IoTDB.Mappings[0], mapper: mp}
	e.state = &checkpoint.State{Flavor: binlog.FlavorMariaDB, Tables: map[string]checkpoint.TableSnapshot{"t": {SnapshotDone: true}}}
	t.Cleanup(func() { _ = e.dirty.Close() })
	return e
}

// nopWiring is never asked for anything by these tests.
type nopWiring struct{}

func (nopWiring) OpenSource(context.Context) (*sql.DB, string, error) {
	return nil, "", errors.New("unit")
}
func (nopWiring) Binlog(string) binlog.Config { return binlog.Config{} }
func (nopWiring) OpenSink(context.Context, iotdbsink.Metrics) (Sink, error) {
	return nil, errors.New("unit")
}
func (nopWiring) Compile(context.Context, *config.Mapping) (*mapping.Mapper, error) {
	return nil, errors.New("unit")
}
func (nopWiring) CompileAll(context.Context) (map[string]*mapping.Mapper, error) {
	return nil, errors.New("unit")
}
func (nopWiring) Snapshot(context.Context, []string, string, string, backfill.Progress) (string, error) {
	return "", errors.New("unit")
}
func (nopWiring) HandOver(context.Context) (binlog.Position, string, []string, error) {
	return binlog.Position{}, "", nil, errors.New("unit")
}
func (nopWiring) Close() {}

// memSink is an in-memory IoTDB: device -> time -> value. writeGate, when
// set, is received from before every Write (the test holds the write
// open); failWrite and failDelete, when set, decide per call.
type memSink struct {
	mu         sync.Mutex
	points     map[string]map[int64]any
	writes     int
	writeGate  chan struct{}
	entered    chan struct{}
	failWrite  func(n int) error
	failDelete func() error
}

func newMemSink() *memSink {
	return &memSink{points: map[string]map[int64]any{}, entered: make(chan struct{}, 100)}
}

func (s *memSink) Write(ctx context.Context, pts []mapping.Point) (iotdbsink.Result, error) {
	s.mu.Lock()
	s.writes++
	n := s.writes
	gate, fail := s.writeGate, s.failWrite
	s.mu.Unlock()
	s.entered <- struct{}{}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return iotdbsink.Result{}, ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(n); err != nil {
			return iotdbsink.Result{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pts {
		if s.points[p.Device] == nil {
			s.points[p.Device] = map[int64]any{}
		}
		s.points[p.Device][p.Time] = p.Values[0]
	}
	return iotdbsink.Result{Points: len(pts)}, nil
}

func (s *memSink) Delete(_ context.Context, dels []iotdbsink.Deletion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failDelete != nil {
		if err := s.failDelete(); err != nil {
			return err
		}
	}
	for _, d := range dels {
		delete(s.points[d.Device], d.Time)
	}
	return nil
}

func (s *memSink) Precision() string { return "ms" }

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.points {
		n += len(m)
	}
	return n
}

// tx is one scripted transaction: its inserted rows and its commit position.
type tx struct {
	rows   [][]any
	commit binlog.Position
}

func pos(n uint32) binlog.Position { return binlog.Position{File: "bin.000001", Pos: n} }

func insertTx(commit uint32, ids ...int64) tx {
	var rows [][]any
	for _, id := range ids {
		rows = append(rows, []any{id, fmt.Sprintf("d%d", id%3), 1_700_000_000_000 + id, float64(id)})
	}
	return tx{rows: rows, commit: pos(commit)}
}

// scriptStream replays its transactions after the resume position, one
// batch each, then reports caught up and waits for the end. It records every Run's start.
type scriptStream struct {
	mu     sync.Mutex
	txs    []tx
	starts []binlog.Position
}

func (s *scriptStream) Run(ctx context.Context, from binlog.Position, h binlog.Handler) error {
	s.mu.Lock()
	s.starts = append(s.starts, from)
	s.mu.Unlock()
	for _, x := range s.txs {
		if x.commit.Pos <= from.Pos {
			continue
		}
		ev := &binlog.RowsEvent{Schema: "plant", Table: "t", Action: binlog.ActionInsert, Columns: unitColumns, Rows: x.rows, Pos: x.commit}
		if err := h.OnRows(ctx, ev); err != nil {
			return err
		}
		if err := h.OnCommit(ctx, x.commit, 0); err != nil {
			return err
		}
		// One transaction per batch: the writer takes a batch only when
		// it is done with the previous one.
		if err := h.(*handler).flush(ctx); err != nil {
			return err
		}
	}
	if err := h.OnCaughtUp(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *scriptStream) Waiting() bool { return false }

func (s *scriptStream) runs() []binlog.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]binlog.Position(nil), s.starts...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The acknowledged position (and so the checkpoint) moves to a commit only
// after the sink acknowledged every row before it.
func TestWriterAcksOnlyAfterTheSink(t *testing.T) {
	sink := newMemSink()
	sink.writeGate = make(chan struct{})
	e := unitEngine(t, sink, &scriptStream{})
	e.acked = pos(100)
	ch := make(chan *batch)
	w := newWriter(e.writerDeps(), ch)
	go w.run(context.Background(), func() {})
	h := newHandler(e.handlerDeps(), ch, w.free, w.done)

	ctx := context.Background()
	x := insertTx(200, 1, 2, 3)
	if err := h.OnRows(ctx, &binlog.RowsEvent{Schema: "plant", Table: "t", Action: binlog.ActionInsert, Columns: unitColumns, Rows: x.rows, Pos: pos(150)}); err != nil {
		t.Fatal(err)
	}
	if err := h.OnCommit(ctx, x.commit, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.flush(ctx); err != nil {
		t.Fatal(err)
	}
	<-sink.entered // the write is in the sink, not acknowledged
	time.Sleep(20 * time.Millisecond)
	if got := e.Acked(); got != pos(100) {
		t.Fatalf("acked %s while the sink still holds the batch", got)
	}
	if st, found, _ := e.store.Load(); found {
		t.Fatalf("checkpoint saved (%s) before the sink acknowledged", st.Position)
	}
	close(sink.writeGate)
	waitUntil(t, "the acknowledgement", func() bool { return e.Acked() == pos(200) })
	close(ch)
	<-w.done
	if w.err != nil {
		t.Fatal(w.err)
	}
	st, found, err := e.store.Load()
	if err != nil || !found || st.Position != pos(200) {
		t.Fatalf("checkpoint %v %v %v, want %s", st, found, err, pos(200))
	}
	if sink.count() != 3 {
		t.Fatalf("sink holds %d points, want 3", sink.count())
	}
}

// A write the sink gave up on stops the writer; the stream restarts from
// the last acknowledged commit, so the failed transaction arrives again and
// nothing after the acknowledged position is lost.
func TestStreamRestartsFromTheLastAcknowledgedCommit(t *testing.T) {
	// Every goroutine the stream starts (writers, status loop) is waited
	// for by the time stream returns.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sink := newMemSink()
	var failed sync.Once
	sink.failWrite = func(n int) error {
		var err error
		if n == 2 {
			failed.Do(func() { err = errors.New("connection reset by peer") })
		}
		return err
	}
	bs := &scriptStream{txs: []tx{insertTx(200, 1, 2), insertTx(300, 3, 4), insertTx(400, 5)}}
	e := unitEngine(t, sink, bs)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.stream(ctx, pos(100)) }()
	waitUntil(t, "every row in the sink", func() bool { return sink.count() == 5 && e.Acked() == pos(400) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runs := bs.runs()
	if len(runs) < 2 || runs[0] != pos(100) {
		t.Fatalf("stream runs from %v: want a first run from %s and a restart", runs, pos(100))
	}
	// The first batch (commit 200) was acknowledged; the second failed.
	if runs[1] != pos(200) {
		t.Fatalf("restarted from %s, want the last acknowledged commit %s", runs[1], pos(200))
	}
	if got := testutil.ToFloat64(e.metrics.restarts); got < 1 {
		t.Fatalf("restarts metric %v", got)
	}
}

// Group commit: at a commit, with no further event waiting and the writer
// idle, the batch goes to the writer at once (not after the batch interval
// of one hour in unitYAML, nor at the size limit).
func TestGroupCommitFlushesWhenIdle(t *testing.T) {
	sink := newMemSink()
	waiting := true
	e := unitEngine(t, sink, &scriptStream{})
	deps := e.handlerDeps()
	deps.waiting = func() bool { return waiting }
	ch := make(chan *batch)
	h := newHandler(deps, ch, make(chan *batch), make(chan struct{}))
	ctx := context.Background()
	idle := make(chan *batch, 1)
	receive := func() {
		go func() { idle <- <-ch }()
		time.Sleep(10 * time.Millisecond) // the receiver is parked on ch
	}
	x := insertTx(200, 1)
	if err := h.OnRows(ctx, &binlog.RowsEvent{Schema: "plant", Table: "t", Action: binlog.ActionInsert, Columns: unitColumns, Rows: x.rows, Pos: pos(150)}); err != nil {
		t.Fatal(err)
	}
	receive()
	// More events wait: the batch keeps filling.
	if err := h.OnCommit(ctx, x.commit, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-idle:
		t.Fatal("flushed at a commit although more events were waiting")
	case <-time.After(30 * time.Millisecond):
	}
	// Nothing waits: the next commit hands the batch to the idle writer.
	waiting = false
	y := insertTx(300, 2)
	if err := h.OnRows(ctx, &binlog.RowsEvent{Schema: "plant", Table: "t", Action: binlog.ActionInsert, Columns: unitColumns, Rows: y.rows, Pos: pos(250)}); err != nil {
		t.Fatal(err)
	}
	if err := h.OnCommit(ctx, y.commit, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-idle:
		if !b.hasCommit || b.commit != pos(300) || b.ops != 2 {
			t.Fatalf("batch %+v: want both rows and commit %s", b, pos(300))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("group commit did not hand the batch to the idle writer")
	}
	// A busy writer (nobody receiving) is not waited for: OnCommit returns.
	z := insertTx(400, 3)
	_ = h.OnRows(ctx, &binlog.RowsEvent{Schema: "plant", Table: "t", Action: binlog.ActionInsert, Columns: unitColumns, Rows: z.rows, Pos: pos(350)})
	finished := make(chan error, 1)
	go func() { finished <- h.OnCommit(ctx, z.commit, 0) }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnCommit blocked on a busy writer")
	}
}

// One retry rule: a deletion refused with 302 whose sub-statuses are a
// transient 305 and a permanent 507 is a verdict (dirty rows), exactly as
// the sink classifies it, not an outage that restarts the stream forever.
func TestDeleteRefusalFollowsTheSinksRetryRule(t *testing.T) {
	sink := newMemSink()
	sink.failDelete = func() error {
		return &iotdbsink.StatusError{Code: 302, Sub: []*common.TSStatus{{Code: 305}, {Code: 507}}}
	}
	e := unitEngine(t, sink, &scriptStream{})
	w := newWriter(e.writerDeps(), nil)
	mp := e.tables["t"].mapper
	em := &eventMeta{table: "t", mapper: mp, action: binlog.ActionDelete, pos: pos(150)}
	row := []any{int64(7), "d1", int64(1_700_000_000_007), 7.0}
	var b batch
	b.delete(iotdbsink.Deletion{Schema: mp.Schema(), Device: "root.plant.d1", Time: 1_700_000_000_007}, opMeta{ev: em, row: row, outcome: OutDeleteApplied})
	b.commit, b.hasCommit = pos(200), true
	err := w.apply(context.Background(), &b)
	var sf *sinkFailure
	if errors.As(err, &sf) {
		t.Fatalf("a permanent refusal restarts the stream: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := e.metrics.stats()["t"][OutDirty]; got != 1 {
		t.Fatalf("dirty rows %d, want 1", got)
	}
	// A purely transient status stays an outage.
	sink.failDelete = func() error {
		return &iotdbsink.StatusError{Code: 302, Sub: []*common.TSStatus{{Code: 200}, {Code: 606}}}
	}
	if err := w.apply(context.Background(), &b); !errors.As(err, &sf) {
		t.Fatalf("a busy server is an outage, got %v", err)
	}
	if !dirtyHasReason(t, e.dirty, dirty.ReasonDeleteRejected) {
		t.Fatal("no iotdb_delete_rejected record")
	}
}

func dirtyHasReason(t *testing.T, l *dirty.Log, reason string) bool {
	t.Helper()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r dirty.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("dirty line %q: %v", line, err)
		}
		if r.Reason == reason && r.Table == "t" && r.Key != "" && r.Action == "delete" && r.Position != "" {
			return true
		}
	}
	return false
}

// Which checkpoints count as another server's: MariaDB by server_id,
// MySQL by server_id and server_uuid (a clone keeps the id, not the uuid).
func TestOtherServer(t *testing.T) {
	e := &Engine{}
	for _, c := range []struct {
		now   binlog.Identity
		saved checkpoint.State
		want  bool
	}{
		{binlog.Identity{ServerID: 1}, checkpoint.State{}, false}, // an old checkpoint does not say
		{binlog.Identity{ServerID: 1}, checkpoint.State{SourceServerID: 1}, false},
		{binlog.Identity{ServerID: 2}, checkpoint.State{SourceServerID: 1}, true},
		{binlog.Identity{ServerID: 1, ServerUUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562"},
			checkpoint.State{SourceServerID: 1, ServerUUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562"}, false},
		{binlog.Identity{ServerID: 1, ServerUUID: "5a2d1e1c-0000-11ef-8000-000000000001"},
			checkpoint.State{SourceServerID: 1, ServerUUID: "3e11fa47-71ca-11e1-9e33-c80aa9429562"}, true},
	} {
		e.identity = c.now
		if got := e.otherServer(&c.saved); got != c.want {
			t.Errorf("now %s, saved %d/%q: otherServer = %v, want %v", c.now, c.saved.SourceServerID, c.saved.ServerUUID, got, c.want)
		}
	}
}

// cdc.give_up_after bounds the stream restarts after IoTDB failures: with
// no batch acknowledged for that long, stream ends with an error naming the
// bound and the checkpoint (unbounded, the default, is the restart test
// above).
func TestStreamGivesUpAfterTheConfiguredBound(t *testing.T) {
	sink := newMemSink()
	sink.failWrite = func(int) error { return errors.New("connection refused") }
	bs := &scriptStream{txs: []tx{insertTx(200, 1)}}
	e := unitEngine(t, sink, bs)
	e.cfg.CDC.GiveUpAfter = 100 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- e.stream(context.Background(), pos(100)) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cdc.give_up_after 100ms") || !strings.Contains(err.Error(), pos(100).String()) {
			t.Fatalf("stream ended with %v, want the give-up error naming the bound and the checkpoint", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stream still restarting 30s past a 100ms cdc.give_up_after")
	}
	if n := len(bs.runs()); n < 2 {
		t.Fatalf("gave up after %d runs: it should restart until the bound", n)
	}
}

// handOverWiring is a wiring whose finished backfill copied tables.
type handOverWiring struct {
	nopWiring
	flavor string
	tables []string
}

func (w handOverWiring) HandOver(context.Context) (binlog.Position, string, []string, error) {
	return pos(777), w.flavor, w.tables, nil
}

// start: backfill streams from the backfill's position only when that
// backfill copied every mapped table, from a source of the same flavor.
func TestHandOverNeedsEveryMappedTable(t *testing.T) {
	e := unitEngine(t, newMemSink(), &scriptStream{})
	e.flavor = binlog.FlavorMariaDB
	for _, c := range []struct {
		w       handOverWiring
		wantErr string
	}{
		{handOverWiring{flavor: "mariadb", tables: []string{"other"}}, "mapped tables not copied by that backfill: t"},
		{handOverWiring{flavor: "mysql", tables: []string{"t"}}, "the backfill read a mysql source, this one is mariadb"},
		{handOverWiring{flavor: "mariadb", tables: []string{"other", "t"}}, ""},
	} {
		e.wiring = c.w
		got, err := e.handOver(context.Background())
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%+v: err %v, want %q", c.w, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != pos(777)):
			t.Errorf("%+v: %s %v, want %s", c.w, got, err, pos(777))
		}
	}
}

// After a DDL the mapping is compiled against the new schema, which needs
// MySQL: a lost connection there is waited out (not "the mapping no longer
// applies"), a mapping error stops at once, and cdc.give_up_after bounds
// the wait.
func TestOnDDLRecompileRetriesLostMySQL(t *testing.T) {
	e := unitEngine(t, newMemSink(), &scriptStream{})
	good := e.tables["t"].mapper
	lost := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name     string
		failures int // compile failures before a success (-1: never succeeds)
		err      error
		giveUp   time.Duration
		want     string // "" = success
		calls    int    // compile calls expected (0: more than failures)
	}{
		{"lost twice", 2, fmt.Errorf("reading columns: %w", lost), config.Unbounded, "", 3},
		{"mapping error", -1, errors.New("column v: unknown column"), config.Unbounded, "the mapping no longer applies", 1},
		{"lost beyond give_up_after", -1, lost, 30 * time.Millisecond, "could not be asked for the new schema", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			deps := e.handlerDeps()
			deps.retry = config.Retry{Initial: time.Millisecond, Max: 2 * time.Millisecond}
			deps.giveUpAfter = tc.giveUp
			deps.compile = func(context.Context, *config.Mapping) (*mapping.Mapper, error) {
				calls++
				if tc.failures < 0 || calls <= tc.failures {
					return nil, tc.err
				}
				return good, nil
			}
			h := newHandler(deps, make(chan *batch), make(chan *batch), make(chan struct{}))
			err := h.OnDDL(context.Background(), "plant", "ALTER TABLE t ADD COLUMN w INT", pos(500))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("OnDDL: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("OnDDL error %v, want %q", err, tc.want)
			case tc.calls > 0 && calls != tc.calls:
				t.Fatalf("compile called %d times, want %d", calls, tc.calls)
			case tc.calls == 0 && calls < 2:
				t.Fatalf("compile called %d times: a lost connection was not retried", calls)
			}
		})
	}
}
