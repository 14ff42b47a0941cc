package binlog_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// item is one handler call as the collector saw it.
type item struct {
	kind string // rows | commit | ddl
	rows *binlog.RowsEvent
	pos  binlog.Position
	text string
}

// collector is a Handler that keeps everything, safe to read while Run runs.
type collector struct {
	mu         sync.Mutex
	items      []item
	commits    int
	heartbeats []binlog.Position
	caughtUp   atomic.Int64
	onRows     func(ctx context.Context, ev *binlog.RowsEvent) error // optional hook
	changed    chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) push(it item) {
	c.mu.Lock()
	c.items = append(c.items, it)
	if it.kind == "commit" {
		c.commits++
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) OnRows(ctx context.Context, ev *binlog.RowsEvent) error {
	c.push(item{kind: "rows", rows: ev, pos: ev.Pos})
	if c.onRows != nil {
		return c.onRows(ctx, ev)
	}
	return nil
}
func (c *collector) OnCommit(_ context.Context, pos binlog.Position, _ uint32) error {
	c.push(item{kind: "commit", pos: pos})
	return nil
}
func (c *collector) OnDDL(_ context.Context, schema, q string, pos binlog.Position) error {
	c.push(item{kind: "ddl", pos: pos, text: schema + ": " + q})
	return nil
}
func (c *collector) OnHeartbeat(_ context.Context, pos binlog.Position) error {
	c.mu.Lock()
	c.heartbeats = append(c.heartbeats, pos)
	c.mu.Unlock()
	return nil
}
func (c *collector) OnCaughtUp(context.Context) error { c.caughtUp.Add(1); return nil }

func (c *collector) snapshot() []item {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]item(nil), c.items...)
}

func (c *collector) commitCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commits
}

// commits returns the commit positions in order.
func commits(items []item) []binlog.Position {
	var out []binlog.Position
	for _, it := range items {
		if it.kind == "commit" {
			out = append(out, it.pos)
		}
	}
	return out
}

type env struct {
	m      *testenv.MariaDB
	root   *sql.DB
	bridge *sql.DB
}

func startEnv(t *testing.T, o ...testenv.Options) *env {
	t.Helper()
	m := testenv.StartMariaDB(t, o...)
	bridge, err := sql.Open("mysql", m.BridgeDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bridge.Close() })
	return &env{m: m, root: m.DB(t), bridge: bridge}
}

