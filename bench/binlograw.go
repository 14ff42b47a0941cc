package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
)

// binlogPos is a file+offset binlog coordinate, as SHOW MASTER STATUS gives
// it and as the checkpoint file stores it.
type binlogPos struct {
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
}

func (p binlogPos) String() string { return p.File + ":" + strconv.FormatUint(uint64(p.Pos), 10) }

// before orders positions: binlog file names are the same base with a
// zero-padded sequence number, so they sort as strings.
func (p binlogPos) before(q binlogPos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	return p.Pos < q.Pos
}

func parseBinlogPos(s string) (binlogPos, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return binlogPos{}, fmt.Errorf("binlog position %q: want file:pos", s)
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil {
		return binlogPos{}, fmt.Errorf("binlog position %q: %v", s, err)
	}
	return binlogPos{File: s[:i], Pos: uint32(n)}, nil
}

// rawServerID is the replica id of the binlog-raw reader; cdc uses the
// config default (5401). They never run at the same time, but distinct ids
// keep the server from confusing them.
const rawServerID = 5402

// workBinlogRaw is the CDC floor: a bare go-mysql BinlogSyncer reading the
// binlog from o.from to o.to, decoding every rows event and touching every
// value of cdc_readings' rows, and nothing else. It is configured as the
// bridge's streamer configures it (ParseTime, no retry, FillZeroLogPos on
// MariaDB) except for the event buffer, left at go-mysql's default.
func workBinlogRaw(ctx context.Context, o childOpts) (childReport, error) {
	var rep childReport
	from, err := parseBinlogPos(o.from)
	if err != nil {
		return rep, err
	}
	to, err := parseBinlogPos(o.to)
	if err != nil {
		return rep, err
	}
	cfg, err := mysql.ParseDSN(o.dsn)
	if err != nil {
		return rep, err
	}
	host, portS, _ := strings.Cut(cfg.Addr, ":")
	port, _ := strconv.Atoi(portS)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:         rawServerID,
		Flavor:           gomysql.MariaDBFlavor,
		Host:             host,
		Port:             uint16(port),
		User:             cfg.User,
		Password:         cfg.Passwd,
		ParseTime:        true,
		DisableRetrySync: true,
		FillZeroLogPos:   true,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(gomysql.Position{Name: from.File, Pos: from.Pos})
	if err != nil {
		return rep, fmt.Errorf("start sync at %s: %w", from, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	file, pos := from.File, from.Pos
	var sink int64 // values are "touched" into this, so the work is not optimised away
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return rep, fmt.Errorf("at %s:%d after %d rows: %w", file, pos, rep.Rows, err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			if string(e.Table.Table) != cdcTable {
				continue
			}
			for _, row := range e.Rows {
				rep.Rows++
				for ci, v := range row {
					switch v := v.(type) {
					case nil:
					case int64:
						sink += v
					case int32:
						sink += int64(v)
					case float64:
						sink += int64(v)
					case float32:
						sink += int64(v)
					case string:
						sink += int64(len(v))
					case time.Time:
						sink += v.UnixMilli()
					default:
						sink++
					}
					if ci >= 4 && v != nil { // the five measurement columns
						rep.Points++
					}
				}
			}
		}
		// The header's LogPos is the end of this event: past the last
		// commit of the range, stop.
		if ev.Header.LogPos > 0 {
			pos = ev.Header.LogPos
		}
		if ev.Header.LogPos > 0 && !(binlogPos{file, pos}).before(to) {
			break
		}
		if to.File < file {
			return rep, errors.New("passed the end position without reaching it")
		}
	}
	if sink == 42 { // never; keeps sink alive
		fmt.Fprintln(os.Stderr, sink)
	}
	return rep, nil
}
