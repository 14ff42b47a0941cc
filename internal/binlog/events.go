package binlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
)

// processor turns binlog events into Handler calls and keeps the positions.
// It holds no connection, so unit tests drive it with constructed events.
//
// Two positions are kept:
//   - cur: the binlog file being read and the end offset of the last event;
//   - commit: the last resume point, moved only at a transaction boundary
//     (XID, a non-BEGIN query, an XA prepare) and, while no transaction is
//     open, to the start of the next file on a rotate.
//
// The GTID set (GTID mode only) is advanced at the commit, with the GTID
// remembered from the transaction's GTID event; the GTID event itself only
// opens the transaction. So commit.GTID always describes exactly the
// transactions delivered up to commit.
type processor struct {
	flavor      string
	tables      func(schema, table string) bool
	columnNames func(ctx context.Context, schema, table string) ([]string, error)
	h           Handler

	cur    Position
	commit Position
	gset   mysql.GTIDSet // nil when streaming by file and offset

	open    bool   // a transaction has started and not committed
	txGTID  string // GTID of the open transaction, "" if none/anonymous
	pending func(mysql.GTIDSet) error

	progress bool // a commit or heartbeat since the last reset of this flag
}

func newProcessor(cfg Config, from Position, h Handler) (*processor, error) {
	p := &processor{
		flavor:      cfg.Flavor,
		tables:      cfg.Tables,
		columnNames: cfg.ColumnNames,
		h:           h,
		commit:      from,
	}
	if from.GTID != "" || cfg.Flavor == FlavorMariaDB {
		// MariaDB's GTID position is the last GTID of each domain, so the
		// GTIDs seen from any start on extend it exactly: a stream started
		// by file and offset (with no GTID yet) still records a GTID set
		// for a failover. MySQL's set is every transaction ever executed:
		// it is tracked only from a start that carried it.
		set, err := ParseGTIDSet(cfg.Flavor, from.GTID)
		if err != nil {
			return nil, fmt.Errorf("binlog: start position: %w", err)
		}
		p.gset = set
		p.commit.GTID = set.String()
	}
	p.cur = Position{File: p.commit.File, Pos: p.commit.Pos}
	return p, nil
}

// reset forgets the partial transaction: a new connection starts again at
// the last commit.
func (p *processor) reset() {
	p.cur = Position{File: p.commit.File, Pos: p.commit.Pos}
	p.open = false
	p.txGTID = ""
	p.pending = nil
}

// handle processes one event. Every error it returns is fatal.
func (p *processor) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	if err := p.event(ctx, ev.Header, ev.Header, ev.Event); err != nil {
		return &fatalError{err}
	}
	return nil
}

// event handles e. at is the header that places it in the binlog (for
// events inside a MySQL TransactionPayloadEvent, the payload's header), h
// its own header.
func (p *processor) event(ctx context.Context, at, h *replication.EventHeader, e replication.Event) error {
	if rot, ok := e.(*replication.RotateEvent); ok {
		return p.rotate(h, rot)
	}
	if at.LogPos > 0 {
		p.cur.Pos = at.LogPos
	}
	switch e := e.(type) {
	case *replication.TransactionPayloadEvent:
		// MySQL binlog_transaction_compression: a whole transaction (table
		// maps, rows, XID) inside one event. Its end is the commit position.
		for _, inner := range e.Events {
			if err := p.event(ctx, at, inner.Header, inner.Event); err != nil {
				return err
			}
		}
		return nil
	case *replication.MariadbGTIDEvent:
		p.begin()
		gtid := e.GTID
		p.txGTID = gtid.String()
		p.pending = func(set mysql.GTIDSet) error {
			ms, ok := set.(*mysql.MariadbGTIDSet)
			if !ok {
				return fmt.Errorf("binlog: MariaDB GTID event %s on a %T set: is the flavor right?", gtid.String(), set)
			}
			return ms.AddSet(&gtid)
		}
		return nil
	case *replication.GtidTaggedLogEvent:
		return p.mysqlGTID(h, &e.GTIDEvent)
	case *replication.GTIDEvent:
		return p.mysqlGTID(h, e)
	case *replication.QueryEvent:
		return p.query(ctx, h, e)
	case *replication.XIDEvent:
		return p.commitTx(ctx, h)
	case *replication.TableMapEvent:
		p.open = true
		return nil
	case *replication.RowsEvent:
		p.open = true
		return p.rows(ctx, at, h, e)
	case *replication.HeartbeatEvent:
		p.progress = true
		return p.h.OnHeartbeat(ctx, p.commit)
	}
	if h.EventType == replication.XA_PREPARE_LOG_EVENT {
		// XA PREPARE ends the binlog group of an XA transaction (its XA COMMIT
		// comes later as a query): resuming after it does not cut the group.
		return p.commitTx(ctx, h)
	}
	return nil
}

