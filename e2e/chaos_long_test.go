package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// chaosFault is what happens around one kill -9 cycle besides the kill.
type chaosFault int

const (
	faultNone chaosFault = iota
	faultIoTDB
	faultMariaDB
	faultBinlog
)

func (f chaosFault) String() string {
	return [...]string{"-", "IoTDB restart", "MariaDB restart", "binlog kill"}[f]
}

// chaosPlan draws the faults of n cycles from rng: about 12% IoTDB
// restarts, 8% MariaDB restarts, 15% binlog dump kills, each bounded
// (n/5, n/8, n/5) and, from 3 cycles on, each at least once.
func chaosPlan(rng *rand.Rand, n int) []chaosFault {
	plan := make([]chaosFault, n)
	limit := map[chaosFault]int{faultIoTDB: max(n/5, 1), faultMariaDB: max(n/8, 1), faultBinlog: max(n/5, 1)}
	count := map[chaosFault]int{}
	for i := range plan {
		f := pick(rng, []chaosFault{faultNone, faultIoTDB, faultMariaDB, faultBinlog}, []int{65, 12, 8, 15})
		if f != faultNone && count[f] < limit[f] {
			plan[i] = f
			count[f]++
		}
	}
	if n >= 3 {
		for _, f := range []chaosFault{faultIoTDB, faultMariaDB, faultBinlog} {
			for tries := 0; count[f] == 0 && tries < 10*n; tries++ {
				if i := rng.IntN(n); plan[i] == faultNone {
					plan[i] = f
					count[f]++
				}
			}
		}
	}
	return plan
}

