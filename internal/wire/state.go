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

// lockState takes the lock of a state file for the life of the run (see
// internal/statelock). When another process holds it, it prints who
// (prefixed) and returns ExitFailed.
func lockState(path, what string, stderr io.Writer, prefix string) (*statelock.Lock, int) {
	lk, err := statelock.Acquire(path, what)
	if err != nil {
		fmt.Fprintf(stderr, "%s%v\n", prefix, err)
		return nil, ExitFailed
	}
	return lk, ExitOK
}
