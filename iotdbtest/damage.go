package iotdbtest

import (
	"fmt"
	"strings"
)

// Damage: changes to the store made directly, not through the protocol,
// so that a test can put IoTDB in a state the bridge never writes (a lost
// point, a wrong value, a stray device) and check that verify finds it.
// Values take the Go types of Point.Value: bool, int32, int64, float32,
// float64, string (TEXT, STRING), []byte (BLOB), int32 yyyymmdd (DATE),
// int64 (TIMESTAMP).

// DeletePoint removes the point at time t of a tree series; it reports
// whether there was one.
func (s *Server) DeletePoint(series string, t int64) bool {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	return sr != nil && sr.data.deleteRange(t, t) == 1
}

// SetPoint stores v at time t of an existing tree series (replacing the
// value there, or adding a point).
func (s *Server) SetPoint(series string, t int64, v any) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	if sr == nil {
		return fmt.Errorf("iotdbtest: no series %s", series)
	}
	return putValue(sr.data, sr.dtype, t, v)
}

// AddPoint stores v at time t of the tree series device.measurement,
// creating the device (aligned as asked, in the database of its first two
// nodes when none holds it) and the series (of type typ) when missing.
func (s *Server) AddPoint(device, measurement string, typ TSDataType, aligned bool, t int64, v any) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	nodes, full, err := parseDevicePath(device)
	if err != nil {
		return err
	}
	d := st.devices[full]
	if d == nil {
		db, ok := st.findDB(nodes)
		if !ok {
			db = strings.Join(nodes[:2], ".")
			st.dbs[db] = nodes[:2:2]
		}
		d = st.newDevice(full, nodes, db, aligned)
	}
	name, err := parseMeasurement(measurement)
	if err != nil {
		return err
	}
	sr := d.series[name]
	if sr == nil {
		sr = d.addSeries(name, typ)
	} else if sr.dtype != typ {
		return fmt.Errorf("iotdbtest: series %s exists with type %s", sr.path, typeName(sr.dtype))
	}
	return putValue(sr.data, sr.dtype, t, v)
}

// MovePoint moves the point at time from of a tree series to time to
// (replacing a point there).
func (s *Server) MovePoint(series string, from, to int64) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	if sr == nil {
		return fmt.Errorf("iotdbtest: no series %s", series)
	}
	i, ok := sr.data.find(from)
	if !ok {
		return fmt.Errorf("iotdbtest: series %s has no point at %d", series, from)
	}
	v := outValue(sr.dtype, sr.data.anyAt(i))
	sr.data.deleteRange(from, from)
	return putValue(sr.data, sr.dtype, to, v)
}

// DropDevice removes a tree device with its series and points, as
// DELETE TIMESERIES device.** would; it reports whether it existed.
func (s *Server) DropDevice(device string) bool {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	_, full, err := parseDevicePath(device)
	if err != nil {
		return false
	}
	d := st.devices[full]
	if d == nil {
		return false
	}
	delete(st.devices, full)
	n := st.index.root
	for _, name := range d.nodes[1:] {
		if n = n.kids[name]; n == nil {
			return true
		}
	}
	n.dev = nil
	return true
}

// RetypeSeries gives a tree series another type, keeping its points'
// times with the zero value of the new type: what a series created by hand
// with the wrong type looks like.
func (s *Server) RetypeSeries(series string, typ TSDataType) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	if sr == nil {
		return fmt.Errorf("iotdbtest: no series %s", series)
	}
	times := append([]int64(nil), sr.data.times()...)
	sr.dtype, sr.data = typ, newSeriesStore(typ)
	zero := map[TSDataType]any{BOOLEAN: false, INT32: int32(0), INT64: int64(0), FLOAT: float32(0), DOUBLE: float64(0),
		TEXT: "", STRING: "", BLOB: []byte{}, DATE: int32(19700101), TIMESTAMP: int64(0)}[typ]
	for _, t := range times {
		if err := putValue(sr.data, typ, t, zero); err != nil {
			return err
		}
	}
	return nil
}