func (e *env) exec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range stmts {
		if _, err := e.root.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// tx runs stmts in one transaction.
func (e *env) tx(t *testing.T, stmts ...string) {
	t.Helper()
	e.exec(t, append(append([]string{"BEGIN"}, stmts...), "COMMIT")...)
}

func (e *env) config(t *testing.T) binlog.Config {
	w := zerolog.Nop()
	if testing.Verbose() {
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	}
	return binlog.Config{
		Host: e.m.Host, Port: e.m.Port, User: e.m.BridgeUser, Password: e.m.BridgePassword,
		ServerID: 5401, Flavor: binlog.FlavorMariaDB, Heartbeat: time.Second, Log: w,
		Tables:    func(schema, table string) bool { return schema == e.m.Database },
		Reconnect: binlog.Reconnect{Backoff: config.Retry{Initial: 100 * time.Millisecond, Max: time.Second, Elapsed: time.Minute}},
	}
}

func (e *env) current(t *testing.T) binlog.Position {
	t.Helper()
	p, err := binlog.CurrentPosition(context.Background(), e.bridge, binlog.FlavorMariaDB)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run starts Run in the background; the returned func cancels it and
// returns Run's error.
func run(t *testing.T, cfg binlog.Config, from binlog.Position, h binlog.Handler) (*binlog.Streamer, func() error) {
	t.Helper()
	s := binlog.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, from, h) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return within 30s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return s, stop
}

func gtidSeq(t *testing.T, gtid string) int {
	t.Helper()
	i := strings.LastIndexByte(gtid, '-')
	n, err := strconv.Atoi(gtid[i+1:])
	if err != nil {
		t.Fatalf("gtid %q: %v", gtid, err)
	}
	return n
}

const sensorDDL = `CREATE TABLE sensor (
	id INT PRIMARY KEY, device VARCHAR(32) NOT NULL, temp DOUBLE NULL, created_at DATETIME(3) NOT NULL)`

func TestIntegrationRowsAndCommits(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	from := e.current(t)
	if from.File == "" || from.GTID == "" {
		t.Fatalf("CurrentPosition = %s, want file and GTID", from)
	}
	startSeq := gtidSeq(t, from.GTID)
	c := newCollector()
	_, stop := run(t, e.config(t), from, c)

	e.tx(t, "INSERT INTO sensor VALUES (1, 'pump-1', 20.5, '2024-05-01 12:00:00.250')")
	e.tx(t,
		"INSERT INTO sensor VALUES (2, 'pump-2', NULL, '2024-05-01 12:00:01.000'), (3, 'pump-3', -1.25, '2024-05-01 12:00:02.500')",
		"INSERT INTO sensor VALUES (4, 'pump-4', 4, '2024-05-01 12:00:03.000')")
	e.tx(t, "UPDATE sensor SET temp = 22 WHERE id = 1")
	e.tx(t, "DELETE FROM sensor WHERE id = 3")
	e.exec(t, "ALTER TABLE sensor ADD COLUMN status INT NULL")
	e.tx(t, "INSERT INTO sensor VALUES (5, 'pump-5', 1.5, '2024-05-01 12:00:05.000', 7)")

	testenv.WaitFor(t, 20*time.Second, "6 commits", func() bool { return c.commitCount() >= 6 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	items := c.snapshot()

	ts := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type want struct {
		action binlog.Action
		rows   [][]any
	}
	var got []string
	for _, it := range items {
		switch it.kind {
		case "rows":
			got = append(got, fmt.Sprintf("rows %s %s %v %v", it.rows.Table, it.rows.Action, it.rows.Columns, it.rows.Rows))
		case "commit":
			got = append(got, "commit")
		case "ddl":
			got = append(got, "ddl "+it.text)
		}
	}
	cols4 := "[id device temp created_at]"
	cols5 := "[id device temp created_at status]"
	f := func(s string) string { return fmt.Sprint(ts(s)) }
	wantLines := []string{
		fmt.Sprintf("rows sensor insert %s [[1 pump-1 20.5 %s]]", cols4, f("2024-05-01 12:00:00.250")),
		"commit",
		fmt.Sprintf("rows sensor insert %s [[2 pump-2 <nil> %s] [3 pump-3 -1.25 %s]]", cols4, f("2024-05-01 12:00:01.000"), f("2024-05-01 12:00:02.500")),
		fmt.Sprintf("rows sensor insert %s [[4 pump-4 4 %s]]", cols4, f("2024-05-01 12:00:03.000")),
		"commit",
		fmt.Sprintf("rows sensor update %s [[1 pump-1 20.5 %s] [1 pump-1 22 %s]]", cols4, f("2024-05-01 12:00:00.250"), f("2024-05-01 12:00:00.250")),
		"commit",
		fmt.Sprintf("rows sensor delete %s [[3 pump-3 -1.25 %s]]", cols4, f("2024-05-01 12:00:02.500")),
		"commit",
		"ddl " + e.m.Database + ": ALTER TABLE sensor ADD COLUMN status INT NULL",
		"commit",
		fmt.Sprintf("rows sensor insert %s [[5 pump-5 1.5 %s 7]]", cols5, f("2024-05-01 12:00:05.000")),
		"commit",
	}
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Fatalf("stream:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(wantLines, "\n  "))
	}
	// Concrete Go types: INT as int32, DOUBLE float64, DATETIME time.Time in UTC.
	first := items[0].rows
	if _, ok := first.Rows[0][0].(int32); !ok {
		t.Errorf("id type %T, want int32", first.Rows[0][0])
	}
	if tm, ok := first.Rows[0][3].(time.Time); !ok || !tm.Equal(ts("2024-05-01 12:00:00.250")) || tm.Location() != time.UTC {
		t.Errorf("created_at = %#v, want 2024-05-01 12:00:00.250 UTC", first.Rows[0][3])
	}
	// Commits: GTIDs advance by one per transaction, files/offsets increase,
	// and every rows event lies between the previous commit and its own.
	cs := commits(items)
	prev := from
	for i, p := range cs {
		if want := fmt.Sprintf("0-1-%d", startSeq+i+1); p.GTID != want {
			t.Errorf("commit %d GTID = %s, want %s", i, p.GTID, want)
		}
		if p.Compare(prev) <= 0 {
			t.Errorf("commit %d at %s not after %s", i, p, prev)
		}
		prev = p
	}
	last := from
	for _, it := range items {
		if it.kind == "commit" {
			last = it.pos
		} else if it.kind == "rows" && it.pos.Compare(last) < 0 {
			t.Errorf("rows at %s before the previous commit %s", it.pos, last)
		}
	}
	// The last commit is the server's current position.
	if end := e.current(t); end.File != cs[len(cs)-1].File || end.Pos != cs[len(cs)-1].Pos || end.GTID != cs[len(cs)-1].GTID {
		t.Errorf("last commit %s, server at %s", cs[len(cs)-1], end)
	}
}

func TestIntegrationLargeTransaction(t *testing.T) {
	e := startEnv(t)
	e.exec(t, "CREATE TABLE big (id INT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(40) NOT NULL)")
	from := e.current(t)
	c := newCollector()
	_, stop := run(t, e.config(t), from, c)
	const n = 50000
	e.tx(t, fmt.Sprintf(`SET STATEMENT max_recursive_iterations = 100000 FOR INSERT INTO big (id, v, pad)
		WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d)
		SELECT n, n * 2, REPEAT('x', 40) FROM s`, n))
	e.tx(t, "INSERT INTO big VALUES (0, 0, 'after')")
	testenv.WaitFor(t, 60*time.Second, "2 commits", func() bool { return c.commitCount() >= 2 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	items := c.snapshot()
	seen := make([]bool, n+1)
	events, rows := 0, 0
	i := 0
	for ; items[i].kind == "rows"; i++ {
		events++
		for _, r := range items[i].rows.Rows {
			id := int(r[0].(int32))
			if id < 1 || id > n || seen[id] {
				t.Fatalf("row id %d out of range or repeated", id)
			}
			if v := r[1].(int64); v != int64(2*id) {
				t.Fatalf("row %d: v = %d", id, v)
			}
			seen[id] = true
			rows++
		}
	}
	if items[i].kind != "commit" {
		t.Fatalf("item %d after the rows is %s, want commit", i, items[i].kind)
	}
	if rows != n {
		t.Fatalf("%d rows before the commit, want %d", rows, n)
	}
	if events < 10 {
		t.Fatalf("50k rows arrived in %d OnRows calls: the transaction was not streamed in pieces", events)
	}
	t.Logf("50000 rows arrived in %d OnRows calls before one OnCommit", events)
	if len(commits(items)) != 2 {
		t.Fatalf("commits = %d, want 2", len(commits(items)))
	}
}

// resumeFrom streams from `from` until want commits arrived and returns the
// ids inserted, in order.
func resumeIDs(t *testing.T, e *env, from binlog.Position, want int) ([]int32, []binlog.Position) {
	t.Helper()
	c := newCollector()
	_, stop := run(t, e.config(t), from, c)
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%d commits from %s", want, from), func() bool { return c.commitCount() >= want })
	// Give the stream a moment to deliver anything unexpected.
	time.Sleep(300 * time.Millisecond)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	var ids []int32
	items := c.snapshot()
	for _, it := range items {
		if it.kind == "rows" {
			for _, r := range it.rows.Rows {
				ids = append(ids, r[0].(int32))
			}
		}
	}
	return ids, commits(items)
}

func TestIntegrationResume(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	from := e.current(t)
	c := newCollector()
	_, stop := run(t, e.config(t), from, c)
	for i := 1; i <= 4; i++ {
		e.tx(t, fmt.Sprintf("INSERT INTO sensor VALUES (%d, 'd', %d, NOW(3))", i, i))
	}
	testenv.WaitFor(t, 20*time.Second, "4 commits", func() bool { return c.commitCount() >= 4 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	cs := commits(c.snapshot())
	afterFirst := cs[0]

	// By file and offset: exactly transactions 2..4.
	ids, got := resumeIDs(t, e, binlog.Position{File: afterFirst.File, Pos: afterFirst.Pos}, 3)
	if fmt.Sprint(ids) != "[2 3 4]" {
		t.Fatalf("file/pos resume from %s delivered ids %v, want [2 3 4]", afterFirst, ids)
	}
	// MariaDB's GTID position extends exactly from any start: a stream
	// started by file and offset records the same GTID set as one started
	// by GTID (what a failover to a replica resumes by).
	for i, p := range got {
		if p != cs[i+1] {
			t.Errorf("file/pos resume commit %d = %s, want %s (the GTID set too)", i, p, cs[i+1])
		}
	}
	// By GTID set: the same, with the same positions and GTIDs.
	ids, got = resumeIDs(t, e, binlog.Position{GTID: afterFirst.GTID}, 3)
	if fmt.Sprint(ids) != "[2 3 4]" {
		t.Fatalf("GTID resume from %s delivered ids %v, want [2 3 4]", afterFirst.GTID, ids)
	}
	for i, p := range got {
		if p != cs[i+1] {
			t.Errorf("GTID resume commit %d = %s, want %s", i, p, cs[i+1])
		}
	}
	// From the last commit: nothing until something new commits.
	c2 := newCollector()
	_, stop2 := run(t, e.config(t), cs[3], c2)
	time.Sleep(500 * time.Millisecond)
	if n := len(c2.snapshot()); n != 0 {
		t.Fatalf("resume from the last commit delivered %d items", n)
	}
	e.tx(t, "INSERT INTO sensor VALUES (5, 'd', 5, NOW(3))")
	testenv.WaitFor(t, 10*time.Second, "commit 5", func() bool { return c2.commitCount() == 1 })
	_ = stop2()
}

// killDumps kills the bridge's Binlog Dump connections.
func killDumps(t *testing.T, e *env) int {
	n, err := e.m.KillConnections(context.Background(), func(user, command, info string) bool {
		return user == e.m.BridgeUser && strings.HasPrefix(command, "Binlog Dump")
	})
	if err != nil {
		t.Errorf("killing dump connections: %v", err)
	}
	return n
}

func TestIntegrationKillDumpConnection(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL, "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(60) NOT NULL)")
	from := e.current(t)
	c := newCollector()
	cfg := e.config(t)
	cfg.EventBuffer = 2 // so that a kill is felt soon after it happens

	// The handler kills the dump connection itself, so the kills land at
	// known places: in the large transaction (at its first rows event; it is
	// ~11 MB, more than the socket buffers hold, so the kill cuts it), then
	// twice among the single-row transactions, each time only once the
	// previous kill has been noticed (events already received are delivered
	// before the loss is).
	var streamer atomic.Pointer[binlog.Streamer]
	var kills atomic.Int64
	c.onRows = func(ctx context.Context, ev *binlog.RowsEvent) error {
		s := streamer.Load()
		if s == nil || kills.Load() != s.Reconnects() || kills.Load() >= 3 {
			return nil
		}
		k := kills.Load()
		if (k == 0 && ev.Table == "big") || (k > 0 && ev.Table == "sensor" && ev.Rows[0][0].(int32) >= int32(60*k)) {
			if killDumps(t, e) == 0 {
				t.Errorf("kill %d found no dump connection", k+1)
			}
			kills.Add(1)
		}
		return nil
	}
	s, stop := run(t, cfg, from, c)
	streamer.Store(s)

	const txs, bigRows = 200, 150000
	transactions := 0
	for i := 1; i <= txs; i++ {
		e.exec(t, fmt.Sprintf("INSERT INTO sensor VALUES (%d, 'd', %d, NOW(3))", i, i))
		transactions++
		if i == 20 {
			e.exec(t, fmt.Sprintf(`SET STATEMENT max_recursive_iterations = %d FOR INSERT INTO big
				WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d)
				SELECT n, REPEAT('y', 60) FROM s`, bigRows, bigRows))
			transactions++
		}
		if i >= 20 {
			// Lock step: write the next transaction once this one is through,
			// so the later kills happen with nothing else in flight.
			testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("commit of transaction %d", transactions), func() bool {
				return c.commitCount() >= transactions
			})
		}
	}
	testenv.WaitFor(t, 90*time.Second, "every transaction and 3 reconnects", func() bool {
		return c.commitCount() >= txs+1 && lastSensorID(c.snapshot()) == txs && s.Reconnects() >= 3
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if kills.Load() != 3 || s.Reconnects() != 3 {
		t.Fatalf("killed %d dump connections, Reconnects = %d; want 3 and 3", kills.Load(), s.Reconnects())
	}
	// Every sensor id arrived, in order of first arrival; commit positions
	// never go back; the large transaction, when cut, is delivered again
	// from its first row (the stream resumed at the last commit, not
	// mid-transaction), and its commit follows one complete pass.
	items := c.snapshot()
	next := int32(1)
	var lastCommit binlog.Position
	prevBig, passes, run := int32(0), 0, 0
	bigCommitted := false
	for _, it := range items {
		switch it.kind {
		case "commit":
			if it.pos.Compare(lastCommit) < 0 {
				t.Fatalf("commit positions went backwards: %s after %s", it.pos, lastCommit)
			}
			lastCommit = it.pos
			if run == bigRows {
				bigCommitted = true
			}
			run = 0
		case "rows":
			for _, r := range it.rows.Rows {
				id := r[0].(int32)
				if it.rows.Table == "big" {
					if id != prevBig+1 {
						if id != 1 {
							t.Fatalf("large transaction resumed at row %d after row %d, not from its start", id, prevBig)
						}
					}
					if id == 1 {
						passes++
						run = 0
					}
					prevBig = id
					run++
					continue
				}
				if id > next {
					t.Fatalf("sensor id %d arrived before %d", id, next)
				}
				if id == next {
					next++
				}
			}
		}
	}
	if next != txs+1 {
		t.Fatalf("sensor ids delivered up to %d, want %d", next-1, txs)
	}
	if !bigCommitted {
		t.Fatal("no complete pass of the large transaction was followed by its commit")
	}
	if passes < 2 {
		t.Fatalf("the large transaction was delivered in %d pass(es): the kill did not cut it", passes)
	}
	t.Logf("reconnects=%d, large transaction passes=%d", s.Reconnects(), passes)
}

func lastSensorID(items []item) int32 {
	var last int32
	for _, it := range items {
		if it.kind == "rows" && it.rows.Table == "sensor" {
			for _, r := range it.rows.Rows {
				if id := r[0].(int32); id > last {
					last = id
				}
			}
		}
	}
	return last
}

func TestIntegrationServerRestart(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	from := e.current(t)
	c := newCollector()
	s, stop := run(t, e.config(t), from, c)
	for i := 1; i <= 3; i++ {
		e.tx(t, fmt.Sprintf("INSERT INTO sensor VALUES (%d, 'd', %d, NOW(3))", i, i))
	}
	testenv.WaitFor(t, 20*time.Second, "3 commits", func() bool { return c.commitCount() >= 3 })
	before := commits(c.snapshot())[2]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.m.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 4; i <= 6; i++ {
		e.tx(t, fmt.Sprintf("INSERT INTO sensor VALUES (%d, 'd', %d, NOW(3))", i, i))
	}
	testenv.WaitFor(t, 60*time.Second, "3 more commits after the restart", func() bool { return lastSensorID(c.snapshot()) == 6 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if s.Reconnects() < 1 {
		t.Fatal("no reconnect recorded across a server restart")
	}
	cs := commits(c.snapshot())
	after := cs[len(cs)-1]
	if after.File == before.File {
		t.Errorf("after the restart the commit is still in %s: the server should have opened a new binlog", before.File)
	}
	if gtidSeq(t, after.GTID) != gtidSeq(t, before.GTID)+3 {
		t.Errorf("GTID after restart %s, before %s: want 3 more transactions", after.GTID, before.GTID)
	}
	ids := map[int32]bool{}
	for _, it := range c.snapshot() {
		if it.kind == "rows" {
			ids[it.rows.Rows[0][0].(int32)] = true
		}
	}
	if len(ids) != 6 {
		t.Fatalf("distinct ids %v, want 1..6", ids)
	}
}

func TestIntegrationPurgedBinlog(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	old := e.current(t)
	e.tx(t, "INSERT INTO sensor VALUES (1, 'd', 1, NOW(3))")
	ctx := context.Background()
	if err := e.m.PurgeBinlogs(ctx, ""); err != nil {
		t.Fatal(err)
	}
	has, err := binlog.HasBinlog(ctx, e.bridge, old.File)
	if err != nil || has {
		t.Fatalf("HasBinlog(%s) after purge = %v, %v", old.File, has, err)
	}
	for _, from := range []binlog.Position{{File: old.File, Pos: old.Pos}, {GTID: old.GTID}} {
		cfg := e.config(t)
		cfg.Reconnect.MaxAttempts = 3
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := binlog.New(cfg).Run(ctx, from, newCollector())
		cancel()
		if !errors.Is(err, binlog.ErrBinlogPurged) {
			t.Fatalf("Run from purged %s = %v, want ErrBinlogPurged", from, err)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("purged binlog took %s to report: it was retried", time.Since(start))
		}
		name := from.File
		if name == "" {
			name = from.GTID
		}
		for _, want := range []string{name, "start: initial", "cdc --reset", "on_purged: resnapshot"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		var pe *binlog.PurgedError
		if !errors.As(err, &pe) || pe.From != from {
			t.Errorf("error %#v is not a PurgedError naming %s", err, from)
		}
	}
}

func TestIntegrationHeartbeatAndCaughtUp(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	cfg := e.config(t)
	cfg.Heartbeat = 200 * time.Millisecond
	from := e.current(t)
	c := newCollector()
	_, stop := run(t, cfg, from, c)
	e.tx(t, "INSERT INTO sensor VALUES (1, 'd', 1, NOW(3))")
	testenv.WaitFor(t, 10*time.Second, "the commit", func() bool { return c.commitCount() == 1 })
	commit := commits(c.snapshot())[0]
	testenv.WaitFor(t, 10*time.Second, "3 heartbeats", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.heartbeats) >= 3
	})
	if c.caughtUp.Load() < 2 {
		t.Fatalf("OnCaughtUp fired %d times on an idle stream", c.caughtUp.Load())
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hb := range c.heartbeats[1:] {
		if hb != commit {
			t.Fatalf("heartbeat position %s, want the last commit %s", hb, commit)
		}
	}
}

func TestIntegrationPreflight(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	checks, err := binlog.Preflight(ctx, e.bridge)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]binlog.Check{}
	for _, c := range checks {
		names[c.Name] = c
		if !c.OK || c.Warning {
			t.Errorf("on the harness server: %s", c)
		}
	}
	for _, n := range []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "privileges"} {
		if _, ok := names[n]; !ok {
			t.Errorf("no %s check", n)
		}
	}
	if d := names["binlog_format"].Detail; d != "ROW" {
		t.Errorf("binlog_format detail %q", d)
	}
	e.exec(t, "SET GLOBAL binlog_format = 'STATEMENT'")
	checks, err = binlog.Preflight(ctx, e.bridge)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range checks {
		if !c.OK {
			failed++
			if c.Name != "binlog_format" || !strings.Contains(c.Detail, "is STATEMENT, need ROW") {
				t.Errorf("unexpected failure: %s", c)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed checks with binlog_format=STATEMENT, want 1: %v", failed, checks)
	}
	e.exec(t, "SET GLOBAL binlog_format = 'ROW'")

	// A user without replication privileges fails the privileges check.
	e.exec(t, "CREATE USER 'reader'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'reader'@'%'")
	rdb, err := sql.Open("mysql", fmt.Sprintf("reader:pw@tcp(%s:%d)/", e.m.Host, e.m.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	checks, err = binlog.Preflight(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Name == "privileges" && (c.OK || !strings.Contains(c.Detail, "REPLICATION SLAVE")) {
			t.Fatalf("reader privileges: %s", c)
		}
	}
}

func TestIntegrationHelpers(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	flavor, err := binlog.DetectFlavor(ctx, e.bridge)
	if err != nil || flavor != binlog.FlavorMariaDB {
		t.Fatalf("DetectFlavor = %q, %v", flavor, err)
	}
	file, pos, gtid, err := e.m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur := e.current(t)
	if cur != (binlog.Position{File: file, Pos: pos, GTID: gtid}) {
		t.Fatalf("CurrentPosition = %s, harness says %s:%d gtid=%s", cur, file, pos, gtid)
	}
	earliest, err := binlog.EarliestPosition(ctx, e.bridge)
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := e.m.BinaryLogs(ctx)
	if earliest != (binlog.Position{File: logs[0], Pos: 4}) {
		t.Fatalf("EarliestPosition = %s, want %s:4", earliest, logs[0])
	}
	if ok, err := binlog.HasBinlog(ctx, e.bridge, file); !ok || err != nil {
		t.Fatalf("HasBinlog(%s) = %v, %v", file, ok, err)
	}
	if ok, err := binlog.HasBinlog(ctx, e.bridge, "binlog.999999"); ok || err != nil {
		t.Fatalf("HasBinlog(missing) = %v, %v", ok, err)
	}
	// The server's own id is taken; an unused one is not (as root, who may
	// list replicas; the bridge user may not on MariaDB 10.5+).
	if inUse, err := binlog.ServerIDInUse(ctx, e.root, 1); !inUse || err != nil {
		t.Fatalf("ServerIDInUse(server's own id) = %v, %v", inUse, err)
	}
	if inUse, err := binlog.ServerIDInUse(ctx, e.root, 5401); inUse || err != nil {
		t.Fatalf("ServerIDInUse(5401) before streaming = %v, %v", inUse, err)
	}
	e.exec(t, sensorDDL)
	c := newCollector()
	_, stop := run(t, e.config(t), e.current(t), c)
	testenv.WaitFor(t, 10*time.Second, "the stream to register", func() bool {
		inUse, err := binlog.ServerIDInUse(ctx, e.root, 5401)
		return err == nil && inUse
	})
	// Without the grant the answer says it could not look and which grant
	// makes it look, never that the id is in use.
	if _, err := binlog.ServerIDInUse(ctx, e.bridge, 5402); err != nil && (!errors.Is(err, binlog.ErrNotChecked) ||
		!strings.Contains(err.Error(), "whether server_id 5402 is free could not be checked") ||
		!strings.Contains(err.Error(), "REPLICATION MASTER ADMIN")) {
		t.Fatalf("ServerIDInUse as bridge: %v", err)
	}
	// With the grant the README documents (REPLICATION MASTER ADMIN on
	// MariaDB) the bridge's own user sees the replica using 5401.
	if err := e.m.GrantBridge(ctx, "REPLICATION MASTER ADMIN"); err != nil {
		t.Fatal(err)
	}
	granted, err := sql.Open("mysql", e.m.BridgeDSN()) // privileges apply to new sessions
	if err != nil {
		t.Fatal(err)
	}
	defer granted.Close()
	if inUse, err := binlog.ServerIDInUse(ctx, granted, 5401); !inUse || err != nil {
		t.Fatalf("ServerIDInUse(5401) as bridge with REPLICATION MASTER ADMIN = %v, %v; want true", inUse, err)
	}
	_ = stop()
}

func TestIntegrationPositionAt(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	e.tx(t, "INSERT INTO sensor VALUES (1, 'd', 1, NOW(3))")
	afterOne := e.current(t)
	// Binlog timestamps have one-second resolution: let the clock move on.
	time.Sleep(1100 * time.Millisecond)
	mark := time.Now()
	time.Sleep(1100 * time.Millisecond)
	if err := e.m.FlushBinlogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.tx(t, "INSERT INTO sensor VALUES (2, 'd', 2, NOW(3))")
	e.tx(t, "INSERT INTO sensor VALUES (3, 'd', 3, NOW(3))")

	s := binlog.New(e.config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at, err := s.PositionAt(ctx, e.bridge, mark)
	if err != nil {
		t.Fatal(err)
	}
	if at.GTID != "" {
		t.Errorf("PositionAt returned a GTID: %s", at)
	}
	if at.Compare(binlog.Position{File: afterOne.File, Pos: afterOne.Pos}) < 0 {
		t.Fatalf("PositionAt(%s) = %s: before the commit of id 1 at %s", mark, at, afterOne)
	}
	ids, _ := resumeIDs(t, e, at, 2)
	if fmt.Sprint(ids) != "[2 3]" {
		t.Fatalf("from PositionAt %s delivered %v, want [2 3]", at, ids)
	}
	// A time before the oldest binlog.
	if _, err := s.PositionAt(ctx, e.bridge, time.Now().Add(-24*time.Hour)); !errors.Is(err, binlog.ErrBinlogPurged) {
		t.Fatalf("PositionAt a day ago = %v, want ErrBinlogPurged", err)
	}
}

// waitingProbe records Streamer.Waiting at each commit; it sleeps in
// OnCommit while slow is set, so a backlog piles up in the queue.
type waitingProbe struct {
	*collector
	s    atomic.Pointer[binlog.Streamer]
	slow atomic.Bool
	mu   sync.Mutex
	seen []bool
}

func (p *waitingProbe) OnCommit(ctx context.Context, pos binlog.Position, ts uint32) error {
	if s := p.s.Load(); s != nil {
		p.mu.Lock()
		p.seen = append(p.seen, s.Waiting())
		p.mu.Unlock()
	}
	if p.slow.Load() {
		time.Sleep(2 * time.Millisecond)
	}
	return p.collector.OnCommit(ctx, pos, ts)
}

// TestIntegrationWaiting: Waiting is what lets cdc tell a backlog (keep
// filling the batch) from a live stream (flush at the commit). Reading 300
// transactions already in the binlog, commits see more events waiting; a
// single transaction on a caught-up stream sees none.
func TestIntegrationWaiting(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	from := e.current(t)
	for i := 1; i <= 300; i++ {
		e.exec(t, fmt.Sprintf("INSERT INTO sensor VALUES (%d, 'd', %d, NOW(3))", i, i))
	}
	p := &waitingProbe{collector: newCollector()}
	p.slow.Store(true)
	s, stop := run(t, e.config(t), from, p)
	p.s.Store(s)
	testenv.WaitFor(t, time.Minute, "the backlog", func() bool { return p.commitCount() == 300 })
	p.mu.Lock()
	backlog := append([]bool(nil), p.seen...)
	p.mu.Unlock()
	waiting := 0
	for _, w := range backlog[:len(backlog)-10] {
		if w {
			waiting++
		}
	}
	if waiting < (len(backlog)-10)*8/10 {
		t.Fatalf("reading a backlog of 300 transactions, only %d of %d commits saw events waiting", waiting, len(backlog)-10)
	}

	p.slow.Store(false)
	caught := p.caughtUp.Load()
	testenv.WaitFor(t, time.Minute, "caught up", func() bool { return p.caughtUp.Load() > caught })
	e.exec(t, "INSERT INTO sensor VALUES (301, 'd', 301, NOW(3))")
	testenv.WaitFor(t, time.Minute, "the live commit", func() bool { return p.commitCount() == 301 })
	p.mu.Lock()
	last := p.seen[len(p.seen)-1]
	p.mu.Unlock()
	if last {
		t.Fatal("a single commit on a caught-up stream saw events waiting")
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	t.Logf("backlog: %d of %d commits saw events waiting", waiting, len(backlog)-10)
}

// What the server says for a start position it cannot serve (not purged):
// an offset inside an event, an offset past the end of the file, a GTID the
// server never had. Each stops at once with what to do, as the real server
// words it.
func TestIntegrationRefusedStartPositions(t *testing.T) {
	e := startEnv(t)
	e.exec(t, sensorDDL)
	before := e.current(t)
	e.tx(t, "INSERT INTO sensor VALUES (1, 'd', 1, NOW(3))")
	end := e.current(t)
	for _, tc := range []struct {
		from binlog.Position
		want string
	}{
		{binlog.Position{File: before.File, Pos: before.Pos + 3}, "is not the start of an event in " + before.File},
		{binlog.Position{File: end.File, Pos: end.Pos + 1000}, "is not the start of an event in " + end.File},
		{binlog.Position{GTID: "0-1-999999"}, "GTID set 0-1-999999 holds transactions this server never had"},
	} {
		cfg := e.config(t)
		cfg.Reconnect.MaxAttempts = 3
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := binlog.New(cfg).Run(ctx, tc.from, newCollector())
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "cdc --reset") {
			t.Errorf("Run from %s = %v; want a refusal saying %q and the remedy", tc.from, err, tc.want)
		} else {
			t.Logf("from %s: %v", tc.from, err)
		}
	}
}
