// Package config loads the one YAML file that both binaries (backfill and cdc)
// read: strict decoding, ${VAR} expansion, defaults and validation, all done
// before any connection is made.
package config

import "time"

// Config is the whole file. Field comments say Required or Optional with the default.
type Config struct {
	MySQL     MySQL     `yaml:"mysql"`
	IoTDB     IoTDB     `yaml:"iotdb"`
	Backfill  Backfill  `yaml:"backfill"`
	CDC       CDC       `yaml:"cdc"`
	Sync      Sync      `yaml:"sync"` // cmd/sync (incremental and scheduled runs, config/sync.go)
	DirtyRows DirtyRows `yaml:"dirty_rows"`
	Metrics   Metrics   `yaml:"metrics"`
	Log       Log       `yaml:"log"`

	// Path is the file the configuration was loaded from (set by Load).
	Path string `yaml:"-"`

	// fields is where each field path was found (see PosOf).
	fields map[string]Pos
}

// MySQL is the source server.
type MySQL struct {
	Host     string  `yaml:"host"`      // Optional: defaults to 127.0.0.1
	Port     int     `yaml:"port"`      // Optional: defaults to 3306
	User     string  `yaml:"user"`      // Required
	Password string  `yaml:"password"`  // Optional; never logged
	Database string  `yaml:"database"`  // Required: the schema holding the tables
	TLS      string  `yaml:"tls"`       // Optional: disabled | preferred (default) | required | verify-ca | verify-identity
	CAFile   string  `yaml:"ca_file"`   // Required with verify-ca; with verify-identity optional (empty: the system's CA bundle)
	ServerID uint32  `yaml:"server_id"` // Optional: replica id for cdc, defaults to 5401
	Flavor   string  `yaml:"flavor"`    // Optional: auto (default, detected from VERSION()) | mysql | mariadb
	Tables   []Table `yaml:"tables"`    // Optional: where and partition of a table; a mapped table without an entry is taken as it is

	// PasswordFile names a file holding the password (a Docker or
	// Kubernetes secret), read at load; a relative path is relative to the
	// configuration file. Excludes Password. One trailing newline is
	// dropped. Optional; the file's content is never logged.
	PasswordFile string `yaml:"password_file"`
}

// Table is the source side of one mapped table.
type Table struct {
	Name      string    `yaml:"name"`      // Required
	Where     string    `yaml:"where"`     // Optional backfill filter (SQL boolean expression)
	Partition Partition `yaml:"partition"` // Optional: defaults to the primary key, 4 ranges
	Cursor    *Cursor   `yaml:"cursor"`    // Optional: how cmd/sync finds changed rows (config/sync.go); required for its incremental runs

	Pos Pos `yaml:"-"`
}

// Partition says how backfill splits a table.
type Partition struct {
	Column    string `yaml:"column"`     // Optional: defaults to the first primary key column
	Count     int    `yaml:"count"`      // Optional: number of ranges, defaults to 4 × backfill.readers
	ChunkRows int    `yaml:"chunk_rows"` // Optional: alternative to count, target rows per range
}

// IoTDB is the target server and the mappings.
type IoTDB struct {
	Nodes        []string      `yaml:"nodes"`               // Required: host:port list
	User         string        `yaml:"user"`                // Optional: defaults to root
	Password     string        `yaml:"password"`            // Optional; never logged. Defaults to root (IoTDB's own) when the user is root and neither password nor password_file is given
	Model        string        `yaml:"model"`               // Optional: tree (default) | table
	Database     string        `yaml:"database"`            // table model: Required database; tree: Optional default database path
	CreateSchema bool          `yaml:"create_schema"`       // Optional: defaults to true
	Precision    string        `yaml:"timestamp_precision"` // Optional: auto (default, from the server) | ms | us | ns
	Sessions     int           `yaml:"sessions"`            // Optional: session pool size, defaults to 4
	WriteTimeout time.Duration `yaml:"write_timeout"`       // Optional: deadline per RPC, defaults to 30s
	Batch        Batch         `yaml:"batch"`
	Retry        Retry         `yaml:"retry"`
	MappingsDir  string        `yaml:"mappings_dir"` // Optional: folder of one-mapping-per-file YAML, relative to the main file
	Mappings     []Mapping     `yaml:"mappings"`     // Required (here or in mappings_dir): one per table

	// PasswordFile is as mysql.password_file, for the IoTDB password.
	PasswordFile string `yaml:"password_file"`

	// TLS encrypts every session with IoTDB (the server's
	// enable_thrift_ssl); config/tls.go.
	TLS IoTDBTLS `yaml:"tls"` // Optional: defaults to mode disabled
}

