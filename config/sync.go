package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Sync tunes cmd/sync: incremental runs by cursor (mysql.tables[].cursor),
// time windows and full copies, once or on a schedule. The initial copy of
// a table and the window and full copies are read with the backfill engine
// and take its tuning (backfill.readers, writers, page_rows, queue).
type Sync struct {
	State string `yaml:"state"` // Optional: the state file (high-water marks), defaults to ./sync.state.json
	// Lookback is the default span re-read before the high-water mark for
	// cursors that are times (a cursor's own lookback wins). Rows whose
	// transaction commits after a run passed their cursor value are found
	// by the next run only if they lie within it.
	Lookback time.Duration `yaml:"lookback"`  // Optional: defaults to 5m; 0 re-reads nothing
	PageRows int           `yaml:"page_rows"` // Optional: rows per page of an incremental run, defaults to 10000
	// Every and Cron make cmd/sync long-running (the flags --every and
	// --cron override them; --once runs once whatever they say).
	Every time.Duration `yaml:"every"` // Optional: a run every this long (not with cron)
	Cron  string        `yaml:"cron"`  // Optional: runs at the times of this cron expression (5 fields, or @hourly, @every 10m, ...; not with every)
	// Listen is the HTTP endpoint (/metrics, /healthz, /readyz) of the
	// long-running mode; one-shot runs serve nothing.
	Listen string `yaml:"listen"` // Optional: defaults to metrics.listen; empty string disables
	// ShutdownTimeout bounds the writes still in flight after SIGINT/SIGTERM;
	// what is not acknowledged by then is read again by the next run.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // Optional: defaults to 30s
}

// Cursor is how cmd/sync finds the rows of a table changed since its last
// run: a column that grows with every insert or update (updated_at, a
// sequence id), or a list of them tried in order: a row's cursor is its
// first non-NULL column of the list, and each column is followed as its own
// lane over the rows where the columns before it are NULL (so each lane
// can use the column's index).
type Cursor struct {
	Columns []string `yaml:"columns"` // Required: one or more columns, all date/time or all integer
	// Lookback is re-read before the high-water mark at every run: a
	// duration for date/time cursors and integer epochs (unit), a count of
	// values for integer sequences (where it is required: 0 is allowed).
	Lookback Lookback `yaml:"lookback"` // Optional: defaults to sync.lookback for time cursors
	Unit     string   `yaml:"unit"`     // Optional: integer cursors holding epoch times: s | ms | us | ns
	Zone     string   `yaml:"zone"`     // Optional: DATETIME/DATE cursors: the zone their values are written in (for the lag), defaults to UTC
	// Nulls is what the first copy of the table does with rows whose cursor
	// is NULL (every column of the list NULL): incremental runs can never
	// see them, so by default they are recorded as dirty rows.
	Nulls string `yaml:"nulls"` // Optional: dirty (default) | copy
}

// Values of Cursor.Nulls.
const (
	CursorNullsDirty = "dirty"
	CursorNullsCopy  = "copy"
)

// Defaults of the sync section.
const (
	DefaultSyncState    = "./sync.state.json"
	DefaultSyncLookback = 5 * time.Minute
)

// Lookback is a cursor's lookback: a duration ("5m") or, for integer
// sequence cursors, a count of values ("1000"). "0" is both.
type Lookback struct {
	Set      bool          // written in the file
	Count    bool          // written as a positive integer
	N        int64         // the count, when Count
	Duration time.Duration // the duration, when not Count
}

var lookbackCountRE = regexp.MustCompile(`^[0-9]+$`)

// UnmarshalYAML accepts a duration or a non-negative integer.
func (l *Lookback) UnmarshalYAML(n *yaml.Node) error {
	*l = Lookback{}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 5m, or a count of values such as 1000; got %s", kindName(n))
	}
	s := strings.TrimSpace(n.Value)
	if isNull(n) || s == "" {
		return nil
	}
	l.Set = true
	if lookbackCountRE.MatchString(s) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is too large", s)
		}
		l.Count, l.N = v > 0, v
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration such as 5m nor a count of values such as 1000", s)
	}
	if d < 0 {
		return fmt.Errorf("%q: must not be negative", s)
	}
	l.Duration = d
	return nil
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (l Lookback) MarshalYAML() (any, error) {
	switch {
	case !l.Set:
		return nil, nil
	case l.Count:
		return l.N, nil
	}
	return l.Duration.String(), nil
}

// String is the lookback as written ("5m0s", "1000", "" when not set).
func (l Lookback) String() string {
	switch {
	case !l.Set:
		return ""
	case l.Count:
		return strconv.FormatInt(l.N, 10)
	}
	return l.Duration.String()
}

