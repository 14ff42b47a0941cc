package wire

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/statelock"
)

// stateFile is a file a run writes, with the configuration key naming it.
// The first of a run's files is its state, the one that is locked.
type stateFile struct{ key, path string }

// checkStateDirs checks that the directory of every state file exists and
// takes a new file (created and removed here), before anything connects:
// otherwise the first save, minutes into a run, is where a missing or
// read-only directory shows. It prints the problem (prefixed) and returns
// false.
func checkStateDirs(cfg *config.Config, stderr io.Writer, prefix string, files ...stateFile) bool {
	ok := true
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f.path)
		if seen[dir+"\x00"+f.key] {
			continue
		}
		seen[dir+"\x00"+f.key] = true
		if err := writableDir(dir); err != nil {
			fmt.Fprintf(stderr, "%s%s: %s (%s): the directory %s cannot take new files: %v; create it, writable by this process, or change %s\n",
				prefix, cfg.PosOf(f.key), f.key, f.path, dir, err, f.key)
			ok = false
		}
	}
	return ok
}

func writableDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return unwrapPath(err)
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	f, err := os.CreateTemp(dir, ".bridge-write-check-*")
	if err != nil {
		return unwrapPath(err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// claimState is what every run that writes state does before anything
// connects: check that the directories of its files take new files
// (exit 2: configuration), then lock its state for the life of the run
// (exit 1 naming the holder when another process has it). release undoes
// the lock; it is nil when the claim failed.
func claimState(cfg *config.Config, stderr io.Writer, prefix, what string, files ...stateFile) (release func(), code int) {
	if !checkStateDirs(cfg, stderr, prefix, files...) {
		return nil, ExitUsage
	}
	lk, err := statelock.Acquire(files[0].path, what)
	if err != nil {
		fmt.Fprintf(stderr, "%s%v\n", prefix, err)
		return nil, ExitFailed
	}
	return func() { _ = lk.Release() }, ExitOK
}
