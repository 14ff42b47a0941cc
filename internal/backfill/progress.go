package backfill

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
)

// TerminalProgress draws a progress bar (rows, rows/s, ETA from the plan's
// estimates) on a terminal. cmd/backfill uses it when stderr is a TTY and
// LogProgress otherwise.
type TerminalProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// NewTerminalProgress draws on w (normally os.Stderr).
func NewTerminalProgress(w io.Writer) *TerminalProgress { return &TerminalProgress{w: w} }

func (p *TerminalProgress) Start(_ *Plan, remaining int64) {
	// Estimates come from EXPLAIN; -1 turns the bar into a spinner when
	// there is none.
	total := remaining
	if total <= 0 {
		total = -1
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("backfill"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
	)
}

func (p *TerminalProgress) Add(_ string, rows int64) {
	if p.bar == nil {
		return
	}
	// The estimate can be low: grow the bar rather than overflow it.
	if m := p.bar.GetMax64(); m > 0 && p.bar.State().CurrentNum+rows > m {
		p.bar.ChangeMax64(p.bar.State().CurrentNum + rows)
	}
	_ = p.bar.Add64(rows)
}

func (p *TerminalProgress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_, _ = io.WriteString(p.w, "\n")
	}
}

// LogProgress logs a line every Every (default 10s): rows done, rows/s over
// the run, and the ETA from the plan's estimates.
type LogProgress struct {
	Log   zerolog.Logger
	Every time.Duration

	rows      atomic.Int64
	remaining int64
	start     time.Time
	stop      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

func (p *LogProgress) Start(_ *Plan, remaining int64) {
	if p.Every <= 0 {
		p.Every = 10 * time.Second
	}
	p.remaining, p.start, p.stop = remaining, time.Now(), make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.Every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.line("backfill progress")
			}
		}
	}()
}

func (p *LogProgress) line(msg string) {
	n := p.rows.Load()
	el := time.Since(p.start)
	rate := float64(n) / max(el.Seconds(), 1e-9)
	ev := p.Log.Info().Int64("rows", n).Int64("est_rows", p.remaining).Float64("rows_per_s", float64(int64(rate*10))/10)
	if rate > 0 && p.remaining > n {
		ev = ev.Dur("eta", time.Duration(float64(p.remaining-n)/rate*float64(time.Second)).Round(time.Second))
	}
	ev.Msg(msg)
}

func (p *LogProgress) Add(_ string, rows int64) { p.rows.Add(rows) }

func (p *LogProgress) Finish() {
	p.once.Do(func() {
		if p.stop != nil {
			close(p.stop)
			p.wg.Wait()
			p.line("backfill finished")
		}
	})
}
