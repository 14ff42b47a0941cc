package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A backfill state directory that cannot take files (a regular file in the
// way: root writes into a 0500 directory) is a configuration problem:
// exit 2 before anything connects, naming the directory and the key.
func TestStateDirectoryNotWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`mysql:
  host: 127.0.0.1
  port: 1
  user: bridge
  database: factory
  tables: [{name: readings}]
iotdb:
  nodes: ["127.0.0.1:1"]
  mappings:
    - table: readings
      device: "root.factory.${dev}"
      time: {column: ts}
      measurements: [{column: temp}]
backfill: {state: %s}
dirty_rows: {file: %s}
`, filepath.Join(file, "state.json"), filepath.Join(dir, "dirty.jsonl"))
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, context.Background(), flags{config: path})
	if r.code != exitUsage || !strings.Contains(r.stderr, "backfill.state") ||
		!strings.Contains(r.stderr, "the directory "+file+" cannot take new files: not a directory") {
		t.Fatalf("exit %d, want %d naming backfill.state and %s; stderr:\n%s", r.code, exitUsage, file, r.stderr)
	}
	// A dry run writes no state: it is not checked (and fails later, on
	// the unreachable MySQL).
	if r := runCmd(t, context.Background(), flags{config: path, dryRun: true}); r.code == exitUsage {
		t.Fatalf("dry run exit %d; stderr:\n%s", r.code, r.stderr)
	}
}
