package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

func sample() *State {
	return &State{
		Flavor:   binlog.FlavorMariaDB,
		Position: binlog.Position{File: "binlog.000003", Pos: 1234, GTID: "0-1-42"},
		Tables: map[string]TableSnapshot{
			"sensor_readings": {
				SnapshotDone:     true,
				SnapshotPosition: binlog.Position{File: "binlog.000002", Pos: 4, GTID: "0-1-7"},
				SnapshotAt:       time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			},
		},
		ServerID:   5401,
		ServerUUID: "mariadb-1",
	}
}

func TestStoreMissing(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "cdc.checkpoint")}
	st, found, err := s.Load()
	if err != nil || found || st != nil {
		t.Fatalf("Load of a missing file = %v, %v, %v; want nil, false, nil", st, found, err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "cdc.checkpoint")}
	in := sample()
	before := time.Now().UTC().Add(-time.Second)
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	if in.Version != Version || in.SavedAt.Before(before) {
		t.Fatalf("Save did not stamp version/time: %d %v", in.Version, in.SavedAt)
	}
	out, found, err := s.Load()
	if err != nil || !found {
		t.Fatalf("Load = %v, %v", found, err)
	}
	if out.Position != in.Position || out.Flavor != "mariadb" || out.ServerID != 5401 || out.ServerUUID != "mariadb-1" {
		t.Fatalf("round trip: got %+v", out)
	}
	ts := out.Tables["sensor_readings"]
	if !ts.SnapshotDone || ts.SnapshotPosition.GTID != "0-1-7" || !ts.SnapshotAt.Equal(in.Tables["sensor_readings"].SnapshotAt) {
		t.Fatalf("table state: got %+v", ts)
	}
	if !out.SavedAt.Equal(in.SavedAt) {
		t.Fatalf("SavedAt %v != %v", out.SavedAt, in.SavedAt)
	}
	// The file is readable JSON with the version first-class.
	data, _ := os.ReadFile(s.Path)
	if !strings.Contains(string(data), `"version": 1`) || !strings.Contains(string(data), `"gtid": "0-1-42"`) {
		t.Fatalf("file content:\n%s", data)
	}
	// A second save replaces the first and leaves no temporary file.
	in.Position = binlog.Position{File: "binlog.000003", Pos: 2000, GTID: "0-1-43"}
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, _, err = s.Load()
	if err != nil || out.Position.Pos != 2000 {
		t.Fatalf("after second save: %+v, %v", out, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the checkpoint", len(entries))
	}
}

// A crash between writing the temporary file and the rename leaves the
// temporary file next to the old checkpoint: Load must return the old state,
// and the next Save cleans up.
func TestStoreCrashMidSave(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Path: filepath.Join(dir, "cdc.checkpoint")}
	if err := s.Save(sample()); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, "cdc.checkpoint.tmp-123456")
	if err := os.WriteFile(half, []byte(`{"version": 1, "flavor": "mariadb", "position": {"file": "binlog.0000`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, found, err := s.Load()
	if err != nil || !found {
		t.Fatalf("Load with a leftover temp file: %v, %v", found, err)
	}
	if out.Position.Pos != 1234 {
		t.Fatalf("Load returned %v, want the old state at 1234", out.Position)
	}
	// First save ever interrupted: no checkpoint, only a temp file => not found.
	dir2 := t.TempDir()
	s2 := &Store{Path: filepath.Join(dir2, "cdc.checkpoint")}
	if err := os.WriteFile(filepath.Join(dir2, "cdc.checkpoint.tmp-1"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s2.Load(); err != nil || found {
		t.Fatalf("only a temp file: found=%v err=%v, want not found", found, err)
	}
	// The next save removes the leftover.
	if err := s.Save(sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Fatalf("leftover temp file still there: %v", err)
	}
}

func TestStoreBadFiles(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", "empty"},
		{"truncated", `{"version": 1, "position": {"file": "bin`, "corrupt"},
		{"garbage", "\x00\x01binary", "corrupt"},
		{"no version", `{"flavor": "mysql", "position": {"file": "binlog.000001", "pos": 4}}`, "no version"},
		{"newer version", `{"version": 2, "flavor": "mysql", "position": {"file": "binlog.000001", "pos": 4}}`, "format version 2"},
		{"older version", `{"version": 0, "flavor": "mysql"}`, "format version 0"},
		{"unknown field", `{"version": 1, "flavor": "mysql", "positon": {}}`, "unknown field"},
		{"bad flavor", `{"version": 1, "flavor": "postgres"}`, "flavor"},
		{"bad gtid", `{"version": 1, "flavor": "mariadb", "position": {"gtid": "0-1"}}`, "gtid"},
		{"trailing", `{"version": 1, "flavor": "mysql"} {}`, "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdc.checkpoint")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			st, found, err := (&Store{Path: path}).Load()
			if err == nil {
				t.Fatalf("Load = %+v, %v, nil; want an error", st, found)
			}
			if found || st != nil {
				t.Fatalf("Load returned state with an error: %+v %v", st, found)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestStoreUnreadable(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should be: read fails with an error, not "not found".
	path := filepath.Join(dir, "cdc.checkpoint")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, found, err := (&Store{Path: path}).Load(); err == nil || found {
		t.Fatalf("Load of a directory: found=%v err=%v", found, err)
	}
}

func TestStoreSaveErrors(t *testing.T) {
	// Missing directory.
	s := &Store{Path: filepath.Join(t.TempDir(), "missing", "cdc.checkpoint")}
	if err := s.Save(sample()); err == nil || !strings.Contains(err.Error(), s.Path) {
		t.Fatalf("Save into a missing directory: %v", err)
	}
	// Invalid state is refused before anything is written.
	s = &Store{Path: filepath.Join(t.TempDir(), "cdc.checkpoint")}
	bad := sample()
	bad.Position.GTID = "not-a-gtid"
	if err := s.Save(bad); err == nil {
		t.Fatal("Save of a state with a bad GTID: no error")
	}
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Fatalf("refused save wrote the file: %v", err)
	}
}

func TestStoreMySQLGTID(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "cdc.checkpoint")}
	in := &State{Flavor: binlog.FlavorMySQL, Position: binlog.Position{
		File: "mysql-bin.000009", Pos: 157, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-23"}}
	if err := s.Save(in); err != nil {
		t.Fatal(err)
	}
	out, _, err := s.Load()
	if err != nil || out.Position != in.Position {
		t.Fatalf("Load = %+v, %v", out, err)
	}
}