// Batch bounds what the sink buffers before a write.
type Batch struct {
	Rows     int           `yaml:"rows"`     // Optional: defaults to 10000
	Interval time.Duration `yaml:"interval"` // Optional: defaults to 200ms
	// MaxBytes bounds one write request: a batch whose encoded rows would be
	// larger is sent in several requests. IoTDB refuses a request frame above
	// its dn_thrift_max_frame_size (at most 64 MiB by default, less on a
	// DataNode with little memory) by dropping the connection.
	MaxBytes int `yaml:"max_bytes"` // Optional: defaults to 8388608 (8 MiB); at least 65536
}

// Retry is the backoff policy for transient failures.
type Retry struct {
	Initial time.Duration `yaml:"initial"` // Optional: defaults to 100ms
	Max     time.Duration `yaml:"max"`     // Optional: defaults to 10s
	// Elapsed bounds the retries of one operation. 0 in YAML means no
	// bound (retry until stopped), loaded as Unbounded.
	Elapsed time.Duration `yaml:"give_up_after"` // Optional: defaults to 5m; 0 means never give up
}

// Mapping turns rows of one table into IoTDB points.
type Mapping struct {
	Table        string        `yaml:"table"`           // Required: a name from mysql.tables
	Device       string        `yaml:"device"`          // Required: tree: path template "root.factory.${site}.${device_id}"; table model: target table name. Not env-expanded: ${...} here names a column
	Database     string        `yaml:"database"`        // Optional (tree): database path; defaults to the first two nodes of the device template
	Tags         []string      `yaml:"tags"`            // table model: columns that become TAG columns
	Time         TimeSpec      `yaml:"time"`            // Required
	Aligned      *bool         `yaml:"aligned"`         // Optional: defaults to true
	Measurements []Measurement `yaml:"measurements"`    // Required: at least one
	OnUpdate     string        `yaml:"on_update"`       // Optional: overwrite (default) | ignore
	OnDelete     string        `yaml:"on_delete"`       // Optional: ignore (default) | delete
	Unsigned     string        `yaml:"bigint_unsigned"` // Optional: BIGINT UNSIGNED above 2^63-1: error (default, dirty row) | clip | string
	Decimal      string        `yaml:"decimal"`         // Optional: DECIMAL as double (default) | string (exact text)
	DecimalSet   bool          `yaml:"-"`               // Set by Load when decimal was written; without it a measurement declared STRING/TEXT of a DECIMAL column is exact text whatever Decimal says
	ZeroDate     string        `yaml:"zero_date"`       // Optional: zero/invalid DATE value: dirty (default) | null (an unquoted null or ~ is the word, not "not set": see nullIsWord)
	// DeviceTemplate names an IoTDB device template (tree model; IoTDB's
	// CREATE DEVICE TEMPLATE, not the device path pattern above). The sink
	// creates it from the measurements, sets it on the device path's fixed
	// beginning (the nodes before the first ${column}), and every device
	// under it then activates it on its first write: no schema call per
	// device, whatever their number.
	DeviceTemplate string `yaml:"device_template"` // Optional (tree model): template name (letters, digits, _)

	Pos Pos `yaml:"-"`
}

// TimeSpec names the time column and how to read it.
type TimeSpec struct {
	Column string `yaml:"column"` // Required
	Zone   string `yaml:"zone"`   // Optional for DATETIME/DATE: IANA zone the values were written in, defaults to UTC
	Unit   string `yaml:"unit"`   // Required for integer columns: s | ms | us | ns
}

// Measurement is one column written as one IoTDB series.
type Measurement struct {
	Column string `yaml:"column"` // Required
	Name   string `yaml:"name"`   // Optional: measurement name, defaults to the column name. After Load it is the plain name (backquotes removed); the mapper quotes it for the wire
	Type   string `yaml:"type"`   // Optional: IoTDB type, derived from the column type when empty

	Pos Pos `yaml:"-"`
}

