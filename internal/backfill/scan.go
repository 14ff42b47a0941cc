package backfill

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-sql-driver/mysql"
)

// Reading.
//
// Every query is a prepared statement, so rows arrive in the binary protocol
// (the Go types mapping expects from backfill: int64, float64, []byte,
// time.Time with parseTime) whichever query read them.
//
// Rows are scanned into *any slots of a page-sized []any. database/sql copies
// []byte values when scanning into *any, so values stay valid after Next and
// after the result set is closed: a page can travel to a writer while the
// reader goes on. The []any backing of a page is recycled (cleared, then
// pooled) once its writer is done; values are never written over in place,
// so Points that reference them stay valid.

type pageMem struct {
	buf  []any
	rows [][]any
}

var pagePool sync.Pool // *pageMem

func getPageMem(rows, cols int) *pageMem {
	if v, ok := pagePool.Get().(*pageMem); ok && cap(v.buf) >= rows*cols && cap(v.rows) >= rows {
		v.buf = v.buf[:rows*cols]
		v.rows = v.rows[:0]
		return v
	}
	return &pageMem{buf: make([]any, rows*cols), rows: make([][]any, 0, rows)}
}

func releasePage(pg *page) {
	if pg.mem == nil {
		return
	}
	clear(pg.mem.buf)
	clear(pg.mem.rows)
	pagePool.Put(pg.mem)
	pg.mem, pg.rows = nil, nil
}

// orderFor is the keyset tuple of partition p: the NULL partition orders by
// the primary key alone (its partition column is NULL everywhere).
func (t *tableRun) orderFor(p Partition) []KeyColumn {
	if p.Null {
		return t.plan.Order[1:]
	}
	return t.plan.Order
}

// rangeSQL is the condition selecting partition p (without its lower bound
// when a keyset cursor replaces it) and its arguments.
func (t *tableRun) rangeSQL(p Partition, withLo bool) (string, []any) {
	if t.plan.Column == "" {
		return "", nil
	}
	col := quoteIdent(t.plan.Column)
	if p.Null {
		return col + " IS NULL", nil
	}
	var conds []string
	var args []any
	if withLo && p.Lo != nil {
		op := " > ?"
		if p.LoInclusive {
			op = " >= ?"
		}
		conds = append(conds, col+op)
		args = append(args, p.Lo.arg())
	}
	if p.Hi != nil {
		conds = append(conds, col+" <= ?")
		args = append(args, p.Hi.arg())
	}
	return strings.Join(conds, " AND "), args
}

func (t *tableRun) selectList() string { return strings.Join(t.exprs, ", ") }

// pageQuery is the keyset page query of p, after the cursor when after.
func (t *tableRun) pageQuery(database string, p Partition, after Key, limit int) (string, []any) {
	order := t.orderFor(p)
	var conds []string
	var args []any
	if after != nil {
		conds = append(conds, keysetAfter(order))
		args = append(args, keysetArgs(after)...)
	}
	rc, rargs := t.rangeSQL(p, after == nil)
	conds = append(conds, rc, whereSQL(t.plan.Config.Where))
	args = append(args, rargs...)
	names := make([]string, len(order))
	for i, c := range order {
		names[i] = quoteIdent(c.Name)
	}
	q := "SELECT " + t.selectList() + " FROM " + quoteTable(database, t.name) +
		" WHERE " + andAll(conds...) + " ORDER BY " + strings.Join(names, ", ") + " LIMIT ?"
	return q, append(args, int64(limit))
}

// streamQuery reads all of p in one result set (tables without a key).
func (t *tableRun) streamQuery(database string, p Partition) (string, []any) {
	rc, args := t.rangeSQL(p, true)
	return "SELECT " + t.selectList() + " FROM " + quoteTable(database, t.name) +
		" WHERE " + andAll(rc, whereSQL(t.plan.Config.Where)), args
}

func (t *tableRun) stmt(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	t.stmtMu.Lock()
	defer t.stmtMu.Unlock()
	if s, ok := t.stmts[q]; ok {
		return s, nil
	}
	s, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	t.stmts[q] = s
	return s, nil
}

// retryable tells read errors worth retrying (lost connections, killed
// queries, lock timeouts, server restarts) from permanent ones (syntax,
// unknown column, privileges: retrying cannot help).
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,                   // server shutdown in progress
			1205,                   // lock wait timeout
			1213,                   // deadlock
			1158, 1159, 1160, 1161, // network read/write errors and timeouts
			1317,       // query execution was interrupted (KILL QUERY)
			1927,       // MariaDB: connection was killed
			1969,       // MariaDB: max_statement_time exceeded
			3024,       // MySQL: max_execution_time exceeded
			2006, 2013: // server gone away, lost connection
			return true
		}
		return false
	}
	// driver.ErrBadConn, mysql.ErrInvalidConn, io and net errors.
	return true
}

