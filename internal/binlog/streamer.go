package binlog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
)

// Config describes the source server and how the stream behaves. Zero values
// take the defaults named on each field.
type Config struct {
	Host     string // Optional: defaults to 127.0.0.1
	Port     int    // Optional: defaults to 3306
	User     string // Required
	Password string // Optional; never logged
	// ServerID is the replica id the stream registers with. Required: it must
	// be unique among the source's replicas (a duplicate makes the server drop
	// the older connection: see ServerIDInUse).
	ServerID uint32
	Flavor   string      // Required: FlavorMySQL or FlavorMariaDB
	TLS      *tls.Config // Optional: nil connects without TLS
	// Heartbeat is the period the server sends heartbeat events at when the
	// binlog is idle. Optional: defaults to 1s; negative disables heartbeats
	// (and then the dead-connection read timeout as well).
	Heartbeat time.Duration
	// Tables selects the tables whose rows reach Handler.OnRows. Optional:
	// nil passes every table. Commits and DDL are delivered regardless.
	Tables func(schema, table string) bool
	// ColumnNames is consulted when a table map event carries no column names
	// (binlog_row_metadata is not FULL). Optional: without it such an event
	// is an error. Beware: it answers with today's schema, which may not be
	// the schema the event was written with.
	ColumnNames func(ctx context.Context, schema, table string) ([]string, error)
	Log         zerolog.Logger
	Reconnect   Reconnect
	// EventBuffer bounds the events decoded ahead of the handler. Optional:
	// defaults to 256 (go-mysql's own default of 10240 can hold gigabytes).
	EventBuffer int
	// CaughtUpWait is how long the stream waits for the next event before it
	// tells the handler it has caught up. Optional: defaults to 20ms.
	CaughtUpWait time.Duration
}

