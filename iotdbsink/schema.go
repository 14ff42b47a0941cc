package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Schema creation (tree model, create_schema on).
//
// Before the first write to a device the sink creates its database (CREATE
// DATABASE; 501 "already exists" is fine) and its series with the mapping's
// types (createAlignedTimeseries for aligned devices, createTimeseries per
// series otherwise), so IoTDB never infers a type from a value. In a
// database the sink created itself the series are created at once; when
// that fails, and in any other database, the existing series' types are
// read with SHOW TIMESERIES first and only the missing ones are created;
// an existing series with another type makes the device's points a
// Rejection (507) with a message naming the series and both types, and
// nothing of that device is sent. What exists is cached per device; a 507
// on insert drops the device from the cache so it is checked again.
//
// The cache holds at most defaultSchemaCacheDevices devices (a cdc runs for
// months over fleets of 10^5..10^6 devices): past that, a CLOCK sweep
// evicts a device not checked since the hand last passed it. Evicting only
// costs a re-check: the device's next write misses and goes through
// ensureDevice again, which finds its series (a failed create in a
// database this sink created, then SHOW TIMESERIES) and creates nothing,
// or finds a conflicting type and rejects, as on the first write.
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
	// created lists the databases this sink created itself (CREATE
	// DATABASE succeeded rather than finding one).
	created map[string]bool

	// capacity bounds devices; clock holds the same entries (nil: a slot
	// freed by forget, listed in free), len(clock) <= capacity, and hand
	// is where the next eviction sweep starts.
	capacity int
	devices  map[string]*deviceSchema
	clock    []*deviceSchema
	free     []int
	hand     int
}

// defaultSchemaCacheDevices is how many devices a sink's schema cache holds:
// about 0.4 KB each with three measurements (names apart), some 45 MB when
// full; unbounded, 10^6 devices held 430 MB. A fleet writing more devices
// than this round-robin re-checks each one on every write (one or two extra
// RPCs per device and batch): size it above the devices written within a
// few batches.
const defaultSchemaCacheDevices = 100_000

// deviceSchema is what the cache knows of one device.
type deviceSchema struct {
	device string
	types  map[string]client.TSDataType // unquoted measurement -> type
	// verified lists the schemas check found known and conflict-free, so
	// that the next check of the pair is one lookup. Any change to the
	// entry (add) drops the list.
	verified []*mapping.Schema
	slot     int  // index in schemaCache.clock
	used     bool // checked since the clock hand last passed
}

func newSchemaCache() schemaCache {
	return schemaCache{dbs: make(map[string]bool), created: make(map[string]bool),
		capacity: defaultSchemaCacheDevices, devices: make(map[string]*deviceSchema)}
}

// setCapacity bounds the cache to n devices (n <= 0: the default) and drops
// what it holds.
func (c *schemaCache) setCapacity(n int) {
	if n <= 0 {
		n = defaultSchemaCacheDevices
	}
	c.mu.Lock()
	c.capacity, c.devices, c.clock, c.free, c.hand = n, make(map[string]*deviceSchema), nil, nil, 0
	c.mu.Unlock()
}

func (c *schemaCache) forget(device string) {
	c.mu.Lock()
	if e := c.devices[device]; e != nil {
		delete(c.devices, device)
		c.clock[e.slot] = nil
		c.free = append(c.free, e.slot)
	}
	c.mu.Unlock()
}

// insert adds an empty entry for device (not in the cache), evicting one
// when the cache is full: the first entry from the hand on that was not
// checked since the hand last passed it (the sweep clears the marks it
// passes, so it ends within one turn). c.mu must be held.
func (c *schemaCache) insert(device string) *deviceSchema {
	e := &deviceSchema{device: device, types: make(map[string]client.TSDataType)}
	switch {
	case len(c.free) > 0:
		e.slot = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		c.clock[e.slot] = e
	case len(c.clock) < c.capacity:
		e.slot = len(c.clock)
		c.clock = append(c.clock, e)
	default:
		for {
			v := c.clock[c.hand]
			if !v.used {
				delete(c.devices, v.device)
				break
			}
			v.used = false
			c.hand = (c.hand + 1) % len(c.clock)
		}
		e.slot = c.hand
		c.clock[c.hand] = e
		c.hand = (c.hand + 1) % len(c.clock)
	}
	c.devices[device] = e
	return e
}

