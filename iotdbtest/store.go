package iotdbtest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/apache/iotdb-client-go/v2/common"
)

// series is one tree-model time series.
type series struct {
	dev        *device
	name       string // stored (normalised) measurement node
	path       string // full stored path
	dtype      TSDataType
	data       seriesStore
	encoding   string
	compressor string
}

// device is one tree-model device; aligned is fixed at creation (docs/iotdb.md §3.5).
type device struct {
	path    string
	nodes   []string
	db      string
	aligned bool
	series  map[string]*series
	order   []*series
	rawMeas map[string]*series // measurement as sent -> series (fast path)
}

// store is the shared data of one Server: tree databases/devices/series and
// table-model databases. Everything is guarded by mu.
type store struct {
	mu       sync.Mutex
	dbs      map[string][]string // tree database path -> nodes
	devices  map[string]*device  // stored device path -> device
	devCache map[string]*device  // prefixPath as sent -> device
	tdbs     map[string]*tableDB // table-model databases (lower case)
	stats    Stats
}

func newStore() *store {
	return &store{
		dbs:      map[string][]string{},
		devices:  map[string]*device{},
		devCache: map[string]*device{},
		tdbs:     map[string]*tableDB{},
	}
}

// writeOpts are the server switches relevant to writes.
type writeOpts struct {
	autoCreate    bool
	partialInsert bool
	precision     string
	discard       bool // Options.DiscardData
}

// treeUnit is one device-level piece of a write RPC (a tablet, or a record as
// a 1-row tablet).
type treeUnit struct {
	device  string
	times   []int64
	cols    []inCol
	aligned bool
}

// statusErr carries a TSStatus out of validation.
type statusErr struct {
	code int32
	msg  string
}

func (e *statusErr) Error() string { return e.msg }

func stErr(code int32, format string, a ...any) *statusErr {
	return &statusErr{code: code, msg: fmt.Sprintf(format, a...)}
}

func status(code int32, msg string) *common.TSStatus {
	if code == codeSuccess {
		return &common.TSStatus{Code: code}
	}
	if msg == "" {
		msg = "error"
	}
	return &common.TSStatus{Code: code, Message: &msg}
}

func okStatus() *common.TSStatus { return &common.TSStatus{Code: codeSuccess} }

// checkPrecision is timestamp_precision_check_enabled (docs/iotdb.md §3.4, §7).
// Note: the real server checks only the last timestamp of a tablet; the
// double checks every timestamp (stricter, catches more bridge bugs).
func checkPrecision(prec string, times []int64) *statusErr {
	var limit int64
	switch prec {
	case "ms":
		limit = 10_000_000_000_000
	case "us":
		limit = 10_000_000_000_000_000
	default:
		return nil
	}
	for _, t := range times {
		if t > limit {
			return stErr(codeSemanticError, "Current system timestamp precision is %s, please check whether the timestamp %d is correct.", prec, t)
		}
	}
	return nil
}

// findDB returns the tree database containing nodes.
func (s *store) findDB(nodes []string) (string, bool) {
	for db, dn := range s.dbs {
		if hasPrefixNodes(nodes, dn) {
			return db, true
		}
	}
	return "", false
}

// createDB creates a tree database; 501 if it (or an overlapping one) exists.
func (s *store) createDB(path string) *statusErr {
	nodes, err := splitPath(path, false)
	if err != nil {
		return stErr(codeIllegalPath, "%s", err.Error())
	}
	if len(nodes) < 2 {
		return stErr(codeIllegalPath, "%s is not a legal database path", path)
	}
	full := strings.Join(nodes, ".")
	if len(full) > 64 {
		return stErr(codeIllegalPath, "the length of database name shall not exceed 64")
	}
	for db, dn := range s.dbs {
		if db == full {
			return stErr(codeDatabaseExists, "%s has already been created as database", full)
		}
		if hasPrefixNodes(nodes, dn) || hasPrefixNodes(dn, nodes) {
			return stErr(codeDatabaseExists, "%s has already been created as database", db)
		}
	}
	s.dbs[full] = nodes
	return nil
}

type plannedDev struct {
	dev      *device // nil when the device is created by this RPC
	path     string
	nodes    []string
	db       string
	newDB    bool
	aligned  bool
	newTypes map[string]TSDataType
}

