// Package retry is the one backoff every retry loop of the bridge uses: the
// sink's IoTDB calls, the binlog reconnects, cdc's stream restarts and
// backfill's page reads. Waits grow exponentially from iotdb.retry.initial,
// with jitter, and no wait is ever longer than iotdb.retry.max (the jitter
// included: a plain exponential backoff with jitter may exceed its maximum
// by half). Loop adds the give-up budget of the loops that restart
// themselves, and Outage the "went away" / "is back" pair of log lines.
package retry

import (
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// New returns the backoff of r: exponential from r.Initial, doubling, ±50%
// jitter, each wait at most r.Max, and backoff.Stop once r.Elapsed has
// passed since the last Reset (never when r.Elapsed is config.Unbounded).
// Zero fields take the configuration's defaults.
func New(r config.Retry) backoff.BackOff {
	r = r.WithDefaults()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = r.Initial
	b.MaxInterval = r.Max
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxElapsedTime = 0
	if r.Elapsed > 0 {
		b.MaxElapsedTime = r.Elapsed
	}
	b.Reset()
	return &capped{b: b, max: r.Max}
}

// Forever is New without an elapsed bound: for loops that decide
// themselves when to give up (or never do).
func Forever(r config.Retry) backoff.BackOff {
	r.Elapsed = config.Unbounded
	return New(r)
}

type capped struct {
	b   backoff.BackOff
	max time.Duration
}

func (c *capped) NextBackOff() time.Duration {
	d := c.b.NextBackOff()
	if d != backoff.Stop && d > c.max {
		d = c.max
	}
	return d
}

func (c *capped) Reset() { c.b.Reset() }

// Loop is a retry loop that decides itself when to give up: the waits of
// New without its elapsed bound, and a budget of how long (r.Elapsed) and
// how many times (maxAttempts) it may fail without progress. The binlog
// reconnects and cdc's stream restarts use it; neither bounds it by
// default (config.Unbounded, 0 attempts).
type Loop struct {
	bo          backoff.BackOff
	bound       time.Duration
	maxAttempts int
	failures    int
	since       time.Time
}

// NewLoop returns the loop of r and maxAttempts (0: no count limit).
func NewLoop(r config.Retry, maxAttempts int) *Loop {
	return &Loop{bo: Forever(r), bound: r.Elapsed, maxAttempts: maxAttempts}
}

// Failed records a failed attempt; progress says the attempt got somewhere
// before it failed (a commit, a batch acknowledged), which starts the
// budget and the waits again. It returns the wait before the next attempt,
// or giveUp once the budget is spent.
func (l *Loop) Failed(progress bool) (wait time.Duration, giveUp bool) {
	if progress || l.failures == 0 {
		l.failures, l.since = 0, time.Now()
		l.bo.Reset()
	}
	l.failures++
	if l.maxAttempts > 0 && l.failures >= l.maxAttempts || l.bound > 0 && time.Since(l.since) >= l.bound {
		return 0, true
	}
	return l.bo.NextBackOff(), false
}

// Failures is the number of failures since the last progress.
func (l *Loop) Failures() int { return l.failures }

// FailingFor is how long the loop has failed without progress.
func (l *Loop) FailingFor() time.Duration { return time.Since(l.since) }

// Outage turns a run of failures of one dependency into one line when it
// starts and one when it ends, however many attempts there are in between
// (those log at debug). Safe for concurrent use.
type Outage struct {
	mu    sync.Mutex
	since time.Time // zero while the dependency answers
}

// Failed records a failure and reports whether it starts an outage.
func (o *Outage) Failed() (first bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = time.Now()
		return true
	}
	return false
}

// Recovered records a success and reports whether it ends an outage, and
// how long that lasted.
func (o *Outage) Recovered() (downFor time.Duration, ended bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return 0, false
	}
	d := time.Since(o.since)
	o.since = time.Time{}
	return d, true
}
