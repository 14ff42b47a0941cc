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
