package config

import (
	"fmt"
	"strings"
	"time"
)

// Defaults, as documented on the fields in types.go and in config.example.yaml.
const (
	DefaultMySQLHost       = "127.0.0.1"
	DefaultMySQLPort       = 3306
	DefaultTLS             = "preferred"
	DefaultServerID        = 5401
	DefaultFlavor          = "auto"
	DefaultIoTDBUser       = "root"
	DefaultIoTDBPassword   = "root" // IoTDB's own default for root; only with user root and no password given
	DefaultSessions        = 4
	DefaultWriteTimeout    = 30 * time.Second
	DefaultBatchRows       = 10000
	DefaultBatchInterval   = 200 * time.Millisecond
	DefaultBatchMaxBytes   = 8 << 20
	DefaultRetryInitial    = 100 * time.Millisecond
	DefaultRetryMax        = 10 * time.Second
	DefaultRetryElapsed    = 5 * time.Minute
	DefaultZone            = "UTC"
	DefaultReaders         = 4
	DefaultWriters         = 2
	DefaultPageRows        = 10000
	DefaultQueue           = 8
	DefaultStateFile       = "./backfill.state.json"
	DefaultCheckpointFile  = "./cdc.checkpoint.json"
	DefaultCheckpointEvery = time.Second
	DefaultHeartbeat       = time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultDirtyFile       = "./dirty-rows.jsonl"
	DefaultDirtyMax        = 1000
	// The metrics port: not 9464 (OpenTelemetry's Prometheus exporter
	// listens there by default), not in 9100-9999 (every port of that range
	// is claimed by some Prometheus exporter), and none of IoTDB's own
	// (6667, 9091/9092, 10710-10760, 10810). Loopback unless told otherwise.
	DefaultMetricsListen = "127.0.0.1:10667"
	DefaultLogLevel      = "info"
	DefaultLogFormat     = "auto"
)

// applyDefaults fills what the file left out. Numbers take their default only
// when the key is absent, so an explicit 0 reaches validation (and is refused
// where a positive value is needed) instead of silently becoming the default.
// Enum values are lower-cased, type names upper-cased.
func applyDefaults(c *Config, d *decoder) {
	absent := func(path string) bool { _, ok := d.seen[path]; return !ok }
	str := func(p *string, def string) {
		if *p == "" {
			*p = def
		}
	}
	lower := func(p *string, def string) {
		*p = strings.ToLower(strings.TrimSpace(*p))
		str(p, def)
	}
	num := func(p *int, path string, def int) {
		if absent(path) {
			*p = def
		}
	}
	dur := func(p *time.Duration, path string, def time.Duration) {
		if absent(path) {
			*p = def
		}
	}

	my := &c.MySQL
	str(&my.Host, DefaultMySQLHost)
	num(&my.Port, "mysql.port", DefaultMySQLPort)
	lower(&my.TLS, DefaultTLS)
	if absent("mysql.server_id") {
		my.ServerID = DefaultServerID
	}
	lower(&my.Flavor, DefaultFlavor)

	bf := &c.Backfill
	num(&bf.Readers, "backfill.readers", DefaultReaders)
	num(&bf.Writers, "backfill.writers", DefaultWriters)
	num(&bf.PageRows, "backfill.page_rows", DefaultPageRows)
	num(&bf.Queue, "backfill.queue", DefaultQueue)
	str(&bf.State, DefaultStateFile)
	dur(&bf.ShutdownTimeout, "backfill.shutdown_timeout", DefaultShutdownTimeout)

	implicitTables(c, d)
	for i := range my.Tables {
		p := fmt.Sprintf("mysql.tables[%d].partition", i)
		part := &my.Tables[i].Partition
		if absent(p+".count") && part.ChunkRows == 0 && bf.Readers > 0 {
			part.Count = 4 * bf.Readers
		}
	}

	db := &c.IoTDB
	str(&db.User, DefaultIoTDBUser)
	if db.User == DefaultIoTDBUser && absent("iotdb.password") && absent("iotdb.password_file") {
		db.Password = DefaultIoTDBPassword // a fresh IoTDB's root password: the first run works
	}
	lower(&db.Model, ModelTree)
	if absent("iotdb.create_schema") {
		db.CreateSchema = true
	}
	lower(&db.Precision, PrecisionAuto)
	str(&db.TLS.Mode, TLSDisabled)
	num(&db.Sessions, "iotdb.sessions", DefaultSessions)
	dur(&db.WriteTimeout, "iotdb.write_timeout", DefaultWriteTimeout)
	num(&db.Batch.Rows, "iotdb.batch.rows", DefaultBatchRows)
	dur(&db.Batch.Interval, "iotdb.batch.interval", DefaultBatchInterval)
	num(&db.Batch.MaxBytes, "iotdb.batch.max_bytes", DefaultBatchMaxBytes)
	dur(&db.Retry.Initial, "iotdb.retry.initial", DefaultRetryInitial)
	dur(&db.Retry.Max, "iotdb.retry.max", DefaultRetryMax)
	switch {
	case absent("iotdb.retry.give_up_after"):
		db.Retry.Elapsed = DefaultRetryElapsed
	case db.Retry.Elapsed == 0: // documented: 0 means never give up
		db.Retry.Elapsed = Unbounded
	}

	for i := range db.Mappings {
		m := &db.Mappings[i]
		if m.Aligned == nil {
			t := true
			m.Aligned = &t
		}
		lower(&m.OnUpdate, OnUpdateOverwrite)
		lower(&m.OnDelete, OnDeleteIgnore)
		lower(&m.Unsigned, UnsignedError)
		m.DecimalSet = !absent(fmt.Sprintf("iotdb.mappings[%d].decimal", i)) && m.Decimal != ""
		lower(&m.Decimal, DecimalDouble)
		lower(&m.ZeroDate, ZeroDateDirty)
		m.Time.Unit = strings.ToLower(strings.TrimSpace(m.Time.Unit))
		if m.Time.Unit == "" {
			str(&m.Time.Zone, DefaultZone) // an epoch integer has no zone
		}
		if m.Database == "" {
			m.Database = db.Database // the table model's database, or the tree's default; derived in validate otherwise
		}
		for j := range m.Measurements {
			ms := &m.Measurements[j]
			ms.Type = strings.ToUpper(strings.TrimSpace(ms.Type))
			// Name defaults to the column in validate, which needs to know
			// whether the name was written.
		}
	}

	cdc := &c.CDC
	if cdc.Start.Mode == "" {
		cdc.Start.Mode = StartInitial
	}
	str(&cdc.Checkpoint.Path, DefaultCheckpointFile)
	dur(&cdc.Checkpoint.Interval, "cdc.checkpoint.interval", DefaultCheckpointEvery)
	dur(&cdc.Heartbeat, "cdc.heartbeat", DefaultHeartbeat)
	dur(&cdc.ShutdownTimeout, "cdc.shutdown_timeout", DefaultShutdownTimeout)
	lower(&cdc.OnPurged, OnPurgedFail)
	if cdc.GiveUpAfter == 0 {
		cdc.GiveUpAfter = Unbounded // absent or 0: keep retrying
	}

	dr := &c.DirtyRows
	lower(&dr.Policy, DirtySkip)
	str(&dr.File, DefaultDirtyFile)
	num(&dr.Max, "dirty_rows.max", DefaultDirtyMax)

	if absent("metrics.listen") {
		c.Metrics.Listen = DefaultMetricsListen
	}
	lower(&c.Log.Level, DefaultLogLevel)
	lower(&c.Log.Format, DefaultLogFormat)
	applySyncDefaults(c, d)
}