// Backfill tunes cmd/backfill.
type Backfill struct {
	Readers  int    `yaml:"readers"`   // Optional: parallel readers, defaults to 4
	Writers  int    `yaml:"writers"`   // Optional: parallel writers, defaults to 2
	PageRows int    `yaml:"page_rows"` // Optional: rows per keyset page, defaults to 10000
	Queue    int    `yaml:"queue"`     // Optional: pages buffered between readers and writers, defaults to 8
	State    string `yaml:"state"`     // Optional: resume state file, defaults to ./backfill.state.json
	// ShutdownTimeout bounds the writes still in flight after SIGINT/SIGTERM;
	// what is not acknowledged by then is read again on the next run.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // Optional: defaults to 30s
	// Listen is the HTTP endpoint (/metrics, /healthz, /readyz, /status)
	// served while the backfill runs. Off unless set: several backfills
	// (shards, or a backfill beside cdc) on one host would compete for
	// one address. The flag --metrics-listen sets it too.
	Listen string `yaml:"listen"` // Optional: host:port; defaults to "" (none)
}

// CDC tunes cmd/cdc.
type CDC struct {
	Start      Start         `yaml:"start"` // Optional: defaults to initial
	Checkpoint Checkpoint    `yaml:"checkpoint"`
	Heartbeat  time.Duration `yaml:"heartbeat"` // Optional: binlog heartbeat period, defaults to 1s
	// ShutdownTimeout bounds the final flush after SIGINT/SIGTERM; what is
	// not acknowledged by then is streamed again after the restart.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // Optional: defaults to 30s
	// OnPurged is what cdc does when the checkpoint's binlog is no longer on
	// the server: fail (default: stop and say how to start over) or
	// resnapshot (discard the cdc state, take a new position, snapshot the
	// mapped tables again and stream from there).
	OnPurged string `yaml:"on_purged"` // Optional: fail (default) | resnapshot
	// GiveUpAfter makes cdc exit 1 when MySQL or IoTDB has failed this long
	// without progress (no commit acknowledged, no heartbeat). By default
	// cdc keeps retrying, with waits capped at iotdb.retry.max.
	GiveUpAfter time.Duration `yaml:"give_up_after"` // Optional: defaults to never (0)
	// ReadyMaxLag makes /readyz answer 503 while the lag (from the oldest
	// change IoTDB has not acknowledged) is above it.
	ReadyMaxLag time.Duration `yaml:"ready_max_lag"` // Optional: defaults to no bound (0)
}

// Unbounded is Retry.Elapsed (and CDC.GiveUpAfter) for "no bound": the
// value a 0 in YAML loads as.
const Unbounded time.Duration = -1

// What cdc does when the checkpoint's binlog was purged (cdc.on_purged).
const (
	OnPurgedFail       = "fail"
	OnPurgedResnapshot = "resnapshot"
)

// Start is where cdc begins when no checkpoint exists. In YAML it is either
// a scalar mode (initial | latest | earliest) or a map with one of file+pos,
// gtid, or timestamp.
type Start struct {
	Mode      string    // initial | latest | earliest | position | gtid | timestamp
	File      string    // Mode position
	Pos       uint32    // Mode position
	GTID      string    // Mode gtid
	Timestamp time.Time // Mode timestamp
}

// Checkpoint says where and how often cdc saves its position.
type Checkpoint struct {
	Path     string        `yaml:"path"`     // Optional: defaults to ./cdc.checkpoint.json
	Interval time.Duration `yaml:"interval"` // Optional: defaults to 1s
}

// DirtyRows is the policy for rows that cannot be written.
type DirtyRows struct {
	Policy string `yaml:"policy"` // Optional: skip (default) | fail
	File   string `yaml:"file"`   // Optional: JSON-lines file, defaults to ./dirty-rows.jsonl
	Max    int    `yaml:"max"`    // Optional: stop after this many skipped rows, defaults to 1000; -1 means no limit
}

// Metrics is the HTTP endpoint of cdc (and of sync on a schedule, unless
// sync.listen says otherwise).
type Metrics struct {
	Listen string `yaml:"listen"` // Optional: defaults to 127.0.0.1:10667 (loopback); ":10667" for every interface; empty string disables
}

// Log configures zerolog.
type Log struct {
	Level  string `yaml:"level"`  // Optional: debug | info (default) | warn | error
	Format string `yaml:"format"` // Optional: auto (default: console on a terminal, JSON lines otherwise) | json | console
}

// Pos is where a node was found in the YAML, for error messages.
type Pos struct {
	File string
	Line int
}
