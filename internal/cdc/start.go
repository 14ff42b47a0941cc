package cdc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/atomicfile"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/checkpoint"
)

// Check is one preflight verdict (the binlog package's type).
type Check = binlog.Check

// preflight runs the source checks: binlog settings and privileges, a
// unique server_id, the checkpoint's binlog still on the server, and the
// mapped tables and columns against the live schema.
func (e *Engine) preflight(ctx context.Context) ([]Check, error) {
	checks, err := binlog.Preflight(ctx, e.db)
	if err != nil {
		return nil, err
	}
	checks = append(checks, e.serverIDCheck(ctx))
	checks = append(checks, e.checkpointCheck(ctx))
	for i := range e.cfg.IoTDB.Mappings {
		m := &e.cfg.IoTDB.Mappings[i]
		c := Check{Name: "table " + m.Table}
		if mp, err := e.wiring.Compile(ctx, m); err != nil {
			c.Detail = err.Error()
		} else {
			c.OK = true
			c.Detail = "mapped columns: " + strings.Join(mp.Columns(), ", ")
		}
		checks = append(checks, c)
	}
	return checks, nil
}

func (e *Engine) serverIDCheck(ctx context.Context) Check {
	id := e.cfg.MySQL.ServerID
	c := Check{Name: "server_id"}
	used, err := binlog.ServerIDInUse(ctx, e.db, id)
	switch {
	case used:
		c.Detail = fmt.Sprintf("%d is already used by the server or another replica: set a unique mysql.server_id", id)
	case errors.Is(err, binlog.ErrNotChecked):
		c.OK, c.Warning = true, true
		c.Detail = err.Error()
	case err != nil:
		c.Detail = err.Error()
	default:
		c.OK = true
		c.Detail = fmt.Sprintf("%d is not in use", id)
	}
	return c
}

// checkpointCheck loads the checkpoint and checks its binlog is still on the
// server: a purged file means changes were lost to us, and only a new
// snapshot can repair that.
func (e *Engine) checkpointCheck(ctx context.Context) Check {
	c := Check{Name: "checkpoint"}
	st, found, err := e.store.Load()
	switch {
	case err != nil:
		c.Detail = err.Error()
		return c
	case !found:
		c.OK = true
		c.Detail = fmt.Sprintf("none at %s: start mode %s", e.store.Path, e.cfg.CDC.Start)
		return c
	case st.Flavor != "" && st.Flavor != e.flavor:
		c.Detail = fmt.Sprintf("%s was written for a %s source, this one is %s", e.store.Path, st.Flavor, e.flavor)
		return c
	case st.Position.File == "":
		c.OK = true
		c.Detail = fmt.Sprintf("%s at %s", e.store.Path, st.Position)
		return c
	case e.otherServer(st) && st.Position.GTID == "":
		c.Detail = fmt.Sprintf("%s was written on another server (source %s, this is %s) and holds only a file and offset (%s), "+
			"which mean something else on this server: point cdc back at that server, or start over here (cdc --reset; cdc.start: initial); "+
			"with GTIDs on the source, a checkpoint carries a GTID set and follows a failover by itself",
			e.store.Path, savedIdentity(st), e.identity, st.Position)
		return c
	case e.otherServer(st):
		c.OK, c.Warning = true, true
		c.Detail = fmt.Sprintf("%s was written on another server (source %s, this is %s): resuming by its GTID set %s (a failover)",
			e.store.Path, savedIdentity(st), e.identity, st.Position.GTID)
		return c
	}
	has, err := binlog.HasBinlog(ctx, e.db, st.Position.File)
	switch {
	case err != nil:
		c.OK, c.Warning = true, true
		c.Detail = fmt.Sprintf("%s at %s; could not list the binlogs: %v", e.store.Path, st.Position, err)
	case !has && st.Position.GTID != "" && st.SourceServerID == 0:
		// A checkpoint from before the server's identity was recorded: the
		// file may be purged, or this may be another server. The GTID set
		// decides; the stream reports a purge if it is that.
		c.OK, c.Warning = true, true
		c.Detail = fmt.Sprintf("%s at %s: binlog file %s is not on this server; resuming by the GTID set", e.store.Path, st.Position, st.Position.File)
	case !has:
		e.purged = true
		if e.cfg.CDC.OnPurged == config.OnPurgedResnapshot {
			c.OK, c.Warning = true, true
			c.Detail = fmt.Sprintf("%s resumes at %s, but binlog file %s was purged: cdc.on_purged is resnapshot, so the cdc state is discarded and the mapped tables are snapshotted again",
				e.store.Path, st.Position, st.Position.File)
			return c
		}
		c.Detail = purgedAdvice(e.store.Path, st.Position)
	default:
		c.OK = true
		c.Detail = fmt.Sprintf("%s at %s (binlog present)", e.store.Path, st.Position)
	}
	return c
}

