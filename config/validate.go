package config

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IoTDBTypes are the type names a measurement may declare.
var IoTDBTypes = []string{"BOOLEAN", "INT32", "INT64", "FLOAT", "DOUBLE", "TEXT", "STRING", "BLOB", "DATE", "TIMESTAMP"}

// maxDatabaseLen is IoTDB's limit on a database path, "root." included (docs/iotdb.md §4).
const maxDatabaseLen = 64

type validator struct {
	c *Config
	d *decoder
}

// validate checks every rule that needs no connection. Column existence and
// column types are checked later, by mapping compile, against the database.
// complete is false when some mapping file failed to decode.
func validate(c *Config, d *decoder, complete bool) {
	v := &validator{c: c, d: d}
	v.mysql()
	v.iotdb()
	v.iotdbTLS() // config/tls.go
	v.mappings(complete)
	v.deviceTemplates()
	v.rest()
	v.sync()
	v.stateFiles()
}

// at is the position of path, or of its nearest written ancestor.
func (v *validator) at(path string) Pos {
	for p := path; ; p = parentPath(p) {
		if pos, ok := v.d.seen[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{File: v.c.Path}
		}
	}
}

// errf records a problem at path.
func (v *validator) errf(path, format string, args ...any) {
	v.errAt(path, path, format, args...)
}

// errAt records a problem at path unless path (or an ancestor) already
// failed to decode: one mistake, one message. When path was not written, the
// message points at the line of cause (e.g. ca_file missing: the tls line).
func (v *validator) errAt(cause, path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if v.d.bad[p] {
			return
		}
	}
	if !v.absent(path) {
		cause = path
	}
	v.d.ps.addf(v.at(cause), path, format, args...)
}

func (v *validator) oneOf(path, got string, allowed ...string) bool {
	if slices.Contains(allowed, got) {
		return true
	}
	v.errf(path, "%q is not one of %s", got, strings.Join(allowed, ", "))
	return false
}

func (v *validator) required(path, got string) bool {
	if strings.TrimSpace(got) == "" {
		v.errf(path, "required")
		return false
	}
	return true
}

func (v *validator) positive(path string, n int) {
	if n <= 0 {
		v.errf(path, "must be a positive number, got %d", n)
	}
}

func (v *validator) positiveDur(path string, n time.Duration) {
	if n <= 0 {
		v.errf(path, "must be a positive duration, got %s", n)
	}
}

// CheckListen checks an address to serve on: host:port, where the host
// may be empty (every interface) and the port 0 (any free one).
func CheckListen(s string) error { return checkHostPort(s, false) }

func checkHostPort(s string, needHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if needHost && host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 || (needHost && p == 0) {
		return fmt.Errorf("%q: port must be a number from 1 to 65535", s)
	}
	return nil
}

func (v *validator) hostPort(path, s string, needHost bool) {
	if err := checkHostPort(s, needHost); err != nil {
		v.errf(path, "%s", err.Error())
	}
}

func (v *validator) mysql() {
	my := &v.c.MySQL
	v.required("mysql.host", my.Host)
	if my.Port < 1 || my.Port > 65535 {
		v.errf("mysql.port", "must be from 1 to 65535, got %d", my.Port)
	}
	v.required("mysql.user", my.User)
	v.required("mysql.database", my.Database)
	if v.oneOf("mysql.tls", my.TLS, "disabled", "preferred", "required", "verify-ca", "verify-identity") && my.TLS == "verify-ca" && my.CAFile == "" {
		v.errAt("mysql.tls", "mysql.ca_file", "required with tls: verify-ca")
	}
	if my.ServerID == 0 {
		v.errf("mysql.server_id", "must not be 0 (a replica needs a non-zero id unique among the server's replicas)")
	}
	v.oneOf("mysql.flavor", my.Flavor, "auto", "mysql", "mariadb")
	first := map[string]int{}
	for i := range my.Tables {
		t := &my.Tables[i]
		p := fmt.Sprintf("mysql.tables[%d]", i)
		if !v.required(p+".name", t.Name) {
			continue
		}
		if j, dup := first[t.Name]; dup {
			v.errf(p+".name", "table %q is listed twice (also mysql.tables[%d] at %s)", t.Name, j, v.at(fmt.Sprintf("mysql.tables[%d]", j)))
		} else {
			first[t.Name] = i
		}
		pt := &t.Partition
		if pt.Count < 0 || (pt.Count == 0 && pt.ChunkRows == 0 && !v.absent(p+".partition.count")) {
			v.errf(p+".partition.count", "must be a positive number, got %d", pt.Count)
		}
		if pt.ChunkRows < 0 {
			v.errf(p+".partition.chunk_rows", "must be a positive number, got %d", pt.ChunkRows)
		}
		if pt.ChunkRows > 0 && !v.absent(p+".partition.count") {
			v.errf(p+".partition", "count and chunk_rows exclude each other: give one")
		}
	}
}