func (p *processor) begin() {
	p.open = true
	p.txGTID = ""
	p.pending = nil
}

// rotate follows the binlog to its next file. A fake rotate (timestamp 0)
// is sent at connect time and when the server moves on from a file that
// did not end in a rotate (a crash or restart): its offset is where the
// server starts reading, not a place in the old file, but its file name is
// the file now being read. See
// https://github.com/mysql/mysql-server/blob/8e797a5d6eb3a87f16498edcb7261a75897babae/sql/rpl_binlog_sender.h#L235
func (p *processor) rotate(h *replication.EventHeader, e *replication.RotateEvent) error {
	name, err := logName(e.NextLogName, p.cur)
	if err != nil {
		return err
	}
	pos := uint32(e.Position)
	if pos < 4 {
		pos = 4
	}
	if h.Timestamp == 0 && name == p.cur.File {
		return nil // the connect-time fake rotate for the file we asked for
	}
	p.cur = Position{File: name, Pos: pos}
	if !p.open && name != p.commit.File {
		// Nothing is pending: the whole previous file has been delivered, so
		// the next file's start is a safe resume point. Moving the checkpoint
		// off the old file lets the server purge it.
		p.commit.File, p.commit.Pos = name, pos
	}
	return nil
}

// maxLogName bounds a binlog file name (MySQL and MariaDB cap paths at a
// few hundred bytes; anything longer is a decoding error, not a name).
const maxLogName = 512

// logName checks a binlog file name a rotate event carries before it can
// reach the checkpoint, a log line or a metric label. MySQL and MariaDB name
// every binlog file <basename>.<number>. Some MySQL-compatible servers send
// the connect-time rotate with the event's 4-byte checksum still attached
// to the name: when the name is not such a name but is once those 4 bytes
// are dropped, the rest is the name. A printable name of another shape is
// taken as it is; anything else is refused with the bytes shown, so a bad
// name never lands in the checkpoint.
func logName(b []byte, at Position) (string, error) {
	if plainLogName(b) && numberedLogName(b) {
		return string(b), nil
	}
	if n := len(b) - 4; n > 0 && plainLogName(b[:n]) && numberedLogName(b[:n]) {
		return string(b[:n]), nil
	}
	if plainLogName(b) {
		return string(b), nil
	}
	return "", fmt.Errorf("binlog: the server sent a rotate event after %s whose next file name %q is not a file name "+
		"(not printable UTF-8, or longer than %d bytes); nothing was saved from it. If the server is a MySQL-compatible "+
		"fork, check binlog_checksum on both sides and report the server's version", at, b, maxLogName)
}

