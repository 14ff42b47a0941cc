package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A state directory that cannot take files (missing, or a regular file in
// the way) is a configuration problem: exit 2 before anything connects
// (the MySQL and IoTDB addresses here accept nothing), naming the directory
// and the key. Root may write into a 0500 directory, so these are the
// failures that also show as root.
func TestStateDirectoryNotWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, checkpoint, dirty, key, badDir string }{
		{"checkpoint under a file", filepath.Join(file, "ck.json"), filepath.Join(dir, "dirty.jsonl"), "cdc.checkpoint.path", file},
		{"missing checkpoint directory", filepath.Join(dir, "missing", "ck.json"), filepath.Join(dir, "dirty.jsonl"), "cdc.checkpoint.path", filepath.Join(dir, "missing")},
		{"missing dirty-rows directory", filepath.Join(dir, "ck.json"), filepath.Join(dir, "nope", "dirty.jsonl"), "dirty_rows.file", filepath.Join(dir, "nope")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := fmt.Sprintf(`mysql:
  host: 127.0.0.1
  port: 1
  user: bridge
  database: factory
  server_id: 5401
  tables: [{name: readings}]
iotdb:
  nodes: ["127.0.0.1:1"]
  mappings:
    - table: readings
      device: "root.factory.${dev}"
      time: {column: ts}
      measurements: [{column: temp}]
cdc:
  checkpoint: {path: %s}
dirty_rows: {file: %s}
metrics: {listen: ""}
`, c.checkpoint, c.dirty)
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			var errb lockedBuffer
			start := time.Now()
			code := run(ctx, flags{config: path}, &out, &errb)
			msg := errb.String()
			if code != exitUsage || !strings.Contains(msg, c.key) || !strings.Contains(msg, "the directory "+c.badDir+" cannot take new files") {
				t.Fatalf("exit %d after %s, want %d naming %s and %s; stderr:\n%s", code, time.Since(start), exitUsage, c.key, c.badDir, msg)
			}
			if strings.Contains(msg, "connect") {
				t.Fatalf("something connected before the check; stderr:\n%s", msg)
			}
			t.Log(strings.TrimSpace(msg))
		})
	}
}