func (v *validator) absent(path string) bool {
	_, ok := v.d.seen[path]
	return !ok
}

func (v *validator) iotdb() {
	db := &v.c.IoTDB
	if len(db.Nodes) == 0 {
		v.errf("iotdb.nodes", "at least one host:port is required")
	}
	seen := map[string]int{}
	for i, n := range db.Nodes {
		p := fmt.Sprintf("iotdb.nodes[%d]", i)
		if j, dup := seen[n]; dup {
			v.errf(p, "%q is listed twice (also iotdb.nodes[%d])", n, j)
			continue
		}
		seen[n] = i
		v.hostPort(p, n, true)
	}
	v.required("iotdb.user", db.User)
	v.oneOf("iotdb.model", db.Model, ModelTree, ModelTable)
	v.oneOf("iotdb.timestamp_precision", db.Precision, PrecisionAuto, "ms", "us", "ns")
	if db.Model == ModelTree && db.Database != "" {
		v.treeDatabase("iotdb.database", db.Database)
	}
	v.positive("iotdb.sessions", db.Sessions)
	v.positiveDur("iotdb.write_timeout", db.WriteTimeout)
	v.positive("iotdb.batch.rows", db.Batch.Rows)
	v.positiveDur("iotdb.batch.interval", db.Batch.Interval)
	if db.Batch.MaxBytes < MinBatchMaxBytes {
		v.errf("iotdb.batch.max_bytes", "must be at least %d (64 KiB), got %d", MinBatchMaxBytes, db.Batch.MaxBytes)
	}
	v.positiveDur("iotdb.retry.initial", db.Retry.Initial)
	v.positiveDur("iotdb.retry.max", db.Retry.Max)
	if db.Retry.Max > 0 && db.Retry.Initial > db.Retry.Max {
		v.errf("iotdb.retry.max", "%s is less than retry.initial (%s)", db.Retry.Max, db.Retry.Initial)
	}
	if db.Retry.Elapsed != Unbounded {
		v.positiveDur("iotdb.retry.give_up_after", db.Retry.Elapsed)
	}
}

// treeDatabase checks a tree-model database path and returns its nodes.
func (v *validator) treeDatabase(path, s string) ([]DeviceNode, bool) {
	t, err := ParseDeviceTemplate(s)
	switch {
	case err != nil:
		v.errf(path, "%q: %v", s, err)
	case len(t.Columns()) > 0:
		v.errf(path, "%q: a database cannot hold ${...} placeholders", s)
	case len(t.Nodes) < 2 || t.Nodes[0].Raw != "root":
		v.errf(path, "%q must start with root. and have at least one more node, like root.factory", s)
	case slices.ContainsFunc(t.Nodes, func(n DeviceNode) bool { return !IsLegalNodeName(n.Raw) }):
		v.errf(path, "%q: database nodes must be plain names (letters, digits, _), not backquoted", s)
	case len(s) > maxDatabaseLen:
		v.errf(path, "%q is longer than IoTDB's %d characters", s, maxDatabaseLen)
	default:
		return t.Nodes, true
	}
	return nil, false
}

