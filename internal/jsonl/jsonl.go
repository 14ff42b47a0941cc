// Package jsonl appends lines to a JSON-lines file that is created on the
// first line, so a run that writes none leaves no file. Both binaries keep
// their dirty-rows files this way; Sync runs before each state or
// checkpoint save, so a saved position never gets ahead of the lines
// recorded before it.
package jsonl

import (
	"bufio"
	"fmt"
	"os"
	"sync"
)

// File is an append-only JSON-lines file, safe for concurrent use.
type File struct {
	path  string
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	lines int64
}

// New returns a File for path; nothing is opened yet.
func New(path string) *File { return &File{path: path} }

// Path is the file's path.
func (j *File) Path() string { return j.path }

// Write appends line (one JSON value, without a newline) and a newline.
// The line is buffered: Sync makes it durable.
func (j *File) Write(line []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		// 0600 like the state files: the lines hold row values. An existing
		// file keeps its mode (an operator may have widened it on purpose).
		f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("opening %s: %w", j.path, err)
		}
		j.f, j.w = f, bufio.NewWriter(f)
	}
	if _, err := j.w.Write(line); err != nil {
		return fmt.Errorf("writing %s: %w", j.path, err)
	}
	if err := j.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("writing %s: %w", j.path, err)
	}
	j.lines++
	return nil
}

// Lines returns how many lines were written.
func (j *File) Lines() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lines
}

// Sync flushes the buffer and fsyncs the file (nothing when none was
// written).
func (j *File) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.syncLocked()
}

func (j *File) syncLocked() error {
	if j.f == nil {
		return nil
	}
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", j.path, err)
	}
	return nil
}

// Close syncs and closes the file. A later Write opens it again.
func (j *File) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.syncLocked()
	if j.f != nil {
		if cerr := j.f.Close(); err == nil {
			err = cerr
		}
		j.f, j.w = nil, nil
	}
	return err
}
