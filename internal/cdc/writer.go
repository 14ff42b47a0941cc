package cdc

import (
	"context"
	"fmt"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/dirty"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
)

// writerDeps is what the writer needs: the sink, the metrics, the dirty-row
// policy, the acknowledgement callback (ack reports whether the
// acknowledged position moved), the checkpoint save and its interval.
type writerDeps struct {
	sink     Sink
	metrics  *metrics
	dirty    func(dirty.Record) error
	ack      func(binlog.Position) bool
	save     func() error
	interval time.Duration
}

// writer applies batches to IoTDB in the order it receives them and moves
// the checkpoint. It runs on its own goroutine so that decoding the next
// batch overlaps writing this one; with a single writer, acknowledgements
// are in order by construction.
//
// Checkpoint rule: after a batch is acknowledged (every point written or
// recorded as dirty, every deletion applied), its last commit position is
// the acknowledged position: every row before it is in IoTDB. The file is
// saved at most every cdc.checkpoint.interval (and at once after a DDL, and
// at shutdown).
type writer struct {
	e    writerDeps
	in   <-chan *batch
	free chan *batch // applied batches, emptied, back to the handler
	done chan struct{}
	err  error // set before done is closed

	lastSave time.Time
	unsaved  bool
}

// sinkFailure marks an IoTDB failure the sink gave up on: the engine
// restarts the stream from the last acknowledged position.
type sinkFailure struct{ err error }

func (e *sinkFailure) Error() string { return e.err.Error() }
func (e *sinkFailure) Unwrap() error { return e.err }

func newWriter(e writerDeps, in <-chan *batch) *writer {
	return &writer{e: e, in: in, free: make(chan *batch, 2), done: make(chan struct{}), lastSave: time.Now()}
}

// run consumes batches until in is closed (then saves the checkpoint) or a
// batch fails (then it stops at once and calls fail).
func (w *writer) run(ctx context.Context, fail func()) {
	defer close(w.done)
	interval := w.e.interval
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-w.in:
			if !ok {
				if w.unsaved {
					w.err = w.save()
				}
				return
			}
			if err := w.apply(ctx, b); err != nil {
				w.e.metrics.lagSrc.failed()
				w.err = err
				fail()
				return
			}
			force := b.force
			b.reset()
			select {
			case w.free <- b:
			default:
			}
			if w.unsaved && (force || time.Since(w.lastSave) >= interval) {
				if err := w.save(); err != nil {
					w.err = err
					fail()
					return
				}
			}
		case <-tick.C:
			if w.unsaved && time.Since(w.lastSave) >= interval {
				if err := w.save(); err != nil {
					w.err = err
					fail()
					return
				}
			}
		}
	}
}

func (w *writer) save() error {
	if err := w.e.save(); err != nil {
		return err
	}
	w.lastSave = time.Now()
	w.unsaved = false
	return nil
}

// apply writes one batch, segment by segment, in order.
func (w *writer) apply(ctx context.Context, b *batch) error {
	e := w.e
	for si := range b.segs {
		s := &b.segs[si]
		if s.del {
			if err := w.applyDeletes(ctx, s); err != nil {
				return err
			}
			continue
		}
		res, err := e.sink.Write(ctx, s.points)
		if err != nil {
			return &sinkFailure{fmt.Errorf("writing %d points to IoTDB: %w", len(s.points), err)}
		}
		for i := range res.Rejected {
			if rj := &res.Rejected[i]; rj.Systemic {
				// Every row of the series would be refused: no dirty rows; stop
				// the stream (not a sinkFailure: no restart) with the batch
				// unacknowledged, so the checkpoint stays at the last commit.
				table := ""
				if len(rj.Points) > 0 && rj.Points[0] >= 0 && rj.Points[0] < len(s.meta) {
					table = s.meta[rj.Points[0]].ev.table
				}
				return fmt.Errorf("cdc: %w", rj.Err(table))
			}
		}
		rejected := map[int]bool{}
		for _, rj := range res.Rejected {
			for _, pi := range rj.Points {
				if pi < 0 || pi >= len(s.meta) || rejected[pi] {
					continue
				}
				rejected[pi] = true
				m := s.meta[pi]
				if err := e.dirty(m.record(dirty.Rejected(m.ev.table, "", rj.Device, rj.Code, rj.Message))); err != nil {
					return err
				}
			}
		}
		w.countSegment(s, rejected)
	}
	e.metrics.batches.Inc()
	e.metrics.batchOps.Observe(float64(b.ops))
	e.metrics.written.Add(int64(b.ops))
	e.metrics.lagSrc.acked()
	e.metrics.lagIsKnown()
	if b.hasCommit {
		if e.ack(b.commit) {
			w.unsaved = true
		}
	}
	return nil
}

func (w *writer) applyDeletes(ctx context.Context, s *segment) error {
	e := w.e
	err := e.sink.Delete(ctx, s.dels)
	if err == nil {
		w.countSegment(s, nil)
		return nil
	}
	if ctx.Err() != nil || iotdbsink.Retryable(err) {
		return &sinkFailure{fmt.Errorf("deleting %d points in IoTDB: %w", len(s.dels), err)}
	}
	// A permanent refusal: the deletions of this segment are dirty rows.
	for i, d := range s.dels {
		m := s.meta[i]
		rec := dirty.Record{Table: m.ev.table, Value: d.Device, Reason: dirty.ReasonDeleteRejected, Detail: err.Error()}
		if err := e.dirty(m.record(rec)); err != nil {
			return err
		}
	}
	return nil
}

// countSegment adds the segment's operations to the row counters. Runs of
// operations with the same table and outcome (most of a segment) are
// counted at once.
func (w *writer) countSegment(s *segment, rejected map[int]bool) {
	var table, outcome string
	run := 0
	for i, m := range s.meta {
		if rejected[i] {
			continue
		}
		if run > 0 && (m.ev.table != table || m.outcome != outcome) {
			w.e.metrics.count(table, outcome, run)
			run = 0
		}
		table, outcome = m.ev.table, m.outcome
		run++
	}
	w.e.metrics.count(table, outcome, run)
}