func (v *validator) mappings(complete bool) {
	c := v.c
	if len(c.IoTDB.Mappings) == 0 && complete {
		v.errf("iotdb.mappings", "at least one mapping is required (here or in mappings_dir)")
	}
	first := map[string]int{}
	for i := range c.IoTDB.Mappings {
		m := &c.IoTDB.Mappings[i]
		p := fmt.Sprintf("iotdb.mappings[%d]", i)
		if v.required(p+".table", m.Table) {
			if j, dup := first[m.Table]; dup {
				v.errf(p+".table", "a second mapping for table %q (the first is iotdb.mappings[%d] at %s)", m.Table, j, c.IoTDB.Mappings[j].Pos)
			} else {
				first[m.Table] = i
			}
			// A table without a mysql.tables entry was added by
			// implicitTables: the mapping is enough.
		}
		v.mapping(p, m)
	}
	if !complete {
		return // a mapping file failed to decode: its table would look unmapped
	}
	mapped := make([]string, 0, len(first))
	for name := range first {
		mapped = append(mapped, name)
	}
	slices.Sort(mapped)
	for i, t := range c.MySQL.Tables {
		if _, ok := first[t.Name]; !ok && t.Name != "" {
			hint := "add one, or remove the table"
			if s := suggestName(t.Name, mapped); s != "" {
				hint = strings.TrimSuffix(strings.TrimPrefix(s, " ("), ")") + "; " + hint
			}
			v.errf(fmt.Sprintf("mysql.tables[%d]", i), "table %q has no mapping in iotdb.mappings (%s)", t.Name, hint)
		}
	}
}

