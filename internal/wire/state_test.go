package wire

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
// the way) is a configuration problem for both binaries: exit 2 before
// anything connects (the MySQL and IoTDB addresses here accept nothing),
// naming the key and the directory. Root may write into a 0500 directory,
// so these are the failures that also show as root.
func TestStateDirectoryNotWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "ok")
	cases := []struct {
		name, binary                  string
		checkpoint, backfill, dirtyAt string
		key, badDir, detail           string
	}{
		{"cdc: checkpoint under a file", "cdc", filepath.Join(file, "ck.json"), ok, dir, "cdc.checkpoint.path", file, ": not a directory"},
		{"cdc: missing checkpoint directory", "cdc", filepath.Join(dir, "missing", "ck.json"), ok, dir, "cdc.checkpoint.path", filepath.Join(dir, "missing"), ""},
		{"cdc: missing dirty-rows directory", "cdc", filepath.Join(dir, "ck.json"), ok, filepath.Join(dir, "nope"), "dirty_rows.file", filepath.Join(dir, "nope"), ""},
		{"backfill: state under a file", "backfill", filepath.Join(dir, "ck.json"), filepath.Join(file, "state.json"), dir, "backfill.state", file, ": not a directory"},
		{"backfill: missing dirty-rows directory", "backfill", filepath.Join(dir, "ck.json"), filepath.Join(dir, "state.json"), filepath.Join(dir, "nope"), "dirty_rows.file", filepath.Join(dir, "nope"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := unreachableConfig(t, fmt.Sprintf(`backfill: {state: %s}
cdc: {checkpoint: {path: %s}}
dirty_rows: {file: %s}
metrics: {listen: ""}
`, c.backfill, c.checkpoint, filepath.Join(c.dirtyAt, "dirty.jsonl")))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			var code int
			if c.binary == "cdc" {
				code = RunCDC(ctx, CDCArgs{Config: path}, &out, &errb)
			} else {
				code = RunBackfill(ctx, BackfillArgs{Config: path}, &out, &errb)
			}
			msg := errb.String()
			if code != ExitUsage || !strings.Contains(msg, c.key) || !strings.Contains(msg, "the directory "+c.badDir+" cannot take new files"+c.detail) {
				t.Fatalf("exit %d, want %d naming %s and %s%s; stderr:\n%s", code, ExitUsage, c.key, c.badDir, c.detail, msg)
			}
			if strings.Contains(msg, "connect") {
				t.Fatalf("something connected before the check; stderr:\n%s", msg)
			}
			if c.binary == "backfill" {
				// A dry run writes no state: it is not checked (and fails
				// later, on the unreachable MySQL).
				errb.Reset()
				if code := RunBackfill(ctx, BackfillArgs{Config: path, DryRun: true}, &out, &errb); code == ExitUsage {
					t.Fatalf("dry run exit %d; stderr:\n%s", code, errb.String())
				}
			}
		})
	}
}
