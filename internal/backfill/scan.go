package backfill

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/internal/source"
)

// Reading.
//
// Every query is a prepared statement, so rows arrive in the binary protocol
// (the Go types mapping expects from backfill: int64, float64, []byte,
// time.Time with parseTime) whichever query read them.
//
// Keyset pages are read below database/sql (see rawReader): the driver's
// rows decode into one reused []driver.Value and each value is stored as it
// is into a page-sized []any, exactly what database/sql's Scan into *any
// would store, minus its per-value conversion and the per-value copy of
// []byte values: those are copied into an arena of the page instead (the
// driver's []byte point into its read buffer, valid only until the next
// row). Values stay valid after the result set is closed, so a page can
// travel to a writer while the reader goes on. The []any backing of a page is
// recycled (cleared, then pooled) once its writer is done; values and arenas
// are never written over in place, so Points that reference them stay valid.

type pageMem struct {
	buf  []any
	rows [][]any
	// arena holds copies of the page's []byte values; a full arena is
	// replaced by a new one (never reused: values may outlive the page).
	arena []byte
	// hdrs backs the []byte values stored in buf (see boxBytes); like the
	// arena it is never reused.
	hdrs []([]byte)
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

func putPageMem(m *pageMem) {
	clear(m.buf)
	clear(m.rows)
	m.arena, m.hdrs = nil, nil
	pagePool.Put(m)
}

func releasePage(pg *page) {
	if pg.mem == nil {
		return
	}
	putPageMem(pg.mem)
	pg.mem, pg.rows = nil, nil
}

const (
	arenaSize   = 64 << 10 // bytes per arena block
	arenaMaxVal = 4 << 10  // larger values get their own allocation
	hdrBlock    = 4096     // []byte headers per hdrs block
)

// copyBytes returns a copy of b that lives in the page's arena.
func (m *pageMem) copyBytes(b []byte) []byte {
	n := len(b)
	if n == 0 {
		return []byte{} // bytes.Clone of an empty slice: empty, not nil
	}
	if n > arenaMaxVal {
		return append([]byte(nil), b...)
	}
	if cap(m.arena)-len(m.arena) < n {
		m.arena = make([]byte, 0, arenaSize)
	}
	start := len(m.arena)
	m.arena = append(m.arena, b...)
	return m.arena[start : start+n : start+n]
}

// boxBytes returns b as an any without the allocation of a []byte
// conversion: the slice header is stored in a block of headers owned by
// the page and the interface points at it, exactly as the conversion would
// point at its own heap copy. The header is never written again.
func (m *pageMem) boxBytes(b []byte) any {
	if len(m.hdrs) == cap(m.hdrs) {
		m.hdrs = make([]([]byte), 0, hdrBlock)
	}
	m.hdrs = append(m.hdrs, b)
	return bytesIface(&m.hdrs[len(m.hdrs)-1])
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
	return t.plan.rangeSQL(p, withLo)
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

// streamQuery reads all of p in one result set (tables without a key), in
// the server's order: no ORDER BY, which would sort the partition while
// nothing depends on the order (there is no cursor to resume from).
func (t *tableRun) streamQuery(database string, p Partition) (string, []any) {
	cond, args := t.plan.Condition(p)
	return "SELECT " + t.selectList() + " FROM " + quoteTable(database, t.name) + " WHERE " + cond, args
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
	limit := e.opts.pageLimit(len(t.exprs))
	rr := &rawReader{db: e.opts.DB}
	defer rr.close()
	for seq := 0; ; seq++ {
		var mem *pageMem
		op := func() error {
			if e.opts.beforeQuery != nil {
				e.opts.beforeQuery(t.name, p.ID, cursor)
			}
			q, args := t.pageQuery(e.opts.Database, p, cursor, limit)
			m, err := rr.readPage(ctx, q, args, len(t.exprs), limit)
			if err != nil {
				return permanentUnlessTransient(err)
			}
			mem = m
			return nil
		}
		notify := func(err error, d time.Duration) {
			e.log.Warn().Err(err).Str("table", t.name).Int("partition", p.ID).Stringer("after", cursor).Dur("retry_in_s", d.Round(time.Millisecond)).Msg("read failed, retrying")
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

// permanentUnlessTransient marks a MySQL error that retrying cannot help
// (source.Transient) as permanent for the backoff loop.
func permanentUnlessTransient(err error) error {
	if err == nil || source.Transient(err) {
		return err
	}
	return backoff.Permanent(err)
}

// rawReader reads keyset pages on one connection of the pool, below
// database/sql: conn.Raw hands it the driver connection, on which it
// prepares the page queries (once per connection) and iterates the driver's
// rows itself. It reproduces what Scan into *any stores, without the
// per-row locking, per-value conversion and per-[]byte allocations of
// database/sql. After any error the connection is given back (database/sql
// discards it when the driver says it is broken) and the next page gets a
// fresh one; statements are closed before a connection goes back.
type rawReader struct {
	db    *sql.DB
	conn  *sql.Conn
	stmts map[string]driver.Stmt
	dest  []driver.Value
	args  []driver.NamedValue
}

// close closes the statements and gives the connection back to the pool.
func (r *rawReader) close() {
	if r.conn == nil {
		return
	}
	if len(r.stmts) > 0 {
		_ = r.conn.Raw(func(any) error {
			for _, st := range r.stmts {
				st.Close()
			}
			return nil
		})
	}
	r.conn.Close()
	r.conn, r.stmts = nil, nil
}

// readPage runs a page query and reads up to limit rows of ncols columns.
func (r *rawReader) readPage(ctx context.Context, q string, args []any, ncols, limit int) (*pageMem, error) {
	if r.conn == nil {
		c, err := r.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		r.conn, r.stmts = c, map[string]driver.Stmt{}
	}
	var mem *pageMem
	err := r.conn.Raw(func(dc any) error {
		st := r.stmts[q]
		if st == nil {
			var err error
			if cp, ok := dc.(driver.ConnPrepareContext); ok {
				st, err = cp.PrepareContext(ctx, q)
			} else {
				st, err = dc.(driver.Conn).Prepare(q)
			}
			if err != nil {
				return err
			}
			r.stmts[q] = st
		}
		sq, ok := st.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("backfill: driver statement %T cannot query with a context", st)
		}
		r.args = r.args[:0]
		checker, _ := dc.(driver.NamedValueChecker)
		for i, a := range args {
			nv := driver.NamedValue{Ordinal: i + 1, Value: a}
			err := driver.ErrSkip
			if checker != nil {
				err = checker.CheckNamedValue(&nv)
			}
			if err == driver.ErrSkip {
				nv.Value, err = driver.DefaultParameterConverter.ConvertValue(a)
			}
			if err != nil {
				return fmt.Errorf("backfill: argument %d: %w", i+1, err)
			}
			r.args = append(r.args, nv)
		}
		rows, err := sq.QueryContext(ctx, r.args)
		if err != nil {
			return err
		}
		if n := len(rows.Columns()); n != ncols {
			rows.Close()
			return fmt.Errorf("backfill: page query returned %d columns, want %d", n, ncols)
		}
		if cap(r.dest) < ncols {
			r.dest = make([]driver.Value, ncols)
		}
		dest := r.dest[:ncols]
		m := getPageMem(limit, ncols)
		for len(m.rows) < limit {
			if err := rows.Next(dest); err != nil {
				if err == io.EOF {
					break
				}
				rows.Close()
				putPageMem(m)
				return err
			}
			n := len(m.rows)
			row := m.buf[n*ncols : (n+1)*ncols : (n+1)*ncols]
			for i, v := range dest {
				if b, ok := v.([]byte); ok {
					// Scan into *any stores a copy: the driver's bytes
					// are overwritten by the next row.
					row[i] = m.boxBytes(m.copyBytes(b))
				} else {
					row[i] = v
				}
			}
			m.rows = append(m.rows, row)
		}
		clear(dest)
		if err := rows.Close(); err != nil {
			putPageMem(m)
			return err
		}
		mem = m
		return nil
	})
	if err != nil {
		r.close()
		return nil, err
	}
	return mem, nil
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
// set, sending a page every pageLimit rows. It has no resumable cursor: when
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
	ncols := len(t.exprs)
	limit := e.opts.pageLimit(ncols)
	op := func() error {
		if e.opts.beforeQuery != nil {
			e.opts.beforeQuery(t.name, p.ID, nil)
		}
		conn, err := e.opts.DB.Conn(ctx)
		if err != nil {
			return permanentUnlessTransient(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET SESSION net_write_timeout = 3600"); err != nil {
			return permanentUnlessTransient(err)
		}
		q, args := t.streamQuery(e.opts.Database, p)
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			return permanentUnlessTransient(err)
		}
		defer st.Close()
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return permanentUnlessTransient(err)
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
				return permanentUnlessTransient(err)
			}
			mem.rows = append(mem.rows, row)
		}
		if err := rows.Err(); err != nil {
			return permanentUnlessTransient(err)
		}
		return send(true)
	}
	notify := func(err error, d time.Duration) {
		e.log.Warn().Err(err).Str("table", t.name).Int("partition", p.ID).Dur("retry_in_s", d.Round(time.Millisecond)).Msg("stream failed, reading the partition again")
	}
	if err := backoff.RetryNotify(op, e.newBackoff(ctx), notify); err != nil {
		return fmt.Errorf("table %s partition p%d %s: streaming scan: %w", t.name, p.ID, p, err)
	}
	return nil
}
