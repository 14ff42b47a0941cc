// Package iotdbsink writes mapped points to Apache IoTDB. Backfill and cdc
// share it.
//
// Write groups points per (schema, device) into time-sorted, de-duplicated
// tablets and sends many tablets per RPC. Transport errors and busy statuses
// are retried with backoff on fresh sessions; permanent statuses (type
// mismatch, illegal path, ...) become Rejections that name the device, so
// the good devices of a batch are written and the bad rows can go to the
// dirty-rows file. Every RPC runs under a deadline of our own, because the
// IoTDB Go client has no read timeout.
package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Result is the outcome of one Write.
type Result struct {
	Points   int         // input points written (duplicates merged into a written row count too)
	Tablets  int         // tablets acknowledged by the server
	Rejected []Rejection // points IoTDB refused for good; everything else was written
}

// Rejection is a set of points refused with a permanent status.
type Rejection struct {
	Device  string
	Schema  *mapping.Schema
	Code    int32  // IoTDB status code; 0 when the sink itself refused the point (invalid value)
	Message string // the server's message, or why the sink refused
	Points  []int  // indexes into the points passed to Write
	Partial bool   // some measurements of these points may have been written (507 with partial insert)
	// Systemic says the refusal concerns the series, device or database, not
	// the row: every row of the series would be refused (missing database or
	// series with creation off, type conflict with the existing series; see
	// systemic.go). The engines stop on it (Err) instead of recording dirty rows.
	Systemic bool
}

// Deletion removes the point of one device at one time.
type Deletion struct {
	Schema *mapping.Schema
	Device string
	Time   int64
	// Measurements are indexes into Schema.Measurements; nil means all of them.
	// The table model deletes whole rows and ignores it.
	Measurements []int
}

// Metrics receives the sink's observations; cdc wires it to Prometheus.
// Implementations must be safe for concurrent use.
type Metrics interface {
	// RPC is called after every write/delete/schema call with its duration and
	// outcome (err nil on success).
	RPC(op string, d time.Duration, err error)
	// Retried is called before each retry; code is the IoTDB status (0 for a
	// transport error or deadline).
	Retried(op string, code int32)
	// Rejected counts points refused for good.
	Rejected(points int, code int32)
}

type nopMetrics struct{}

func (nopMetrics) RPC(string, time.Duration, error) {}
func (nopMetrics) Retried(string, int32)            {}
func (nopMetrics) Rejected(int, int32)              {}

// Sink writes points to IoTDB. Its methods are safe for concurrent use;
// concurrent Writes use different sessions of the pool.
type Sink struct {
	cfg     config.IoTDB
	log     zerolog.Logger
	metrics Metrics
	table   bool

	pool      *pool
	precision string
	tls       *sinkTLS // iotdb.tls (tls.go); nil: plain

	schemas schemaCache
	tmplMu  sync.Mutex   // puts one device template in place at a time (template.go)
	outage  retry.Outage // one line when IoTDB goes away, one when it is back

	infoMu sync.Mutex
	infos  map[*mapping.Schema]*schemaInfo
}

// schemaInfo is the wire form of a mapping.Schema, computed once.
type schemaInfo struct {
	types []int32
	cats  []int8
	// Request size estimates (makeChunks): the measurement names' bytes,
	// and per row the timestamp, one type byte per value (records) and the
	// fixed-width values; text columns add their lengths per row.
	namesBytes int
	fixedRow   int
	varCols    []int
	// recordNames is a record's measurement list when no value is NULL,
	// encoded (records.go): most rows copy it whole.
	recordNames []byte
}

// rowBytes estimates the encoded size of row r of g.
func (in *schemaInfo) rowBytes(g *group, r int) int {
	n := in.fixedRow
	for _, c := range in.varCols {
		switch v := g.vals[r][c].(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		}
	}
	return n
}

