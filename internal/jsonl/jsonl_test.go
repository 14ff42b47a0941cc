package jsonl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dirty.jsonl")
	j := New(path)
	// Nothing written: no file, Sync and Close are no-ops.
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file created without a line: %v", err)
	}
	for _, l := range []string{`{"a":1}`, `{"b":2}`} {
		if err := j.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"a\":1}\n{\"b\":2}\n" {
		t.Fatalf("after Sync: %q", b)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// A second run appends.
	j2 := New(path)
	if err := j2.Write([]byte(`{"c":3}`)); err != nil {
		t.Fatal(err)
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n" {
		t.Fatalf("after a second run: %q", b)
	}
	if j.Lines() != 2 || j2.Lines() != 1 {
		t.Fatalf("lines %d, %d", j.Lines(), j2.Lines())
	}
	// An unwritable path is an error naming it.
	bad := New(filepath.Join(t.TempDir(), "missing", "x.jsonl"))
	if err := bad.Write([]byte(`{}`)); err == nil || !strings.Contains(err.Error(), bad.Path()) {
		t.Fatalf("write into a missing directory: %v", err)
	}
}

// TestFileMode: the file holds row values (a dirty-rows file), so it is
// created readable by its owner only, like the state files.
func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dirty.jsonl")
	j := New(path)
	if err := j.Write([]byte(`{"value":"secret"}`)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode %04o, want 0600", got)
	}
}
