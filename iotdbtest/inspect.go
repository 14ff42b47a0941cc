package iotdbtest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Point is one stored value. Value is bool, int32, int64, float32, float64,
// string (TEXT, STRING), []byte (BLOB), int32 yyyymmdd (DATE) or int64
// (TIMESTAMP).
type Point struct {
	Time  int64
	Value any
}

// SeriesInfo describes one tree-model series.
type SeriesInfo struct {
	Path    string
	Type    TSDataType
	Aligned bool
	Count   int
}

// Stats are cumulative counters since NewServer.
type Stats struct {
	Connections                   int64 // TCP connections accepted (not refused)
	Sessions                      int64 // openSession calls
	LoginFailures                 int64
	RPCs                          int64 // every request read
	InsertTabletCalls             int64 // insertTablet (tree and table)
	InsertTabletsCalls            int64
	InsertRecordCalls             int64
	InsertRecordsCalls            int64
	InsertRecordsOfOneDeviceCalls int64
	InsertStringRecordCalls       int64
	PointsWritten                 int64 // non-null values stored (overwrites included)
	PointsDeleted                 int64
	PartialWrites                 int64 // 507 answers after a partial insert
	RejectedWrites                int64 // write RPCs answered with a non-200 status (not injected)
	FailedWrites                  int64 // write RPCs failed by FailWrites
	Deletes                       int64 // deleteData RPCs and DELETE statements
	Statements                    int64 // SQL statements executed
	Queries                       int64 // SELECT statements
	Restarts                      int64
	LargestFrame                  int64 // bytes of the largest request frame read (frames.go)
	OversizedFrames               int64 // request frames above Options.MaxFrameSize (each dropped its connection)
	TLSHandshakeFailures          int64 // with Options.TLS: connections whose TLS handshake failed (tls.go)
}

// outValue converts a stored value to its public form.
func outValue(t TSDataType, v any) any {
	if b, ok := v.([]byte); ok {
		if t == BLOB {
			return append([]byte(nil), b...)
		}
		return string(b)
	}
	return v
}

// Points returns the points of one tree series, sorted by time. series is
// the full path as stored, e.g. root.sg.`pump-7.b`.temp (a path spelled
// differently but normalising to the same nodes is accepted too).
func (s *Server) Points(series string) []Point {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	if sr == nil {
		return nil
	}
	ts := sr.data.times()
	out := make([]Point, len(ts))
	for i, t := range ts {
		out[i] = Point{Time: t, Value: outValue(sr.dtype, sr.data.anyAt(i))}
	}
	return out
}

func (st *store) lookupSeries(path string) *series {
	nodes, err := splitPath(path, false)
	if err != nil || len(nodes) < 3 {
		return nil
	}
	d := st.devices[strings.Join(nodes[:len(nodes)-1], ".")]
	if d == nil {
		return nil
	}
	return d.series[nodes[len(nodes)-1]]
}

// SeriesType returns the registered type of a series.
func (s *Server) SeriesType(series string) (TSDataType, bool) {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	sr := st.lookupSeries(series)
	if sr == nil {
		return 0, false
	}
	return sr.dtype, true
}

// Series lists every tree series sorted by path.
func (s *Server) Series() []SeriesInfo {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []SeriesInfo
	for _, sr := range st.matchSeries([]string{"root", "**"}) {
		out = append(out, SeriesInfo{Path: sr.path, Type: sr.dtype, Aligned: sr.dev.aligned, Count: sr.data.length()})
	}
	return out
}

// Devices lists the tree devices sorted.
func (s *Server) Devices() []string {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.devices))
	for p := range st.devices {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Databases lists the tree databases sorted.
func (s *Server) Databases() []string {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sortedDBs()
}

// DeviceAligned reports whether a tree device exists and is aligned.
func (s *Server) DeviceAligned(device string) (aligned, ok bool) {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	_, full, err := parseDevicePath(device)
	if err != nil {
		return false, false
	}
	d := st.devices[full]
	if d == nil {
		return false, false
	}
	return d.aligned, true
}

// TotalPoints is the number of points currently stored in tree series and
// table field columns.
func (s *Server) TotalPoints() int64 {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	var n int64
	for _, d := range st.devices {
		for _, sr := range d.order {
			n += int64(sr.data.length())
		}
	}
	for _, db := range st.tdbs {
		for _, t := range db.tables {
			for _, d := range t.devices {
				for _, f := range d.fields {
					n += int64(f.length())
				}
			}
		}
	}
	return n
}

// TableRows returns the rows of a table-model table, sorted by tag tuple then
// time; each row has "time" (int64) and every column (nil = NULL).
func (s *Server) TableRows(db, table string) []map[string]any {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	tdb := st.tdbs[strings.ToLower(db)]
	if tdb == nil {
		return nil
	}
	t := tdb.tables[strings.ToLower(table)]
	if t == nil {
		return nil
	}
	return t.rowsOf(nil)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.stats
}

// DumpCSV writes one line "device,time,measurement,value" per tree point,
// sorted by device, time, measurement (table-model rows as
// "db.table[tag=...]" devices). Fields containing a comma, quote or newline
// are quoted CSV-style; BLOBs are base64.
func (s *Server) DumpCSV(w io.Writer) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("device,time,measurement,value\n"); err != nil {
		return err
	}
	type line struct {
		t    int64
		m    string
		v    string
		dev  string
		kind int
	}
	devs := make([]string, 0, len(st.devices))
	for p := range st.devices {
		devs = append(devs, p)
	}
	sort.Strings(devs)
	for _, p := range devs {
		d := st.devices[p]
		var lines []line
		for _, sr := range d.order {
			ts := sr.data.times()
			for i, t := range ts {
				lines = append(lines, line{t: t, m: sr.name, v: csvValue(sr.dtype, sr.data.anyAt(i))})
			}
		}
		sort.Slice(lines, func(i, j int) bool {
			if lines[i].t != lines[j].t {
				return lines[i].t < lines[j].t
			}
			return lines[i].m < lines[j].m
		})
		for _, l := range lines {
			fmt.Fprintf(bw, "%s,%d,%s,%s\n", csvField(p), l.t, csvField(l.m), csvField(l.v))
		}
	}
	dbs := make([]string, 0, len(st.tdbs))
	for n := range st.tdbs {
		dbs = append(dbs, n)
	}
	sort.Strings(dbs)
	for _, dbn := range dbs {
		tdb := st.tdbs[dbn]
		tns := make([]string, 0, len(tdb.tables))
		for n := range tdb.tables {
			tns = append(tns, n)
		}
		sort.Strings(tns)
		for _, tn := range tns {
			t := tdb.tables[tn]
			for _, row := range t.rowsOf(nil) {
				var tags []string
				for _, c := range t.tags {
					v := "null"
					if x := row[c.name]; x != nil {
						v = x.(string)
					}
					tags = append(tags, c.name+"="+v)
				}
				dev := dbn + "." + tn + "[" + strings.Join(tags, ",") + "]"
				for _, c := range t.cols {
					if c.cat == catTag || row[c.name] == nil {
						continue
					}
					fmt.Fprintf(bw, "%s,%d,%s,%s\n", csvField(dev), row["time"].(int64), csvField(c.name), csvField(csvValue(c.typ, row[c.name])))
				}
			}
		}
	}
	return bw.Flush()
}

func csvValue(t TSDataType, v any) string {
	switch x := v.(type) {
	case []byte:
		if t == BLOB {
			return base64.StdEncoding.EncodeToString(x)
		}
		return string(x)
	case string:
		return x
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
