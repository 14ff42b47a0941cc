package iotdbsink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Schema creation (tree model, create_schema on).
//
// A mapping with a device template (config device_template, docs/iotdb.md
// §3.6) needs no per-device schema at all: once per sink the database and
// the template exist (created from the mapping's measurements, or checked
// against them), the template is set on the device path's fixed beginning,
// and every device under it activates the template on its first write. A
// server with auto-create off does not activate on write: the sink then
// activates the devices of a refused request explicitly (CREATE TIMESERIES
// USING DEVICE TEMPLATE ON, batched) and sends it again (sink.go).
//
// Without a template, before the first write to a device the sink creates
// its database (CREATE DATABASE; 501 "already exists" is fine) and its
// series with the mapping's types, so IoTDB never infers a type. The
// devices of a batch that the cache does not know are created together:
// one executeBatchStatement of CREATE [ALIGNED] TIMESERIES statements for
// up to schemaBatchStatements statements, whose 302 answer has one
// sub-status per statement (docs/iotdb.md §5.4). A device whose statement
// failed (its series exist already, or partly) is checked on its own: SHOW
// TIMESERIES reads the existing types, the missing series are created, and
// an existing series with another type makes the device's points a
// Rejection (507) naming the series and both types; nothing of that device
// is sent. A 507 on insert drops the device from the cache so it is
// checked again.
//
// The cache remembers which (schema, device) pairs were checked, as 8-byte
// hashes in two generations of at most capacity/2 entries each (a fleet of
// 10^6 devices takes some 20 MB): when the current generation is full it
// becomes the previous one and the older one is dropped, and a hit in the
// previous generation moves the entry to the current one. A device dropped
// this way is checked again on its next write (a failed create, then SHOW
// TIMESERIES), creating nothing, or finding a conflicting type and
// rejecting as on the first write. A 64-bit hash collision (two devices
// taken for one) has a chance of about n²/2⁶⁵: 3·10⁻⁸ at 10⁶ devices.
//
// Table model: the database is created in Open (CREATE DATABASE IF NOT
// EXISTS) and tables and columns are created by the server from the first
// tablet. A tablet carries the column types and categories, so nothing is
// inferred; creating tables by SQL would only duplicate that (with identifier
// quoting to get right) and could still race with other writers. A column
// that exists with another type is reported by the insert and rejected.
type schemaCache struct {
	mu  sync.Mutex
	dbs map[string]bool

	seed      maphash.Seed
	ids       map[*mapping.Schema]uint64
	capacity  int
	cur, prev map[uint64]struct{}

	tmpls map[*mapping.Schema]bool // schemas whose template is in place
}

// defaultSchemaCacheDevices is how many (schema, device) pairs the cache
// holds: some 10 bytes each in Go's maps, 40 MB when full.
const defaultSchemaCacheDevices = 4_000_000

// schemaBatchStatements bounds the statements of one executeBatchStatement.
const schemaBatchStatements = 2000

func newSchemaCache() schemaCache {
	return schemaCache{dbs: make(map[string]bool), seed: maphash.MakeSeed(), ids: make(map[*mapping.Schema]uint64),
		capacity: defaultSchemaCacheDevices, cur: make(map[uint64]struct{}), tmpls: make(map[*mapping.Schema]bool)}
}

// setCapacity bounds the cache to n pairs (n <= 0: the default) and drops
// what it holds.
func (c *schemaCache) setCapacity(n int) {
	if n <= 0 {
		n = defaultSchemaCacheDevices
	}
	c.mu.Lock()
	c.capacity, c.cur, c.prev = max(n, 2), make(map[uint64]struct{}), nil
	c.mu.Unlock()
}

// key hashes (schema, device); c.mu must be held.
func (c *schemaCache) key(sc *mapping.Schema, device string) uint64 {
	id, ok := c.ids[sc]
	if !ok {
		id = uint64(len(c.ids) + 1)
		c.ids[sc] = id
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], id)
	_, _ = h.Write(b[:])
	_, _ = h.WriteString(device)
	return h.Sum64()
}

// known says the pair was checked (and keeps it).
func (c *schemaCache) known(sc *mapping.Schema, device string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.key(sc, device)
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.prev[k]; ok {
		delete(c.prev, k)
		c.put(k)
		return true
	}
	return false
}

// add records a checked pair.
func (c *schemaCache) add(sc *mapping.Schema, device string) {
	c.mu.Lock()
	c.put(c.key(sc, device))
	c.mu.Unlock()
}