// New validates cfg and applies defaults. It does no I/O.
func New(cfg config.IoTDB, log zerolog.Logger) (*Sink, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("iotdb.nodes: at least one host:port is required")
	}
	switch cfg.Model {
	case "":
		cfg.Model = "tree"
	case "tree", "table":
	default:
		return nil, fmt.Errorf("iotdb.model: %q is not tree or table", cfg.Model)
	}
	if cfg.Model == "table" && cfg.Database == "" {
		return nil, errors.New("iotdb.database: required with model table")
	}
	switch cfg.Precision {
	case "auto":
		cfg.Precision = ""
	case "", "ms", "us", "ns":
	default:
		return nil, fmt.Errorf("iotdb.timestamp_precision: %q is not auto, ms, us or ns", cfg.Precision)
	}
	cfg = cfg.WithDefaults()
	st, err := newSinkTLS(cfg.TLS) // tls.go
	if err != nil {
		return nil, err
	}
	return &Sink{
		tls:     st,
		cfg:     cfg,
		log:     log.With().Str("component", "iotdbsink").Logger(),
		metrics: nopMetrics{},
		table:   cfg.Model == "table",
		schemas: newSchemaCache(),
		infos:   make(map[*mapping.Schema]*schemaInfo),
	}, nil
}

// SetMetrics installs m; call it before Open.
func (s *Sink) SetMetrics(m Metrics) {
	if m == nil {
		m = nopMetrics{}
	}
	s.metrics = m
}

// Open connects cfg.Sessions sessions (spread over cfg.Nodes), checks the
// credentials (the openSession status carries the login result), and learns
// the server's timestamp precision. Unreachable servers are retried per
// cfg.Retry; a wrong password is not.
func (s *Sink) Open(ctx context.Context) error {
	if s.pool != nil {
		return errors.New("iotdb sink: already open")
	}
	s.pool = newPool(s.cfg.Nodes, s.cfg.Sessions, sessionConfig{
		user: s.cfg.User, password: s.cfg.Password,
		table: s.table, database: s.cfg.Database,
		timeout: s.cfg.WriteTimeout, tls: s.tls,
	})
	slots := make([]*slot, 0, s.cfg.Sessions)
	defer func() {
		for _, sl := range slots {
			s.pool.release(sl)
		}
	}()
	for len(slots) < s.cfg.Sessions {
		var sl *slot
		err := s.retry(ctx, "openSession", func() error {
			var err error
			sl, err = s.pool.acquire(ctx)
			return err
		})
		if err != nil {
			return err
		}
		slots = append(slots, sl)
	}
	server := slots[0].s.precision
	if server == "" {
		server = "ms" // what the client assumes when the server does not say
	}
	switch {
	case s.cfg.Precision == "":
		s.precision = server
	case slots[0].s.precision != "" && s.cfg.Precision != server:
		return fmt.Errorf("iotdb.timestamp_precision is %s but the server on %s uses %s", s.cfg.Precision, slots[0].s.node, server)
	default:
		s.precision = s.cfg.Precision
	}
	if s.table && s.cfg.CreateSchema {
		sess := slots[0].s
		stmt := "CREATE DATABASE IF NOT EXISTS " + sqlIdent(s.cfg.Database)
		if err := s.retry(ctx, "createDatabase", func() error {
			return s.timed("createDatabase", func() error { return sess.exec(ctx, s.cfg.WriteTimeout, stmt) })
		}); err != nil && statusCode(err) != client.DatabaseAlreadyExists {
			return fmt.Errorf("creating database %s: %w", s.cfg.Database, err)
		}
	}
	s.log.Info().Strs("nodes", s.cfg.Nodes).Str("user", s.cfg.User).Str("model", s.cfg.Model).
		Int("sessions", s.cfg.Sessions).Str("precision", s.precision).Msg("iotdb sink open")
	return nil
}

// Precision is the timestamp precision of the server ("ms", "us" or "ns"),
// known after Open.
func (s *Sink) Precision() string {
	if s.precision == "" {
		return s.cfg.Precision
	}
	return s.precision
}

// Close ends every session. It waits for in-flight Writes and Deletes (cancel
// their ctx first to stop their retries); later calls fail.
func (s *Sink) Close() error {
	if s.pool != nil {
		s.pool.close()
	}
	return nil
}

