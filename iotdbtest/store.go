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
	series  map[string]*series // stored measurement -> series
	order   []*series
	tmpl    *template // the device template activated on this device, or nil (template.go)
}

// store is the shared data of one Server: tree databases/devices/series and
// table-model databases. Everything is guarded by mu.
type store struct {
	mu      sync.Mutex
	dbs     map[string][]string // tree database path -> nodes
	devices map[string]*device  // stored device path -> device
	index   pathIndex           // the devices by path node, for patterns (index.go)
	tdbs    map[string]*tableDB // table-model databases (lower case)
	tmpls   templates           // device templates (template.go)
	stats   Stats
}

func newStore() *store {
	return &store{
		dbs:     map[string][]string{},
		devices: map[string]*device{},
		index:   newPathIndex(),
		tdbs:    map[string]*tableDB{},
		tmpls:   newTemplates(),
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

// plannedDev is a device that one write RPC creates (it did not exist
// before): validation plans it, apply creates it.
type plannedDev struct {
	path     string
	nodes    []string
	db       string
	aligned  bool
	tmpl     *template // activated by this write (template set on a prefix, auto-create on)
	newTypes map[string]TSDataType
	dev      *device // set when applied
}

// colPlan is what validation decided for one column of one unit.
type colPlan struct {
	sr   *series // the existing series, or nil when the write creates it
	name string  // stored measurement
	reg  TSDataType
	fail string // non-empty: column is dropped with this message
}

// writeTree applies a tree write RPC: validate everything first (illegal
// paths, precision, database, alignment → whole RPC fails, nothing written),
// then per column type checks with partial insert (docs/iotdb.md §3.1, §3.2, §3.5, §4).
// Device templates (template.go, docs/iotdb.md §3.6): a new device under a
// path with a template set activates it (auto-create on) and takes its
// alignment and types; a measurement the template lacks extends it.
//
// Cost per unit is what matters at 10^6 devices with one row each: an
// existing device is one map lookup by the path as sent (stored paths are
// normalised, and senders almost always send them normalised), an existing
// series one lookup in the device, and nothing is allocated per unit but
// the column plans (one slice for the whole RPC).
func (s *store) writeTree(units []treeUnit, o writeOpts) *common.TSStatus {
	ncols := 0
	for ui := range units {
		ncols += len(units[ui].cols)
	}
	devs := make([]*device, len(units))        // existing device of each unit
	planned := make([]*plannedDev, len(units)) // or the device this RPC creates
	cps := make([]colPlan, ncols)
	var newDevs map[string]*plannedDev
	var newDBs map[string]bool
	var pending map[*device]map[string]TSDataType // new series of existing devices
	var exts map[*template]map[string]TSDataType  // template extensions
	var failedNames, failedMsgs []string

	cpOff := 0
	for ui := range units {
		u := &units[ui]
		if e := checkPrecision(o.precision, u.times); e != nil {
			return status(e.code, e.msg)
		}
		d := s.devices[u.device]
		var pd *plannedDev
		if d == nil {
			nodes, full, err := parseDevicePath(u.device)
			if err != nil {
				return status(codeIllegalPath, err.Error())
			}
			d = s.devices[full]
			if d == nil {
				pd = newDevs[full]
				if pd == nil {
					pd = &plannedDev{path: full, nodes: nodes, aligned: u.aligned}
					if t := s.templateOf(nodes); t != nil && o.autoCreate {
						pd.tmpl, pd.aligned = t, t.aligned
					}
					if db, ok := s.findDB(nodes); ok {
						pd.db = db
					} else {
						dbNodes := nodes[:2]
						db := strings.Join(dbNodes, ".")
						if _, ok := s.findDB(dbNodes); ok || newDBs[db] || o.autoCreate {
							pd.db = db
							if newDBs == nil {
								newDBs = map[string]bool{}
							}
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
					if newDevs == nil {
						newDevs = map[string]*plannedDev{}
					}
					newDevs[full] = pd
				}
			}
		}
		aligned := false
		var tmpl *template
		if pd != nil {
			aligned, tmpl = pd.aligned, pd.tmpl
		} else {
			aligned, tmpl = d.aligned, d.tmpl
		}
		if aligned != u.aligned {
			not := ""
			if !aligned {
				not = "not "
			}
			return status(codeMetadataError, fmt.Sprintf("Timeseries under this device is %saligned, please use createTimeseries or change device.", not))
		}
		devs[ui], planned[ui] = d, pd
		cp := cps[cpOff : cpOff+len(u.cols)]
		cpOff += len(u.cols)
		for ci := range u.cols {
			c := &u.cols[ci]
			var sr *series
			if d != nil {
				if tmpl != nil {
					// A template device holds the template's series in the
					// template's order: the template's small, shared (hence
					// cached) index finds the series without a lookup in
					// the device's own map, which at 10^6 devices is a cache
					// miss per column.
					if i, ok := tmpl.idx[c.name]; ok && i < len(d.order) && d.order[i].name == c.name {
						sr = d.order[i]
					}
				}
				if sr == nil {
					sr = d.series[c.name] // the name as sent is almost always the stored one
				}
			}
			name := c.name
			if sr == nil {
				m, err := parseMeasurement(c.name)
				if err != nil {
					return status(codeIllegalPath, err.Error())
				}
				name = m
				if d != nil {
					sr = d.series[name]
				}
			}
			cp[ci].sr, cp[ci].name = sr, name
			var reg TSDataType
			exists := false
			switch {
			case sr != nil:
				reg, exists = sr.dtype, true
			case pd != nil && pd.newTypes[name] != 0:
				reg, exists = pd.newTypes[name]-1, true
			case d != nil && pending[d][name] != 0:
				reg, exists = pending[d][name]-1, true
			case tmpl != nil && tmpl.has(name):
				reg, exists = tmpl.typeOf(name), true
			case tmpl != nil && exts[tmpl][name] != 0:
				reg, exists = exts[tmpl][name]-1, true
			}
			if !exists {
				switch {
				case !o.autoCreate:
					path := name
					if pd != nil {
						path = pd.path + "." + name
					} else {
						path = d.path + "." + name
					}
					cp[ci].fail = fmt.Sprintf("Path [%s] does not exist", path)
				case tmpl != nil:
					// A measurement outside the template extends the
					// template (every device using it gets it).
					if exts == nil {
						exts = map[*template]map[string]TSDataType{}
					}
					if exts[tmpl] == nil {
						exts[tmpl] = map[string]TSDataType{}
					}
					exts[tmpl][name] = c.typ + 1
					reg = c.typ
				case pd != nil:
					if pd.newTypes == nil {
						pd.newTypes = map[string]TSDataType{}
					}
					pd.newTypes[name] = c.typ + 1 // +1: 0 means absent (BOOLEAN is 0)
					reg = c.typ
				default:
					if pending == nil {
						pending = map[*device]map[string]TSDataType{}
					}
					if pending[d] == nil {
						pending[d] = map[string]TSDataType{}
					}
					pending[d][name] = c.typ + 1
					reg = c.typ
				}
			} else if !canCast(c.typ, reg) {
				r := c.firstNonNull(len(u.times))
				ts := "null"
				if len(u.times) > 0 {
					ts = fmt.Sprint(u.times[r])
				}
				path := d
				devPath := ""
				if path != nil {
					devPath = path.path
				} else {
					devPath = pd.path
				}
				cp[ci].fail = fmt.Sprintf("data type of %s.%s is not consistent, registered type %s, inserting type %s, timestamp %s, value %s",
					devPath, name, typeName(reg), typeName(c.typ), ts, c.valueString(r))
			}
			cp[ci].reg = reg
			if cp[ci].fail != "" {
				failedNames = append(failedNames, name)
				failedMsgs = append(failedMsgs, cp[ci].fail)
			}
		}
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
	for t, ext := range exts {
		names := make([]string, 0, len(ext))
		for n := range ext {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s.extendTemplate(t, n, ext[n]-1)
		}
	}
	var points int64
	cpOff = 0
	for ui := range units {
		u := &units[ui]
		d := devs[ui]
		if d == nil {
			pd := planned[ui]
			if pd.dev == nil {
				pd.dev = s.newDevice(pd.path, pd.nodes, pd.db, pd.aligned)
				if pd.tmpl != nil {
					pd.dev.order = make([]*series, 0, len(pd.tmpl.meas))
					s.activate(pd.dev, pd.tmpl)
				} else {
					pd.dev.order = make([]*series, 0, len(u.cols))
				}
			}
			d = pd.dev
		}
		cp := cps[cpOff : cpOff+len(u.cols)]
		cpOff += len(u.cols)
		for ci := range u.cols {
			p := &cp[ci]
			if p.fail != "" {
				continue
			}
			sr := p.sr
			if sr == nil {
				if sr = d.series[p.name]; sr == nil {
					sr = d.addSeries(p.name, p.reg)
				}
			}
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
	d := &device{path: path, nodes: nodes, db: db, aligned: aligned, series: map[string]*series{}}
	s.devices[path] = d
	s.index.add(d)
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
	if e := s.refuseUnderTemplate(devNodes, name); e != nil {
		return e
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
	var nodes []string
	s.seriesCandidates(pat, func(d *device) {
		for _, sr := range d.order {
			nodes = append(append(nodes[:0], d.nodes...), sr.name)
			if matchPattern(pat, nodes) {
				out = append(out, sr)
			}
		}
	})
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
