// Package statelock gives one process at a time a state file: cdc's
// checkpoint (and the snapshot state that goes with it), a backfill shard's
// state. Two processes on the same state (an overlapping pod during a
// rollout, an operator starting a second copy by hand) would both stream
// and overwrite each other's progress; with the lock the second one stops
// at once, naming the holder.
//
// The lock is an exclusive advisory flock(2) (LOCK_EX|LOCK_NB) on a lock
// file next to the state, "<state>.lock", held for the life of the run.
// The holder writes its pid, hostname and start time into the file so the
// refused process can say who holds it.
//
// The lock file is never removed, not even by its holder on Release:
// removing it while another process has it open would let a third process
// lock a new file of the same name while the second holds the old one. A
// crashed holder (SIGKILL, OOM, power loss) loses its lock with its file
// descriptors: the kernel releases a flock when the last descriptor closes.
// A lock file left behind is therefore harmless: it is only a name to lock,
// and its contents are rewritten by the next holder.
//
// flock is per host: two processes on different hosts sharing a network
// volume are only excluded where the file system supports flock across
// clients (NFSv4 does, through byte-range locks; some do not).
package statelock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Suffix is added to a state file's path to name its lock file.
const Suffix = ".lock"

// ErrInUse is matched (errors.Is) by the error Acquire returns when another
// process holds the lock.
var ErrInUse = errors.New("state in use by another process")

// Holder is what the holder of a lock records in the lock file.
type Holder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// InUseError says which state is locked and by whom.
type InUseError struct {
	What   string  // "checkpoint", "backfill state"
	State  string  // the state file's path
	Holder *Holder // nil when the lock file could not be read
}

func (e *InUseError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("%s %s is in use by another process (its lock %s is held; the holder is not recorded); stop that process first",
			e.What, e.State, e.State+Suffix)
	}
	return fmt.Sprintf("%s %s is in use by pid %d on host %s since %s; stop that process first",
		e.What, e.State, e.Holder.PID, e.Holder.Host, e.Holder.Since.Local().Format("2006-01-02 15:04:05 MST"))
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Lock is a held lock. Release it once, at the end of the run.
type Lock struct {
	f    *os.File
	path string
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// Acquire locks the state file at state (what names it in messages) without
// waiting: when another process holds it, the error is an *InUseError
// (errors.Is ErrInUse). Other errors (a missing directory, a read-only file
// system) are returned as they are.
func Acquire(state, what string) (*Lock, error) {
	path := state + Suffix
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s lock: %w", what, err)
	}
	if err := flock(f); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h := readHolder(f)
			f.Close()
			return nil, &InUseError{What: what, State: state, Holder: h}
		}
		f.Close()
		return nil, fmt.Errorf("%s lock %s: %w", what, path, err)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Since: time.Now().Truncate(time.Second)})
	if err := writeHolder(f, append(b, '\n')); err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("%s lock %s: recording the holder: %w", what, path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Release unlocks (the file stays: see the package doc). Safe on nil and
// to call twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
	return err
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func writeHolder(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return nil
}

// readHolder reads the holder's record. The holder writes it right after
// taking the lock, so an empty or partial record is read again for a moment.
func readHolder(f *os.File) *Holder {
	for range 20 {
		b := make([]byte, 4096)
		n, _ := f.ReadAt(b, 0)
		var h Holder
		if n > 0 && json.Unmarshal(b[:n], &h) == nil && h.PID > 0 {
			return &h
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
