package binlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// PositionAt finds where to start streaming so that every transaction
// committed at or after ts is delivered.
//
// The binlog has no index by time, so it reads it: first the header
// timestamp of each file (the time the file was opened: one short binlog
// connection per probe, binary search over SHOW BINARY LOGS), then the
// chosen file from its start up to the first transaction whose commit event
// is stamped at or after ts (or the end of the binlog). The result is the
// commit position just before that transaction. Event times have one second
// resolution and are not strictly ordered (they are the statement's start
// time), so a few transactions from just before ts may be delivered too;
// none at or after it is skipped.
//
// It needs the stream's replication connection (Config) as well as db (for
// SHOW BINARY LOGS and SHOW MASTER STATUS); it registers with
// Config.ServerID, so do not run it while a stream with that id runs. When
// ts is before the oldest file the server has, the error wraps
// ErrBinlogPurged.
func (s *Streamer) PositionAt(ctx context.Context, db *sql.DB, ts time.Time) (Position, error) {
	if err := s.validate(Position{File: "-"}); err != nil {
		return Position{}, err
	}
	logs, err := BinaryLogs(ctx, db)
	if err != nil {
		return Position{}, err
	}
	if len(logs) == 0 {
		return Position{}, errors.New("binlog: position at time: the server lists no binary logs")
	}
	end, err := CurrentPosition(ctx, db, s.cfg.Flavor)
	if err != nil {
		return Position{}, err
	}
	target := ts.Unix()

	first, err := s.fileStart(ctx, logs[0])
	if err != nil {
		return Position{}, err
	}
	if first > target {
		return Position{}, fmt.Errorf("binlog: position at %s: %w: the oldest binlog %s starts at %s; use start: earliest to stream what is left",
			ts.UTC().Format(time.RFC3339), ErrBinlogPurged, logs[0], time.Unix(first, 0).UTC().Format(time.RFC3339))
	}
	// Last file opened at or before ts: files [0, i) start <= target.
	var probeErr error
	i := sort.Search(len(logs), func(i int) bool {
		if i == 0 || probeErr != nil {
			return false
		}
		start, err := s.fileStart(ctx, logs[i])
		if err != nil {
			probeErr = err
			return false
		}
		return start > target
	})
	if probeErr != nil {
		return Position{}, probeErr
	}
	from := Position{File: logs[i-1], Pos: 4}
	return s.scanTo(ctx, from, uint32(target), end)
}

// fileStart returns the header time of the first real event of file (its
// format description event).
func (s *Streamer) fileStart(ctx context.Context, file string) (int64, error) {
	syncer := replication.NewBinlogSyncer(s.syncerConfig())
	defer syncer.Close()
	st, err := syncer.StartSync(mysql.Position{Name: file, Pos: 4})
	if err != nil {
		return 0, fmt.Errorf("binlog: reading the start of %s: %w", file, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ev, err := st.GetEvent(rctx)
		if err != nil {
			_, cerr := streamFailure(err, Position{File: file, Pos: 4})
			return 0, fmt.Errorf("binlog: reading the start of %s: %w", file, cerr)
		}
		if ev.Header.Timestamp != 0 {
			return int64(ev.Header.Timestamp), nil
		}
	}
}

var errScanDone = errors.New("scan done")

// scanHandler stops at the first commit stamped at or after target.
type scanHandler struct {
	target uint32
	end    Position
	last   Position
}

func (h *scanHandler) OnRows(context.Context, *RowsEvent) error { return nil }
func (h *scanHandler) OnDDL(context.Context, string, string, Position) error {
	return nil
}
func (h *scanHandler) OnCaughtUp(context.Context) error { return nil }

func (h *scanHandler) OnCommit(_ context.Context, pos Position, ts uint32) error {
	if ts >= h.target {
		return errScanDone // h.last: the commit before this transaction
	}
	h.last = pos
	if pos.Compare(h.end) >= 0 {
		return errScanDone // reached the end of the binlog as it was
	}
	return nil
}

func (h *scanHandler) OnHeartbeat(_ context.Context, pos Position) error {
	h.last = pos // idle: everything written so far is before target
	return errScanDone
}

func (s *Streamer) scanTo(ctx context.Context, from Position, target uint32, end Position) (Position, error) {
	h := &scanHandler{target: target, end: end, last: from}
	p, err := newProcessor(s.cfg, from, h)
	if err != nil {
		return Position{}, err
	}
	err = s.runOnce(ctx, p)
	if errors.Is(err, errScanDone) {
		return Position{File: h.last.File, Pos: h.last.Pos}, nil
	}
	if ctx.Err() != nil {
		return Position{}, ctx.Err()
	}
	_, cerr := streamFailure(err, from)
	return Position{}, fmt.Errorf("binlog: scanning %s for a time: %w", from, cerr)
}
