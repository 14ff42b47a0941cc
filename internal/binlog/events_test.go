package binlog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
)

// recorder is a Handler that writes every call as one line.
type recorder struct {
	calls []string
	rows  []*RowsEvent
	fail  map[string]error // call kind -> error to return
}

func (r *recorder) add(kind, s string) error {
	r.calls = append(r.calls, kind+" "+s)
	return r.fail[kind]
}

func (r *recorder) OnRows(_ context.Context, ev *RowsEvent) error {
	r.rows = append(r.rows, ev)
	return r.add("rows", fmt.Sprintf("%s.%s %s %v @%s gtid=%s", ev.Schema, ev.Table, ev.Action, ev.Rows, ev.Pos, ev.GTID))
}
func (r *recorder) OnCommit(_ context.Context, pos Position, ts uint32) error {
	return r.add("commit", fmt.Sprintf("%s ts=%d", pos, ts))
}
func (r *recorder) OnDDL(_ context.Context, schema, q string, pos Position) error {
	return r.add("ddl", fmt.Sprintf("%s %q %s", schema, q, pos))
}
func (r *recorder) OnHeartbeat(_ context.Context, pos Position) error {
	return r.add("heartbeat", pos.String())
}
func (r *recorder) OnCaughtUp(context.Context) error { return r.add("caughtup", "") }

// stream builds events with consistent offsets, as the server would send.
type stream struct {
	t   *testing.T
	p   *processor
	pos uint32
	ts  uint32
}

func newStream(t *testing.T, flavor string, from Position, h Handler, tables func(string, string) bool) *stream {
	t.Helper()
	p, err := newProcessor(Config{Flavor: flavor, Tables: tables}, from, h)
	if err != nil {
		t.Fatal(err)
	}
	p.reset()
	return &stream{t: t, p: p, pos: from.Pos, ts: 1700000000}
}

func (s *stream) send(typ replication.EventType, size uint32, e replication.Event) error {
	s.pos += size
	return s.p.handle(context.Background(), &replication.BinlogEvent{
		Header: &replication.EventHeader{Timestamp: s.ts, EventType: typ, ServerID: 1, EventSize: size, LogPos: s.pos},
		Event:  e,
	})
}

func (s *stream) must(typ replication.EventType, size uint32, e replication.Event) {
	s.t.Helper()
	if err := s.send(typ, size, e); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stream) rotate(name string, pos uint64, fake bool) {
	s.t.Helper()
	ts := s.ts
	if fake {
		ts = 0
	}
	// A rotate's LogPos is in the old file (or 0 when fake): it must not move
	// the offset.
	if err := s.p.handle(context.Background(), &replication.BinlogEvent{
		Header: &replication.EventHeader{Timestamp: ts, EventType: replication.ROTATE_EVENT, EventSize: 40, LogPos: 0},
		Event:  &replication.RotateEvent{Position: pos, NextLogName: []byte(name)},
	}); err != nil {
		s.t.Fatal(err)
	}
	s.pos = uint32(pos)
}

func tableMap(schema, table string, cols ...string) *replication.TableMapEvent {
	tm := &replication.TableMapEvent{Schema: []byte(schema), Table: []byte(table), ColumnCount: uint64(len(cols))}
	for _, c := range cols {
		tm.ColumnName = append(tm.ColumnName, []byte(c))
	}
	return tm
}

func rowsEv(tm *replication.TableMapEvent, rows ...[]any) *replication.RowsEvent {
	skipped := make([][]int, len(rows))
	return &replication.RowsEvent{Table: tm, ColumnCount: tm.ColumnCount, Rows: rows, SkippedColumns: skipped}
}

func query(q string) *replication.QueryEvent {
	return &replication.QueryEvent{Schema: []byte("factory"), Query: []byte(q)}
}

func mariaGTID(domain, server uint32, seq uint64) *replication.MariadbGTIDEvent {
	return &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: domain, ServerID: server, SequenceNumber: seq}}
}

func mysqlGTID(u string, gno int64) *replication.GTIDEvent {
	id := uuid.MustParse(u)
	return &replication.GTIDEvent{SID: id[:], GNO: gno}
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("calls:\n  got  %s\n  want %s", strings.Join(got, "\n       "), strings.Join(want, "\n       "))
	}
}

