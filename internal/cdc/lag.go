package cdc

import (
	"sync"
	"time"
)

// lagTracker knows the source time of the oldest change that IoTDB has not
// acknowledged yet, so that the lag counts from it: while IoTDB is down
// with rows pending the lag grows, and it is 0 only when nothing is
// pending. The handler reports rows and hand-overs, the writer
// acknowledgements and failures. Source times are binlog event times, in
// seconds.
type lagTracker struct {
	mu      sync.Mutex
	queue   []uint32 // per batch handed to the writer, oldest first: its first row's time (0: no rows)
	pending uint32   // first row time of the handler's pending batch (0: none)
	stuck   uint32   // oldest row time of the batches a failed write dropped (0: none)
	failing time.Time
}

// rowSeen: a row change with source time ts entered the pending batch.
func (l *lagTracker) rowSeen(ts uint32) {
	l.mu.Lock()
	if l.pending == 0 && ts != 0 {
		l.pending = ts
	}
	l.mu.Unlock()
}

// handedOver: the pending batch went to the writer.
func (l *lagTracker) handedOver() {
	l.mu.Lock()
	l.queue = append(l.queue, l.pending)
	l.pending = 0
	l.mu.Unlock()
}

// acked: the writer's oldest batch was acknowledged by IoTDB.
func (l *lagTracker) acked() {
	l.mu.Lock()
	if len(l.queue) > 0 {
		l.queue = l.queue[1:]
	}
	l.stuck = 0
	l.failing = time.Time{}
	l.mu.Unlock()
}

// failed: a write failed; its batch and everything after it are dropped
// and will be streamed again, so their oldest time stays the lag's start
// until a batch is acknowledged.
func (l *lagTracker) failed() {
	l.mu.Lock()
	if o := l.oldestLocked(); o != 0 {
		l.stuck = o
	}
	l.queue, l.pending = nil, 0
	if l.failing.IsZero() {
		l.failing = time.Now()
	}
	l.mu.Unlock()
}

func (l *lagTracker) oldestLocked() uint32 {
	oldest := l.stuck
	for _, ts := range l.queue {
		if ts != 0 {
			if oldest == 0 || ts < oldest {
				oldest = ts
			}
			break // the queue is in stream order
		}
	}
	if l.pending != 0 && (oldest == 0 || l.pending < oldest) {
		oldest = l.pending
	}
	return oldest
}

// lag is now minus the source time of the oldest unacknowledged change (0
// when none is pending).
func (l *lagTracker) lag(now time.Time) time.Duration {
	l.mu.Lock()
	oldest := l.oldestLocked()
	l.mu.Unlock()
	if oldest == 0 {
		return 0
	}
	d := now.Sub(time.Unix(int64(oldest), 0))
	if d < 0 {
		return 0
	}
	return d
}

// failingFor is how long writes have been failing (0 when they are not).
func (l *lagTracker) failingFor(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing.IsZero() {
		return 0
	}
	return now.Sub(l.failing)
}
