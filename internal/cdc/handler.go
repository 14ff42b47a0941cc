package cdc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/internal/source"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// A batch is what the handler hands to the writer: an ordered list of
// segments and, when a transaction ended inside it, the position after the
// last such commit.
//
// Ordering: IoTDB applies what we send in the order we send it, and the
// binlog order must be kept (DELETE then re-INSERT of a key must leave the
// row present). Consecutive writes form one segment (one sink.Write, which
// may merge points of the same key keeping the later non-NULL values, the
// same result as writing them in order); a deletion starts a new segment;
// consecutive deletions share one (deletions commute).
type batch struct {
	segs []segment
	ops  int // points + deletions

	commit    binlog.Position // valid when hasCommit
	hasCommit bool
	force     bool // save the checkpoint as soon as this batch is acknowledged

	lastTS   uint32 // newest source timestamp in the batch (0 if none)
	caughtUp bool   // flushed because the stream reached the end of the binlog
	started  time.Time
}

type segment struct {
	del    bool
	points []mapping.Point
	meta   []opMeta // parallel to points, or to dels
	dels   []iotdbsink.Deletion
}

// eventMeta is what the operations of one rows event share.
type eventMeta struct {
	table  string
	mapper *mapping.Mapper
	action binlog.Action
	pos    binlog.Position
	gtid   string
}

// opMeta says where an operation came from, for counters and dirty rows.
type opMeta struct {
	ev      *eventMeta
	row     []any // the row in mapper column order
	outcome string
}

// record completes a dirty record with where the operation came from.
func (m opMeta) record(r dirty.Record) dirty.Record {
	if r.Key == "" {
		r.Key = m.ev.mapper.KeyString(m.row)
	}
	r.Action = m.ev.action.String()
	r.Position = posString(m.ev.pos)
	r.GTID = m.ev.gtid
	return r
}

// posString renders a binlog position for the dirty-rows file ("file:pos").
func posString(p binlog.Position) string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.File, p.Pos)
}

func (b *batch) empty() bool { return b.ops == 0 && !b.hasCommit }

// reset empties a batch the writer is done with, keeping its arrays.
func (b *batch) reset() {
	for i := range b.segs {
		s := &b.segs[i]
		clear(s.points)
		clear(s.meta)
		clear(s.dels)
	}
	*b = batch{segs: b.segs[:0]}
}

// seg returns a new last segment, reusing the arrays of an earlier batch.
func (b *batch) seg(del bool, sizeHint int) *segment {
	n := len(b.segs)
	if n < cap(b.segs) {
		b.segs = b.segs[:n+1]
		s := &b.segs[n]
		s.del, s.points, s.meta, s.dels = del, s.points[:0], s.meta[:0], s.dels[:0]
		return s
	}
	s := segment{del: del}
	if !del && n == 0 {
		// The first segment of a fresh batch usually holds the whole batch.
		s.points = make([]mapping.Point, 0, sizeHint)
		s.meta = make([]opMeta, 0, sizeHint)
	}
	b.segs = append(b.segs, s)
	return &b.segs[n]
}

func (b *batch) write(p mapping.Point, m opMeta, sizeHint int) {
	s := b.last()
	if s == nil || s.del {
		s = b.seg(false, sizeHint)
	}
	s.points = append(s.points, p)
	s.meta = append(s.meta, m)
	b.ops++
}

func (b *batch) delete(d iotdbsink.Deletion, m opMeta) {
	s := b.last()
	if s == nil || !s.del {
		s = b.seg(true, 0)
	}
	s.dels = append(s.dels, d)
	s.meta = append(s.meta, m)
	b.ops++
}

func (b *batch) last() *segment {
	if n := len(b.segs); n > 0 {
		return &b.segs[n-1]
	}
	return nil
}

// handlerDeps is what the handler needs: the mapped tables, the batch
// limits, the metrics, the dirty-row policy, the mapping compiler (for DDL)
// and whether more binlog events are already waiting (group commit).
type handlerDeps struct {
	database      string
	tables        map[string]*tableState
	batchRows     int
	batchInterval time.Duration
	metrics       *metrics
	dirty         func(dirty.Record) error
	compile       func(ctx context.Context, m *config.Mapping) (*mapping.Mapper, error)
	retry         config.Retry  // the waits while MySQL is lost during a recompile (iotdb.retry initial/max, as the binlog reconnects use)
	giveUpAfter   time.Duration // cdc.give_up_after (config.Unbounded: never)
	waiting       func() bool
	log           zerolog.Logger
}

