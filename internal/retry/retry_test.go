package retry

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// No wait is longer than retry.max, jitter included (a 12.7 s wait was
// seen with max 10s before), and the waits do grow.
func TestWaitsNeverExceedMax(t *testing.T) {
	b := New(config.Retry{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Elapsed: config.Unbounded})
	var longest time.Duration
	for i := 0; i < 2000; i++ {
		d := b.NextBackOff()
		if d == backoff.Stop {
			t.Fatal("an unbounded backoff stopped")
		}
		if d > 10*time.Second {
			t.Fatalf("wait %d is %s, longer than max 10s", i, d)
		}
		longest = max(longest, d)
	}
	if longest < 5*time.Second {
		t.Fatalf("the waits never grew: longest %s", longest)
	}
}

func TestElapsedBound(t *testing.T) {
	b := New(config.Retry{Initial: time.Millisecond, Max: 2 * time.Millisecond, Elapsed: 30 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for b.NextBackOff() != backoff.Stop {
		if time.Now().After(deadline) {
			t.Fatal("a bounded backoff never stopped")
		}
		time.Sleep(time.Millisecond)
	}
}

// A Loop gives up only on its budget, counted without progress: progress
// starts the count, the clock and the waits again; Unbounded never gives up.
func TestLoopBudget(t *testing.T) {
	l := NewLoop(config.Retry{Initial: time.Millisecond, Max: time.Millisecond, Elapsed: config.Unbounded}, 3)
	for i := 1; i <= 2; i++ {
		if _, giveUp := l.Failed(false); giveUp {
			t.Fatalf("gave up after %d failures of 3", i)
		}
	}
	if _, giveUp := l.Failed(true); giveUp || l.Failures() != 1 {
		t.Fatalf("progress did not start the count again: %d failures", l.Failures())
	}
	l.Failed(false)
	if _, giveUp := l.Failed(false); !giveUp || l.Failures() != 3 {
		t.Fatalf("3 failures without progress: giveUp %v, failures %d", giveUp, l.Failures())
	}

	l = NewLoop(config.Retry{Initial: time.Millisecond, Max: time.Millisecond, Elapsed: 30 * time.Millisecond}, 0)
	if _, giveUp := l.Failed(false); giveUp {
		t.Fatal("gave up at once")
	}
	time.Sleep(40 * time.Millisecond)
	if _, giveUp := l.Failed(false); !giveUp || l.FailingFor() < 30*time.Millisecond {
		t.Fatalf("failing %s past a 30ms bound: giveUp %v", l.FailingFor(), giveUp)
	}
	if _, giveUp := l.Failed(true); giveUp {
		t.Fatal("progress did not start the clock again")
	}

	l = NewLoop(config.Retry{Initial: time.Millisecond, Max: time.Millisecond, Elapsed: config.Unbounded}, 0)
	for i := 0; i < 1000; i++ {
		if w, giveUp := l.Failed(false); giveUp || w > time.Millisecond {
			t.Fatalf("unbounded loop: failure %d gave up %v, wait %s", i, giveUp, w)
		}
	}
}

// An outage is reported once when it starts and once when it ends.
func TestOutage(t *testing.T) {
	var o Outage
	if _, ended := o.Recovered(); ended {
		t.Fatal("recovered without an outage")
	}
	if !o.Failed() || o.Failed() || o.Failed() {
		t.Fatal("want exactly the first failure to start the outage")
	}
	time.Sleep(5 * time.Millisecond)
	if d, ended := o.Recovered(); !ended || d < 5*time.Millisecond {
		t.Fatalf("recovered: ended %v after %s", ended, d)
	}
	if _, ended := o.Recovered(); ended {
		t.Fatal("a second success ended the outage again")
	}
	if !o.Failed() {
		t.Fatal("a new failure after recovery starts a new outage")
	}
}
