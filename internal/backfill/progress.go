package backfill

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// The two displays of a run's progress: TerminalProgress (a redrawn line on
// a terminal) and LogProgress (a log line every 10 s). Both tell the truth
// about what is known:
//
//   - the total starts as the plan's estimate (EXPLAIN's row counts, which
//     can be far off) and, as each partition finishes, its estimate is
//     replaced by the rows it really had; while partitions are open the
//     total is never below the rows already done. At the end it is the
//     exact count, so the display never shows N/N sized from an estimate;
//   - the percentage stays below 100 until every partition is done, and an
//     interrupted run says where it stopped instead of drawing 100%;
//   - the rate is rows over the whole run, shown once a second has passed
//     (the first page of a run, after microseconds, would give an absurd
//     figure); the ETA follows from it.

// minRateWindow is how long a run goes before its rate is shown.
const minRateWindow = time.Second

// tracker is the arithmetic both displays share. Safe for concurrent use.
type tracker struct {
	mu       sync.Mutex
	now      func() time.Time
	start    time.Time
	rows     int64 // rows done in this run
	estimate int64 // the planned rows, finished partitions' estimates replaced by their rows
	known    bool  // the plan had an estimate
	parts    int   // partitions of this run; -1 until Partitions is called
	done     int   // of them finished
}

// progressState is what a display shows at one moment.
type progressState struct {
	rows, total int64
	known       bool // total is meaningful
	percent     int  // -1: unknown
	rate        float64
	eta         time.Duration // -1: unknown
	elapsed     time.Duration
	complete    bool
	parts, done int
}

func (t *tracker) begin(remaining int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.now == nil {
		t.now = time.Now
	}
	t.start, t.rows, t.estimate, t.known, t.parts, t.done = t.now(), 0, remaining, remaining > 0, -1, 0
}

func (t *tracker) add(rows int64) {
	t.mu.Lock()
	t.rows += rows
	t.mu.Unlock()
}

func (t *tracker) partitions(n int) {
	t.mu.Lock()
	t.parts = n
	t.mu.Unlock()
}

func (t *tracker) partitionDone(estimated, rows int64) {
	t.mu.Lock()
	t.estimate += rows - estimated
	t.done++
	t.mu.Unlock()
}

func (t *tracker) state() progressState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := progressState{rows: t.rows, known: t.known, percent: -1, eta: -1, parts: t.parts, done: t.done}
	if t.now == nil {
		return s
	}
	s.total = max(t.estimate, t.rows)
	if t.parts >= 0 {
		s.complete = t.done >= t.parts
	} else {
		s.complete = t.known && t.rows >= t.estimate
	}
	switch {
	case s.complete:
		s.percent, s.total, s.known = 100, t.rows, true
	case t.known && s.total > 0:
		s.percent = min(99, int(100*s.rows/s.total))
	}
	s.elapsed = t.now().Sub(t.start)
	if s.elapsed >= minRateWindow {
		s.rate = float64(s.rows) / s.elapsed.Seconds()
	}
	if !s.complete && s.known && s.rate > 0 {
		s.eta = time.Duration(float64(s.total-s.rows) / s.rate * float64(time.Second)).Round(time.Second)
	}
	return s
}

// TerminalProgress redraws one line on a terminal: percentage, a bar, rows
// done of the (estimated, "~") total, rows/s and the ETA; at the end a
// line saying how the run ended. cmd/backfill uses it when stderr is a
// terminal, LogProgress otherwise.
type TerminalProgress struct {
	w     io.Writer
	every time.Duration
	t     tracker

	mu   sync.Mutex // serialises drawing
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewTerminalProgress draws on w (normally os.Stderr).
func NewTerminalProgress(w io.Writer) *TerminalProgress {
	return &TerminalProgress{w: w, every: 250 * time.Millisecond}
}

func (p *TerminalProgress) Start(_ *Plan, remaining int64) {
	p.t.begin(remaining)
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(p.every)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.draw(p.line(p.t.state()))
			}
		}
	}()
}

func (p *TerminalProgress) Add(_ string, rows, _ int64)        { p.t.add(rows) }
func (p *TerminalProgress) Partitions(n int)                   { p.t.partitions(n) }
func (p *TerminalProgress) PartitionDone(_ string, e, r int64) { p.t.partitionDone(e, r) }

func (p *TerminalProgress) Finish() {
	p.once.Do(func() {
		if p.stop == nil {
			return
		}
		close(p.stop)
		p.wg.Wait()
		p.draw(p.final(p.t.state()) + "\n")
	})
}