func purgedAdvice(path string, pos binlog.Position) string {
	return fmt.Sprintf("the checkpoint %s resumes at %s, but binlog file %s is no longer on the server (purged): "+
		"the changes since then cannot be streamed. Start over with a new snapshot: run `cdc --reset` (it removes the checkpoint "+
		"and the snapshot state together) and start again with cdc.start: initial, or set cdc.on_purged: resnapshot to do this by itself",
		path, pos, pos.File)
}

// otherServer reports whether a checkpoint was written on another source
// server than the one connected to (false when it does not say).
func (e *Engine) otherServer(st *checkpoint.State) bool {
	if st.SourceServerID == 0 {
		return false
	}
	return st.SourceServerID != e.identity.ServerID || (st.ServerUUID != "" && e.identity.ServerUUID != "" && st.ServerUUID != e.identity.ServerUUID)
}

func savedIdentity(st *checkpoint.State) binlog.Identity {
	return binlog.Identity{ServerID: st.SourceServerID, ServerUUID: st.ServerUUID}
}

// failedChecks renders the failed checks, one per line, or "".
func failedChecks(checks []Check) string {
	var b strings.Builder
	for _, c := range checks {
		if !c.OK {
			fmt.Fprintf(&b, "  FAIL %s: %s\n", c.Name, c.Detail)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// startPosition decides where the stream starts. A checkpoint wins over
// cdc.start. Without one, the start mode gives the position; the state is
// saved at once so a restart before the first commit does not re-resolve a
// moving target such as latest.
//
// The state's per-table entries record whether each table is covered:
// SnapshotDone with a zero SnapshotAt means "no snapshot needed" (start modes
// other than initial); a mapped table without an entry was added to the
// mappings since and gets a snapshot of its own under start: initial.
func (e *Engine) startPosition(ctx context.Context, st *checkpoint.State, found bool, mode string) (binlog.Position, error) {
	if found {
		if st.Flavor != "" && st.Flavor != e.flavor {
			return binlog.Position{}, fmt.Errorf("cdc: checkpoint %s was written for a %s source, this one is %s", e.store.Path, st.Flavor, e.flavor)
		}
		if st.Tables == nil {
			st.Tables = map[string]checkpoint.TableSnapshot{}
		}
		changed := false
		for _, name := range e.tableNames() {
			if _, ok := st.Tables[name]; ok {
				continue
			}
			changed = true
			if mode == config.StartInitial {
				st.Tables[name] = checkpoint.TableSnapshot{SnapshotPosition: st.Position}
				e.log.Info().Str("table", name).Msg("table added to the mappings: it is snapshotted now, then streamed from the checkpoint with the others")
			} else {
				st.Tables[name] = checkpoint.TableSnapshot{SnapshotDone: true, SnapshotPosition: st.Position}
				e.log.Warn().Str("table", name).Str("start", e.cfg.CDC.Start.String()).
					Msg("table added to the mappings: streamed from the checkpoint on, without its history (run backfill for it, or use start: initial)")
			}
		}
		if e.otherServer(st) {
			// Preflight allowed it: the GTID set carries over. The file
			// and offset are the old server's: the stream replaces them.
			e.log.Warn().Stringer("was", savedIdentity(st)).Stringer("now", e.identity).Str("gtid", st.Position.GTID).
				Msg("the checkpoint was written on another server: resuming by its GTID set (failover)")
			st.Position = binlog.Position{GTID: st.Position.GTID}
			changed = true
		}
		if st.SourceServerID != e.identity.ServerID || st.ServerUUID != e.identity.ServerUUID {
			st.SourceServerID, st.ServerUUID = e.identity.ServerID, e.identity.ServerUUID
			changed = true
		}
		e.state = st
		if st.Flavor == "" {
			st.Flavor = e.flavor
		}
		if changed {
			if err := e.saveState(); err != nil {
				return binlog.Position{}, err
			}
		}
		e.mu.Lock()
		e.lastSaved = st.Position
		e.mu.Unlock()
		e.metrics.checkpointSaved(st.Position, st.SavedAt)
		ev := e.log.Info().Str("checkpoint", e.store.Path)
		if st.Position.GTID != "" {
			// The server finds the place from the GTID set; the file and
			// offset beside it (hand-edited or not) are not used to resume.
			ev = ev.Str("resume_by", "gtid set").Str("gtid_set", st.Position.GTID).
				Str("file_pos_not_used", binlog.Position{File: st.Position.File, Pos: st.Position.Pos}.String())
		} else {
			ev = ev.Str("resume_by", "file and offset").Stringer("position", st.Position)
		}
		ev.Msg("resuming from the checkpoint")
		return st.Position, nil
	}

	var (
		from binlog.Position
		err  error
	)
	switch mode {
	case config.StartInitial, config.StartLatest:
		// initial: recorded BEFORE the snapshot, so the stream covers every
		// change the snapshot may have missed.
		from, err = binlog.CurrentPosition(ctx, e.db, e.flavor)
	case config.StartEarliest:
		from, err = binlog.EarliestPosition(ctx, e.db)
	case config.StartPosition:
		from = binlog.Position{File: e.cfg.CDC.Start.File, Pos: e.cfg.CDC.Start.Pos}
		var has bool
		if has, err = binlog.HasBinlog(ctx, e.db, from.File); err == nil && !has {
			err = fmt.Errorf("cdc.start: binlog file %s is not on the server (see SHOW BINARY LOGS)", from.File)
		}
	case config.StartGTID:
		var g string
		if g, err = binlog.NormalizeGTID(e.flavor, e.cfg.CDC.Start.GTID); err == nil {
			from = binlog.Position{GTID: g}
		}
	case config.StartTimestamp:
		from, err = e.streamer.PositionAt(ctx, e.db, e.cfg.CDC.Start.Timestamp)
	case config.StartBackfill:
		from, err = e.handOver(ctx)
	default:
		err = fmt.Errorf("cdc.start: unknown mode %q", mode)
	}
	if err != nil {
		return binlog.Position{}, fmt.Errorf("cdc: start position (%s): %w", e.cfg.CDC.Start, err)
	}
	if from.GTID == "" && from.File != "" && e.flavor == binlog.FlavorMariaDB {
		// Record the GTID position of a file/offset start too, so the
		// checkpoint can follow a failover from the first save on.
		if g, gerr := binlog.GTIDAt(ctx, e.db, from); gerr != nil {
			e.log.Warn().Err(gerr).Stringer("position", from).Msg("no GTID position for the start position; a failover needs a new start")
		} else {
			from.GTID = g
		}
	}
	st = &checkpoint.State{Flavor: e.flavor, Position: from, Tables: map[string]checkpoint.TableSnapshot{}, ServerID: e.cfg.MySQL.ServerID,
		SourceServerID: e.identity.ServerID, ServerUUID: e.identity.ServerUUID}
	for _, name := range e.tableNames() {
		st.Tables[name] = checkpoint.TableSnapshot{SnapshotDone: mode != config.StartInitial, SnapshotPosition: from}
	}
	e.state = st
	if err := e.saveState(); err != nil {
		return binlog.Position{}, err
	}
	e.log.Info().Str("start", e.cfg.CDC.Start.String()).Stringer("position", from).Msg("no checkpoint: starting from the start mode")
	return from, nil
}

func (e *Engine) tableNames() []string {
	var out []string
	for i := range e.cfg.IoTDB.Mappings {
		out = append(out, e.cfg.IoTDB.Mappings[i].Table)
	}
	return out
}

// snapshotStatePath is the backfill state file of cdc's snapshots, next to
// the checkpoint (removed once every snapshot finished).
func (e *Engine) snapshotStatePath() string { return SnapshotStatePath(e.store.Path) }

// SnapshotStatePath is the snapshot state file that goes with a checkpoint.
func SnapshotStatePath(checkpoint string) string { return checkpoint + ".snapshot.json" }

// snapshotTag ties a snapshot's state file to the stream position the
// snapshot was taken for.
func snapshotTag(p binlog.Position) string { return "cdc snapshot for stream position " + p.String() }

// Reset removes every piece of cdc state of cfg together: the checkpoint,
// the snapshot state and the temporary files of an interrupted save. It
// returns the files it removed. The next start begins from cdc.start.
func Reset(cfg *config.Config) ([]string, error) {
	cp := cfg.CDC.WithDefaults().Checkpoint.Path
	paths := []string{cp, SnapshotStatePath(cp)}
	for _, p := range []string{cp, SnapshotStatePath(cp)} {
		tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(p), atomicfile.TempPrefix(p)) + "*")
		paths = append(paths, tmps...)
	}
	var removed []string
	for _, p := range paths {
		err := os.Remove(p)
		switch {
		case err == nil:
			removed = append(removed, p)
		case errors.Is(err, os.ErrNotExist):
		default:
			return removed, fmt.Errorf("cdc reset: %w", err)
		}
	}
	return removed, nil
}

// snapshots copies the tables whose snapshot is not done, with the backfill
// engine, while the stream is not running (so the others are paused, not
// re-snapshotted). The stream then starts from the checkpoint position for
// every table. For a table added later, that position is older than its
// snapshot: its events since the checkpoint are replayed over the fresh
// copy. That converges: every event sets the full mapped state of its key
// (an INSERT or UPDATE writes the whole after-image and deletes what became
// NULL, a DELETE removes the point), events are applied in binlog order,
// and IoTDB writes are idempotent per key, so after the replay each key
// holds the value of its last change, which is the source's current value,
// and keys not changed since the checkpoint keep the snapshot's value. With
// on_update/on_delete: ignore the result is what streaming would have given
// (an ignored delete leaves the row, as it would have live).
//
// The same argument covers start: initial, whose position is taken before
// the snapshot of all tables.
func (e *Engine) snapshots(ctx context.Context) error {
	var names []string
	for _, name := range e.tableNames() {
		if ts := e.state.Tables[name]; !ts.SnapshotDone {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	e.log.Info().Strs("tables", names).Stringer("stream_from", e.state.Position).Msg("snapshot: copying tables before streaming")
	e.metrics.phase.Store("snapshot of " + strings.Join(names, ", ") + " in progress (rows and ETA in the log every 10s)")
	e.metrics.snapshotting.Set(1)
	defer e.metrics.snapshotting.Set(0)
	statePath := e.snapshotStatePath()
	// The snapshot belongs to the stream position it is taken for: after a
	// reset or a deleted checkpoint the position is new, and a leftover
	// state of the old one must not be resumed (its plan ends at the old
	// MAX, and the rows written between the two positions would be in
	// neither the snapshot nor the stream).
	sum, err := e.wiring.Snapshot(ctx, names, statePath, snapshotTag(e.state.Position), snapshotProgress{e.metrics})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ErrSnapshotInterrupted) {
			e.log.Info().Str("state", statePath).Msg("snapshot interrupted; it resumes on the next start")
			return nil
		}
		return fmt.Errorf("cdc: snapshot: %w", err)
	}
	e.log.Info().Str("summary", sum).Msg("snapshot done")
	now := time.Now().UTC()
	e.mu.Lock()
	for _, name := range names {
		ts := e.state.Tables[name]
		ts.SnapshotDone, ts.SnapshotAt = true, now
		e.state.Tables[name] = ts
	}
	e.mu.Unlock()
	if err := e.saveState(); err != nil {
		return err
	}
	if err := os.Remove(statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		e.log.Warn().Err(err).Msg("removing the snapshot state file")
	}
	return nil
}

// handOver is the start position of start: backfill: the position a
// finished backfill read before it planned. Every mapped table must have
// been copied by that backfill; its changes since that position are then
// streamed, so there is no gap and no second copy (a change the copy
// already saw is applied again, which is harmless: docs/delivery.md §1.2).
func (e *Engine) handOver(ctx context.Context) (binlog.Position, error) {
	pos, flavor, tables, err := e.wiring.HandOver(ctx)
	if err != nil {
		return binlog.Position{}, err
	}
	if flavor != "" && flavor != e.flavor {
		return binlog.Position{}, fmt.Errorf("the backfill read a %s source, this one is %s", flavor, e.flavor)
	}
	copied := map[string]bool{}
	for _, t := range tables {
		copied[t] = true
	}
	var missing []string
	for _, name := range e.tableNames() {
		if !copied[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return binlog.Position{}, fmt.Errorf("mapped tables not copied by that backfill: %s; run backfill for them first (then start cdc again), or use start: initial",
			strings.Join(missing, ", "))
	}
	e.log.Info().Stringer("position", pos).Strs("tables", tables).Msg("hand-over: streaming from the position the backfill recorded before it copied")
	return pos, nil
}