// ParseCron parses a cron expression the way sync.cron and --cron are read:
// five fields (minute hour day-of-month month day-of-week) or a descriptor
// (@hourly, @daily, @every 10m, ...), in the process's local time unless it
// starts with CRON_TZ=Zone.
func ParseCron(expr string) (cron.Schedule, error) {
	return cron.ParseStandard(expr)
}

// applySyncDefaults is the sync part of applyDefaults (which calls it
// last: sync.listen defaults to metrics.listen).
func applySyncDefaults(c *Config, d *decoder) {
	absent := func(path string) bool { _, ok := d.seen[path]; return !ok }
	s := &c.Sync
	if s.State == "" {
		s.State = DefaultSyncState
	}
	if absent("sync.lookback") {
		s.Lookback = DefaultSyncLookback
	}
	if absent("sync.page_rows") {
		s.PageRows = DefaultPageRows
	}
	if absent("sync.shutdown_timeout") {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	s.Cron = strings.TrimSpace(s.Cron)
	if absent("sync.listen") {
		s.Listen = c.Metrics.Listen // applied before: its default is in already
	}
	for i := range c.MySQL.Tables {
		cu := c.MySQL.Tables[i].Cursor
		if cu == nil {
			continue
		}
		cu.Unit = strings.ToLower(strings.TrimSpace(cu.Unit))
		cu.Nulls = strings.ToLower(strings.TrimSpace(cu.Nulls))
		if cu.Nulls == "" {
			cu.Nulls = CursorNullsDirty
		}
	}
}

// WithDefaults returns s with its zero fields set to the defaults (for a
// section built in code; Lookback 0 stays 0).
func (s Sync) WithDefaults() Sync {
	if s.State == "" {
		s.State = DefaultSyncState
	}
	if s.PageRows <= 0 {
		s.PageRows = DefaultPageRows
	}
	if s.ShutdownTimeout <= 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	return s
}

func (v *validator) sync() {
	s := &v.c.Sync
	v.positive("sync.page_rows", s.PageRows)
	v.positiveDur("sync.shutdown_timeout", s.ShutdownTimeout)
	if s.Lookback < 0 {
		v.errf("sync.lookback", "must be 0 or positive, got %s", s.Lookback)
	}
	if s.Every < 0 || (s.Every == 0 && !v.absent("sync.every")) {
		v.errf("sync.every", "must be a positive duration, got %s (leave it out for one run per start)", s.Every)
	}
	if s.Cron != "" {
		if _, err := ParseCron(s.Cron); err != nil {
			v.errf("sync.cron", "%q is not a cron expression (5 fields: minute hour day-of-month month day-of-week, or @hourly, @every 10m, ...): %v", s.Cron, err)
		}
		if s.Every > 0 {
			v.errf("sync.cron", "every and cron exclude each other: give one")
		}
	}
	if s.Listen != "" && !v.absent("sync.listen") { // inherited: checked as metrics.listen
		v.hostPort("sync.listen", s.Listen, false)
	}
	for i := range v.c.MySQL.Tables {
		if cu := v.c.MySQL.Tables[i].Cursor; cu != nil {
			v.cursor(fmt.Sprintf("mysql.tables[%d].cursor", i), cu)
		}
	}
}

func (v *validator) cursor(p string, cu *Cursor) {
	if len(cu.Columns) == 0 {
		v.errf(p+".columns", "at least one column is required (e.g. [updated_at] or [updated_at, created_at])")
	}
	seen := map[string]int{}
	for j, col := range cu.Columns {
		cp := fmt.Sprintf("%s.columns[%d]", p, j)
		if !v.required(cp, col) {
			continue
		}
		if k, dup := seen[strings.ToLower(col)]; dup {
			v.errf(cp, "column %q is listed twice (also columns[%d])", col, k)
		}
		seen[strings.ToLower(col)] = j
	}
	if cu.Unit != "" {
		v.oneOf(p+".unit", cu.Unit, "s", "ms", "us", "ns")
		if cu.Zone != "" {
			v.errf(p+".zone", "zone and unit exclude each other: unit is for integer epoch cursors, zone for DATETIME and DATE cursors")
		}
		if cu.Lookback.Count {
			v.errf(p+".lookback", "an integer epoch cursor (unit: %s) takes a duration such as 5m, not a count", cu.Unit)
		}
	}
	if z := cu.Zone; z != "" {
		if z == "Local" {
			v.errf(p+".zone", `"Local" depends on the host: name an IANA zone such as UTC or Europe/Berlin`)
		} else if _, err := time.LoadLocation(z); err != nil {
			v.errf(p+".zone", "%q is not a known IANA time zone (e.g. UTC, Europe/Berlin)", z)
		}
	}
	v.oneOf(p+".nulls", cu.Nulls, CursorNullsDirty, CursorNullsCopy)
}
