package incremental

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
)

// Schedule gives the fire time after t (robfig/cron's Schedule, or Every).
type Schedule interface {
	Next(t time.Time) time.Time
}

// Every is the schedule of --every d: fire times anchor, anchor+d,
// anchor+2d, ... (a fixed grid, so that a slow run does not shift the
// later ones).
func Every(anchor time.Time, d time.Duration) Schedule { return every{anchor, d} }

type every struct {
	anchor time.Time
	d      time.Duration
}

func (s every) Next(t time.Time) time.Time {
	if t.Before(s.anchor) {
		return s.anchor
	}
	return s.anchor.Add((t.Sub(s.anchor)/s.d + 1) * s.d)
}

// FatalError is a run's error that the next run cannot fix (a mapping that
// does not compile, a state of another cursor definition): a schedule stops
// on it instead of failing every run the same way.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// IsFatal reports whether err stops a schedule.
func IsFatal(err error) bool {
	var fe *FatalError
	return errors.As(err, &fe) || errors.Is(err, ErrDefinitionChanged)
}

// timeNow is the clock of the schedule (a variable for tests).
var timeNow = time.Now

// sleep waits d or until ctx ends (false); a variable for tests, as
// timeNow is.
var sleep = func(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RunFunc is one run of a schedule, for the fire time it was started at.
type RunFunc func(ctx context.Context, fire time.Time) error

// Loop runs run at first and then at the fire times of sched until ctx
// ends. Runs never overlap: the next fire time is chosen after a run
// ended, and fire times that passed while it ran are skipped (counted in
// the metrics and logged), like a Kubernetes CronJob with
// concurrencyPolicy: Forbid. A failed run is logged by run itself and the
// schedule goes on; a fatal one (IsFatal) ends Loop with its error. Loop
// returns nil when ctx ends.
func Loop(ctx context.Context, sched Schedule, first time.Time, run RunFunc, m *Metrics, log zerolog.Logger) error {
	next := first
	for {
		m.scheduled(next)
		if d := next.Sub(timeNow()); d > 0 {
			log.Info().Time("next_run", next).Msg("waiting for the next run")
			if !sleep(ctx, d) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		fire := next
		m.runStarted(fire)
		err := run(ctx, fire)
		m.runEnded(err, ctx.Err() != nil)
		if err != nil && IsFatal(err) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		now := timeNow()
		next = sched.Next(fire)
		skipped := 0
		for !next.After(now) {
			skipped++
			next = sched.Next(next)
		}
		if skipped > 0 {
			if m != nil {
				m.skipped.Add(float64(skipped))
			}
			log.Warn().Int("skipped", skipped).Time("fire", fire).Time("next_run", next).
				Msg("scheduled runs skipped: the previous run was still running at their time (runs never overlap)")
		}
	}
}