// numberedLogName reports whether b ends in a dot and digits.
func numberedLogName(b []byte) bool {
	i := bytes.LastIndexByte(b, '.')
	if i <= 0 || i == len(b)-1 {
		return false
	}
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func plainLogName(b []byte) bool {
	if len(b) == 0 || len(b) > maxLogName || !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

func (p *processor) mysqlGTID(h *replication.EventHeader, e *replication.GTIDEvent) error {
	p.begin()
	if h.EventType == replication.ANONYMOUS_GTID_EVENT {
		return nil // gtid_mode=OFF: no GTID to track
	}
	u, err := uuid.FromBytes(e.SID)
	if err != nil {
		return fmt.Errorf("binlog: GTID event with a bad server uuid: %w", err)
	}
	if u == uuid.Nil {
		return nil
	}
	tag, gno := e.Tag, e.GNO
	if tag.String() == "" {
		p.txGTID = fmt.Sprintf("%s:%d", u, gno)
	} else {
		p.txGTID = fmt.Sprintf("%s:%s:%d", u, tag, gno)
	}
	p.pending = func(set mysql.GTIDSet) error {
		ms, ok := set.(*mysql.MysqlGTIDSet)
		if !ok {
			return fmt.Errorf("binlog: MySQL GTID event %s on a %T set: is the flavor right?", p.txGTID, set)
		}
		ms.AddGTIDWithTag(u, tag, gno)
		return nil
	}
	return nil
}

// Query kinds that do not end a transaction or end it without being DDL.
type queryKind int

const (
	queryOther  queryKind = iota // DDL or another statement-logged command: commits
	queryBegin                   // opens a transaction
	queryInside                  // inside a transaction (savepoints, XA END)
	queryCommit                  // ends a transaction, not DDL
)

func classifyQuery(q string) queryKind {
	u := strings.ToUpper(strings.TrimSpace(q))
	has := func(prefix string) bool {
		return strings.HasPrefix(u, prefix) && (len(u) == len(prefix) || u[len(prefix)] == ' ' || u[len(prefix)] == '\t' || u[len(prefix)] == '\n' || u[len(prefix)] == ';')
	}
	switch {
	case has("BEGIN"), has("START TRANSACTION"), has("XA START"), has("XA BEGIN"):
		return queryBegin
	case has("SAVEPOINT"), has("ROLLBACK TO"), has("RELEASE SAVEPOINT"), has("XA END"):
		return queryInside
	case has("COMMIT"), has("ROLLBACK"), has("XA COMMIT"), has("XA ROLLBACK"), has("XA PREPARE"):
		// A logged ROLLBACK follows changes to non-transactional tables, which
		// stay applied: it is a boundary like COMMIT.
		return queryCommit
	}
	return queryOther
}

func (p *processor) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := string(e.Query)
	switch classifyQuery(q) {
	case queryBegin:
		p.open = true
		return nil
	case queryInside:
		return nil
	case queryOther:
		if err := p.endTx(); err != nil {
			return err
		}
		if err := p.h.OnDDL(ctx, string(e.Schema), q, p.commit); err != nil {
			return err
		}
		return p.h.OnCommit(ctx, p.commit, h.Timestamp)
	}
	return p.commitTx(ctx, h)
}

// commitTx ends the open transaction at the current position and tells the
// handler.
func (p *processor) commitTx(ctx context.Context, h *replication.EventHeader) error {
	if err := p.endTx(); err != nil {
		return err
	}
	return p.h.OnCommit(ctx, p.commit, h.Timestamp)
}

// endTx moves the commit position to the current one, adding the
// transaction's GTID to the set.
func (p *processor) endTx() error {
	if p.gset != nil && p.pending != nil {
		if err := p.pending(p.gset); err != nil {
			return err
		}
	}
	p.commit = Position{File: p.cur.File, Pos: p.cur.Pos}
	if p.gset != nil {
		p.commit.GTID = p.gset.String()
	}
	p.open = false
	p.txGTID = ""
	p.pending = nil
	p.progress = true
	return nil
}

func (p *processor) rows(ctx context.Context, at, h *replication.EventHeader, e *replication.RowsEvent) error {
	tm := e.Table
	if tm == nil {
		return fmt.Errorf("binlog: rows event at %s without its table map", p.cur)
	}
	schema, table := string(tm.Schema), string(tm.Table)
	if p.tables != nil && !p.tables(schema, table) {
		return nil
	}
	start := p.cur.Pos
	if at.LogPos >= at.EventSize {
		start = at.LogPos - at.EventSize
	}
	where := Position{File: p.cur.File, Pos: start}

	action, err := rowsAction(h.EventType)
	if err != nil {
		return fmt.Errorf("binlog: %s.%s at %s: %w", schema, table, where, err)
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return fmt.Errorf("binlog: %s.%s at %s: the row image lacks %d columns: set binlog_row_image=FULL on the source", schema, table, where, len(skipped))
		}
	}
	if action == ActionUpdate && len(e.Rows)%2 != 0 {
		return fmt.Errorf("binlog: %s.%s at %s: update event with an odd number of row images", schema, table, where)
	}

	cols := tm.ColumnNameString()
	if len(cols) == 0 {
		if p.columnNames == nil {
			return fmt.Errorf("binlog: %s.%s at %s: the table map has no column names: set binlog_row_metadata=FULL on the source", schema, table, where)
		}
		names, err := p.columnNames(ctx, schema, table)
		if err != nil {
			return fmt.Errorf("binlog: column names of %s.%s: %w", schema, table, err)
		}
		cols = names
	}
	if uint64(len(cols)) != tm.ColumnCount {
		return fmt.Errorf("binlog: %s.%s at %s: the event has %d columns but %d names are known (did the table change?)", schema, table, where, tm.ColumnCount, len(cols))
	}

	return p.h.OnRows(ctx, &RowsEvent{
		Schema:    schema,
		Table:     table,
		Action:    action,
		Columns:   cols,
		Rows:      e.Rows,
		Pos:       where,
		GTID:      p.txGTID,
		Timestamp: h.Timestamp,
		TableMap:  tm,
	})
}

// rowsAction maps a rows event type to its Action (the same mapping as
// go-mysql's RowsEvent.Type, read from the header).
func rowsAction(t replication.EventType) (Action, error) {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return ActionInsert, nil
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		return ActionUpdate, nil
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return ActionDelete, nil
	case replication.PARTIAL_UPDATE_ROWS_EVENT:
		return 0, errors.New("partial JSON update images are not supported: set binlog_row_value_options='' on the source")
	}
	return 0, fmt.Errorf("unknown rows event type %s", t)
}
