package statelock

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The helper process: with STATELOCK_HELPER set, the test binary takes the
// lock, says so and waits to be killed.
func TestMain(m *testing.M) {
	if state := os.Getenv("STATELOCK_HELPER"); state != "" {
		if _, err := Acquire(state, "checkpoint"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

func TestSecondAcquireNamesTheHolder(t *testing.T) {
	state := filepath.Join(t.TempDir(), "ck.json")
	l, err := Acquire(state, "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process
	// conflicts like another process would.
	_, err = Acquire(state, "checkpoint")
	var iu *InUseError
	if !errors.As(err, &iu) || !errors.Is(err, ErrInUse) {
		t.Fatalf("second Acquire = %v, want an *InUseError", err)
	}
	host, _ := os.Hostname()
	want := fmt.Sprintf("checkpoint %s is in use by pid %d on host %s since ", state, os.Getpid(), host)
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; stop that process first") {
		t.Fatalf("message %q, want it to start with %q", err, want)
	}
	if iu.Holder == nil || time.Since(iu.Holder.Since) > time.Minute {
		t.Fatalf("holder %+v", iu.Holder)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	if _, err := os.Stat(state + Suffix); err != nil {
		t.Fatalf("the lock file must stay after Release: %v", err)
	}
	l2, err := Acquire(state, "checkpoint")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
	if l2.Path() != state+".lock" {
		t.Fatalf("Path = %s", l2.Path())
	}
}

// A holder killed with SIGKILL loses the lock (the kernel releases it); the
// file it leaves behind does not stop the next process.
func TestCrashedHolderReleases(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATELOCK_HELPER="+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q", line)
	}

	_, err = Acquire(state, "backfill state")
	var iu *InUseError
	if !errors.As(err, &iu) || iu.Holder == nil || iu.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Acquire while the helper (pid %d) holds it = %v", cmd.Process.Pid, err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("backfill state %s is in use by pid %d", state, cmd.Process.Pid)) {
		t.Fatalf("message %q", err)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := os.Stat(state + Suffix); err != nil {
		t.Fatalf("stale lock file: %v", err)
	}
	l, err := Acquire(state, "backfill state")
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}

func TestMissingDirectoryIsNotInUse(t *testing.T) {
	state := filepath.Join(t.TempDir(), "nope", "ck.json")
	_, err := Acquire(state, "checkpoint")
	if err == nil || errors.Is(err, ErrInUse) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Acquire in a missing directory = %v", err)
	}
}