// writeTree applies a tree write RPC: validate everything first (illegal
// paths, precision, database, alignment → whole RPC fails, nothing written),
// then per column type checks with partial insert (docs/iotdb.md §3.1, §3.2, §3.5, §4).
func (s *store) writeTree(units []treeUnit, o writeOpts) *common.TSStatus {
	type colPlan struct {
		name string // stored measurement
		reg  TSDataType
		fail string // non-empty: column is dropped with this message
	}
	plans := make([]*plannedDev, len(units))
	cplans := make([][]colPlan, len(units))
	pdevs := map[string]*plannedDev{}
	newDBs := map[string]bool{}
	var failedNames, failedMsgs []string

	for ui := range units {
		u := &units[ui]
		if e := checkPrecision(o.precision, u.times); e != nil {
			return status(e.code, e.msg)
		}
		var pd *plannedDev
		if d := s.devCache[u.device]; d != nil {
			pd = pdevs[d.path]
			if pd == nil {
				pd = &plannedDev{dev: d, path: d.path, nodes: d.nodes, db: d.db, aligned: d.aligned}
				pdevs[d.path] = pd
			}
		} else {
			nodes, full, err := parseDevicePath(u.device)
			if err != nil {
				return status(codeIllegalPath, err.Error())
			}
			pd = pdevs[full]
			if pd == nil {
				if d := s.devices[full]; d != nil {
					pd = &plannedDev{dev: d, path: full, nodes: d.nodes, db: d.db, aligned: d.aligned}
				} else {
					pd = &plannedDev{path: full, nodes: nodes, aligned: u.aligned}
					if db, ok := s.findDB(nodes); ok {
						pd.db = db
					} else {
						dbNodes := nodes[:2]
						db := strings.Join(dbNodes, ".")
						if _, ok := s.findDB(dbNodes); ok || newDBs[db] || o.autoCreate {
							pd.db = db
							pd.newDB = !newDBs[db]
							newDBs[db] = true
						} else {
							names := make([]string, len(u.cols))
							for i := range u.cols {
								names[i] = u.cols[i].name
							}
							msg := fmt.Sprintf("Fail to insert measurements [%s] caused by [Database not exists and failed to create automatically because enable_auto_create_schema is FALSE.]", strings.Join(names, ", "))
							return status(codeMetadataError, msg)
						}
					}
				}
				pdevs[full] = pd
			}
		}
		if pd.aligned != u.aligned {
			not := ""
			if !pd.aligned {
				not = "not "
			}
			return status(codeMetadataError, fmt.Sprintf("Timeseries under this device is %saligned, please use createTimeseries or change device.", not))
		}
		plans[ui] = pd
		cp := make([]colPlan, len(u.cols))
		for ci := range u.cols {
			c := &u.cols[ci]
			var name string
			if pd.dev != nil {
				if sr := pd.dev.rawMeas[c.name]; sr != nil {
					name = sr.name
				}
			}
			if name == "" {
				m, err := parseMeasurement(c.name)
				if err != nil {
					return status(codeIllegalPath, err.Error())
				}
				name = m
			}
			cp[ci].name = name
			reg, exists := TSDataType(0), false
			if pd.dev != nil {
				if sr := pd.dev.series[name]; sr != nil {
					reg, exists = sr.dtype, true
				}
			}
			if !exists {
				if t, ok := pd.newTypes[name]; ok {
					reg, exists = t, true
				}
			}
			if !exists {
				if !o.autoCreate {
					cp[ci].fail = fmt.Sprintf("Path [%s.%s] does not exist", pd.path, name)
				} else {
					if pd.newTypes == nil {
						pd.newTypes = map[string]TSDataType{}
					}
					pd.newTypes[name] = c.typ
					reg = c.typ
				}
			} else if !canCast(c.typ, reg) {
				r := c.firstNonNull(len(u.times))
				ts := "null"
				if len(u.times) > 0 {
					ts = fmt.Sprint(u.times[r])
				}
				cp[ci].fail = fmt.Sprintf("data type of %s.%s is not consistent, registered type %s, inserting type %s, timestamp %s, value %s",
					pd.path, name, typeName(reg), typeName(c.typ), ts, c.valueString(r))
			}
			cp[ci].reg = reg
			if cp[ci].fail != "" {
				failedNames = append(failedNames, name)
				failedMsgs = append(failedMsgs, cp[ci].fail)
			}
		}
		cplans[ui] = cp
	}
	var failMsg string
	if len(failedNames) > 0 {
		failMsg = fmt.Sprintf("Fail to insert measurements [%s] caused by [%s]", strings.Join(failedNames, ", "), strings.Join(failedMsgs, ", "))
		if !o.partialInsert {
			return status(codeMetadataError, failMsg)
		}
	}
	// apply
	for db := range newDBs {
		if _, ok := s.dbs[db]; !ok {
			nodes, _ := splitPath(db, false)
			s.dbs[db] = nodes
		}
	}
	var points int64
	for ui := range units {
		u := &units[ui]
		pd := plans[ui]
		d := pd.dev
		if d == nil {
			d = s.devices[pd.path]
			if d == nil {
				d = s.newDevice(pd.path, pd.nodes, pd.db, pd.aligned)
			}
			pd.dev = d
		}
		s.devCache[u.device] = d
		for ci := range u.cols {
			cp := &cplans[ui][ci]
			if cp.fail != "" {
				continue
			}
			sr := d.series[cp.name]
			if sr == nil {
				sr = d.addSeries(cp.name, cp.reg)
			}
			d.rawMeas[u.cols[ci].name] = sr
			if o.discard {
				points += int64(countNonNull(&u.cols[ci], len(u.times)))
			} else {
				points += int64(ingest(sr.data, sr.dtype, &u.cols[ci], u.times))
			}
		}
	}
	s.stats.PointsWritten += points
	if failMsg != "" {
		s.stats.PartialWrites++
		return status(codeMetadataError, failMsg)
	}
	return okStatus()
}

