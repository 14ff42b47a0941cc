package cdc

import (
	"testing"
	"time"
)

// The lag counts from the oldest change IoTDB has not acknowledged: it
// grows while writes fail (also between stream restarts, when nothing is
// pending), and is 0 once everything is acknowledged.
func TestLagCountsFromTheOldestUnacknowledgedChange(t *testing.T) {
	var l lagTracker
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	if l.lag(at(5)) != 0 {
		t.Fatal("lag with nothing pending")
	}
	l.rowSeen(uint32(t0.Unix()))     // batch 1, first row at t0
	l.rowSeen(uint32(t0.Unix() + 1)) // same batch, later row: not the oldest
	l.handedOver()
	l.rowSeen(uint32(t0.Unix() + 3)) // batch 2 pending
	if got := l.lag(at(10)); got != 10*time.Second {
		t.Fatalf("lag %s, want 10s (from batch 1's first row)", got)
	}
	l.acked() // batch 1 acknowledged
	if got := l.lag(at(10)); got != 7*time.Second {
		t.Fatalf("lag %s, want 7s (from batch 2's first row)", got)
	}
	l.handedOver()
	l.failed() // the write of batch 2 failed: dropped, streamed again later
	if got := l.lag(at(20)); got != 17*time.Second || l.failingFor(at(20)) == 0 && l.failingFor(time.Now()) == 0 {
		t.Fatalf("after a failed write, nothing pending: lag %s, want 17s (the dropped batch still counts)", got)
	}
	l.rowSeen(uint32(t0.Unix() + 3)) // the restarted stream delivers it again
	l.handedOver()
	l.acked()
	if got := l.lag(at(30)); got != 0 || l.failingFor(time.Now()) != 0 {
		t.Fatalf("everything acknowledged: lag %s, failing %s", got, l.failingFor(time.Now()))
	}
}

func TestReadiness(t *testing.T) {
	m := &metrics{}
	now := time.Now()
	if ok, why := m.readiness(now); ok || why != "not streaming: starting" {
		t.Fatalf("before streaming: %v %q", ok, why)
	}
	m.phase.Store("snapshot of t in progress")
	if ok, why := m.readiness(now); ok || why != "not streaming: snapshot of t in progress" {
		t.Fatalf("during a snapshot: %v %q", ok, why)
	}
	m.running.Store(true)
	m.lagIsKnown()
	if ok, _ := m.readiness(now); !ok {
		t.Fatal("streaming, caught up: not ready")
	}
	m.lagSrc.rowSeen(uint32(now.Add(-time.Minute).Unix()))
	m.maxLag = 30 * time.Second
	if ok, why := m.readiness(now); ok {
		t.Fatalf("lag a minute, ready_max_lag 30s: ready (%q)", why)
	}
	m.maxLag = 0
	m.lagSrc.handedOver()
	m.lagSrc.failed()
	if ok, why := m.readiness(now.Add(time.Second)); ok {
		t.Fatalf("IoTDB failing: ready (%q)", why)
	}
}

// /status's phase: streaming while changes wait for IoTDB or the binlog is
// being read, caught_up at the end of the binlog with nothing pending,
// failing while IoTDB refuses writes.
func TestStatusPhase(t *testing.T) {
	m := newMetrics(nil, nil)
	now := time.Now()
	if p := m.status(now).Phase; p != "connecting" {
		t.Fatalf("before the stream: %q", p)
	}
	m.running.Store(true)
	m.lagIsKnown()
	if p := m.status(now).Phase; p != "streaming" {
		t.Fatalf("streaming, the end of the binlog not reached: %q", p)
	}
	m.atEnd.Store(true)
	if p := m.status(now).Phase; p != "caught_up" {
		t.Fatalf("at the end of the binlog, nothing pending: %q", p)
	}
	m.lagSrc.rowSeen(uint32(now.Add(-time.Minute).Unix()))
	if p := m.status(now).Phase; p != "streaming" {
		t.Fatalf("a change not acknowledged yet: %q", p)
	}
	m.lagSrc.handedOver()
	m.lagSrc.failed()
	if p := m.status(now.Add(time.Second)).Phase; p != "failing" {
		t.Fatalf("IoTDB failing: %q", p)
	}
}