// The WithDefaults methods fill the zero fields of a section built in code
// (tests, tools) with the same defaults the loader applies, so that every
// package reads its defaults from here and nowhere else. A loaded
// configuration is already complete; they change nothing in it.

// WithDefaults returns r with its zero fields set to the defaults.
func (r Retry) WithDefaults() Retry {
	if r.Initial <= 0 {
		r.Initial = DefaultRetryInitial
	}
	if r.Max <= 0 {
		r.Max = DefaultRetryMax
	}
	if r.Elapsed == 0 {
		r.Elapsed = DefaultRetryElapsed
	}
	return r
}

// WithDefaults returns b with its zero fields set to the defaults.
func (b Backfill) WithDefaults() Backfill {
	if b.Readers <= 0 {
		b.Readers = DefaultReaders
	}
	if b.Writers <= 0 {
		b.Writers = DefaultWriters
	}
	if b.PageRows <= 0 {
		b.PageRows = DefaultPageRows
	}
	if b.Queue <= 0 {
		b.Queue = DefaultQueue
	}
	if b.State == "" {
		b.State = DefaultStateFile
	}
	if b.ShutdownTimeout <= 0 {
		b.ShutdownTimeout = DefaultShutdownTimeout
	}
	return b
}

// WithDefaults returns d with its empty policy and file set to the
// defaults. Max is left as it is: 0 is a valid limit (stop at the first
// skipped row).
func (d DirtyRows) WithDefaults() DirtyRows {
	if d.Policy == "" {
		d.Policy = DirtySkip
	}
	if d.File == "" {
		d.File = DefaultDirtyFile
	}
	return d
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c IoTDB) WithDefaults() IoTDB {
	if c.User == "" {
		c.User = DefaultIoTDBUser
	}
	if c.Model == "" {
		c.Model = ModelTree
	}
	if c.TLS.Mode == "" {
		c.TLS.Mode = TLSDisabled
	}
	if c.Sessions <= 0 {
		c.Sessions = DefaultSessions
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Batch.Rows <= 0 {
		c.Batch.Rows = DefaultBatchRows
	}
	if c.Batch.Interval <= 0 {
		c.Batch.Interval = DefaultBatchInterval
	}
	if c.Batch.MaxBytes <= 0 {
		c.Batch.MaxBytes = DefaultBatchMaxBytes
	}
	c.Retry = c.Retry.WithDefaults()
	return c
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c CDC) WithDefaults() CDC {
	if c.Start.Mode == "" {
		c.Start.Mode = StartInitial
	}
	if c.Checkpoint.Path == "" {
		c.Checkpoint.Path = DefaultCheckpointFile
	}
	if c.Checkpoint.Interval <= 0 {
		c.Checkpoint.Interval = DefaultCheckpointEvery
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.OnPurged == "" {
		c.OnPurged = OnPurgedFail
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = Unbounded
	}
	return c
}