// readPartition reads pr and sends its pages to out, the last one marked
// final (possibly empty, so that an empty partition is acknowledged too).
func (e *engine) readPartition(ctx context.Context, pr *partRun, out chan<- *page) error {
	if !pr.t.plan.Paged {
		return e.streamPartition(ctx, pr, out)
	}
	t, p := pr.t, pr.p
	e.mu.Lock()
	cursor := t.ts.Progress[pr.idx].Last
	e.mu.Unlock()
	order := t.orderFor(p)
	off := t.nMap + len(t.plan.Order) - len(order)
	limit := e.opts.Backfill.PageRows
	for seq := 0; ; seq++ {
		var mem *pageMem
		op := func() error {
			if e.opts.beforeQuery != nil {
				e.opts.beforeQuery(t.name, p.ID, cursor)
			}
			q, args := t.pageQuery(e.opts.Database, p, cursor, limit)
			st, err := t.stmt(ctx, e.opts.DB, q)
			if err != nil {
				return classify(err)
			}
			m, err := readRows(ctx, st, args, len(t.exprs), limit)
			if err != nil {
				return classify(err)
			}
			mem = m
			return nil
		}
		notify := func(err error, d time.Duration) {
			e.log.Warn().Err(err).Str("table", t.name).Int("partition", p.ID).Stringer("after", cursor).Dur("retry_in", d).Msg("read failed, retrying")
		}
		if err := backoff.RetryNotify(op, e.newBackoff(ctx), notify); err != nil {
			return fmt.Errorf("table %s partition p%d %s: reading after key %s: %w", t.name, p.ID, p, keyOrStart(cursor), err)
		}
		pg := &page{part: pr, seq: seq, mem: mem, rows: mem.rows, final: len(mem.rows) < limit, last: cursor}
		if n := len(mem.rows); n > 0 {
			last := mem.rows[n-1][off:]
			key := make(Key, len(order))
			for i, c := range order {
				v, err := valueOf(c.Kind, last[i])
				if err != nil {
					return fmt.Errorf("table %s partition p%d: key column %s: %w", t.name, p.ID, c.Name, err)
				}
				key[i] = v
			}
			pg.last = key
			cursor = key
		}
		t.rowsRead.Add(int64(len(mem.rows)))
		select {
		case out <- pg:
		case <-ctx.Done():
			releasePage(pg)
			return ctx.Err()
		}
		if pg.final {
			return nil
		}
	}
}

func keyOrStart(k Key) string {
	if k == nil {
		return "(start)"
	}
	return k.String()
}

func classify(err error) error {
	if err == nil || retryable(err) {
		return err
	}
	return backoff.Permanent(err)
}

// readRows runs a page query and scans up to limit rows.
func readRows(ctx context.Context, st *sql.Stmt, args []any, ncols, limit int) (*pageMem, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mem := getPageMem(limit, ncols)
	ptrs := make([]any, ncols)
	for rows.Next() {
		n := len(mem.rows)
		if n == limit {
			break
		}
		row := mem.buf[n*ncols : (n+1)*ncols : (n+1)*ncols]
		for i := range ptrs {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		mem.rows = append(mem.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return mem, rows.Close()
}

// streamPartition reads a partition of a table without a key in one result
// set, sending a page every PageRows rows. It has no resumable cursor: when
// the stream fails it is read again from the start (pages already written
// are written again, which is harmless: IoTDB writes are idempotent), and an
// interrupted run reads the partition again.
//
// The stream has its own connection with a long net_write_timeout: while
// writers are slow the reader stops reading and the server must not give up
// on the stalled connection.
func (e *engine) streamPartition(ctx context.Context, pr *partRun, out chan<- *page) error {
	t, p := pr.t, pr.p
	seq := 0
	limit := e.opts.Backfill.PageRows
	ncols := len(t.exprs)
	op := func() error {
		if e.opts.beforeQuery != nil {
			e.opts.beforeQuery(t.name, p.ID, nil)
		}
		conn, err := e.opts.DB.Conn(ctx)
		if err != nil {
			return classify(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET SESSION net_write_timeout = 3600"); err != nil {
			return classify(err)
		}
		q, args := t.streamQuery(e.opts.Database, p)
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			return classify(err)
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return classify(err)
		}
		defer rows.Close()
		mem := getPageMem(limit, ncols)
		ptrs := make([]any, ncols)
		send := func(final bool) error {
			pg := &page{part: pr, seq: seq, mem: mem, rows: mem.rows, final: final}
			seq++
			t.rowsRead.Add(int64(len(mem.rows)))
			select {
			case out <- pg:
			case <-ctx.Done():
				releasePage(pg)
				return backoff.Permanent(ctx.Err())
			}
			return nil
		}
		for rows.Next() {
			n := len(mem.rows)
			if n == limit {
				if err := send(false); err != nil {
					return err
				}
				mem = getPageMem(limit, ncols)
				n = 0
			}
			row := mem.buf[n*ncols : (n+1)*ncols : (n+1)*ncols]
			for i := range ptrs {
				ptrs[i] = &row[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return classify(err)
			}
			mem.rows = append(mem.rows, row)
		}
		if err := rows.Err(); err != nil {
			return classify(err)
		}
		return send(true)
	}
	notify := func(err error, d time.Duration) {
		e.log.Warn().Err(err).Str("table", t.name).Int("partition", p.ID).Dur("retry_in", d).Msg("stream failed, reading the partition again")
	}
	if err := backoff.RetryNotify(op, e.newBackoff(ctx), notify); err != nil {
		return fmt.Errorf("table %s partition p%d %s: streaming scan: %w", t.name, p.ID, p, err)
	}
	return nil
}