// Write writes pts. Points with equal (schema, device, time) are merged
// (later non-NULL values win; see tablet.go). It returns an error only when
// the batch must be redone as a whole (IoTDB unreachable past the retry
// budget, ctx ended); then some of it may have been written already, which is
// harmless because writes are idempotent. Permanent refusals are returned in
// Result.Rejected and everything else has been written.
func (s *Sink) Write(ctx context.Context, pts []mapping.Point) (Result, error) {
	var res Result
	if len(pts) == 0 {
		return res, nil
	}
	if s.pool == nil {
		return res, errors.New("iotdb sink: Write before Open")
	}
	b := getBatch()
	defer putBatch(b)
	b.build(pts)
	for _, bp := range b.bad {
		p := &pts[bp.index]
		s.reject(&res, Rejection{Device: p.Device, Schema: p.Schema, Message: "invalid point: " + bp.msg, Points: []int{bp.index}})
	}
	if s.table {
		s.checkTableGroups(b, &res)
	} else if s.cfg.CreateSchema {
		if err := s.ensureSchema(ctx, b.groups, &res); err != nil {
			return res, err
		}
	}
	for _, ch := range s.makeChunks(b.groups) {
		ch.records = !s.table && ch.rows < 2*len(ch.segs) // few rows per device: records (see chunk)
		if err := s.sendChunk(ctx, ch, &res, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkTableGroups rejects table-model groups that cannot go to the session's
// database.
func (s *Sink) checkTableGroups(b *batch, res *Result) {
	for i := range b.groups {
		g := &b.groups[i]
		sc := g.schema
		var msg string
		switch {
		case sc.TargetTable == "":
			msg = "schema has no target table"
		case sc.Database != "" && sc.Database != s.cfg.Database:
			msg = fmt.Sprintf("schema database %q differs from iotdb.database %q", sc.Database, s.cfg.Database)
		case len(sc.Categories) != len(sc.Measurements):
			msg = "schema has no column categories"
		default:
			continue
		}
		g.rejected = true
		s.reject(res, Rejection{Device: g.device, Schema: sc, Message: msg, Points: g.points(0, g.rows())})
	}
}

func (s *Sink) reject(res *Result, r Rejection) {
	r.Systemic = systemicClassOf(r.Code, r.Message) != notSystemic
	res.Rejected = append(res.Rejected, r)
	s.metrics.Rejected(len(r.Points), r.Code)
	s.log.Warn().Str("device", r.Device).Int32("code", r.Code).Str("message", r.Message).
		Int("points", len(r.Points)).Bool("partial", r.Partial).Bool("systemic", r.Systemic).Msg("iotdb rejected points")
}

// chunk is the content of one insert RPC: tree: tablets of one alignment
// (insertTablets), or the same rows as records (insertRecords); table
// model: rows of one table, of any number of devices (one relational
// insertTablet: the tag columns tell the devices apart, docs/iotdb.md §6).
//
// Tree model, the call follows the shape of the chunk (docs/iotdb.md §2.6):
// a chunk of few large devices goes as tablets (one per device, the
// columnar form IoTDB writes fastest), a chunk of many devices with about
// one row each (a fleet: fewer than two rows per device on average) as
// records, one per row, which is what IoTDB's maintainers advise for rows
// of distinct devices and what its Java client switches to by itself.
type chunk struct {
	aligned bool
	schema  *mapping.Schema // table model
	segs    []segment
	rows    int
	bytes   int  // estimated request size
	records bool // tree: send as insertRecords
}

// makeChunks cuts the groups into chunks of at most cfg.Batch.Rows rows and
// about cfg.Batch.MaxBytes bytes, keeping first-appearance order. A group
// bigger than either is split by time; a single row larger than the byte
// bound goes alone.
func (s *Sink) makeChunks(groups []group) []chunk {
	limit, maxBytes := s.cfg.Batch.Rows, s.cfg.Batch.MaxBytes
	if maxBytes <= 0 {
		maxBytes = config.DefaultBatchMaxBytes
	}
	var done []chunk
	var open []chunk
	var lastSchema *mapping.Schema
	var in *schemaInfo
	for gi := range groups {
		g := &groups[gi]
		if g.rejected || g.rows() == 0 {
			continue
		}
		if g.schema != lastSchema { // one lookup per run of groups of a schema, not per device
			lastSchema, in = g.schema, s.info(g.schema)
		}
		k := -1
		for i := range open {
			if (s.table && open[i].schema == g.schema) || (!s.table && open[i].aligned == g.schema.Aligned) {
				k = i
				break
			}
		}
		segCap := min(len(groups)-gi, limit) // a fleet batch has a segment per device: no regrowing
		if k < 0 {
			open = append(open, chunk{aligned: g.schema.Aligned || s.table, schema: g.schema, segs: make([]segment, 0, segCap)})
			k = len(open) - 1
		}
		// A row is estimated in the records form, the larger of the two
		// for rows (each record repeats its device and names), so that
		// whichever form the chunk is sent in fits.
		segHead := len(g.device) + in.namesBytes + 4*len(g.schema.Types) + 48
		rowHead := len(g.device) + in.namesBytes + 12
		if s.table {
			segHead, rowHead = 0, 0 // one tablet: the names are counted once per chunk
		}
		for lo := 0; lo < g.rows(); {
			c := &open[k]
			if c.rows >= limit || (c.rows > 0 && c.bytes+segHead+rowHead+in.rowBytes(g, lo) > maxBytes) {
				done = append(done, *c)
				*c = chunk{aligned: c.aligned, schema: c.schema, segs: make([]segment, 0, segCap)}
			}
			if c.rows == 0 && s.table {
				c.bytes = in.namesBytes + 4*len(g.schema.Types) + 64
			}
			c.bytes += segHead
			hi := lo
			for hi < g.rows() && c.rows+hi-lo < limit {
				rb := rowHead + in.rowBytes(g, hi)
				if hi > lo && c.bytes+rb > maxBytes {
					break
				}
				c.bytes += rb
				hi++
			}
			c.segs = append(c.segs, segment{g: g, lo: lo, hi: hi})
			c.rows += hi - lo
			lo = hi
		}
	}
	for _, c := range open {
		if len(c.segs) > 0 {
			done = append(done, c)
		}
	}
	return done
}

// sendChunk writes one chunk with retries. A permanent failure is narrowed
// down to the failing tablets (302 sub-statuses, else halves of the chunk
// down to one tablet) and turned into Rejections. It returns an error only
// when the chunk could not be written for a transient reason. A refusal
// for missing series of devices under a device template (a server with
// auto-create off does not activate templates on write) activates the
// templates once and sends again.
func (s *Sink) sendChunk(ctx context.Context, ch chunk, res *Result, activated bool) error {
	enc := s.encode(ch)
	defer enc.free()
	op := "insertTablets"
	switch {
	case s.table:
		op = "insertTablet"
	case ch.records:
		op = "insertRecords"
	}
	err := s.retry(ctx, op, func() error {
		return s.withSession(ctx, op, func(sess *session) error { return enc.send(ctx, sess, s.cfg.WriteTimeout) })
	})
	if err == nil {
		for _, sg := range ch.segs {
			res.Points += int(sg.g.rowStart[sg.hi] - sg.g.rowStart[sg.lo])
		}
		if s.table {
			res.Tablets++
		} else {
			res.Tablets += len(ch.segs)
		}
		return nil
	}
	var se *StatusError
	if ctx.Err() != nil || Retryable(err) || !errors.As(err, &se) {
		return err
	}
	if !activated && !s.table && s.cfg.CreateSchema && s.templateMissing(ch, se) {
		ok, aerr := s.activateTemplates(ctx, ch)
		if aerr != nil {
			return aerr
		}
		if ok {
			return s.sendChunk(ctx, ch, res, true)
		}
	}
	if len(ch.segs) == 1 {
		sg := ch.segs[0]
		code, msg := se.Code, se.Message
		if code == client.MultipleError {
			code, msg = firstFailure(se)
		}
		if code == client.MetadataError {
			s.schemas.forget(sg.g.device) // re-learn the device's series next time
		}
		s.reject(res, Rejection{
			Device: sg.g.device, Schema: sg.g.schema, Code: code, Message: msg,
			Points: sg.g.points(sg.lo, sg.hi), Partial: code == client.MetadataError,
		})
		return nil
	}
	if !s.table && !ch.records && se.Code == client.MultipleError && len(se.Sub) == len(ch.segs) {
		// One sub-status per tablet: resend only the failed ones, one by one,
		// so each gets its own retry budget or rejection.
		for i, sub := range se.Sub {
			if sub == nil || sub.Code == client.SuccessStatus || sub.Code == client.RedirectionRecommend {
				sg := ch.segs[i]
				res.Points += int(sg.g.rowStart[sg.hi] - sg.g.rowStart[sg.lo])
				res.Tablets++
				continue
			}
			if err := s.sendChunk(ctx, s.part(ch, ch.segs[i:i+1]), res, activated); err != nil {
				return err
			}
		}
		return nil
	}
	// The server did not say which tablet failed: send each half on its
	// own, down to single tablets, so a few bad devices among thousands
	// cost a few requests each rather than one request per device.
	// Re-sending tablets that were written already is harmless (overwrite).
	if len(ch.segs) > 4 {
		mid := len(ch.segs) / 2
		for _, half := range [][]segment{ch.segs[:mid], ch.segs[mid:]} {
			if err := s.sendChunk(ctx, s.part(ch, half), res, activated); err != nil {
				return err
			}
		}
		return nil
	}
	for _, sg := range ch.segs {
		if err := s.sendChunk(ctx, s.part(ch, []segment{sg}), res, activated); err != nil {
			return err
		}
	}
	return nil
}

// part is a chunk of some of ch's segments, sent as tablets (the form whose
// answer names the failing device).
func (s *Sink) part(ch chunk, segs []segment) chunk {
	p := chunk{aligned: ch.aligned, schema: ch.schema, segs: segs}
	for _, sg := range segs {
		p.rows += sg.rows()
	}
	return p
}

// templateMissing reports a refusal for missing series in a chunk holding
// devices under a device template.
func (s *Sink) templateMissing(ch chunk, se *StatusError) bool {
	code, msg := se.Code, se.Message
	if code == client.MultipleError {
		code, msg = firstFailure(se)
	}
	if systemicClassOf(code, msg) != systemicMissing {
		return false
	}
	for _, sg := range ch.segs {
		if sg.g.schema.Template != "" {
			return true
		}
	}
	return false
}

// firstFailure picks the first failing sub-status of a 302.
func firstFailure(se *StatusError) (int32, string) {
	for _, sub := range se.Sub {
		if sub != nil && sub.Code != client.SuccessStatus && sub.Code != client.RedirectionRecommend {
			return sub.Code, sub.GetMessage()
		}
	}
	return se.Code, se.Message
}

// withSession runs fn on a pooled session, timing it for the metrics.
func (s *Sink) withSession(ctx context.Context, op string, fn func(*session) error) error {
	sl, err := s.pool.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.pool.release(sl)
	return s.timed(op, func() error { return fn(sl.s) })
}

func (s *Sink) timed(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	s.metrics.RPC(op, time.Since(start), err)
	return err
}

func (s *Sink) info(sc *mapping.Schema) *schemaInfo {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	in := s.infos[sc]
	if in == nil {
		in = &schemaInfo{types: make([]int32, len(sc.Types)), fixedRow: 8}
		for i, t := range sc.Types {
			in.types[i] = int32(t)
			in.namesBytes += len(sc.Measurements[i]) + 4
			switch t {
			case client.BOOLEAN:
				in.fixedRow += 2
			case client.INT32, client.FLOAT, client.DATE:
				in.fixedRow += 5
			case client.INT64, client.DOUBLE, client.TIMESTAMP:
				in.fixedRow += 9
			default: // TEXT, STRING, BLOB: a length, then the bytes
				in.fixedRow += 5
				in.varCols = append(in.varCols, i)
			}
		}
		in.fixedRow += (len(sc.Types) + 7) / 8 // null bitmaps
		w := recordsWriter{}
		w.list(tString, len(sc.Measurements))
		for _, m := range sc.Measurements {
			w.str(m)
		}
		in.recordNames = w.b
		if sc.Categories != nil {
			in.cats = make([]int8, len(sc.Categories))
			for i, c := range sc.Categories {
				in.cats[i] = int8(c)
			}
		}
		s.infos[sc] = in
	}
	return in
}

// encoded is a chunk in wire form, ready to send (and resend).
type encoded struct {
	buf     *[]byte
	tree    *rpc.TSInsertTabletsReq
	tablet  *rpc.TSInsertTabletReq
	records *rawRecords // records.go
	empty   bool        // records: every row was all NULL, nothing to send
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}
var nullPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (s *Sink) encode(ch chunk) *encoded {
	if ch.records {
		return s.encodeRecords(ch)
	}
	e := &encoded{buf: bufPool.Get().(*[]byte)}
	buf := (*e.buf)[:0]
	nulls := nullPool.Get().(*[]byte)
	defer nullPool.Put(nulls)
	type span struct{ start, valuesAt, end int }
	if s.table {
		in := s.info(ch.schema)
		var sp span
		sp.start = len(buf)
		buf, sp.valuesAt, *nulls = encodeTablet(buf, ch.schema.Types, ch.segs, *nulls)
		yes := true
		e.tablet = &rpc.TSInsertTabletReq{
			PrefixPath:       ch.schema.TargetTable,
			Measurements:     ch.schema.Measurements,
			Timestamps:       buf[sp.start:sp.valuesAt:sp.valuesAt],
			Values:           buf[sp.valuesAt:len(buf):len(buf)],
			Types:            in.types,
			Size:             int32(ch.rows),
			IsAligned:        &yes,
			WriteToTable:     &yes,
			ColumnCategories: in.cats,
		}
		*e.buf = buf
		return e
	}
	n := len(ch.segs)
	spans := make([]span, n)
	for i, sg := range ch.segs {
		spans[i].start = len(buf)
		buf, spans[i].valuesAt, *nulls = encodeTablet(buf, sg.g.schema.Types, ch.segs[i:i+1], *nulls)
		spans[i].end = len(buf)
	}
	aligned := ch.aligned
	req := &rpc.TSInsertTabletsReq{
		PrefixPaths:      make([]string, n),
		MeasurementsList: make([][]string, n),
		ValuesList:       make([][]byte, n),
		TimestampsList:   make([][]byte, n),
		TypesList:        make([][]int32, n),
		SizeList:         make([]int32, n),
		IsAligned:        &aligned,
	}
	for i, sg := range ch.segs {
		sp := spans[i]
		req.PrefixPaths[i] = sg.g.device
		req.MeasurementsList[i] = sg.g.schema.Measurements
		req.TimestampsList[i] = buf[sp.start:sp.valuesAt:sp.valuesAt]
		req.ValuesList[i] = buf[sp.valuesAt:sp.end:sp.end]
		req.TypesList[i] = s.info(sg.g.schema).types
		req.SizeList[i] = int32(sg.rows())
	}
	e.tree = req
	*e.buf = buf
	return e
}

// send performs the insert on sess.
func (e *encoded) send(ctx context.Context, sess *session, timeout time.Duration) error {
	if e.records != nil {
		if e.empty {
			return nil
		}
		return sess.call(ctx, timeout, "insertRecords", func(ctx context.Context) error {
			return sendRecords(ctx, sess, e.records)
		})
	}
	if e.tablet != nil {
		return sess.call(ctx, timeout, "insertTablet", func(ctx context.Context) error {
			e.tablet.SessionId = sess.id
			st, err := sess.rpc.InsertTablet(ctx, e.tablet)
			if err != nil {
				return err
			}
			return checkStatus("insertTablet", st)
		})
	}
	return sess.call(ctx, timeout, "insertTablets", func(ctx context.Context) error {
		e.tree.SessionId = sess.id
		st, err := sess.rpc.InsertTablets(ctx, e.tree)
		if err != nil {
			return err
		}
		return checkStatus("insertTablets", st)
	})
}

// free returns the buffer to the pool; the request must not be used after.
// call() never returns while the RPC still reads the buffer.
func (e *encoded) free() {
	if cap(*e.buf) <= 64<<20 {
		bufPool.Put(e.buf)
	}
	e.tree, e.tablet, e.records = nil, nil, nil
}

// sqlIdent renders a table-model identifier: bare when it is a plain
// identifier, else double-quoted with "" escaping.
func sqlIdent(s string) string {
	plain := s != ""
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// sqlString renders a single-quoted string literal (a quote inside is doubled).
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
