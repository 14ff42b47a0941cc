// Package checkpoint keeps cdc's resume state: where in the binlog to start
// again, and which mapped tables have been snapshotted. A position is saved
// only at a transaction boundary and only after the sink acknowledged every
// row before it (the cdc writer decides that, see internal/cdc/writer.go); the file is replaced atomically and
// carries a format version (docs/delivery.md §2.2, §2.4).
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/atomicfile"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

// Version is the format version Save writes and Load accepts.
const Version = 1

// State is the whole checkpoint file.
type State struct {
	Version int `json:"version"`
	// Flavor is the source's flavor (mysql | mariadb): it says how to read
	// Position.GTID.
	Flavor string `json:"flavor"`
	// Position is where the stream resumes: a commit boundary whose every
	// earlier row reached IoTDB.
	Position binlog.Position `json:"position"`
	// SavedAt is when Save wrote the file (set by Save).
	SavedAt time.Time `json:"saved_at"`
	// Tables holds per mapped table the initial snapshot's progress, keyed by
	// table name.
	Tables map[string]TableSnapshot `json:"tables,omitempty"`
	// ServerID is the replica id the stream used.
	ServerID uint32 `json:"server_id,omitempty"`
	// SourceServerID and ServerUUID identify the source server the
	// position was read from (@@server_id; @@server_uuid on MySQL): a file
	// name and offset mean something else on another server, so a
	// checkpoint is resumed elsewhere (a failover to a replica) only by
	// its GTID set.
	SourceServerID uint32 `json:"source_server_id,omitempty"`
	ServerUUID     string `json:"server_uuid,omitempty"`
}

// TableSnapshot is one mapped table's snapshot progress.
type TableSnapshot struct {
	// SnapshotDone is true once the initial snapshot of the table finished.
	SnapshotDone bool `json:"snapshot_done"`
	// SnapshotPosition is the binlog position recorded before the snapshot
	// started: streaming from it covers every change the snapshot may have
	// missed.
	SnapshotPosition binlog.Position `json:"snapshot_position"`
	// SnapshotAt is when the snapshot finished.
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
}

// Store reads and writes one checkpoint file.
type Store struct {
	Path string // Required
}

// tempPrefix names Save's temporary files: "<base>.tmp-<random>" in the
// same directory, so the rename stays on one file system.
func (s *Store) tempPrefix() string { return atomicfile.TempPrefix(s.Path) }

// Load reads the checkpoint. A missing file returns found=false and no
// error. An unreadable, corrupt or unknown-version file is an error naming
// the file: never a silent fresh start. Leftover temporary files from an
// interrupted Save are ignored (the previous file is still whole).
func (s *Store) Load() (*State, bool, error) {
	var st State
	found, err := atomicfile.ReadJSON(s.Path, Version, &st)
	if err == nil && found {
		err = st.validate()
	}
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint %s: %w (fix or delete the file; deleting it restarts cdc from its start mode)", s.Path, err)
	}
	if !found {
		return nil, false, nil
	}
	return &st, true, nil
}

func (st *State) validate() error {
	if st.Flavor != "" && !binlog.ValidFlavor(st.Flavor) {
		return fmt.Errorf("flavor %q: want mysql or mariadb", st.Flavor)
	}
	check := func(what string, p binlog.Position) error {
		if p.GTID == "" {
			return nil
		}
		flavor := st.Flavor
		if flavor == "" {
			flavor = binlog.GuessGTIDFlavor(p.GTID)
		}
		if _, err := binlog.ParseGTIDSet(flavor, p.GTID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := check("position", st.Position); err != nil {
		return err
	}
	for name, t := range st.Tables {
		if err := check("table "+name+" snapshot position", t.SnapshotPosition); err != nil {
			return err
		}
	}
	return nil
}

// Save replaces the checkpoint atomically: it writes a temporary file in the
// same directory, fsyncs it, renames it over the old one and fsyncs the
// directory, so a crash leaves either the old or the new state, whole. It
// sets st.Version and st.SavedAt.
func (s *Store) Save(st *State) error {
	if s.Path == "" {
		return errors.New("checkpoint: no path")
	}
	st.Version = Version
	st.SavedAt = time.Now().UTC()
	if err := st.validate(); err != nil {
		return fmt.Errorf("checkpoint %s: refusing to save: %w", s.Path, err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", s.Path, err)
	}
	data = append(data, '\n')

	if err := atomicfile.Write(s.Path, data); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	s.removeStaleTemps()
	return nil
}

// removeStaleTemps deletes temporary files an interrupted Save left behind.
// Best effort: they are ignored by Load anyway.
func (s *Store) removeStaleTemps() {
	dir := filepath.Dir(s.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), s.tempPrefix()) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