// A MariaDB transaction in GTID mode: rows keep the open transaction's GTID,
// the set advances only at the XID, the commit position is after the XID.
func TestProcessorMariaDBTransaction(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMariaDB, Position{File: "binlog.000002", Pos: 100, GTID: "0-1-10"}, r, nil)
	s.rotate("binlog.000002", 100, true) // connect-time fake rotate: same file, ignored
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(0, 1, 11))
	if s.p.commit.GTID != "0-1-10" {
		t.Fatalf("GTID set advanced at the GTID event: %s", s.p.commit.GTID)
	}
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	tm := tableMap("factory", "sensor", "id", "temp")
	s.must(replication.TABLE_MAP_EVENT, 50, tm)
	s.must(replication.WRITE_ROWS_EVENTv1, 70, rowsEv(tm, []any{int32(1), 20.5}, []any{int32(2), 21.0}))
	s.must(replication.UPDATE_ROWS_EVENTv1, 80, rowsEv(tm, []any{int32(1), 20.5}, []any{int32(1), 22.0}))
	s.must(replication.DELETE_ROWS_EVENTv1, 60, rowsEv(tm, []any{int32(2), 21.0}))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{XID: 9})
	wantCalls(t, r.calls,
		"rows factory.sensor insert [[1 20.5] [2 21]] @binlog.000002:250 gtid=0-1-11",
		"rows factory.sensor update [[1 20.5] [1 22]] @binlog.000002:320 gtid=0-1-11",
		"rows factory.sensor delete [[2 21]] @binlog.000002:400 gtid=0-1-11",
		"commit binlog.000002:491 gtid=0-1-11 ts=1700000000",
	)
	if got := r.rows[0].Columns; !reflect.DeepEqual(got, []string{"id", "temp"}) {
		t.Fatalf("columns = %v", got)
	}
	// A second domain joins the set; the first keeps its last GTID.
	r.calls = nil
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(1, 2, 5))
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{XID: 10})
	wantCalls(t, r.calls, "commit binlog.000002:622 gtid=0-1-11,1-2-5 ts=1700000000")
}

// Non-transactional tables (MyISAM, Aria) commit with a COMMIT query; DDL
// arrives as a standalone GTID plus a query: OnDDL then OnCommit at the same
// position.
func TestProcessorQueryCommitsAndDDL(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMariaDB, Position{File: "binlog.000001", Pos: 4, GTID: "0-1-1"}, r, nil)
	tm := tableMap("factory", "log", "id")
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(0, 1, 2))
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	s.must(replication.TABLE_MAP_EVENT, 50, tm)
	s.must(replication.WRITE_ROWS_EVENTv1, 50, rowsEv(tm, []any{int32(7)}))
	s.must(replication.QUERY_EVENT, 60, query("COMMIT"))
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(0, 1, 3))
	s.must(replication.QUERY_EVENT, 90, query("ALTER TABLE sensor ADD COLUMN x INT"))
	wantCalls(t, r.calls,
		"rows factory.log insert [[7]] @binlog.000001:154 gtid=0-1-2",
		"commit binlog.000001:264 gtid=0-1-2 ts=1700000000",
		`ddl factory "ALTER TABLE sensor ADD COLUMN x INT" binlog.000001:394 gtid=0-1-3`,
		"commit binlog.000001:394 gtid=0-1-3 ts=1700000000",
	)
}

