package backfill

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/atomicfile"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
)

// StateVersion is the format version of the state file. A file with another
// version is refused (never silently reinterpreted or restarted).
const StateVersion = 1

// State is the resume state of a backfill, saved as JSON.
//
// For each table it holds the plan the run started with (so a rerun reads
// the same ranges even if MIN/MAX moved since) and, per partition, whether
// it is finished and the last key whose page the writer acknowledged. A
// partition's Last only moves forward over a contiguous prefix of
// acknowledged pages, so every row at or below Last was written, and a
// rerun continues strictly after it.
type State struct {
	Version int                       `json:"version"`
	Shard   Shard                     `json:"shard"`
	Created time.Time                 `json:"created"`
	Updated time.Time                 `json:"updated"`
	Tables  map[string]*TableProgress `json:"tables"`
	// Tag names what the state belongs to (Options.StateTag: cdc's
	// snapshots tag theirs with the stream position they were taken for);
	// a state with another tag is not resumed.
	Tag string `json:"tag,omitempty"`
	// Source is the source's binlog position (file/pos and GTID set) read
	// before the first table was planned: a cdc started from it (start:
	// backfill) streams every change the copy may have missed, and nothing
	// is copied twice. Nil when the source has no binlog or it could not
	// be read.
	Source *binlog.Position `json:"source_position,omitempty"`
	// SourceFlavor is the flavor Source was read from (mysql | mariadb).
	SourceFlavor string `json:"source_flavor,omitempty"`
}

// TableProgress is the plan and progress of one table.
type TableProgress struct {
	Plan     *TablePlan     `json:"plan"`
	Progress []PartProgress `json:"progress"` // parallel to Plan.Partitions
}

// PartProgress is the acknowledged progress of one partition.
type PartProgress struct {
	Done bool `json:"done,omitempty"`
	// Last is the ordering tuple of the last acknowledged row (paged tables
	// only); nil means "from the start of the partition".
	Last Key   `json:"last,omitempty"`
	Rows int64 `json:"rows,omitempty"` // rows acknowledged, all runs together
}

// StatePath is the state file of a shard: with more than one shard,
// ".shard-i-of-n" goes before the extension, so processes sharing a volume
// never write the same file.
func StatePath(path string, s Shard) string {
	if path == "" {
		path = "backfill.state.json"
	}
	if s.Count <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(path, ext), s.Index, s.Count, ext)
}

// LoadState reads the state file. A missing file is a fresh state (ok is
// false); an unreadable, corrupt or other-version file is an error that names
// the file.
func LoadState(path string) (st *State, ok bool, err error) {
	return loadState(path, "run with --restart to start over")
}

// loadState is LoadState with the remedy an unusable file's error gives.
func loadState(path, startOver string) (st *State, ok bool, err error) {
	st = &State{}
	found, err := atomicfile.ReadJSON(path, StateVersion, st)
	switch {
	case err != nil && !found:
		return nil, false, fmt.Errorf("reading backfill state %s: %w", path, err)
	case err != nil:
		return nil, false, fmt.Errorf("backfill state %s: %w: restore it, or %s", path, err, startOver)
	case !found:
		return newState(), false, nil
	}
	if st.Tables == nil {
		st.Tables = map[string]*TableProgress{}
	}
	for name, ts := range st.Tables {
		if ts == nil || ts.Plan == nil || len(ts.Progress) != len(ts.Plan.Partitions) {
			return nil, false, fmt.Errorf("backfill state %s is corrupt (table %s: plan and progress disagree): %s", path, name, startOver)
		}
	}
	return st, true, nil
}

func newState() *State {
	now := time.Now().UTC()
	return &State{Version: StateVersion, Created: now, Updated: now, Tables: map[string]*TableProgress{}}
}

// SaveState writes st atomically: a temporary file in the same directory,
// fsync, rename over path, fsync of the directory. A crash leaves either the
// old or the new file, never a torn one.
func SaveState(path string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding backfill state: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// clone deep-copies the mutable parts (progress) so a snapshot can be
// encoded outside the engine's lock; plans are immutable once stored.
func (st *State) clone() *State {
	c := *st
	c.Tables = make(map[string]*TableProgress, len(st.Tables))
	for name, ts := range st.Tables {
		p := make([]PartProgress, len(ts.Progress))
		copy(p, ts.Progress)
		c.Tables[name] = &TableProgress{Plan: ts.Plan, Progress: p}
	}
	return &c
}
