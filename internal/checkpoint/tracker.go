package checkpoint

import (
	"fmt"
	"sync"
)

// Token identifies one tracked batch.
type Token uint64

// Tracker decides which position may be saved while several batches are in
// flight to the sink: the highest tracked position whose batch, and every
// batch tracked before it, has been acknowledged (the contiguous acked
// prefix). Batches may be acknowledged in any order.
//
// The caller tracks each batch, in stream order, with the last commit
// position at or before the batch's end (a batch that ends inside a
// transaction carries the previous commit). Positions must not go
// backwards. The zero Tracker is ready to use; it is safe for concurrent use.
type Tracker[P any] struct {
	mu    sync.Mutex
	base  Token // token of entries[0]
	next  Token // token the next Track returns
	queue []entry[P]
	safe  P
	ok    bool
}

type entry[P any] struct {
	pos   P
	acked bool
}

// Track registers a batch ending at pos and returns its token.
func (t *Tracker[P]) Track(pos P) Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok := t.next
	t.next++
	t.queue = append(t.queue, entry[P]{pos: pos})
	return tok
}

// Ack marks the batch acknowledged (the sink has written it). Acknowledging
// an unknown token, or one twice, is an error and changes nothing.
func (t *Tracker[P]) Ack(tok Token) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok < t.base || tok >= t.next {
		return fmt.Errorf("checkpoint: ack of unknown or already resolved batch %d", tok)
	}
	e := &t.queue[tok-t.base]
	if e.acked {
		return fmt.Errorf("checkpoint: batch %d acknowledged twice", tok)
	}
	e.acked = true
	// Resolve the acked prefix.
	n := 0
	for n < len(t.queue) && t.queue[n].acked {
		n++
	}
	if n > 0 {
		t.safe, t.ok = t.queue[n-1].pos, true
		var zero entry[P]
		for i := 0; i < n; i++ {
			t.queue[i] = zero // let positions be collected
		}
		t.queue = t.queue[n:]
		t.base += Token(n)
		if len(t.queue) == 0 {
			t.queue = t.queue[:0:0]
		}
	}
	return nil
}

// Safe returns the highest position whose batch and every earlier batch
// were acknowledged. ok is false until the first batch is.
func (t *Tracker[P]) Safe() (pos P, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.safe, t.ok
}

// Pending returns the number of tracked batches not yet resolved into Safe
// (in flight, or acknowledged behind one that is in flight).
func (t *Tracker[P]) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}
