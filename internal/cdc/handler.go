package cdc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
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

// opMeta says where an operation came from, for counters and dirty rows.
type opMeta struct {
	table   string
	mapper  *mapping.Mapper
	row     []any // the row in mapper column order
	action  binlog.Action
	pos     binlog.Position
	gtid    string
	outcome string
}

func (b *batch) empty() bool { return b.ops == 0 && !b.hasCommit }

func (b *batch) write(p mapping.Point, m opMeta) {
	if n := len(b.segs); n == 0 || b.segs[n-1].del {
		b.segs = append(b.segs, segment{})
	}
	s := &b.segs[len(b.segs)-1]
	s.points = append(s.points, p)
	s.meta = append(s.meta, m)
	b.ops++
}

func (b *batch) delete(d iotdbsink.Deletion, m opMeta) {
	if n := len(b.segs); n == 0 || !b.segs[n-1].del {
		b.segs = append(b.segs, segment{del: true})
	}
	s := &b.segs[len(b.segs)-1]
	s.dels = append(s.dels, d)
	s.meta = append(s.meta, m)
	b.ops++
}

// handler implements binlog.Handler: it maps row events into the pending
// batch and flushes it to the writer. All its methods run on the streamer's
// goroutine.
type handler struct {
	e    *Engine
	out  chan<- *batch
	done <-chan struct{} // closed when the writer stops

	pending   *batch
	inTx      bool // rows seen since the last commit
	forceNext bool // a DDL was seen: flush and save at the next commit
	lastFlush time.Time
}

func newHandler(e *Engine, out chan<- *batch, done <-chan struct{}) *handler {
	return &handler{e: e, out: out, done: done, pending: &batch{}, lastFlush: time.Now()}
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
	h.pending = &batch{}
	h.lastFlush = time.Now()
	return nil
}

var errWriterStopped = errors.New("cdc: writer stopped")

// maybeFlush flushes when the batch is full or its interval has passed.
func (h *handler) maybeFlush(ctx context.Context) error {
	b := h.pending
	if b.ops >= h.e.batchRows {
		return h.flush(ctx)
	}
	if !b.empty() && time.Since(b.started) >= h.e.batchInterval {
		return h.flush(ctx)
	}
	return nil
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
	if ev.Schema != e.cfg.MySQL.Database {
		return nil
	}
	t := e.tables[ev.Table]
	if t == nil {
		return nil
	}
	idx, err := t.projection(ev.Columns, ev.Pos)
	if err != nil {
		return err
	}
	h.inTx = true
	action := ev.Action.String()
	e.metrics.events.WithLabelValues(t.name, action).Inc()
	n := len(ev.Rows)
	if ev.Action == binlog.ActionUpdate {
		n /= 2
	}
	e.metrics.decoded.WithLabelValues(t.name, action).Add(float64(n))
	base := opMeta{table: t.name, mapper: t.mapper, action: ev.Action, pos: ev.Pos, gtid: ev.GTID}

	switch ev.Action {
	case binlog.ActionInsert:
		for _, raw := range ev.Rows {
			h.touch(ev.Timestamp)
			row := project(raw, idx)
			m := base
			m.row, m.outcome = row, OutInsertWritten
			p, err := t.mapper.Map(row)
			if err != nil {
				if err := h.dirty(t, m, err); err != nil {
					return err
				}
				continue
			}
			h.pending.write(p, m)
			if err := h.maybeFlush(ctx); err != nil {
				return err
			}
		}
	case binlog.ActionUpdate:
		if t.cfg.OnUpdate == config.OnUpdateIgnore {
			e.metrics.count(t.name, OutUpdateIgnored, n)
			return nil
		}
		for i := 0; i+1 < len(ev.Rows); i += 2 {
			h.touch(ev.Timestamp)
			if err := h.update(t, base, project(ev.Rows[i], idx), project(ev.Rows[i+1], idx)); err != nil {
				return err
			}
			if err := h.maybeFlush(ctx); err != nil {
				return err
			}
		}
	case binlog.ActionDelete:
		if t.cfg.OnDelete != config.OnDeleteDelete {
			e.metrics.count(t.name, OutDeleteIgnored, n)
			return nil
		}
		for _, raw := range ev.Rows {
			h.touch(ev.Timestamp)
			row := project(raw, idx)
			m := base
			m.row, m.outcome = row, OutDeleteApplied
			dev, ts, err := t.mapper.DeviceAndTime(row)
			if err != nil {
				// The row could not have been written: nothing to delete,
				// but say so like any other unmappable row.
				if err := h.dirty(t, m, err); err != nil {
					return err
				}
				continue
			}
			h.pending.delete(iotdbsink.Deletion{Schema: t.mapper.Schema(), Device: dev, Time: ts}, m)
			if err := h.maybeFlush(ctx); err != nil {
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
//     a value in IoTDB (IOTDB.md 3.3); in the table model the whole row is
//     deleted and the after-image written again;
//   - when the device or time changed (the key moved) the old point is
//     deleted only under on_delete: delete (update_moved_deleted), else it
//     stays (update_moved_kept).
func (h *handler) update(t *tableState, base opMeta, before, after []any) error {
	m := base
	m.row, m.outcome = after, OutUpdateWritten
	p, err := t.mapper.Map(after)
	if err != nil {
		return h.dirty(t, m, err)
	}
	bdev, bts, berr := t.mapper.DeviceAndTime(before)
	switch {
	case berr != nil:
		// The before image was unmappable, so it was never written.
	case bdev != p.Device || bts != p.Time:
		if t.cfg.OnDelete == config.OnDeleteDelete {
			dm := base
			dm.row, dm.outcome = before, OutUpdateMovedDelete
			h.pending.delete(iotdbsink.Deletion{Schema: t.mapper.Schema(), Device: bdev, Time: bts}, dm)
		} else {
			h.e.metrics.count(t.name, OutUpdateMovedKept, 1)
		}
	default:
		if cleared := newlyNull(t.mapper.NullMeasurements(before), t.mapper.NullMeasurements(after)); len(cleared) > 0 {
			dm := base
			dm.row, dm.outcome = after, OutNullCleared
			h.pending.delete(iotdbsink.Deletion{Schema: t.mapper.Schema(), Device: p.Device, Time: p.Time, Measurements: cleared}, dm)
		}
	}
	h.pending.write(p, m)
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
		return &fatalError{fmt.Errorf("table %s at %s: %w", t.name, m.pos, err)}
	}
	return h.e.recordDirty(DirtyRecord{
		Table: t.name, Key: de.Key, Column: de.Column, Value: de.Value, Reason: de.Reason, Detail: de.Detail,
		Action: m.action.String(), Position: posString(m.pos), GTID: m.gtid,
	})
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
	if !h.e.streamer.Waiting() {
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
		h.pending = &batch{}
		h.lastFlush = time.Now()
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
		ts, mp, err := compileTable(ctx, h.e, t.cfg)
		if err != nil {
			return &fatalError{fmt.Errorf("table %s: after the schema change at binlog %s (%s) the mapping no longer applies: %w; "+
				"fix the mapping (or the table) and restart: cdc resumes before this statement", t.name, pos, abbreviate(query, 200), err)}
		}
		t.schema, t.mapper = ts, mp
		t.idx, t.lastCols = nil, nil
		h.e.log.Info().Str("table", t.name).Stringer("at", pos).Str("ddl", abbreviate(query, 200)).
			Strs("columns", mp.Columns()).Msg("schema changed: mapping recompiled")
	}
	h.forceNext = true
	return nil
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
	h.pending.caughtUp = true
	if h.pending.empty() {
		h.e.metrics.setLag(0)
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