// check compares a group with the cache: known says every measurement is
// known, conflict describes a type mismatch.
func (c *schemaCache) check(sc *mapping.Schema, device string) (known bool, conflict string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.devices[device]
	if e == nil {
		return false, ""
	}
	if !e.used {
		e.used = true
	}
	if slices.Contains(e.verified, sc) {
		return true, ""
	}
	defer func() {
		if known && conflict == "" {
			e.verified = append(e.verified, sc)
		}
	}()
	known = true
	for i, m := range sc.Measurements {
		t, ok := e.types[unquote(m)]
		if !ok {
			known = false
			continue
		}
		if t != client.UNKNOWN && t != sc.Types[i] {
			conflict = fmt.Sprintf("series %s.%s exists with type %s but the mapping of table %s writes %s",
				device, m, typeName(t), sc.SourceTable, typeName(sc.Types[i]))
			return true, conflict
		}
	}
	return known, ""
}

func (c *schemaCache) add(device string, names []string, types []client.TSDataType) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.devices[device]
	if e == nil {
		e = c.insert(device)
	}
	e.verified = nil
	for i, n := range names {
		e.types[unquote(n)] = types[i]
	}
}

func (c *schemaCache) hasDB(db string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dbs[db]
}

// addDB records that db exists; created says this sink created it.
func (c *schemaCache) addDB(db string, created bool) {
	c.mu.Lock()
	c.dbs[db] = true
	if created {
		c.created[db] = true
	}
	c.mu.Unlock()
}

// fresh reports that this sink created db and knows nothing of device: its
// series most likely do not exist yet.
func (c *schemaCache) fresh(db, device string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, known := c.devices[device]
	return c.created[db] && !known
}

// ensureSchema makes sure every group's device and series exist with the
// right types, rejecting the groups that cannot be written. It returns an
// error only when IoTDB stays unreachable.
func (s *Sink) ensureSchema(ctx context.Context, groups []group, res *Result) error {
	for i := range groups {
		g := &groups[i]
		known, conflict := s.schemas.check(g.schema, g.device)
		if !known && conflict == "" {
			err := s.retry(ctx, "createSchema", func() error {
				return s.withSession(ctx, "createSchema", func(sess *session) error {
					return s.ensureDevice(ctx, sess, g.schema, g.device)
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
				g.rejected = true
				s.reject(res, Rejection{Device: g.device, Schema: g.schema, Code: code,
					Message: "creating series: " + msg, Points: g.points(0, g.rows())})
				continue
			}
			_, conflict = s.schemas.check(g.schema, g.device)
		}
		if conflict != "" {
			g.rejected = true
			s.reject(res, Rejection{Device: g.device, Schema: g.schema, Code: client.MetadataError,
				Message: conflict, Points: g.points(0, g.rows())})
		}
	}
	return nil
}

// ensureDevice creates the database and the missing series of one device:
// SHOW TIMESERIES learns what exists (and its types), then the missing series
// are created with the mapping's types.
func (s *Sink) ensureDevice(ctx context.Context, sess *session, sc *mapping.Schema, device string) error {
	timeout := s.cfg.WriteTimeout
	if db := sc.Database; db != "" && !s.schemas.hasDB(db) {
		err := sess.exec(ctx, timeout, "CREATE DATABASE "+db)
		if err != nil && !alreadyExists(err) {
			return err
		}
		s.schemas.addDB(db, err == nil)
	}
	if s.schemas.fresh(sc.Database, device) {
		// A database created by this sink holds few series of others (a
		// concurrent writer's at most): create the device's series at once,
		// one call instead of SHOW TIMESERIES and a create. When anything is
		// in the way, the server says so and the general path below reads
		// what exists and creates what is missing.
		err := s.createSeries(ctx, sess, sc.Aligned, device, sc.Measurements, sc.Types)
		if err == nil {
			s.schemas.add(device, sc.Measurements, sc.Types)
			return nil
		}
		if !isStatus(err) {
			return err
		}
	}
	existing := make(map[string]client.TSDataType)
	err := sess.query(ctx, timeout, "SHOW TIMESERIES "+device+".*", []string{"Timeseries", "DataType"}, func(v []string) {
		if t, err := client.GetDataTypeByStr(strings.ToUpper(v[1])); err == nil {
			existing[unquote(lastNode(v[0]))] = t
		}
	})
	if err != nil {
		if !isStatus(err) || statusCode(err) == client.IllegalPath {
			return err
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
			s.schemas.add(device, []string{m}, []client.TSDataType{t})
			continue
		}
		names = append(names, m)
		types = append(types, sc.Types[i])
	}
	if len(names) == 0 {
		return nil
	}
	if err := s.createSeries(ctx, sess, sc.Aligned, device, names, types); err != nil {
		if !alreadyExists(err) {
			return err
		}
		// Created meanwhile by someone else: type unknown, the insert checks.
		for i := range types {
			types[i] = client.UNKNOWN
		}
	}
	s.schemas.add(device, names, types)
	return nil
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
