package incremental

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/atomicfile"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
)

// StateVersion is the format version of the sync state. A file with
// another version is refused, never reinterpreted.
const StateVersion = 1

// Phases of a table (TableState.Phase).
const (
	PhaseInitial     = "initial"     // the first copy (the backfill engine) runs; Initial holds the marks it will leave
	PhaseIncremental = "incremental" // runs read each lane past its mark
)

// State is the sync state file: per table its cursor definition, its phase
// and per lane the high-water mark and the run in progress. JSON,
// versioned, written atomically, locked by the process that runs
// (docs/delivery.md §8).
type State struct {
	Version int                    `json:"version"`
	Created time.Time              `json:"created"`
	Updated time.Time              `json:"updated"`
	Tables  map[string]*TableState `json:"tables"`
}

// TableState is one table.
type TableState struct {
	Cursor Definition `json:"cursor"`
	Phase  string     `json:"phase"`
	// Initial holds, per lane, the newest cursor value read before the first
	// copy started (nil: the lane had none); they become the marks when the
	// copy has finished.
	Initial []*backfill.Value `json:"initial,omitempty"`
	Lanes   []LaneState       `json:"lanes"`
	// SyncedAt is when the last run of the table finished.
	SyncedAt time.Time `json:"synced_at,omitzero"`
}

// LaneState is one lane (cursor column).
type LaneState struct {
	Column string `json:"column"`
	// Mark is the high-water mark: the upper bound of the last finished
	// run. Every row of the lane at or below it that was committed when
	// that run passed its place is in IoTDB. Nil: no run has finished.
	Mark *backfill.Value `json:"mark,omitempty"`
	// Run is the run in progress (nil between runs).
	Run *LaneRun `json:"run,omitempty"`
}

// LaneRun is a lane's run in progress: it reads [Lo, Hi] in (cursor,
// primary key) order; After is the last row IoTDB acknowledged (nil: none
// yet), so a run resumed after a crash continues strictly after it.
type LaneRun struct {
	Lo    *backfill.Value `json:"lo,omitempty"` // nil: from the lane's smallest value
	Hi    backfill.Value  `json:"hi"`
	After backfill.Key    `json:"after,omitempty"`
	Rows  int64           `json:"rows"` // rows acknowledged by this run so far
}

// LoadState reads the state file: a missing file is a new state (found is
// false); an unreadable, corrupt or other-version file is an error naming
// the file.
func LoadState(path string) (st *State, found bool, err error) {
	st = &State{}
	found, err = atomicfile.ReadJSON(path, StateVersion, st)
	switch {
	case err != nil && !found:
		return nil, false, fmt.Errorf("reading sync state %s: %w", path, err)
	case err != nil:
		return nil, false, fmt.Errorf("sync state %s: %w: restore it, or run with --restart to start over (the tables are copied again)", path, err)
	case !found:
		return newState(), false, nil
	}
	if st.Tables == nil {
		st.Tables = map[string]*TableState{}
	}
	for name, ts := range st.Tables {
		if ts == nil || len(ts.Lanes) != len(ts.Cursor.Columns) || (ts.Phase != PhaseInitial && ts.Phase != PhaseIncremental) ||
			(ts.Phase == PhaseInitial && len(ts.Initial) != len(ts.Lanes)) {
			return nil, false, fmt.Errorf("sync state %s is corrupt (table %s): restore it, or run with --restart to start over", path, name)
		}
	}
	return st, true, nil
}

func newState() *State {
	now := time.Now().UTC()
	return &State{Version: StateVersion, Created: now, Updated: now, Tables: map[string]*TableState{}}
}

// SaveState writes st atomically (temporary file, fsync, rename, fsync of
// the directory), mode 0600.
func SaveState(path string, st *State) error {
	st.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding sync state: %w", err)
	}
	return atomicfile.Write(path, append(b, '\n'))
}

func (st *State) clone() *State {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err) // plain data
	}
	c := &State{}
	if err := json.Unmarshal(b, c); err != nil {
		panic(err)
	}
	return c
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// CopyStatePath is the backfill state of table's first copy, next to the
// sync state (and covered by its lock).
func CopyStatePath(statePath, table string) string {
	name := unsafeName.ReplaceAllString(table, "_")
	if name != table { // two names may clean up alike: tell them apart
		h := fnv.New32a()
		h.Write([]byte(table))
		name += fmt.Sprintf("-%08x", h.Sum32())
	}
	return statePath + ".initial-" + name + ".json"
}

// removeCopyState removes a finished first copy's backfill state.
func removeCopyState(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	// Temporary files an interrupted save left behind.
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), atomicfile.TempPrefix(path)+"*"))
	for _, f := range leftovers {
		_ = os.Remove(f)
	}
	return nil
}