// putValue stores v (of the Go type Point.Value has for dt) at time t.
func putValue(data seriesStore, dt TSDataType, t int64, v any) error {
	bad := func() error { return fmt.Errorf("iotdbtest: a %T value for a %s series", v, typeName(dt)) }
	switch d := data.(type) {
	case *pointsOf[bool]:
		return putAs(d, t, v, bad)
	case *pointsOf[int32]:
		return putAs(d, t, v, bad)
	case *pointsOf[int64]:
		return putAs(d, t, v, bad)
	case *pointsOf[float32]:
		return putAs(d, t, v, bad)
	case *pointsOf[float64]:
		return putAs(d, t, v, bad)
	case *pointsOf[[]byte]:
		switch x := v.(type) {
		case string:
			d.put(t, []byte(x))
		case []byte:
			d.put(t, append([]byte(nil), x...))
		default:
			return bad()
		}
	default:
		return bad()
	}
	return nil
}

// putAs stores v at t when it has the series' Go type T.
func putAs[T any](d *pointsOf[T], t int64, v any, bad func() error) error {
	x, ok := v.(T)
	if !ok {
		return bad()
	}
	d.put(t, x)
	return nil
}

// ---- table model ----

// damageTable finds a table-model table.
func (st *store) damageTable(db, table string) (*table, error) {
	tdb := st.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return nil, fmt.Errorf("iotdbtest: no table-model database %s", db)
	}
	t := tdb.tables[strings.ToLower(table)]
	if t == nil {
		return nil, fmt.Errorf("iotdbtest: no table %s.%s", db, table)
	}
	return t, nil
}

func tagPtrs(tags []string) []*string {
	out := make([]*string, len(tags))
	for i := range tags {
		out[i] = &tags[i]
	}
	return out
}

// SetRowValue stores v in FIELD column of the row (tags, t) of a
// table-model table, creating the row (and the device) when missing.
func (s *Server) SetRowValue(db, table string, tags []string, t int64, column string, v any) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	tb, err := st.damageTable(db, table)
	if err != nil {
		return err
	}
	if len(tags) != len(tb.tags) {
		return fmt.Errorf("iotdbtest: table %s has %d tags, got %d values", table, len(tb.tags), len(tags))
	}
	c := tb.colIdx[strings.ToLower(column)]
	if c == nil || c.cat != catField {
		return fmt.Errorf("iotdbtest: table %s has no FIELD column %s", table, column)
	}
	d := tb.device(tagPtrs(tags))
	d.rows.put(t, true)
	fs := d.fields[c.name]
	if fs == nil {
		fs = newSeriesStore(c.typ)
		d.fields[c.name] = fs
	}
	return putValue(fs, c.typ, t, v)
}

func (st *store) findRowDevice(db, table string, tags []string) (*tdevice, error) {
	tb, err := st.damageTable(db, table)
	if err != nil {
		return nil, err
	}
	d := tb.devices[deviceKey(tagPtrs(tags))]
	if d == nil {
		return nil, fmt.Errorf("iotdbtest: table %s has no device %q", table, tags)
	}
	return d, nil
}

// DeleteRow removes the row (tags, t) of a table-model table; it reports
// whether there was one.
func (s *Server) DeleteRow(db, table string, tags []string, t int64) bool {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	d, err := st.findRowDevice(db, table, tags)
	if err != nil {
		return false
	}
	n := d.rows.deleteRange(t, t)
	for _, fs := range d.fields {
		fs.deleteRange(t, t)
	}
	return n == 1
}

// MoveRow moves the row (tags, from) of a table-model table to time to.
func (s *Server) MoveRow(db, table string, tags []string, from, to int64) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	tb, err := st.damageTable(db, table)
	if err != nil {
		return err
	}
	d, err := st.findRowDevice(db, table, tags)
	if err != nil {
		return err
	}
	if _, ok := d.rows.find(from); !ok {
		return fmt.Errorf("iotdbtest: table %s device %q has no row at %d", table, tags, from)
	}
	d.rows.deleteRange(from, from)
	d.rows.put(to, true)
	for name, fs := range d.fields {
		i, ok := fs.find(from)
		if !ok {
			continue
		}
		c := tb.colIdx[name]
		v := outValue(c.typ, fs.anyAt(i))
		fs.deleteRange(from, from)
		if err := putValue(fs, c.typ, to, v); err != nil {
			return err
		}
	}
	return nil
}

// DropRowDevice removes a table-model device with all its rows; it reports
// whether it existed.
func (s *Server) DropRowDevice(db, table string, tags []string) bool {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	tb, err := st.damageTable(db, table)
	if err != nil {
		return false
	}
	k := deviceKey(tagPtrs(tags))
	if tb.devices[k] == nil {
		return false
	}
	delete(tb.devices, k)
	return true
}
