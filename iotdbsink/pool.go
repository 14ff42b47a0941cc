package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// pool hands out sessions, one goroutine per session at a time. Slot i
// prefers node i%len(nodes), so the sessions are spread over the nodes; when
// that node cannot be reached the slot tries the others in order. A slot
// whose session broke is reopened lazily on its next use.
type pool struct {
	nodes []string
	cfg   sessionConfig
	slots chan *slot

	mu     sync.Mutex
	closed bool
}

type slot struct {
	n int
	s *session
}

var errClosed = errors.New("iotdb sink is closed")

func newPool(nodes []string, size int, cfg sessionConfig) *pool {
	p := &pool{nodes: nodes, cfg: cfg, slots: make(chan *slot, size)}
	for i := 0; i < size; i++ {
		p.slots <- &slot{n: i}
	}
	return p
}

// acquire returns a slot with an open session. On error the slot has been
// given back already.
func (p *pool) acquire(ctx context.Context) (*slot, error) {
	var sl *slot
	select {
	case sl = <-p.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.slots <- sl
		return nil, errClosed
	}
	if sl.s != nil && !sl.s.broken {
		return sl, nil
	}
	if sl.s != nil {
		sl.s.discard()
		sl.s = nil
	}
	s, err := p.open(ctx, sl.n)
	if err != nil {
		p.slots <- sl
		return nil, err
	}
	sl.s = s
	return sl, nil
}

// open opens a session for slot n, trying its preferred node first.
func (p *pool) open(ctx context.Context, n int) (*session, error) {
	var errs []error
	for i := range p.nodes {
		node := p.nodes[(n+i)%len(p.nodes)]
		s, err := openSession(ctx, node, p.cfg)
		if err == nil {
			return s, nil
		}
		// A status (wrong password, ...) is the server's answer: other nodes
		// of the cluster would give the same one.
		var se *StatusError
		if errors.As(err, &se) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no iotdb node reachable: %w", joinNodeErrors(errs)) // tls.go
}

// release gives a slot back; a broken session is closed and dropped.
func (p *pool) release(sl *slot) {
	if sl.s != nil && sl.s.broken {
		sl.s.discard()
		sl.s = nil
	}
	p.slots <- sl
}

// close waits for every slot (in-flight calls end at their deadline) and
// closes the sessions.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	all := make([]*slot, 0, cap(p.slots))
	for i := 0; i < cap(p.slots); i++ {
		sl := <-p.slots
		if sl.s != nil {
			sl.s.close(p.cfg.timeout)
			sl.s = nil
		}
		all = append(all, sl)
	}
	for _, sl := range all { // later acquires see closed and fail fast
		p.slots <- sl
	}
}