// MySQL: GTID events (with and without tags), anonymous GTIDs in a
// gtid_mode=OFF stream, the set advanced at commit.
func TestProcessorMySQLGTID(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMySQL, Position{File: "mysql-bin.000005", Pos: 157, GTID: uuidA + ":1-5"}, r, nil)
	s.must(replication.GTID_EVENT, 79, mysqlGTID(uuidA, 6))
	if s.p.commit.GTID != uuidA+":1-5" {
		t.Fatalf("set advanced at the GTID event: %s", s.p.commit.GTID)
	}
	s.must(replication.QUERY_EVENT, 80, query("BEGIN"))
	tm := tableMap("factory", "sensor", "id")
	s.must(replication.TABLE_MAP_EVENT, 50, tm)
	s.must(replication.WRITE_ROWS_EVENTv2, 50, rowsEv(tm, []any{int64(1)}))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	// A transaction from another source UUID, and a tagged GTID (MySQL 8.3+).
	s.must(replication.GTID_EVENT, 79, mysqlGTID(uuidB, 1))
	s.must(replication.QUERY_EVENT, 120, query("CREATE TABLE t2 (id INT)"))
	tagged := &replication.GtidTaggedLogEvent{GTIDEvent: *mysqlGTID(uuidA, 1)}
	tagged.Tag = mysql.NewTag("bridge")
	s.must(replication.GTID_TAGGED_LOG_EVENT, 90, tagged)
	s.must(replication.QUERY_EVENT, 80, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	wantCalls(t, r.calls,
		"rows factory.sensor insert [[1]] @mysql-bin.000005:366 gtid="+uuidA+":6",
		"commit mysql-bin.000005:447 gtid="+uuidA+":1-6 ts=1700000000",
		`ddl factory "CREATE TABLE t2 (id INT)" mysql-bin.000005:646 gtid=`+uuidA+":1-6,"+uuidB+":1",
		"commit mysql-bin.000005:646 gtid="+uuidA+":1-6,"+uuidB+":1 ts=1700000000",
		"commit mysql-bin.000005:847 gtid="+uuidA+":1-6:bridge:1,"+uuidB+":1 ts=1700000000",
	)
	// The reported set parses back with the MySQL parser.
	if _, err := ParseGTIDSet(FlavorMySQL, s.p.commit.GTID); err != nil {
		t.Fatal(err)
	}
}

func TestProcessorMySQLAnonymousAndFilePos(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMySQL, Position{File: "mysql-bin.000001", Pos: 4}, r, nil)
	anon := &replication.GTIDEvent{SID: make([]byte, 16)}
	s.must(replication.ANONYMOUS_GTID_EVENT, 65, anon)
	s.must(replication.QUERY_EVENT, 80, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	// File/pos mode: even with real GTIDs, no set is invented.
	s.must(replication.GTID_EVENT, 79, mysqlGTID(uuidA, 9))
	s.must(replication.QUERY_EVENT, 80, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	wantCalls(t, r.calls,
		"commit mysql-bin.000001:180 ts=1700000000",
		"commit mysql-bin.000001:370 ts=1700000000",
	)
}

// Rotates: a real rotate moves the file (and, between transactions, the
// resume point to the next file's start); fake rotates give the file name
// only; heartbeats report the last safe position.
func TestProcessorRotateAndHeartbeat(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMariaDB, Position{File: "binlog.000001", Pos: 300}, r, nil)
	s.rotate("binlog.000001", 300, true)
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	s.rotate("binlog.000002", 4, false) // real rotate at the end of file 1
	s.must(replication.FORMAT_DESCRIPTION_EVENT, 0, &replication.FormatDescriptionEvent{})
	if err := s.p.handle(context.Background(), &replication.BinlogEvent{
		Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT, LogPos: 999},
		Event:  &replication.HeartbeatEvent{},
	}); err != nil {
		t.Fatal(err)
	}
	s.pos = 256 // the FDE and friends
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	tm := tableMap("factory", "sensor", "id")
	s.must(replication.TABLE_MAP_EVENT, 50, tm)
	// A fake rotate to a new file (the server moved on after a restart)
	// while no transaction is open moves the resume point; inside one it
	// must not.
	s.p.open = true
	s.rotate("binlog.000003", 4, true)
	if s.p.commit.File != "binlog.000002" {
		t.Fatalf("rotate inside a transaction moved the commit position to %s", s.p.commit)
	}
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	s.rotate("binlog.000004", 4, true)
	if err := s.p.handle(context.Background(), &replication.BinlogEvent{
		Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT},
		Event:  &replication.HeartbeatEvent{},
	}); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, r.calls,
		"commit binlog.000001:391 ts=1700000000",
		"heartbeat binlog.000002:4",
		"commit binlog.000003:35 ts=1700000000",
		"heartbeat binlog.000004:4",
	)
}