// handler implements binlog.Handler: it maps row events into the pending
// batch and flushes it to the writer. All its methods run on the streamer's
// goroutine.
type handler struct {
	e    handlerDeps
	out  chan<- *batch
	free <-chan *batch   // batches the writer is done with, for reuse
	done <-chan struct{} // closed when the writer stops

	pending   *batch
	arena     mapping.Arena // device paths of the mapped rows (blocks are never rewritten)
	inTx      bool          // rows seen since the last commit
	forceNext bool          // a DDL was seen: flush and save at the next commit
	lastFlush time.Time
}

func newHandler(e handlerDeps, out chan<- *batch, free <-chan *batch, done <-chan struct{}) *handler {
	return &handler{e: e, out: out, free: free, done: done, pending: &batch{}, lastFlush: time.Now()}
}

// handOver makes b the writer's and starts a new pending batch.
func (h *handler) handOver() {
	h.e.metrics.lagSrc.handedOver()
	select {
	case b := <-h.free:
		h.pending = b
	default:
		h.pending = &batch{}
	}
	h.lastFlush = time.Now()
}

// flush hands the pending batch to the writer. It blocks while the writer
// is busy with the previous batch: one batch is written while the next one
// is built. On failure the batch stays pending.
func (h *handler) flush(ctx context.Context) error {
	b := h.pending
	if b.empty() {
		return nil
	}
	select {
	case h.out <- b:
	case <-h.done:
		return errWriterStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	h.handOver()
	return nil
}

var errWriterStopped = errors.New("cdc: writer stopped")

// flushIfFull flushes when the batch is full (checked per row; the
// interval only per event, by maybeFlush).
func (h *handler) flushIfFull(ctx context.Context) error {
	if h.pending.ops >= h.e.batchRows {
		return h.flush(ctx)
	}
	return nil
}

// maybeFlush flushes when the batch is full or its interval has passed.
func (h *handler) maybeFlush(ctx context.Context) error {
	if b := h.pending; !b.empty() && time.Since(b.started) >= h.e.batchInterval {
		return h.flush(ctx)
	}
	return h.flushIfFull(ctx)
}

func (h *handler) touch(ts uint32) {
	b := h.pending
	if b.started.IsZero() {
		b.started = time.Now()
	}
	if ts > b.lastTS {
		b.lastTS = ts
	}
}

// OnRows maps one rows event of a mapped table.
func (h *handler) OnRows(ctx context.Context, ev *binlog.RowsEvent) error {
	e := h.e
	if ev.Schema != e.database {
		return nil
	}
	t := e.tables[ev.Table]
	if t == nil {
		return nil
	}
	mp, err := t.mapperFor(ev.Columns, ev.Pos)
	if err != nil {
		return err
	}
	h.inTx = true
	n := len(ev.Rows)
	if ev.Action == binlog.ActionUpdate {
		n /= 2
	}
	e.metrics.decoded.Add(int64(n))
	if len(ev.Rows) == 0 {
		return nil
	}
	em := &eventMeta{table: t.name, mapper: mp, action: ev.Action, pos: ev.Pos, gtid: ev.GTID}
	h.touch(ev.Timestamp)
	e.metrics.atEnd.Store(false)
	e.metrics.lagSrc.rowSeen(ev.Timestamp)
	rows := ev.Rows

	switch ev.Action {
	case binlog.ActionInsert:
		// The values of the event's points share one array.
		nm := len(mp.Schema().Measurements)
		values := make([]any, len(rows)*nm)
		for i, row := range rows {
			m := opMeta{ev: em, row: row, outcome: OutInsertWritten}
			p, err := mp.MapArena(row, values[i*nm:(i+1)*nm:(i+1)*nm], &h.arena)
			if err != nil {
				if err := h.dirty(t, m, err); err != nil {
					return err
				}
				continue
			}
			if !p.HasValues() {
				// Every measurement NULL: nothing to store (as backfill
				// and sync do, so the same row leaves the same trace).
				h.e.metrics.count(t.name, OutNoValues, 1)
				continue
			}
			h.pending.write(p, m, e.batchRows)
			if err := h.flushIfFull(ctx); err != nil {
				return err
			}
		}
	case binlog.ActionUpdate:
		if t.cfg.OnUpdate == config.OnUpdateIgnore {
			e.metrics.count(t.name, OutUpdateIgnored, n)
			return nil
		}
		for i := 0; i+1 < len(rows); i += 2 {
			if err := h.update(t, em, rows[i], rows[i+1]); err != nil {
				return err
			}
			if err := h.flushIfFull(ctx); err != nil {
				return err
			}
		}
	case binlog.ActionDelete:
		if t.cfg.OnDelete != config.OnDeleteDelete {
			e.metrics.count(t.name, OutDeleteIgnored, n)
			return nil
		}
		for _, row := range rows {
			m := opMeta{ev: em, row: row, outcome: OutDeleteApplied}
			dev, ts, err := mp.DeviceAndTime(row)
			if err != nil {
				// The row could not have been written: nothing to delete,
				// but say so like any other unmappable row.
				if err := h.dirty(t, m, err); err != nil {
					return err
				}
				continue
			}
			h.pending.delete(iotdbsink.Deletion{Schema: mp.Schema(), Device: dev, Time: ts}, m)
			if err := h.flushIfFull(ctx); err != nil {
				return err
			}
		}
	}
	return h.maybeFlush(ctx)
}

// update applies on_update: overwrite to one before/after pair.
//
//   - the after-image is written (IoTDB overwrites the point);
//   - a mapped measurement that was non-NULL before and is NULL after is
//     deleted at the point's key first, because a NULL write never clears
//     a value in IoTDB (docs/iotdb.md §3.3); in the table model the whole row is
//     deleted and the after-image written again;
//   - when the device or time changed (the key moved) the old point is
//     deleted only under on_delete: delete (update_moved_deleted), else it
//     stays (update_moved_kept).
func (h *handler) update(t *tableState, em *eventMeta, before, after []any) error {
	m := opMeta{ev: em, row: after, outcome: OutUpdateWritten}
	p, err := em.mapper.MapArena(after, make([]any, len(em.mapper.Schema().Measurements)), &h.arena)
	if err != nil {
		return h.dirty(t, m, err)
	}
	bdev, bts, berr := em.mapper.DeviceAndTime(before)
	switch {
	case berr != nil:
		// The before image was unmappable, so it was never written.
	case bdev != p.Device || bts != p.Time:
		if t.cfg.OnDelete == config.OnDeleteDelete {
			dm := opMeta{ev: em, row: before, outcome: OutUpdateMovedDelete}
			h.pending.delete(iotdbsink.Deletion{Schema: em.mapper.Schema(), Device: bdev, Time: bts}, dm)
		} else {
			h.e.metrics.count(t.name, OutUpdateMovedKept, 1)
		}
	default:
		if cleared := newlyNull(em.mapper.NullMeasurements(before), em.mapper.NullMeasurements(after)); len(cleared) > 0 {
			dm := opMeta{ev: em, row: after, outcome: OutNullCleared}
			h.pending.delete(iotdbsink.Deletion{Schema: em.mapper.Schema(), Device: p.Device, Time: p.Time, Measurements: cleared}, dm)
		}
	}
	if !p.HasValues() {
		// Nothing left to write: the cleared measurements' points were
		// deleted above.
		h.e.metrics.count(t.name, OutNoValues, 1)
		return nil
	}
	h.pending.write(p, m, h.e.batchRows)
	return nil
}

// newlyNull returns the entries of after that are not in before (both
// ascending).
func newlyNull(before, after []int) []int {
	var out []int
	i := 0
	for _, a := range after {
		for i < len(before) && before[i] < a {
			i++
		}
		if i < len(before) && before[i] == a {
			continue
		}
		out = append(out, a)
	}
	return out
}

// dirty records a row that cannot be mapped.
func (h *handler) dirty(t *tableState, m opMeta, err error) error {
	var de *mapping.DirtyError
	if !errors.As(err, &de) {
		// Not a row problem: a caller bug (row length); stop.
		return fmt.Errorf("table %s at %s: %w", t.name, m.ev.pos, err)
	}
	return h.e.dirty(m.record(dirty.FromMapping(t.name, de)))
}

// OnCommit records a transaction boundary: the batch may now carry the
// checkpoint up to pos.
func (h *handler) OnCommit(ctx context.Context, pos binlog.Position, ts uint32) error {
	h.inTx = false
	h.touch(ts)
	b := h.pending
	b.commit, b.hasCommit = pos, true
	if h.forceNext {
		h.forceNext = false
		b.force = true
		return h.flush(ctx)
	}
	if err := h.maybeFlush(ctx); err != nil {
		return err
	}
	// Group commit: when no further event is waiting (a live stream, not a
	// backlog) hand the batch over now if the writer is idle. A quiet or
	// steady source then sees each commit in IoTDB within milliseconds,
	// while under load the batch keeps filling as long as the writer is
	// busy, so batches grow with the load instead of waiting out
	// iotdb.batch.interval.
	if !h.e.waiting() {
		h.tryFlush()
	}
	return nil
}

// tryFlush hands the pending batch to the writer only if the writer is
// waiting for one (the channel is unbuffered), never blocking.
func (h *handler) tryFlush() {
	b := h.pending
	if b.empty() {
		return
	}
	select {
	case h.out <- b:
		h.handOver()
	default:
	}
}

// OnDDL reloads the schema of the mapped tables a statement touches and
// recompiles their mappers. A mapping that no longer compiles (a mapped
// column dropped, a type that cannot be mapped any more) stops cdc with an
// error naming the table, the column (in the compile error) and the binlog
// position.
func (h *handler) OnDDL(ctx context.Context, schema, query string, pos binlog.Position) error {
	affected := ddlTables(query, h.e.tables)
	if len(affected) == 0 {
		return nil
	}
	// Points mapped with the old mapper go out first.
	if err := h.flush(ctx); err != nil {
		return err
	}
	for _, t := range affected {
		mp, err := h.recompile(ctx, t, pos)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if source.Lost(err) {
				return fmt.Errorf("table %s: after the schema change at binlog %s MySQL could not be asked for the new schema "+
					"(cdc.give_up_after %s passed): %w; cdc resumes before this statement when restarted", t.name, pos, h.e.giveUpAfter, err)
			}
			return fmt.Errorf("table %s: after the schema change at binlog %s (%s) the mapping no longer applies: %w; "+
				"fix the mapping (or the table) and restart: cdc resumes before this statement", t.name, pos, abbreviate(query, 200), err)
		}
		t.mapper = mp
		t.byCols, t.lastCols = nil, nil
		h.e.log.Info().Str("table", t.name).Stringer("at", pos).Str("ddl", abbreviate(query, 200)).
			Strs("columns", mp.Columns()).Msg("schema changed: mapping recompiled")
	}
	h.forceNext = true
	return nil
}

