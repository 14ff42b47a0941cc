// Package retry is the one backoff every retry loop of the bridge uses: the
// sink's IoTDB calls, the binlog reconnects, cdc's stream restarts and
// backfill's page reads. Waits grow exponentially from iotdb.retry.initial,
// with jitter, and no wait is ever longer than iotdb.retry.max (the jitter
// included: a plain exponential backoff with jitter may exceed its maximum
// by half).
package retry

import (
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