func (s *store) newDevice(path string, nodes []string, db string, aligned bool) *device {
	d := &device{path: path, nodes: nodes, db: db, aligned: aligned,
		series: map[string]*series{}, rawMeas: map[string]*series{}}
	s.devices[path] = d
	return d
}

func (d *device) addSeries(name string, t TSDataType) *series {
	sr := &series{dev: d, name: name, path: d.path + "." + name, dtype: t, data: newSeriesStore(t),
		encoding: defaultEncoding(t), compressor: "LZ4"}
	d.series[name] = sr
	d.order = append(d.order, sr)
	return sr
}

func defaultEncoding(t TSDataType) string {
	switch t {
	case BOOLEAN:
		return "RLE"
	case INT32, INT64, DATE, TIMESTAMP:
		return "TS_2DIFF"
	case FLOAT, DOUBLE:
		return "GORILLA"
	}
	return "PLAIN"
}

// createSeries registers a typed series (createTimeseries / CREATE TIMESERIES).
func (s *store) createSeries(path string, t TSDataType, aligned bool, enc, comp string, autoDB bool) *statusErr {
	nodes, err := splitPath(path, false)
	if err != nil {
		return stErr(codeIllegalPath, "%s", err.Error())
	}
	if len(nodes) < 3 {
		return stErr(codeIllegalPath, "%s is not a legal timeseries path", path)
	}
	if isReservedWord(nodes[len(nodes)-1]) {
		return stErr(codeIllegalPath, "%s is not a legal path", path)
	}
	return s.createSeriesNodes(nodes[:len(nodes)-1], nodes[len(nodes)-1], t, aligned, enc, comp, autoDB)
}

func (s *store) createSeriesNodes(devNodes []string, name string, t TSDataType, aligned bool, enc, comp string, autoDB bool) *statusErr {
	if !validType(t) {
		return stErr(codeMetadataError, "unsupported data type %d", int(t))
	}
	devPath := strings.Join(devNodes, ".")
	d := s.devices[devPath]
	if d != nil {
		if d.aligned != aligned {
			not := ""
			if !d.aligned {
				not = "not "
			}
			return stErr(codeMetadataError, "Timeseries under this device is %saligned, please use createTimeseries or change device.", not)
		}
		if d.series[name] != nil {
			return stErr(codeMetadataError, "Path [%s.%s] already exist", devPath, name)
		}
	}
	db, ok := s.findDB(devNodes)
	if !ok {
		if !autoDB {
			return stErr(codeDatabaseNotExist, "Database not exists and failed to create automatically because enable_auto_create_schema is FALSE.")
		}
		db = strings.Join(devNodes[:2], ".")
		s.dbs[db] = devNodes[:2:2]
	}
	if d == nil {
		d = s.newDevice(devPath, devNodes, db, aligned)
	}
	sr := d.addSeries(name, t)
	if enc != "" {
		sr.encoding = strings.ToUpper(enc)
	}
	if comp != "" {
		sr.compressor = strings.ToUpper(comp)
	}
	return nil
}

// matchSeries returns every series matching a path pattern, sorted by path.
func (s *store) matchSeries(pat []string) []*series {
	var out []*series
	for _, d := range s.devices {
		if len(pat) > 0 && pat[0] != "root" {
			continue
		}
		for _, sr := range d.order {
			nodes := append(d.nodes[:len(d.nodes):len(d.nodes)], sr.name)
			if matchPattern(pat, nodes) {
				out = append(out, sr)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// deleteTree deletes points of every series matching one of the patterns with
// lo <= t <= hi (docs/iotdb.md §5.1). A pattern matching nothing is a success.
func (s *store) deleteTree(paths []string, lo, hi int64) *statusErr {
	pats := make([][]string, len(paths))
	for i, p := range paths {
		nodes, err := splitPath(p, true)
		if err != nil {
			return stErr(codeIllegalPath, "%s", err.Error())
		}
		pats[i] = nodes
	}
	seen := map[*series]bool{}
	for _, pat := range pats {
		for _, sr := range s.matchSeries(pat) {
			if seen[sr] {
				continue
			}
			seen[sr] = true
			s.stats.PointsDeleted += int64(sr.data.deleteRange(lo, hi))
		}
	}
	return nil
}

// sortedDBs returns the tree databases sorted.
func (s *store) sortedDBs() []string {
	out := make([]string, 0, len(s.dbs))
	for db := range s.dbs {
		out = append(out, db)
	}
	sort.Strings(out)
	return out
}