// TestChaosLong is the long chaos run (make chaos), not part of CI:
// E2E_CHAOS_CYCLES kill -9 cycles of one cdc process under the mixed
// workload, with IoTDB restarts, MariaDB restarts and binlog dump kills
// drawn from E2E_SEED in between; every cycle restarts cdc from its
// checkpoint. At the end the workload stops, cdc catches up and stops on
// SIGTERM (exit 0), and IoTDB must equal the source in both directions.
// E2E_CHAOS_MAX bounds the chaos phase (a Go duration; default 2 minutes
// plus 30 s a cycle).
func TestChaosLong(t *testing.T) {
	v := os.Getenv("E2E_CHAOS_CYCLES")
	if v == "" {
		t.Skip("long chaos run: set E2E_CHAOS_CYCLES (make chaos) to run it")
	}
	cycles, err := strconv.Atoi(v)
	if err != nil || cycles < 1 || cycles > 100000 {
		t.Fatalf("E2E_CHAOS_CYCLES=%q: want a count from 1 to 100000", v)
	}
	maxChaos := 2*time.Minute + time.Duration(cycles)*30*time.Second
	if v := os.Getenv("E2E_CHAOS_MAX"); v != "" {
		if maxChaos, err = time.ParseDuration(v); err != nil {
			t.Fatalf("E2E_CHAOS_MAX=%q: %v", v, err)
		}
	}
	began := time.Now()
	e := newEnv(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 11))
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	ctx := context.Background()

	const table = "chaoslong"
	e.exec(strings.ReplaceAll(readingsDDL, "%s", table))
	e.preload(table, rng, 20000)
	// give_up_after is long enough for a MariaDB restart: cdc must ride
	// it out (an exit of its own is a failure here).
	cfgPath, cfg := e.writeConfig(cfgOpts{IoTDB: srv, Tables: []string{table},
		Mappings: readingsMapping(table, table), Start: "initial", BatchRows: 1000,
		WriteTimeout: "3s", GiveUp: "60s"})

	plan := chaosPlan(rng, cycles)
	w := chaosWorkload(e.db, table, rand.New(rand.NewPCG(s, 12)))
	w.start()
	defer w.stop()

	restartIoTDB := func() {
		// Down for up to 2 s: new connections are refused meanwhile.
		srv.SetRefuse(true)
		if err := srv.Restart(); err != nil {
			t.Fatalf("iotdbtest restart: %v", err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
		srv.SetRefuse(false)
	}
	restartMariaDB := func() {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := e.m.Restart(rctx); err != nil {
			t.Fatalf("MariaDB restart: %v", err)
		}
	}
	killBinlog := func(p *proc) bool {
		deadline := time.Now().Add(10 * time.Second)
		for !p.exited() && time.Now().Before(deadline) {
			n, err := e.m.KillConnections(ctx, func(user, command, info string) bool { return command == "Binlog Dump" })
			if err != nil {
				t.Fatalf("KillConnections: %v", err)
			}
			if n > 0 {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	// waitStreamingOrExit waits (bounded) until p logs "streaming".
	waitStreamingOrExit := func(p *proc, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for !p.exited() && time.Now().Before(deadline) {
			if len(p.logEntries("streaming")) > 0 {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	jitter := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }

	var nIoTDB, nMariaDB, nBinlog, selfExits, backwards int
	var prev binlog.Position
	done := 0
	for i, f := range plan {
		if time.Since(began) > maxChaos {
			t.Errorf("chaos phase stopped after %d of %d cycles: E2E_CHAOS_MAX %s reached", done, cycles, maxChaos)
			break
		}
		// A restart of IoTDB or MariaDB happens while cdc runs or, one time
		// in three, while it is down (the next run starts into it).
		between := (f == faultIoTDB || f == faultMariaDB) && rng.IntN(3) == 0
		if between {
			if f == faultIoTDB {
				restartIoTDB()
				nIoTDB++
			} else {
				restartMariaDB()
				nMariaDB++
			}
		}
		p := e.startCDC(cfgPath)
		note := f.String()
		switch {
		case f == faultNone || between:
			runFor := jitter(100*time.Millisecond, 3*time.Second)
			if rng.IntN(6) == 0 {
				runFor = time.Duration(rng.Int64N(int64(100 * time.Millisecond))) // at startup
			}
			p.wait(runFor)
			if between {
				note += " (while cdc was down)"
			}
		default:
			if !waitStreamingOrExit(p, time.Minute) && !p.exited() {
				t.Logf("cycle %d: %s not streaming after 1m; injecting anyway", i+1, p.name)
			}
			p.wait(jitter(0, time.Second))
			switch f {
			case faultIoTDB:
				restartIoTDB()
				nIoTDB++
			case faultMariaDB:
				restartMariaDB()
				nMariaDB++
			case faultBinlog:
				if killBinlog(p) {
					nBinlog++
				} else {
					note += " (no dump connection found)"
				}
			}
			p.wait(jitter(200*time.Millisecond, 3*time.Second))
		}
		if p.exited() {
			selfExits++
			t.Errorf("cycle %d (%s): %s exited by itself after %s with code %d (signal %q); log:\n%s",
				i+1, f, p.name, time.Since(p.started).Round(time.Millisecond), p.code, p.signal, p.tail(30))
		} else {
			p.kill9()
		}
		done++
		ck := "none"
		if st, ok := readCheckpoint(e.checkpointPath()); ok {
			ck = st.Position.String()
			if prev.File != "" && !reached(st.Position, prev) {
				backwards++
				t.Errorf("cycle %d: checkpoint went backwards: %s after %s", i+1, st.Position, prev)
			}
			if st.Position.File != "" {
				prev = st.Position
			}
		}
		t.Logf("cycle %d/%d: %s ran %s, %s; checkpoint %s; workload %d changes",
			i+1, cycles, p.name, time.Since(p.started).Round(time.Millisecond), note, ck, w.changes.Load())
	}
	w.stop()
	chaosTook := time.Since(began)
	t.Logf("chaos phase: %d cycles in %s; workload: %s", done, chaosTook.Round(time.Second), w)
	if w.txns.Load() == 0 {
		t.Fatalf("the workload committed nothing: %s", w)
	}

	// The last run catches up and stops cleanly.
	e.finalRun(cfgPath, srv, 15*time.Minute)

	want, got := expectedState(t, e.db, cfg, table), actualState(srv)
	lost, extra, differ := countDiffs(want, got)
	assertSameState(t, "after the long chaos run", want, got)
	// The product's own verdict agrees with the independent comparison.
	verified := "verify: equal (coarse and --exact)"
	for _, mode := range [][]string{nil, {"--exact"}} {
		if code, out, errs := e.runVerify(cfgPath, mode...); code != 0 {
			t.Errorf("verify %v after the long chaos run: exit %d\n%s\n%s", mode, code, out, errs)
			verified = fmt.Sprintf("verify %v: exit %d", mode, code)
		}
	}
	summary := fmt.Sprintf("chaos: %d cycles (%d IoTDB restarts, %d MariaDB restarts, %d binlog kills), %s row changes, %s points compared, %d lost, %d extra",
		done, nIoTDB, nMariaDB, nBinlog, commas(w.changes.Load()), commas(int64(max(want.points(), got.points()))), lost, extra)
	if differ > 0 {
		summary += fmt.Sprintf(", %d differ", differ)
	}
	if selfExits > 0 || backwards > 0 {
		summary += fmt.Sprintf(", %d self-exits, %d checkpoint regressions", selfExits, backwards)
	}
	summary += fmt.Sprintf("; %s (seed %d, %s)", verified, s, time.Since(began).Round(time.Second))
	t.Log(summary)
	fmt.Println(summary)
}

// countDiffs counts the points of want missing in got (lost), the points
// of got not in want (extra) and the points in both with another value or
// type (differ).
func countDiffs(want, got state) (lost, extra, differ int) {
	for k, w := range want {
		g := got[k]
		for ts, wv := range w {
			if gv, ok := g[ts]; !ok {
				lost++
			} else if gv != wv {
				differ++
			}
		}
	}
	for k, g := range got {
		w := want[k]
		for ts := range g {
			if _, ok := w[ts]; !ok {
				extra++
			}
		}
	}
	return lost, extra, differ
}

// commas renders n with thousands separators (184,233).
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
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

// TestChaosPlanAndHelpers checks the plan's bounds and the helpers of the
// long chaos run (no servers).
func TestChaosPlanAndHelpers(t *testing.T) {
	for _, n := range []int{1, 3, 5, 100} {
		plan := chaosPlan(rand.New(rand.NewPCG(uint64(n), 1)), n)
		count := map[chaosFault]int{}
		for _, f := range plan {
			count[f]++
		}
		if len(plan) != n || count[faultIoTDB] > max(n/5, 1) || count[faultMariaDB] > max(n/8, 1) || count[faultBinlog] > max(n/5, 1) {
			t.Errorf("plan of %d: %v", n, count)
		}
		if n >= 3 && (count[faultIoTDB] == 0 || count[faultMariaDB] == 0 || count[faultBinlog] == 0) {
			t.Errorf("plan of %d lacks a fault kind: %v", n, count)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 184233: "184,233", 1002118: "1,002,118", -1234: "-1,234"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
	want := state{"a": {1: 1.0, 2: 2.0}, "b": {1: "x"}}
	got := state{"a": {1: 1.0, 2: 3.0, 3: 3.0}, "c": {1: true}}
	if l, x, d := countDiffs(want, got); l != 1 || x != 2 || d != 1 {
		t.Errorf("countDiffs = %d lost, %d extra, %d differ; want 1, 2, 1", l, x, d)
	}
}