// After a reconnect the processor starts from the last commit: the partial
// transaction's state is dropped.
func TestProcessorResetDropsPartialTransaction(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMariaDB, Position{File: "binlog.000001", Pos: 4, GTID: "0-1-1"}, r, nil)
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(0, 1, 2))
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	s.p.reset()
	if s.p.open || s.p.pending != nil || s.p.cur.Pos != 4 {
		t.Fatalf("reset kept state: open=%v pending=%v cur=%s", s.p.open, s.p.pending != nil, s.p.cur)
	}
	s.pos = 4
	s.must(replication.MARIADB_GTID_EVENT, 40, mariaGTID(0, 1, 2))
	s.must(replication.QUERY_EVENT, 60, query("BEGIN"))
	s.must(replication.XID_EVENT, 31, &replication.XIDEvent{})
	wantCalls(t, r.calls, "commit binlog.000001:135 gtid=0-1-2 ts=1700000000")
}

func TestProcessorFilterAndErrors(t *testing.T) {
	r := &recorder{}
	only := func(schema, table string) bool { return schema == "factory" && table == "sensor" }
	s := newStream(t, FlavorMariaDB, Position{File: "binlog.000001", Pos: 4}, r, only)
	other := tableMap("factory", "audit", "id")
	s.must(replication.WRITE_ROWS_EVENTv1, 50, rowsEv(other, []any{int32(1)}))
	if len(r.calls) != 0 {
		t.Fatalf("filtered table delivered: %v", r.calls)
	}
	// No column names (binlog_row_metadata=MINIMAL) and no resolver: an error
	// that says how to fix it.
	bare := &replication.TableMapEvent{Schema: []byte("factory"), Table: []byte("sensor"), ColumnCount: 2}
	err := s.send(replication.WRITE_ROWS_EVENTv1, 50, rowsEv(bare, []any{int32(1), 2.0}))
	var fe *fatalError
	if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "binlog_row_metadata=FULL") {
		t.Fatalf("missing column names: %v", err)
	}
	// With a resolver the names come from it, and a count mismatch is an error.
	s.p.columnNames = func(_ context.Context, schema, table string) ([]string, error) {
		return []string{"id", "temp"}, nil
	}
	s.must(replication.WRITE_ROWS_EVENTv1, 50, rowsEv(bare, []any{int32(1), 2.0}))
	if got := r.rows[len(r.rows)-1].Columns; !reflect.DeepEqual(got, []string{"id", "temp"}) {
		t.Fatalf("resolver columns: %v", got)
	}
	bare3 := &replication.TableMapEvent{Schema: []byte("factory"), Table: []byte("sensor"), ColumnCount: 3}
	if err := s.send(replication.WRITE_ROWS_EVENTv1, 50, rowsEv(bare3, []any{1, 2, 3})); err == nil || !strings.Contains(err.Error(), "3 columns but 2 names") {
		t.Fatalf("column count mismatch: %v", err)
	}
	// A minimal row image would turn missing columns into NULLs: refused.
	tm := tableMap("factory", "sensor", "id", "temp")
	partial := rowsEv(tm, []any{int32(1), nil})
	partial.SkippedColumns = [][]int{{1}}
	if err := s.send(replication.WRITE_ROWS_EVENTv1, 50, partial); err == nil || !strings.Contains(err.Error(), "binlog_row_image=FULL") {
		t.Fatalf("minimal image: %v", err)
	}
	if err := s.send(replication.PARTIAL_UPDATE_ROWS_EVENT, 50, rowsEv(tm, []any{1, 2}, []any{1, 3})); err == nil || !strings.Contains(err.Error(), "binlog_row_value_options") {
		t.Fatalf("partial json update: %v", err)
	}
	// Handler errors come back as is (inside fatalError).
	boom := errors.New("sink down")
	r.fail = map[string]error{"commit": boom}
	if err := s.send(replication.XID_EVENT, 31, &replication.XIDEvent{}); !errors.Is(err, boom) {
		t.Fatalf("handler error: %v", err)
	}
}