func suggestName(got string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := EditDistance(strings.ToLower(got), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func (v *validator) mapping(p string, m *Mapping) {
	table := v.c.IoTDB.Model == ModelTable
	if table {
		v.tableTarget(p, m)
	} else {
		v.treeTarget(p, m)
	}

	tp := p + ".time"
	v.required(tp+".column", m.Time.Column)
	if m.Time.Unit != "" {
		v.oneOf(tp+".unit", m.Time.Unit, "s", "ms", "us", "ns")
		if m.Time.Zone != "" {
			v.errf(tp+".zone", "zone and unit exclude each other: unit is for integer epoch columns, zone for DATETIME and DATE columns")
		}
	}
	if z := m.Time.Zone; z != "" {
		if z == "Local" {
			v.errf(tp+".zone", `"Local" depends on the host: name an IANA zone such as UTC or Europe/Berlin`)
		} else if _, err := time.LoadLocation(z); err != nil {
			v.errf(tp+".zone", "%q is not a known IANA time zone (e.g. UTC, Europe/Berlin)", z)
		}
	}

	if !*m.Aligned && table {
		v.errf(p+".aligned", "the table model is always aligned")
	}
	v.oneOf(p+".on_update", m.OnUpdate, OnUpdateOverwrite, OnUpdateIgnore)
	v.oneOf(p+".on_delete", m.OnDelete, OnDeleteIgnore, OnDeleteDelete)
	v.oneOf(p+".bigint_unsigned", m.Unsigned, UnsignedError, UnsignedClip, UnsignedString)
	v.oneOf(p+".decimal", m.Decimal, DecimalDouble, DecimalString)
	v.oneOf(p+".zero_date", m.ZeroDate, ZeroDateDirty, ZeroDateNull)

	if len(m.Measurements) == 0 {
		v.errf(p+".measurements", "at least one measurement is required")
	}
	names := map[string]int{}
	if table {
		for _, tag := range m.Tags {
			names[strings.ToLower(tag)] = -1 // a measurement may not reuse a tag column's name
		}
	}
	for j := range m.Measurements {
		ms := &m.Measurements[j]
		mp := fmt.Sprintf("%s.measurements[%d]", p, j)
		if !v.required(mp+".column", ms.Column) {
			continue
		}
		if ms.Type != "" && !slices.Contains(IoTDBTypes, ms.Type) {
			v.errf(mp+".type", "%q is not an IoTDB type (%s)", ms.Type, strings.Join(IoTDBTypes, ", "))
		}
		name, ok := v.measurementName(mp, ms, table)
		if !ok {
			continue
		}
		ms.Name = name
		key := name
		if table {
			key = strings.ToLower(name) // table-model column names are case-insensitive
		}
		if k, dup := names[key]; dup {
			if k < 0 {
				v.errf(mp, "measurement %q is also a tag", name)
			} else {
				v.errf(mp, "duplicate measurement name %q (also measurements[%d] at %s)", name, k, m.Measurements[k].Pos)
			}
			continue
		}
		names[key] = j
	}
}

// measurementName returns the plain measurement name: the written name with
// backquotes removed, or the column name.
func (v *validator) measurementName(mp string, ms *Measurement, table bool) (string, bool) {
	if ms.Name == "" {
		if isReservedMeasurement(ms.Column) && (!table || strings.EqualFold(ms.Column, "time")) {
			v.errf(mp+".column", "the measurement name defaults to the column name %q, which IoTDB reserves: set name", ms.Column)
			return "", false
		}
		return ms.Column, true
	}
	if table {
		if strings.EqualFold(ms.Name, "time") {
			v.errf(mp+".name", "%q is the table model's time column: choose another name", ms.Name)
			return "", false
		}
		return ms.Name, true
	}
	if strings.HasPrefix(ms.Name, "`") {
		plain, ok := unquoteNode(ms.Name)
		if !ok {
			v.errf(mp+".name", "%q is not one backquoted node (double a backquote inside it: ``)", ms.Name)
		}
		return plain, ok
	}
	quoted := "`" + strings.ReplaceAll(ms.Name, "`", "``") + "`"
	if isReservedMeasurement(ms.Name) {
		v.errf(mp+".name", "%q is reserved in IoTDB: choose another name, or backquote it (%q)", ms.Name, quoted)
		return "", false
	}
	if !IsLegalNodeName(ms.Name) {
		v.errf(mp+".name", "%q is not a legal IoTDB node name (letters, digits, _; not a number): backquote it (%q)", ms.Name, quoted)
		return "", false
	}
	return ms.Name, true
}

// treeTarget checks the device template and sets the database.
func (v *validator) treeTarget(p string, m *Mapping) {
	if len(m.Tags) > 0 {
		v.errf(p+".tags", "tags are for model: table; in the tree model device columns go in the device template")
	}
	if !v.required(p+".device", m.Device) {
		return
	}
	tpl, err := ParseDeviceTemplate(m.Device)
	if err != nil {
		v.errf(p+".device", "%q: %v", m.Device, err)
		return
	}
	nodes := tpl.Nodes
	if nodes[0].Raw != "root" {
		v.errf(p+".device", "%q must start with root.", m.Device)
		return
	}
	for _, n := range nodes[1:] {
		if strings.EqualFold(n.Raw, "root") {
			v.errf(p+".device", "%q: root may only be the first node", m.Device)
			return
		}
	}
	var dbNodes []DeviceNode
	dbPath := p + ".database"
	if m.Database == "" {
		if len(nodes) < 3 || !nodes[1].IsLiteral() {
			v.errAt(p+".device", p+".database", "cannot derive the database from %q (its second node must be literal and a device node must follow): set database", m.Device)
			return
		}
		m.Database = "root." + nodes[1].Raw
		dbPath = p + ".device"
	} else if v.absent(dbPath) {
		dbPath = "iotdb.database" // inherited; its syntax is checked there
	}
	dbNodes, ok := v.treeDatabase(dbPath, m.Database)
	if !ok {
		return
	}
	under := len(nodes) > len(dbNodes)
	for i := 0; under && i < len(dbNodes); i++ {
		under = nodes[i].Raw == dbNodes[i].Raw
	}
	if !under {
		v.errf(p+".device", "%q is not below database %s with at least one node after it", m.Device, m.Database)
	}
}

// tableTarget checks a table-model mapping: device is the target table.
func (v *validator) tableTarget(p string, m *Mapping) {
	if m.Database == "" {
		v.errf(p+".database", "required in the table model (here or in iotdb.database)")
	}
	if v.required(p+".device", m.Device) {
		if strings.ContainsAny(m.Device, "${}.`") {
			v.errf(p+".device", "%q: in the table model device is the target table name (no template, no dots); device columns go in tags", m.Device)
		}
	}
	seen := map[string]int{}
	for i, tag := range m.Tags {
		tp := fmt.Sprintf("%s.tags[%d]", p, i)
		if !v.required(tp, tag) {
			continue
		}
		if j, dup := seen[strings.ToLower(tag)]; dup {
			v.errf(tp, "tag %q is listed twice (also tags[%d])", tag, j)
		}
		seen[strings.ToLower(tag)] = i
	}
}

func (v *validator) rest() {
	c := v.c
	v.positive("backfill.readers", c.Backfill.Readers)
	v.positive("backfill.writers", c.Backfill.Writers)
	v.positive("backfill.page_rows", c.Backfill.PageRows)
	v.positive("backfill.queue", c.Backfill.Queue)
	v.positiveDur("backfill.shutdown_timeout", c.Backfill.ShutdownTimeout)
	if c.Backfill.Listen != "" {
		v.hostPort("backfill.listen", c.Backfill.Listen, false)
	}

	v.positiveDur("cdc.checkpoint.interval", c.CDC.Checkpoint.Interval)
	v.positiveDur("cdc.heartbeat", c.CDC.Heartbeat)
	v.positiveDur("cdc.shutdown_timeout", c.CDC.ShutdownTimeout)
	v.oneOf("cdc.on_purged", c.CDC.OnPurged, OnPurgedFail, OnPurgedResnapshot)
	if c.CDC.ReadyMaxLag < 0 {
		v.errf("cdc.ready_max_lag", "must be 0 (no bound) or positive, got %s", c.CDC.ReadyMaxLag)
	}
	if c.CDC.GiveUpAfter != Unbounded {
		v.positiveDur("cdc.give_up_after", c.CDC.GiveUpAfter)
	}

	v.oneOf("dirty_rows.policy", c.DirtyRows.Policy, DirtySkip, DirtyFail)
	if c.DirtyRows.Max < -1 {
		v.errf("dirty_rows.max", "must be -1 (no limit), 0 or more, got %d", c.DirtyRows.Max)
	}
	if c.Metrics.Listen != "" {
		v.hostPort("metrics.listen", c.Metrics.Listen, false)
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "auto", "json", "console")
}

// stateFiles refuses two state files on one path: the checkpoint, cdc's
// snapshot state (the checkpoint's path + ".snapshot.json"), the backfill
// state and the dirty-rows file would overwrite each other (and share one
// lock, so a backfill and a cdc could not run together).
func (v *validator) stateFiles() {
	c := v.c
	type file struct{ key, path string }
	cp := c.CDC.Checkpoint.Path
	files := []file{
		{"cdc.checkpoint.path", cp},
		{"cdc.checkpoint.path", cp + ".snapshot.json"}, // the snapshot state that goes with it
		{"backfill.state", c.Backfill.State},
		{"dirty_rows.file", c.DirtyRows.File},
		{"sync.state", c.Sync.State},
	}
	name := func(i int) string {
		if i == 1 {
			return "the snapshot state of cdc.checkpoint.path"
		}
		return files[i].key
	}
	where := func(i int) string {
		if v.absent(files[i].key) {
			return "the default"
		}
		return v.at(files[i].key).String()
	}
	for i := range files {
		for j := i + 1; j < len(files); j++ {
			if files[i].path == "" || files[j].key == files[i].key || !samePath(files[i].path, files[j].path) {
				continue
			}
			// Reported at the written key, naming the other one's position.
			at, other := j, i
			if v.absent(files[j].key) && i != 1 {
				at, other = i, j
			}
			v.errAt(files[other].key, files[at].key, "%q is also %s (%s): each state file needs its own path",
				files[at].path, name(other), where(other))
		}
	}
}

// samePath reports whether two configured paths name one file (relative
// paths are relative to the working directory, as the binaries open them).
func samePath(a, b string) bool {
	if aa, err := filepath.Abs(a); err == nil {
		a = aa
	}
	if bb, err := filepath.Abs(b); err == nil {
		b = bb
	}
	return a == b
}