// recompile compiles t's mapping against the schema after a DDL. Reading
// the schema needs MySQL: while the connection is lost (the server
// restarting, a failover) it retries with the source's backoff, logging
// the outage once, until cdc.give_up_after (never, by default). Any other
// error is returned at once.
func (h *handler) recompile(ctx context.Context, t *tableState, pos binlog.Position) (*mapping.Mapper, error) {
	loop := retry.NewLoop(config.Retry{Initial: h.e.retry.Initial, Max: h.e.retry.Max, Elapsed: h.e.giveUpAfter}, 0)
	var outage retry.Outage
	for {
		mp, err := h.e.compile(ctx, t.cfg)
		if err == nil {
			if d, ended := outage.Recovered(); ended {
				h.e.log.Info().Str("table", t.name).Dur("down_for_s", d.Round(time.Millisecond)).Msg("MySQL reachable again: schema read after the DDL")
			}
			return mp, nil
		}
		if !source.Lost(err) || ctx.Err() != nil {
			return nil, err
		}
		wait, giveUp := loop.Failed(false)
		if giveUp {
			return nil, err
		}
		ev := h.e.log.Debug()
		if outage.Failed() {
			ev = h.e.log.Warn()
		}
		ev.Err(err).Str("table", t.name).Stringer("at", pos).Dur("wait_s", wait.Round(time.Millisecond)).
			Msg("MySQL unreachable while reading the schema after a DDL; retrying (the stream waits)")
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil, ctx.Err()
		case <-tm.C:
		}
	}
}

// OnHeartbeat: with no open transaction the heartbeat's position (always a
// safe resume point) may be checkpointed, so an idle stream still advances,
// e.g. past a rotated binlog file.
func (h *handler) OnHeartbeat(ctx context.Context, pos binlog.Position) error {
	if h.inTx {
		return nil
	}
	b := h.pending
	if !b.hasCommit || b.commit != pos {
		b.commit, b.hasCommit = pos, true
	}
	if b.started.IsZero() {
		b.started = time.Now()
	}
	b.caughtUp = true
	return h.flush(ctx)
}

// OnCaughtUp flushes at once so a quiet source sees its rows in
// milliseconds, not after the batch interval.
func (h *handler) OnCaughtUp(ctx context.Context) error {
	h.e.metrics.atEnd.Store(true)
	h.pending.caughtUp = true
	if h.pending.empty() {
		h.e.metrics.lagIsKnown()
		return nil
	}
	return h.flush(ctx)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