// MySQL binlog_transaction_compression: the transaction's events arrive
// inside one payload event; positions are the payload's.
func TestProcessorTransactionPayload(t *testing.T) {
	r := &recorder{}
	s := newStream(t, FlavorMySQL, Position{File: "mysql-bin.000001", Pos: 1000, GTID: uuidA + ":1-3"}, r, nil)
	s.must(replication.GTID_EVENT, 79, mysqlGTID(uuidA, 4))
	tm := tableMap("factory", "sensor", "id")
	inner := func(typ replication.EventType, e replication.Event) *replication.BinlogEvent {
		return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: typ, Timestamp: 1700000005}, Event: e}
	}
	payload := &replication.TransactionPayloadEvent{Events: []*replication.BinlogEvent{
		inner(replication.QUERY_EVENT, query("BEGIN")),
		inner(replication.TABLE_MAP_EVENT, tm),
		inner(replication.WRITE_ROWS_EVENTv2, rowsEv(tm, []any{int64(1)}, []any{int64(2)})),
		inner(replication.XID_EVENT, &replication.XIDEvent{}),
	}}
	s.must(replication.TRANSACTION_PAYLOAD_EVENT, 200, payload)
	wantCalls(t, r.calls,
		"rows factory.sensor insert [[1] [2]] @mysql-bin.000001:1079 gtid="+uuidA+":4",
		"commit mysql-bin.000001:1279 gtid="+uuidA+":1-4 ts=1700000005",
	)
}

func TestNewProcessorRejectsWrongFlavorGTID(t *testing.T) {
	if _, err := newProcessor(Config{Flavor: FlavorMariaDB}, Position{GTID: uuidA + ":1-5"}, &recorder{}); err == nil {
		t.Fatal("a MySQL GTID set accepted for MariaDB")
	}
	s := New(Config{Flavor: FlavorMySQL, ServerID: 1, User: "u"})
	if err := s.validate(Position{}); err == nil {
		t.Fatal("empty start position accepted")
	}
	s = New(Config{Flavor: FlavorMySQL, User: "u"})
	if err := s.validate(Position{File: "b.000001", Pos: 4}); err == nil || !strings.Contains(err.Error(), "server_id") {
		t.Fatalf("server id 0: %v", err)
	}
}

// A rotate's file name reaches the checkpoint and a metric label: a name
// with a checksum trailer is repaired, one that is not text is refused
// before anything is saved.
func TestProcessorRotateFileNames(t *testing.T) {
	crc := []byte{0x9f, 0x00, 0xc3, 0x28} // not valid UTF-8
	rot := func(p *processor, name []byte) error {
		return p.handle(context.Background(), &replication.BinlogEvent{
			Header: &replication.EventHeader{Timestamp: 0, EventType: replication.ROTATE_EVENT},
			Event:  &replication.RotateEvent{Position: 4, NextLogName: name},
		})
	}
	for _, tc := range []struct {
		name []byte
		want string // "" = refused
	}{
		{[]byte("mysql-bin.000007"), "mysql-bin.000007"},
		{append([]byte("mysql-bin.000007"), crc...), "mysql-bin.000007"},
		{append([]byte("mysql-bin.000007"), 'a', 'b', 'c', 'd'), "mysql-bin.000007"}, // a printable checksum
		{[]byte("custom-name"), "custom-name"},
		{crc, ""},
		{append([]byte("bin\x00log.1"), crc...), ""},
		{[]byte(strings.Repeat("x", maxLogName+1)), ""},
	} {
		p := newStream(t, FlavorMariaDB, Position{File: "mysql-bin.000006", Pos: 300}, &recorder{}, nil).p
		err := rot(p, tc.name)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "not a file name") || !strings.Contains(err.Error(), "mysql-bin.000006:300") {
				t.Errorf("%q: want a refusal naming the position, got %v (file now %q)", tc.name, err, p.cur.File)
			}
			if p.commit.File != "mysql-bin.000006" {
				t.Errorf("%q: a refused name moved the commit position to %s", tc.name, p.commit)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.name, err)
		} else if p.cur.File != tc.want || p.commit.File != tc.want {
			t.Errorf("%q: file %q, commit %s; want %q", tc.name, p.cur.File, p.commit, tc.want)
		}
	}
}
