package checkpoint

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

func pos(n uint32) binlog.Position { return binlog.Position{File: "binlog.000001", Pos: n} }

func mustSafe(t *testing.T, tr *Tracker[binlog.Position], want uint32) {
	t.Helper()
	got, ok := tr.Safe()
	if !ok {
		t.Fatalf("Safe: not ok, want %d", want)
	}
	if got != pos(want) {
		t.Fatalf("Safe = %v, want %v", got, pos(want))
	}
}

func TestTrackerEmpty(t *testing.T) {
	var tr Tracker[binlog.Position]
	if p, ok := tr.Safe(); ok || !p.IsZero() {
		t.Fatalf("empty tracker: Safe = %v, %v", p, ok)
	}
	if tr.Pending() != 0 {
		t.Fatalf("Pending = %d", tr.Pending())
	}
}

func TestTrackerInOrder(t *testing.T) {
	var tr Tracker[binlog.Position]
	a := tr.Track(pos(100))
	b := tr.Track(pos(200))
	if err := tr.Ack(a); err != nil {
		t.Fatal(err)
	}
	mustSafe(t, &tr, 100)
	if err := tr.Ack(b); err != nil {
		t.Fatal(err)
	}
	mustSafe(t, &tr, 200)
	if tr.Pending() != 0 {
		t.Fatalf("Pending = %d, want 0", tr.Pending())
	}
}

func TestTrackerOutOfOrder(t *testing.T) {
	var tr Tracker[binlog.Position]
	t1 := tr.Track(pos(100))
	t2 := tr.Track(pos(200))
	t3 := tr.Track(pos(300))
	t4 := tr.Track(pos(400))

	// Later batches first: nothing is safe while the first is in flight.
	if err := tr.Ack(t3); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ack(t2); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Safe(); ok {
		t.Fatal("Safe ok before the first batch was acknowledged")
	}
	if tr.Pending() != 4 {
		t.Fatalf("Pending = %d, want 4", tr.Pending())
	}
	// The first ack releases the contiguous prefix 1..3, not 4.
	if err := tr.Ack(t1); err != nil {
		t.Fatal(err)
	}
	mustSafe(t, &tr, 300)
	if tr.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", tr.Pending())
	}
	// A new batch behind an unacked one: safe stays.
	t5 := tr.Track(pos(500))
	if err := tr.Ack(t5); err != nil {
		t.Fatal(err)
	}
	mustSafe(t, &tr, 300)
	if err := tr.Ack(t4); err != nil {
		t.Fatal(err)
	}
	mustSafe(t, &tr, 500)
}

func TestTrackerBadAcks(t *testing.T) {
	var tr Tracker[binlog.Position]
	a := tr.Track(pos(100))
	b := tr.Track(pos(200))
	if err := tr.Ack(b); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ack(b); err == nil {
		t.Fatal("double ack of an unresolved batch: no error")
	}
	if err := tr.Ack(a); err != nil {
		t.Fatal(err)
	}
	if err := tr.Ack(a); err == nil {
		t.Fatal("ack of a resolved batch: no error")
	}
	if err := tr.Ack(Token(99)); err == nil {
		t.Fatal("ack of a never-issued token: no error")
	}
	mustSafe(t, &tr, 200)
}

// TestTrackerRandomOrder checks against a brute-force model: after each ack,
// Safe is the position of the last batch of the longest acked prefix.
func TestTrackerRandomOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var tr Tracker[binlog.Position]
		n := 1 + rng.IntN(40)
		toks := make([]Token, n)
		for i := range toks {
			toks[i] = tr.Track(pos(uint32(10 * (i + 1))))
		}
		acked := make([]bool, n)
		for _, i := range rng.Perm(n) {
			if err := tr.Ack(toks[i]); err != nil {
				t.Fatal(err)
			}
			acked[i] = true
			prefix := 0
			for prefix < n && acked[prefix] {
				prefix++
			}
			got, ok := tr.Safe()
			if prefix == 0 {
				if ok {
					t.Fatalf("round %d: Safe ok = %v with no acked prefix", round, got)
				}
				continue
			}
			if !ok || got != pos(uint32(10*prefix)) {
				t.Fatalf("round %d: Safe = %v,%v want %v", round, got, ok, pos(uint32(10*prefix)))
			}
			if tr.Pending() != n-prefix {
				t.Fatalf("round %d: Pending = %d want %d", round, tr.Pending(), n-prefix)
			}
		}
	}
}

func TestTrackerConcurrent(t *testing.T) {
	var tr Tracker[binlog.Position]
	const n = 1000
	toks := make(chan Token, n)
	for i := 1; i <= n; i++ {
		toks <- tr.Track(pos(uint32(i)))
	}
	close(toks)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range toks {
				if err := tr.Ack(tok); err != nil {
					t.Error(err)
				}
				tr.Safe()
			}
		}()
	}
	wg.Wait()
	mustSafe(t, &tr, n)
	if tr.Pending() != 0 {
		t.Fatalf("Pending = %d", tr.Pending())
	}
}