// Reconnect bounds reconnection after a lost connection.
type Reconnect struct {
	// Backoff is the wait between attempts (Initial, then doubling up to
	// Max) and how long the stream may fail without progress (a commit or
	// a heartbeat) before Run gives up (Elapsed). Optional: zero fields
	// take the configuration's defaults (config.Retry.WithDefaults).
	Backoff config.Retry
	// MaxAttempts ends the stream after this many successive failed
	// connections without progress. Optional: 0 means no count limit.
	MaxAttempts int
	// Sleep waits between attempts. Optional: tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Action is the kind of row change.
type Action uint8

// Row change kinds.
const (
	ActionInsert Action = iota + 1
	ActionUpdate
	ActionDelete
)

func (a Action) String() string {
	switch a {
	case ActionInsert:
		return "insert"
	case ActionUpdate:
		return "update"
	case ActionDelete:
		return "delete"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// RowsEvent is the rows of one binlog rows event: one statement's changes
// to one table, or a slice of them (the server splits large statements into
// events of about binlog_row_event_max_size bytes).
type RowsEvent struct {
	Schema, Table string
	Action        Action
	// Columns are the column names in table order, from the table map event
	// (binlog_row_metadata=FULL) or Config.ColumnNames. Shared: do not modify.
	Columns []string
	// Rows are full row images parallel to Columns. For ActionUpdate they come
	// in pairs: Rows[2i] is the before image, Rows[2i+1] the after image.
	// Values have go-mysql's types (ParseTime on: DATETIME as time.Time in
	// UTC, TIMESTAMP as time.Time in the local zone; DECIMAL as string;
	// integers signed as stored unless TableMap's signedness says otherwise).
	Rows [][]any
	// Pos locates the event: its start offset, as mysqlbinlog's "# at". It is
	// for logs and dirty-row reports, not a resume position.
	Pos Position
	// GTID is the GTID of the transaction the event belongs to ("0-1-42",
	// "uuid:42"), or "" when the source runs without GTIDs.
	GTID string
	// Timestamp is the event header time (seconds since the epoch).
	Timestamp uint32
	// TableMap is go-mysql's table map for the event (column types,
	// signedness, ENUM/SET labels when binlog_row_metadata=FULL).
	TableMap *replication.TableMapEvent
}

// Handler receives the stream. Calls are sequential, from Run's goroutine;
// Run does not read ahead of a call by more than Config.EventBuffer events.
// An error from any method ends Run with that error (no reconnect).
//
// Delivery is at least once: after a reconnect the stream restarts at the
// last commit position, so the rows of a transaction cut by the reconnect
// arrive again. Writes must be idempotent.
type Handler interface {
	// OnRows receives the rows of one event. A large transaction arrives as
	// many calls; nothing buffers a whole transaction.
	OnRows(ctx context.Context, ev *RowsEvent) error
	// OnCommit marks a transaction boundary: an XID event, or a query event
	// that is not BEGIN (non-transactional tables, DDL). pos is the position
	// after the commit, where a restart resumes; ts is the commit event's time.
	OnCommit(ctx context.Context, pos Position, ts uint32) error
	// OnDDL receives a statement logged as a query (DDL and other
	// statement-logged commands) before the OnCommit that follows it. pos is
	// the position after it.
	OnDDL(ctx context.Context, schema, query string, pos Position) error
	// OnHeartbeat fires on the server's idle heartbeat. pos is always a safe
	// resume position: the last commit (or the start of the next binlog file
	// when the server rotated since), never inside a transaction.
	OnHeartbeat(ctx context.Context, pos Position) error
	// OnCaughtUp fires when no further event has arrived within
	// Config.CaughtUpWait: a hint to flush buffered work.
	OnCaughtUp(ctx context.Context) error
}

// Streamer tails one server's binlog. Create it with New; Run it once at a
// time.
type Streamer struct {
	cfg        Config
	log        zerolog.Logger
	reconnects atomic.Int64
	decoded    decodeCounts
	// queued is the event queue of the current connection (nil between
	// connections), for Waiting.
	queued atomic.Pointer[chan queuedEvent]
	// outage says once that the connection was lost and once that it is back.
	outage retry.Outage
}

// New returns a Streamer with defaults applied to cfg. It does not connect.
func New(cfg Config) *Streamer {
	if cfg.Host == "" {
		cfg.Host = config.DefaultMySQLHost
	}
	if cfg.Port == 0 {
		cfg.Port = config.DefaultMySQLPort
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = config.DefaultHeartbeat
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 256
	}
	if cfg.CaughtUpWait <= 0 {
		cfg.CaughtUpWait = 20 * time.Millisecond
	}
	cfg.Reconnect.Backoff = cfg.Reconnect.Backoff.WithDefaults()
	if cfg.Reconnect.Sleep == nil {
		cfg.Reconnect.Sleep = sleepCtx
	}
	return &Streamer{cfg: cfg, log: cfg.Log.With().Str("component", "binlog").Logger()}
}

// DecodeStats counts the rows events decoded so far, by decoder.
func (s *Streamer) DecodeStats() DecodeStats {
	return DecodeStats{Fast: s.decoded.fast.Load(), GoMySQL: s.decoded.fallback.Load(), Skipped: s.decoded.skipped.Load()}
}

// Reconnects returns how many times Run reconnected after a lost connection.
func (s *Streamer) Reconnects() int64 { return s.reconnects.Load() }

func (s *Streamer) validate(from Position) error {
	switch {
	case !ValidFlavor(s.cfg.Flavor):
		return fmt.Errorf("binlog: flavor %q: want mysql or mariadb", s.cfg.Flavor)
	case s.cfg.ServerID == 0:
		return errors.New("binlog: server_id 0 cannot replicate: set a unique non-zero id")
	case s.cfg.User == "":
		return errors.New("binlog: user is required")
	case s.cfg.Port < 0 || s.cfg.Port > 65535:
		return fmt.Errorf("binlog: port %d out of range", s.cfg.Port)
	case from.GTID == "" && from.File == "":
		return errors.New("binlog: no start position (want a file and offset, or a GTID set)")
	}
	if from.GTID != "" {
		if _, err := ParseGTIDSet(s.cfg.Flavor, from.GTID); err != nil {
			return fmt.Errorf("binlog: start position: %w", err)
		}
	}
	return nil
}

// Run streams from the resume position from until ctx is cancelled or an
// error ends it.
//
// from is a position handed out by OnCommit/OnHeartbeat (or by
// CurrentPosition, EarliestPosition, PositionAt): with a GTID set the stream
// starts after that set, otherwise at file:pos, which must be a transaction
// boundary.
//
// On a lost connection Run reconnects with backoff from the last commit
// position; the partial transaction is delivered again. Failures without
// progress are bounded by Config.Reconnect. A binlog the server no longer has
// ends Run with a *PurgedError (errors.Is ErrBinlogPurged). Cancelling ctx
// ends Run with ctx.Err() once the handler has returned from the current
// call.
func (s *Streamer) Run(ctx context.Context, from Position, h Handler) error {
	if err := s.validate(from); err != nil {
		return err
	}
	p, err := newProcessor(s.cfg, from, h)
	if err != nil {
		return err
	}
	// Bounded by Reconnect.Backoff.Elapsed (config.Unbounded: never) and
	// MaxAttempts, both counted without progress.
	loop := retry.NewLoop(s.cfg.Reconnect.Backoff, s.cfg.Reconnect.MaxAttempts)
	for {
		start := p.commit
		p.progress = false
		err := s.runOnce(ctx, p)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe *fatalError
		if errors.As(err, &fe) {
			return fe.err
		}
		permanent, cerr := streamFailure(err, start)
		if permanent {
			return cerr
		}
		wait, giveUp := loop.Failed(p.progress)
		if giveUp {
			return fmt.Errorf("binlog: giving up after %d failed attempts in %s without progress, last at %s: %w",
				loop.Failures(), loop.FailingFor().Round(time.Millisecond), p.commit, err)
		}
		if s.outage.Failed() {
			s.log.Warn().Err(err).Int("attempt", loop.Failures()).Dur("wait_s", wait.Round(time.Millisecond)).Stringer("from", p.commit).
				Msg("MySQL binlog stream lost; reconnecting from the last commit (further attempts log at debug until it is back)")
		} else {
			s.log.Debug().Err(err).Int("attempt", loop.Failures()).Dur("wait_s", wait.Round(time.Millisecond)).Stringer("from", p.commit).
				Msg("MySQL binlog stream still down; reconnecting")
		}
		if err := s.cfg.Reconnect.Sleep(ctx, wait); err != nil {
			return ctx.Err()
		}
		s.reconnects.Add(1)
	}
}

// queuedEvent is one result of go-mysql's GetEvent, queued for the handler.
type queuedEvent struct {
	ev  *replication.BinlogEvent
	err error
}

// fatalError marks an error a reconnect cannot fix (the Handler's, or an
// event the stream cannot deliver faithfully): Run returns it as is.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// runOnce opens one replication connection from p.commit and feeds events to
// p until an error.
func (s *Streamer) runOnce(ctx context.Context, p *processor) error {
	scfg := s.syncerConfig()
	dec := newRowDecoder(s.cfg.Tables, &s.decoded)
	scfg.RowsEventDecodeFunc = dec.decode
	syncer := replication.NewBinlogSyncer(scfg)
	defer syncer.Close()

	from := p.commit
	var (
		st  *replication.BinlogStreamer
		err error
	)
	if p.gset != nil && p.gset.String() != "" {
		st, err = syncer.StartSyncGTID(p.gset.Clone())
	} else {
		st, err = syncer.StartSync(mysql.Position{Name: from.File, Pos: from.Pos})
	}
	if err != nil {
		return fmt.Errorf("binlog: start streaming at %s: %w", from, err)
	}
	if down, ended := s.outage.Recovered(); ended {
		s.log.Info().Dur("down_for_s", down.Round(time.Millisecond)).Stringer("from", from).Msg("MySQL reachable again: binlog stream resumed")
	} else {
		s.log.Info().Stringer("from", from).Msg("binlog stream connected")
	}
	p.reset()

	// A pump moves events from go-mysql's queue into ours, so the handler
	// can ask (Waiting) whether more events are already here: go-mysql does
	// not expose its queue.
	pctx, stopPump := context.WithCancel(ctx)
	queue := make(chan queuedEvent, s.cfg.EventBuffer)
	pumpDone := make(chan struct{})
	// The pump ends when pctx does (GetEvent returns its error): wait for
	// it, so no goroutine of this connection outlives runOnce.
	defer func() { stopPump(); <-pumpDone }()
	go func() {
		defer close(pumpDone)
		for {
			ev, err := st.GetEvent(pctx)
			select {
			case queue <- queuedEvent{ev, err}:
			case <-pctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	s.queued.Store(&queue)
	defer s.queued.Store(nil)

	caughtUp := time.NewTimer(s.cfg.CaughtUpWait)
	defer caughtUp.Stop()
	needCaughtUp := false
	for {
		var it queuedEvent
		if needCaughtUp {
			caughtUp.Reset(s.cfg.CaughtUpWait)
			select {
			case it = <-queue:
			case <-caughtUp.C:
				needCaughtUp = false
				if herr := p.h.OnCaughtUp(ctx); herr != nil {
					return &fatalError{herr}
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			select {
			case it = <-queue:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if it.err != nil {
			return it.err
		}
		if err := p.handle(ctx, it.ev); err != nil {
			return err
		}
		needCaughtUp = true
	}
}

// Waiting reports whether more binlog events have already arrived and wait
// to be handled. A Handler may call it (from its own callbacks) to tell a
// live stream, where a flush now costs nothing in throughput, from a backlog
// being read, where batches should fill.
func (s *Streamer) Waiting() bool {
	q := s.queued.Load()
	return q != nil && len(*q) > 0
}

func (s *Streamer) syncerConfig() replication.BinlogSyncerConfig {
	cfg := replication.BinlogSyncerConfig{
		ServerID:  s.cfg.ServerID,
		Flavor:    s.cfg.Flavor,
		Host:      s.cfg.Host,
		Port:      uint16(s.cfg.Port),
		User:      s.cfg.User,
		Password:  s.cfg.Password,
		TLSConfig: s.cfg.TLS,
		ParseTime: true,
		// UseDecimal off: DECIMAL arrives as its exact decimal text.
		UseDecimal: false,
		// MySQL 8's binary JSON rendered as MySQL renders it in SQL (the
		// text backfill reads), so both paths write the same string
		// (mapping/json.go). MariaDB stores JSON as text: no effect there.
		RenderJSONAsMySQLText: true,
		// We reconnect ourselves, from the last commit: go-mysql's own retry
		// resumes from the last event, mid-transaction, without its table maps.
		DisableRetrySync: true,
		EventCacheCount:  s.cfg.EventBuffer,
		Logger:           goMySQLLogger(s.cfg.Log),
	}
	if s.cfg.Heartbeat > 0 {
		cfg.HeartbeatPeriod = s.cfg.Heartbeat
		// A half-open TCP connection never errors: without a heartbeat for a
		// few periods the connection is considered dead.
		cfg.ReadTimeout = max(3*s.cfg.Heartbeat, 10*time.Second)
	}
	if s.cfg.Flavor == FlavorMariaDB {
		// MariaDB 11.4+ may send events with LogPos 0; go-mysql then computes
		// the offset from the event sizes (needs the annotate-rows events).
		cfg.FillZeroLogPos = true
	}
	return cfg
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