func (p *TerminalProgress) draw(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, "\r"+line+"\033[K")
}

const barWidth = 24

func bar(percent int) string {
	n := barWidth * max(0, percent) / 100
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", barWidth-n) + "]"
}

// line is the running line.
func (p *TerminalProgress) line(s progressState) string {
	var b strings.Builder
	if s.percent >= 0 {
		fmt.Fprintf(&b, "backfill %3d%% %s %s / ~%s rows", s.percent, bar(s.percent), group(s.rows), group(s.total))
	} else {
		fmt.Fprintf(&b, "backfill %s rows", group(s.rows))
	}
	if s.rate > 0 {
		fmt.Fprintf(&b, "  %s rows/s", group(int64(math.Round(s.rate))))
	}
	if s.eta >= 0 {
		fmt.Fprintf(&b, "  ETA %s", s.eta)
	}
	return b.String()
}

// final is the line the display ends with.
func (p *TerminalProgress) final(s progressState) string {
	el := s.elapsed.Round(time.Millisecond)
	rate := ""
	if s.rate > 0 {
		rate = fmt.Sprintf(", %s rows/s", group(int64(math.Round(s.rate))))
	}
	if s.complete {
		return fmt.Sprintf("backfill 100%% %s %s rows in %s%s", bar(100), group(s.rows), el, rate)
	}
	at := ""
	if s.percent >= 0 {
		at = fmt.Sprintf(" at %d%%", s.percent)
	}
	of := ""
	if s.known {
		of = " of ~" + group(s.total)
	}
	parts := ""
	if s.parts >= 0 {
		parts = fmt.Sprintf(" (%d of %d partitions done)", s.done, s.parts)
	}
	return fmt.Sprintf("backfill stopped%s: %s%s rows in %s%s%s", at, group(s.rows), of, el, rate, parts)
}

// group writes n with thousands separators: 2,000,002.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// LogProgress logs a line every Every (default 10s): rows done, the
// total known so far, the percentage, rows/s over the run and the ETA; and
// a last line saying whether the run finished or stopped.
type LogProgress struct {
	Log   zerolog.Logger
	Every time.Duration
	// Name starts the messages ("backfill progress", "snapshot finished");
	// default backfill.
	Name string

	t    tracker
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (p *LogProgress) Start(_ *Plan, remaining int64) {
	if p.Every <= 0 {
		p.Every = 10 * time.Second
	}
	if p.Name == "" {
		p.Name = "backfill"
	}
	p.t.begin(remaining)
	p.stop = make(chan struct{})
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
				p.progress(p.t.state())
			}
		}
	}()
}

func (p *LogProgress) progress(s progressState) {
	ev := p.Log.Info().Int64("rows", s.rows)
	if s.known {
		ev = ev.Int64("rows_total", s.total).Int("percent", s.percent)
	}
	if s.rate > 0 {
		ev = ev.Float64("rows_per_s", math.Round(s.rate))
	}
	if s.eta >= 0 {
		ev = ev.Dur("eta_s", s.eta)
	}
	if s.parts >= 0 {
		ev = ev.Int("partitions_done", s.done).Int("partitions", s.parts)
	}
	ev.Msg(p.Name + " progress")
}

func (p *LogProgress) Add(_ string, rows, _ int64)        { p.t.add(rows) }
func (p *LogProgress) Partitions(n int)                   { p.t.partitions(n) }
func (p *LogProgress) PartitionDone(_ string, e, r int64) { p.t.partitionDone(e, r) }

func (p *LogProgress) Finish() {
	p.once.Do(func() {
		if p.stop == nil {
			return
		}
		close(p.stop)
		p.wg.Wait()
		p.end(p.t.state())
	})
}

func (p *LogProgress) end(s progressState) {
	ev := p.Log.Info().Int64("rows", s.rows).Dur("duration_s", s.elapsed.Round(time.Millisecond))
	if s.rate > 0 {
		ev = ev.Float64("rows_per_s", math.Round(s.rate))
	}
	if s.complete {
		ev.Msg(p.Name + " finished")
		return
	}
	if s.known {
		ev = ev.Int64("rows_total", s.total).Int("percent", s.percent)
	}
	if s.parts >= 0 {
		ev = ev.Int("partitions_done", s.done).Int("partitions", s.parts)
	}
	ev.Msg(p.Name + " stopped before the end (run again to resume)")
}