// put inserts k, turning the generations over when the current one is
// full; c.mu must be held.
func (c *schemaCache) put(k uint64) {
	if len(c.cur) >= c.capacity/2 {
		c.prev, c.cur = c.cur, make(map[uint64]struct{}, c.capacity/8)
	}
	c.cur[k] = struct{}{}
}

// forget drops every pair of device (all schemas).
func (c *schemaCache) forget(device string) {
	c.mu.Lock()
	for sc := range c.ids {
		k := c.key(sc, device)
		delete(c.cur, k)
		delete(c.prev, k)
	}
	c.mu.Unlock()
}

// size is the number of pairs held.
func (c *schemaCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}

func (c *schemaCache) hasDB(db string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dbs[db]
}

func (c *schemaCache) addDB(db string) {
	c.mu.Lock()
	c.dbs[db] = true
	c.mu.Unlock()
}

func (c *schemaCache) templateReady(sc *mapping.Schema) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tmpls[sc]
}

func (c *schemaCache) setTemplateReady(sc *mapping.Schema, ok bool) {
	c.mu.Lock()
	c.tmpls[sc] = ok
	c.mu.Unlock()
}

// ensureSchema makes sure every group's device and series exist with the
// right types, rejecting the groups that cannot be written. It returns an
// error only when IoTDB stays unreachable.
func (s *Sink) ensureSchema(ctx context.Context, groups []group, res *Result) error {
	var miss []*group
	tmplRej := map[*mapping.Schema]*Rejection{}
	for i := range groups {
		g := &groups[i]
		if g.rejected {
			continue
		}
		if g.schema.Template != "" {
			rej, seen := tmplRej[g.schema]
			if !seen {
				code, msg, err := s.ensureTemplate(ctx, g.schema)
				if err != nil {
					return err
				}
				if msg != "" {
					rej = &Rejection{Code: code, Message: msg}
				}
				tmplRej[g.schema] = rej
			}
			if rej != nil {
				g.rejected = true
				s.reject(res, Rejection{Device: g.device, Schema: g.schema, Code: rej.Code, Message: rej.Message, Points: g.points(0, g.rows())})
			}
			continue
		}
		if !s.schemas.known(g.schema, g.device) {
			miss = append(miss, g)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	return s.createMissing(ctx, miss, res)
}

// ensureDB creates a database unless the cache knows it. A refusal other
// than "already exists" comes back as (code, message).
func (s *Sink) ensureDB(ctx context.Context, db string) (int32, string, error) {
	if db == "" || s.schemas.hasDB(db) {
		return 0, "", nil
	}
	err := s.retry(ctx, "createDatabase", func() error {
		return s.withSession(ctx, "createDatabase", func(sess *session) error {
			return sess.exec(ctx, s.cfg.WriteTimeout, "CREATE DATABASE "+db)
		})
	})
	if err == nil || alreadyExists(err) {
		s.schemas.addDB(db)
		return 0, "", nil
	}
	var se *StatusError
	if ctx.Err() != nil || Retryable(err) || !errors.As(err, &se) {
		return 0, "", err
	}
	code, msg := se.Code, se.Message
	if code == client.MultipleError {
		code, msg = firstFailure(se)
	}
	return code, "creating database " + db + ": " + msg, nil
}

// createMissing creates the series of the groups the cache does not know,
// many devices per request, and checks one by one those whose creation
// failed.
func (s *Sink) createMissing(ctx context.Context, miss []*group, res *Result) error {
	rejectAll := func(g *group, code int32, msg string) {
		g.rejected = true
		s.reject(res, Rejection{Device: g.device, Schema: g.schema, Code: code, Message: msg, Points: g.points(0, g.rows())})
	}
	dbFail := map[string]*Rejection{}
	var todo []*group
	for _, g := range miss {
		db := g.schema.Database
		rej, seen := dbFail[db]
		if !seen {
			code, msg, err := s.ensureDB(ctx, db)
			if err != nil {
				return err
			}
			if msg != "" {
				rej = &Rejection{Code: code, Message: msg}
			}
			dbFail[db] = rej
		}
		if rej != nil {
			rejectAll(g, rej.Code, rej.Message)
			continue
		}
		todo = append(todo, g)
	}

	// One statement per aligned device, one per series otherwise.
	type stmtOf struct {
		sql string
		g   int // index into todo
	}
	var stmts []stmtOf
	for gi, g := range todo {
		sc := g.schema
		if sc.Aligned {
			stmts = append(stmts, stmtOf{createAlignedSQL(g.device, sc.Measurements, sc.Types), gi})
			continue
		}
		for i, m := range sc.Measurements {
			stmts = append(stmts, stmtOf{createSeriesSQL(g.device+"."+m, sc.Types[i]), gi})
		}
	}
	failed := make([]bool, len(todo))
	limit := max(s.cfg.Batch.MaxBytes/2, 1)
	for lo := 0; lo < len(stmts); {
		hi, bytes := lo, 0
		for hi < len(stmts) && hi-lo < schemaBatchStatements && (hi == lo || bytes+len(stmts[hi].sql)+8 <= limit) {
			bytes += len(stmts[hi].sql) + 8
			hi++
		}
		batch := make([]string, hi-lo)
		for i := range batch {
			batch[i] = stmts[lo+i].sql
		}
		err := s.retry(ctx, "createSchema", func() error {
			return s.withSession(ctx, "createSchema", func(sess *session) error {
				return sess.execBatch(ctx, s.cfg.WriteTimeout, batch)
			})
		})
		if err != nil {
			var se *StatusError
			if ctx.Err() != nil || Retryable(err) || !errors.As(err, &se) {
				return err
			}
			positional := se.Code == client.MultipleError && len(se.Sub) == len(batch)
			for i := range batch {
				if sub := se.Sub; !positional || (sub[i] != nil && sub[i].Code != client.SuccessStatus && sub[i].Code != client.RedirectionRecommend) {
					failed[stmts[lo+i].g] = true
				}
			}
		}
		lo = hi
	}
	for gi, g := range todo {
		if !failed[gi] {
			s.schemas.add(g.schema, g.device)
			continue
		}
		var conflict string
		err := s.retry(ctx, "createSchema", func() error {
			return s.withSession(ctx, "createSchema", func(sess *session) error {
				var err error
				conflict, err = s.ensureDevice(ctx, sess, g.schema, g.device)
				return err
			})
		})
		if err != nil {
			var se *StatusError
			if ctx.Err() != nil || Retryable(err) || !errors.As(err, &se) {
				return err
			}
			code, msg := se.Code, se.Message
			if code == client.MultipleError {
				code, msg = firstFailure(se)
			}
			rejectAll(g, code, "creating series: "+msg)
			continue
		}
		if conflict != "" {
			rejectAll(g, client.MetadataError, conflict)
			continue
		}
		s.schemas.add(g.schema, g.device)
	}
	return nil
}

// ensureDevice checks one device on its own: SHOW TIMESERIES learns what
// exists (and its types), the missing series are created with the mapping's
// types. It returns a description of a type conflict, if any.
func (s *Sink) ensureDevice(ctx context.Context, sess *session, sc *mapping.Schema, device string) (string, error) {
	timeout := s.cfg.WriteTimeout
	existing := make(map[string]client.TSDataType)
	err := sess.query(ctx, timeout, "SHOW TIMESERIES "+device+".*", []string{"Timeseries", "DataType"}, func(v []string) {
		if t, err := client.GetDataTypeByStr(strings.ToUpper(v[1])); err == nil {
			existing[unquote(lastNode(v[0]))] = t
		}
	})
	if err != nil {
		if !isStatus(err) || statusCode(err) == client.IllegalPath {
			return "", err
		}
		// The server cannot list the series: create them all and trust the
		// ones that exist already (an insert with a wrong type still gets
		// a 507 and becomes a Rejection).
		s.log.Debug().Err(err).Str("device", device).Msg("SHOW TIMESERIES failed; creating every series")
	}
	var names []string
	var types []client.TSDataType
	for i, m := range sc.Measurements {
		if t, ok := existing[unquote(m)]; ok {
			if t != sc.Types[i] {
				return fmt.Sprintf("series %s.%s exists with type %s but the mapping of table %s writes %s",
					device, m, TypeName(t), sc.SourceTable, TypeName(sc.Types[i])), nil
			}
			continue
		}
		names = append(names, m)
		types = append(types, sc.Types[i])
	}
	if len(names) == 0 {
		return "", nil
	}
	if err := s.createSeries(ctx, sess, sc.Aligned, device, names, types); err != nil && !alreadyExists(err) {
		return "", err
	}
	// Created meanwhile by someone else: the type is unknown, the insert checks.
	return "", nil
}

// createSeries creates series with the given types: one
// createAlignedTimeseries for an aligned device, else one createTimeseries
// per series (skipping those that exist).
func (s *Sink) createSeries(ctx context.Context, sess *session, aligned bool, device string, names []string, types []client.TSDataType) error {
	timeout := s.cfg.WriteTimeout
	if aligned {
		dt := make([]int32, len(types))
		enc := make([]int32, len(types))
		comp := make([]int32, len(types))
		for i, t := range types {
			dt[i], enc[i], comp[i] = int32(t), int32(defaultEncoding(t)), int32(client.LZ4)
		}
		return sess.call(ctx, timeout, "createAlignedTimeseries", func(ctx context.Context) error {
			st, err := sess.rpc.CreateAlignedTimeseries(ctx, &rpc.TSCreateAlignedTimeseriesReq{
				SessionId: sess.id, PrefixPath: device, Measurements: names,
				DataTypes: dt, Encodings: enc, Compressors: comp,
			})
			if err != nil {
				return err
			}
			return checkStatus("createAlignedTimeseries", st)
		})
	}
	var exists error
	for i, n := range names {
		req := &rpc.TSCreateTimeseriesReq{
			SessionId: sess.id, Path: device + "." + n, DataType: int32(types[i]),
			Encoding: int32(defaultEncoding(types[i])), Compressor: int32(client.LZ4),
		}
		err := sess.call(ctx, timeout, "createTimeseries", func(ctx context.Context) error {
			st, err := sess.rpc.CreateTimeseries(ctx, req)
			if err != nil {
				return err
			}
			return checkStatus("createTimeseries", st)
		})
		switch {
		case err == nil:
		case alreadyExists(err):
			exists = err
		default:
			return err
		}
	}
	return exists
}

// createAlignedSQL is CREATE ALIGNED TIMESERIES for one device (names and
// the device are quoted for the wire already).
func createAlignedSQL(device string, names []string, types []client.TSDataType) string {
	var b strings.Builder
	b.WriteString("CREATE ALIGNED TIMESERIES ")
	b.WriteString(device)
	b.WriteByte('(')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s ENCODING=%s COMPRESSOR=LZ4", n, TypeName(types[i]), encodingName(defaultEncoding(types[i])))
	}
	b.WriteByte(')')
	return b.String()
}

func createSeriesSQL(path string, t client.TSDataType) string {
	return fmt.Sprintf("CREATE TIMESERIES %s WITH DATATYPE=%s, ENCODING=%s, COMPRESSOR=LZ4", path, TypeName(t), encodingName(defaultEncoding(t)))
}

// defaultEncoding is IoTDB's default encoding per type.
func defaultEncoding(t client.TSDataType) client.TSEncoding {
	switch t {
	case client.BOOLEAN:
		return client.RLE
	case client.INT32, client.INT64, client.DATE, client.TIMESTAMP:
		return client.TS_2DIFF
	case client.FLOAT, client.DOUBLE:
		return client.GORILLA
	}
	return client.PLAIN
}

func encodingName(e client.TSEncoding) string {
	switch e {
	case client.RLE:
		return "RLE"
	case client.TS_2DIFF:
		return "TS_2DIFF"
	case client.GORILLA:
		return "GORILLA"
	}
	return "PLAIN"
}

// alreadyExists reports a "database/series already exists" status (also
// inside a 302).
func alreadyExists(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	is := func(code int32, msg string) bool {
		switch code {
		case client.DatabaseAlreadyExists, client.TimeseriesAlreadyExist, client.PathAlreadyExist:
			return true
		}
		return strings.Contains(strings.ToLower(msg), "already exist")
	}
	if se.Code != client.MultipleError {
		return is(se.Code, se.Message)
	}
	for _, sub := range se.Sub {
		if sub != nil && sub.Code != client.SuccessStatus && !is(sub.Code, sub.GetMessage()) {
			return false
		}
	}
	return true
}

func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// unquote turns a backquoted node into its name: doubled backquotes inside
// become one.
func unquote(n string) string {
	if len(n) >= 2 && n[0] == '`' && n[len(n)-1] == '`' {
		return strings.ReplaceAll(n[1:len(n)-1], "``", "`")
	}
	return n
}

// lastNode returns the last node of a path, honouring backquotes.
func lastNode(path string) string {
	if strings.HasSuffix(path, "`") {
		// Walk back to the opening backquote; "``" inside is an escaped one.
		i := len(path) - 2
		for i >= 0 {
			if path[i] == '`' {
				if i > 0 && path[i-1] == '`' {
					i -= 2
					continue
				}
				return path[i:]
			}
			i--
		}
		return path
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}
