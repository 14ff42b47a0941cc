package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// decision is what StartMariaDB does before starting a server.
type decision int

const (
	decideRun  decision = iota
	decideSkip          // t.Skip
	decideFail          // t.Fatal
)

// decide is StartMariaDB's skip/fail policy (integration tests have a -short
// guard that never skips in CI):
//
//   - CI (ci true): never skip. A missing mariadbd is a failure, and -short
//     does not skip either, so CI cannot go green by silently running nothing.
//   - locally: -short skips; a missing mariadbd skips with a loud message.
//
// findErr is the result of looking up the server binaries.
func decide(short, ci bool, findErr error) (decision, string) {
	if !ci && short {
		return decideSkip, "integration test: skipped with -short (set CI=true to force)"
	}
	if findErr != nil {
		if ci {
			return decideFail, fmt.Sprintf("CI=true and the MariaDB integration server is unavailable: %v", findErr)
		}
		return decideSkip, fmt.Sprintf("!!! SKIPPING MariaDB INTEGRATION TEST: %v. "+
			"These tests do NOT run on this machine; in CI (CI=true) this is a failure. !!!", findErr)
	}
	return decideRun, ""
}

// inCI reports whether $CI is "true" (or another strconv.ParseBool truth: "1").
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

var loudOnce sync.Once

// StartMariaDB starts a throwaway MariaDB for a test (Options optional; at
// most one) and stops it, removing its files, at the end of the test. It
// skips the test with -short (except in CI), skips loudly when mariadbd is not
// installed, and fails instead when CI=true (see decide). When the test has
// failed, the tail of the server's error log is logged before it is removed.
func StartMariaDB(t testing.TB, o ...Options) *MariaDB {
	t.Helper()
	if len(o) > 1 {
		t.Fatalf("StartMariaDB: at most one Options, got %d", len(o))
	}
	var opts Options
	if len(o) == 1 {
		opts = o[0]
	}
	return startForTest(t, "StartMariaDB", opts)
}

// applyPolicy skips or fails the test as decide says.
func applyPolicy(t testing.TB) {
	t.Helper()
	_, findErr := findBinaries()
	switch d, msg := decide(testing.Short(), inCI(), findErr); d {
	case decideSkip:
		if findErr != nil {
			// t.Skip is silent without -v; say it once on stderr as well.
			loudOnce.Do(func() { fmt.Fprintln(os.Stderr, msg) })
		}
		t.Skip(msg)
	case decideFail:
		t.Fatal(msg)
	}
}

// startForTest is StartMariaDB and StartReplica: the skip/fail policy, Start,
// and Stop (with the error log tail on failure) at the end of the test.
func startForTest(t testing.TB, name string, opts Options) *MariaDB {
	t.Helper()
	applyPolicy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := Start(ctx, opts)
	if err != nil {
		if errors.Is(err, errNoMariaDB) && !inCI() {
			t.Skip(err)
		}
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("MariaDB error log (%s), last lines:\n%s", m.ErrorLogPath(), m.ErrorLogTail(30))
		}
		if err := m.Stop(); err != nil {
			t.Errorf("stopping MariaDB: %v", err)
		}
	})
	return m
}

// DB opens a root pool on Database, closed when the test ends.
func (m *MariaDB) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", m.RootDSN())
	if err != nil {
		t.Fatalf("open %s: %v", m.RootDSN(), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// WaitFor polls cond until it holds; after timeout it fails the test
// naming what it waited for. Polls start 10ms apart and slow to 100ms, so
// a quick condition is seen at once and a costly one (reading a log, a
// query) does not load the machine during a long wait.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
