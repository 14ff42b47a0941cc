// Package testenv starts throwaway MariaDB servers for integration tests,
// benchmarks and the demo.
//
// Each server is a private mariadbd (Debian's mariadb-server 10.11; the dev and
// CI machines have no Docker engine) listening on 127.0.0.1 at a
// free port, with a Unix socket and a data directory under os.TempDir(). The
// binlog is configured the way the bridge needs it (ROW, FULL row image, FULL
// row metadata, MariaDB GTIDs in domain 0), and two accounts exist:
//
//   - root, with a password, reachable over TCP (root@127.0.0.1) and over the
//     socket (root@localhost);
//   - bridge, the least-privileged account the bridge is meant to run as:
//     SELECT, REPLICATION SLAVE and BINLOG MONITOR on *.* (see bridgeGrants).
//
// The data directory is not created by running mariadb-install-db for every
// server: once per machine and mariadbd version a pristine, fully initialised
// directory (users included) is installed into os.TempDir() and each server
// copies it, which brings start-to-ready down to a few hundred milliseconds.
//
// Servers die with their parent process (Pdeathsig on Linux, see spawn_linux.go),
// and run directories of dead processes are removed by the next Start.
//
// In a test:
//
//	func TestIntegrationSomething(t *testing.T) {
//		m := testenv.StartMariaDB(t)          // skipped with -short outside CI
//		db := m.DB(t)                         // root pool on m.Database ("factory")
//		file, pos, gtid, err := m.BinlogPosition(ctx)
//		// ... point the code under test at m.BridgeDSN() / m.Host, m.Port,
//		// m.BridgeUser, m.BridgePassword
//	}
//
// For commands and the demo: Start(ctx, Options{}) and defer m.Stop(), or run
// cmd/testmariadb.
//
// A replica (StartReplica, or Options.ReplicaOf) is a second server that
// replicates from a running one by GTID, with log_slave_updates, so that its
// own binlog (replica-bin.NNNNNN, not binlog.NNNNNN) carries the primary's
// transactions under the primary's GTIDs; see replica.go.
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Account names and passwords baked into the cached template data directory.
// The servers are throwaway and bound to 127.0.0.1, so fixed passwords are fine.
const (
	rootUser       = "root"
	rootPassword   = "testenv-root-pw"
	bridgeUser     = "bridge"
	bridgePassword = "testenv-bridge-pw"
	// replUser is what a replica's IO thread logs in to its primary as:
	// REPLICATION SLAVE only, on 127.0.0.1.
	replUser     = "repl"
	replPassword = "testenv-repl-pw"
)

// Binlog basenames: a primary writes binlog.NNNNNN, a replica
// replica-bin.NNNNNN, so that a binlog position by file name taken on one is
// never valid on the other (only a GTID is).
const (
	primaryBinlogBase = "binlog"
	replicaBinlogBase = "replica-bin"
)

// bridgeGrants is the least-privilege grant for the bridge account on MariaDB 10.11:
//
//   - SELECT: backfill scans and information_schema column metadata;
//   - REPLICATION SLAVE: COM_BINLOG_DUMP (the binlog stream itself);
//   - BINLOG MONITOR: SHOW MASTER STATUS (a.k.a. SHOW BINLOG STATUS) and
//     SHOW BINARY LOGS. Since MariaDB 10.5.2 "REPLICATION CLIENT" is an alias
//     of BINLOG MONITOR, so SHOW GRANTS prints BINLOG MONITOR for a user that
//     was granted REPLICATION CLIENT. SLAVE MONITOR (SHOW SLAVE STATUS) and
//     REPLICATION MASTER ADMIN are not needed to read a binlog.
//
// go-mysql's BinlogSyncer only runs SHOW GLOBAL VARIABLES and SETs user
// variables before the dump, which need no privilege.
const bridgeGrants = "SELECT, REPLICATION SLAVE, BINLOG MONITOR"

// innodbLogFileSize is shared by the template install and the server so the
// server never has to resize the redo log at startup. 64M keeps the template
// small to copy and is enough for multi-million-row LOAD DATA without
// checkpoint stalls.
const innodbLogFileSize = "64M"

// Options configure Start. The zero value is a new server on a free port with
// a temporary data directory.
type Options struct {
	// Port is the TCP port on 127.0.0.1. Optional: 0 picks a free port.
	// 3306 is refused so the system service is never disturbed.
	Port int
	// DataDir is the data directory. Optional: "" creates a temporary one that
	// Stop removes. A non-empty directory is kept on Stop; it is initialised
	// from the template when it holds no mysql/ schema yet, and reused
	// otherwise (so a second Start with the same DataDir sees the old data).
	DataDir string
	// ServerID is --server-id. Optional: defaults to 1, and for a replica to
	// its primary's ServerID + 1 (+ 1 per earlier replica of that primary).
	ServerID uint32
	// Database is created at start (if missing) and used by RootDSN, BridgeDSN,
	// DB, Exec and LoadCSV. Optional: defaults to "factory". A replica's is its
	// primary's (it arrives through replication, it is not created there).
	Database string
	// ExtraArgs are appended to the mariadbd command line and so override the
	// defaults (e.g. "--binlog-row-metadata=MINIMAL"). Optional.
	ExtraArgs []string
	// Log receives the server's error log (mariadbd's stderr) as it is written,
	// in addition to the error.log file in the run directory. A
	// zerolog.Logger is an io.Writer and can be passed directly. Optional.
	Log io.Writer
	// NoTemplate runs mariadb-install-db for this server instead of copying
	// the cached template data directory. Optional: for measuring and for
	// debugging the template; slower (about half a second more).
	NoTemplate bool
	// ReplicaOf makes the new server a replica of this running server: GTID
	// replication (MASTER_USE_GTID=slave_pos) from the start of the primary's
	// binlog, log_slave_updates, gtid_strict_mode, its own binlog named
	// replica-bin.NNNNNN. Start returns once the replica has applied everything
	// the primary had executed. The primary's binlog must be complete (not
	// purged) since its first start. Optional; use StartReplica in tests.
	ReplicaOf *MariaDB
}

func (o Options) withDefaults() (Options, error) {
	if o.Port == 3306 {
		return o, errors.New("testenv: port 3306 belongs to the system MariaDB/MySQL service; use 0 for a free port")
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("testenv: invalid port %d", o.Port)
	}
	if o.ServerID == 0 {
		o.ServerID = 1
	}
	if o.Database == "" {
		o.Database = "factory"
	}
	if o.DataDir != "" {
		abs, err := filepath.Abs(o.DataDir)
		if err != nil {
			return o, fmt.Errorf("testenv: data dir %q: %w", o.DataDir, err)
		}
		o.DataDir = abs
	}
	return o, nil
}

// MariaDB is a running throwaway server. Its exported fields are read-only.
type MariaDB struct {
	Host     string // always 127.0.0.1
	Port     int
	Socket   string // Unix socket path (root@localhost / bridge@localhost)
	DataDir  string
	Database string
	ServerID uint32 // --server-id; GTIDs written here are 0-<ServerID>-<seq>

	// BinlogBase is the basename of the binlog files: "binlog" on a primary
	// (binlog.000001, ...), "replica-bin" on a replica.
	BinlogBase string

	RootUser, RootPassword     string // root over TCP 127.0.0.1 or the socket
	BridgeUser, BridgePassword string // SELECT, REPLICATION SLAVE, BINLOG MONITOR
	ReplUser, ReplPassword     string // REPLICATION SLAVE only (repl@127.0.0.1): what replicas log in as

	// StartupTime is how long the last Start or Restart took until the server
	// accepted connections (for Start: data directory copy included).
	StartupTime time.Duration

	opts     Options
	bins     binaries
	runDir   string // socket, pid file, error log; temp data dir lives inside
	tempData bool

	replicas atomic.Uint32 // replicas started from this server (default ServerIDs)

	mu      sync.Mutex
	proc    *process
	pool    *sql.DB // lazily opened root pool, reset on Restart/Stop
	stopped bool
}

// process is one mariadbd run. err is written before done is closed.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// errPortInUse marks a start that failed because the port was taken
// (possible between picking a free port and mariadbd binding it).
var errPortInUse = errors.New("port already in use")

// Start starts a throwaway MariaDB and waits until it accepts connections.
// ctx bounds the startup only; the server runs until Stop (or until this
// process dies). Use StartMariaDB in tests.
func Start(ctx context.Context, o Options) (*MariaDB, error) {
	begin := time.Now()
	primary := o.ReplicaOf
	if primary != nil {
		if err := checkPrimary(primary, &o); err != nil {
			return nil, err
		}
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cleanStaleOnce.Do(cleanStaleDirs)

	runDir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", runDirPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("testenv: creating run dir: %w", err)
	}
	m := &MariaDB{
		Host:           "127.0.0.1",
		Socket:         filepath.Join(runDir, "mysqld.sock"),
		DataDir:        o.DataDir,
		Database:       o.Database,
		ServerID:       o.ServerID,
		BinlogBase:     primaryBinlogBase,
		RootUser:       rootUser,
		RootPassword:   rootPassword,
		BridgeUser:     bridgeUser,
		BridgePassword: bridgePassword,
		ReplUser:       replUser,
		ReplPassword:   replPassword,
		opts:           o,
		bins:           bins,
		runDir:         runDir,
		tempData:       o.DataDir == "",
	}
	if m.tempData {
		m.DataDir = filepath.Join(runDir, "data")
	}
	if primary != nil {
		m.BinlogBase = replicaBinlogBase
	}
	fail := func(err error) (*MariaDB, error) {
		m.mu.Lock()
		m.killLocked()
		m.mu.Unlock()
		_ = os.RemoveAll(runDir)
		return nil, err
	}
	// sun_path is 108 bytes on Linux; a long TMPDIR would make bind() fail
	// with a confusing message, so say it plainly.
	if len(m.Socket) >= 104 {
		return fail(fmt.Errorf("testenv: socket path %q is too long for a Unix socket; set a shorter TMPDIR", m.Socket))
	}
	if err := prepareDataDir(ctx, bins, m.DataDir, o.NoTemplate); err != nil {
		return fail(err)
	}

	for attempt := 1; ; attempt++ {
		m.Port = o.Port
		if m.Port == 0 {
			if m.Port, err = freePort(); err != nil {
				return fail(err)
			}
		}
		m.mu.Lock()
		err = m.launchLocked(ctx)
		m.mu.Unlock()
		if err == nil {
			break
		}
		if o.Port == 0 && attempt < 4 && errors.Is(err, errPortInUse) {
			continue // lost the race for the free port: pick another
		}
		return fail(err)
	}
	if primary != nil {
		// No local writes before replication: they would get GTIDs of
		// this server's own and make its binlog diverge from the primary's.
		if err := m.startReplication(ctx, primary); err != nil {
			return fail(err)
		}
	} else if err := m.ensureDatabase(ctx); err != nil {
		return fail(err)
	}
	m.StartupTime = time.Since(begin)
	return m, nil
}

// ensureDatabase creates m.Database when it does not exist. It checks first
// so that restarting on a reused data directory writes nothing to the binlog.
func (m *MariaDB) ensureDatabase(ctx context.Context) error {
	// Not rootPool: it connects to m.Database, which may not exist yet.
	conn, err := mysql.NewConnector(m.config(m.RootUser, m.RootPassword, ""))
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", m.Database).Scan(&n); err != nil {
		return fmt.Errorf("testenv: checking database %s: %w", m.Database, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(m.Database)); err != nil {
		return fmt.Errorf("testenv: creating database %s: %w", m.Database, err)
	}
	return nil
}

// serverArgs is the mariadbd command line. Every flag is here on purpose:
//
//	--no-defaults                       ignore /etc/mysql (the system service's config)
//	--datadir --socket --port --pid-file private paths and port
//	--bind-address=127.0.0.1            never listen beyond loopback
//	--tmpdir                            private temp files (implicit temp tables), not the shared /tmp
//	--user=root                         only when running as root (mariadbd refuses root otherwise)
//	--skip-name-resolve                 grants are by IP; no DNS lookups on connect
//	--log-bin=binlog                    binlog.NNNNNN in the data dir (relative names in the index);
//	                                    replica-bin on a replica (see replicaArgs)
//	--binlog-format=ROW                 the bridge reads row events only
//	--binlog-row-image=FULL             whole before/after images
//	--binlog-row-metadata=FULL          column names in TABLE_MAP events (ColumnNameString)
//	--server-id=N                       replicas (BinlogSyncer) need a distinct id
//	--gtid-domain-id=0                  MariaDB GTIDs 0-<server-id>-<seq>, always on in MariaDB binlogs
//	--default-time-zone=+00:00          NOW()/TIMESTAMP in UTC whatever the host zone
//	--character-set-server=utf8mb4      the compiled default is latin1
//	--collation-server=utf8mb4_general_ci
//	--local-infile=1                    LoadCSV uses LOAD DATA LOCAL INFILE
//	--max-allowed-packet=256M           big multi-row INSERTs and blobs
//	--innodb-buffer-pool-size=256M      allocated lazily; enough for millions of narrow rows
//	--innodb-log-file-size=64M          same as the template install (no resize at start)
//	--innodb-flush-log-at-trx-commit=2  no fsync per commit (speed; durability is not tested here)
//	--sync-binlog=0                     likewise for the binlog
//	--innodb-doublewrite=0              speed
//	--innodb-buffer-pool-dump-at-shutdown=0, --innodb-buffer-pool-load-at-startup=0
//	                                    faster Stop/Restart
//
// No --log-error: stderr is the error log, copied to error.log and Options.Log.
func (m *MariaDB) serverArgs() []string {
	args := []string{
		"--no-defaults",
		"--datadir=" + m.DataDir,
		"--socket=" + m.Socket,
		"--pid-file=" + filepath.Join(m.runDir, "mysqld.pid"),
		"--port=" + strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1",
		"--tmpdir=" + m.runDir,
	}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	args = append(args,
		"--skip-name-resolve",
		"--log-bin="+m.BinlogBase,
		"--binlog-format=ROW",
		"--binlog-row-image=FULL",
		"--binlog-row-metadata=FULL",
		"--server-id="+strconv.FormatUint(uint64(m.opts.ServerID), 10),
		"--gtid-domain-id=0",
		"--default-time-zone=+00:00",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci",
		"--local-infile=1",
		"--max-allowed-packet=256M",
		"--innodb-buffer-pool-size=256M",
		"--innodb-log-file-size="+innodbLogFileSize,
		"--innodb-flush-log-at-trx-commit=2",
		"--sync-binlog=0",
		"--innodb-doublewrite=0",
		"--innodb-buffer-pool-dump-at-shutdown=0",
		"--innodb-buffer-pool-load-at-startup=0",
	)
	if m.opts.ReplicaOf != nil {
		args = append(args, replicaArgs...)
	}
	return append(args, m.opts.ExtraArgs...)
}

// launchLocked starts mariadbd and waits until root can connect over TCP.
// On failure the process is killed and the error carries the tail of the
// server's error log.
func (m *MariaDB) launchLocked(ctx context.Context) error {
	logPath := filepath.Join(m.runDir, "error.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testenv: opening server log: %w", err)
	}
	logOffset, _ := logFile.Seek(0, io.SeekEnd)
	var out io.Writer = logFile
	if m.opts.Log != nil {
		out = io.MultiWriter(logFile, m.opts.Log)
	}
	cmd := exec.Command(m.bins.mariadbd, m.serverArgs()...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := startProcess(cmd); err != nil {
		logFile.Close()
		return fmt.Errorf("testenv: starting %s: %w", m.bins.mariadbd, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	m.proc = p

	if err := m.waitReady(ctx, p); err != nil {
		m.killLocked()
		tail := logTail(logPath, logOffset, 20)
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("testenv: mariadbd on port %d: %w\n--- last lines of %s ---\n%s", m.Port, err, logPath, tail)
	}
	return nil
}

// waitReady polls a root login over TCP every 10ms, failing fast when the
// process exits. Readiness is a successful login (not just an open port): the
// grant tables and InnoDB are loaded by then.
func (m *MariaDB) waitReady(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cfg := m.config(m.RootUser, m.RootPassword, "")
	cfg.Timeout = time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = db.PingContext(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready (%v)", p.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// killLocked SIGKILLs the current process and waits for it.
func (m *MariaDB) killLocked() {
	if m.proc == nil {
		return
	}
	_ = m.proc.cmd.Process.Kill()
	<-m.proc.done
	m.proc = nil
}

// shutdownLocked asks mariadbd to shut down cleanly (SIGTERM), and kills it
// if it has not exited within timeout.
func (m *MariaDB) shutdownLocked(timeout time.Duration) error {
	if m.proc == nil {
		return nil
	}
	p := m.proc
	if err := p.cmd.Process.Signal(sigTerm); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("testenv: signalling mariadbd: %w", err)
	}
	select {
	case <-p.done:
		m.proc = nil
		return nil
	case <-time.After(timeout):
		m.killLocked()
		return fmt.Errorf("testenv: mariadbd did not shut down within %s; killed", timeout)
	}
}

func (m *MariaDB) closePoolLocked() {
	if m.pool != nil {
		_ = m.pool.Close()
		m.pool = nil
	}
}

// Stop stops the server and removes its run directory and, when it was
// temporary, its data directory. A temporary data directory is thrown away,
// so the server is killed outright; a caller-provided DataDir gets a clean
// shutdown so it can be reused. Stop is idempotent and safe to call from
// several goroutines.
func (m *MariaDB) Stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return nil
	}
	m.stopped = true
	m.closePoolLocked()
	var err error
	if m.tempData {
		m.killLocked()
	} else {
		err = m.shutdownLocked(30 * time.Second)
	}
	if rerr := os.RemoveAll(m.runDir); rerr != nil && err == nil {
		err = fmt.Errorf("testenv: removing %s: %w", m.runDir, rerr)
	}
	return err
}

// Kill SIGKILLs the server, as a crash would, and waits for the process to
// exit. Unlike Stop it keeps the run and data directories, so Restart brings
// the server back (InnoDB and binlog crash recovery included) on the same
// port with its data. Connections see EOF at once; replicas keep running and
// retry the connection every second. Kill on a killed or stopped server does
// nothing.
func (m *MariaDB) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closePoolLocked()
	m.killLocked()
}

// Restart shuts the server down cleanly (or, after Kill, just starts it) and
// starts it again on the same data directory and port, waiting until it is
// ready. A replica resumes replicating by itself. Connections (including
// binlog dumps) are dropped; pools from DB must reconnect, which database/sql
// does on the next use. The binlog continues in a new file.
func (m *MariaDB) Restart(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return errors.New("testenv: Restart after Stop")
	}
	begin := time.Now()
	m.closePoolLocked()
	if err := m.shutdownLocked(30 * time.Second); err != nil {
		return err
	}
	var err error
	for attempt := 1; attempt <= 5; attempt++ {
		if err = m.launchLocked(ctx); err == nil || !errors.Is(err, errPortInUse) {
			break
		}
		// Another process may hold the port briefly; it cannot change.
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("testenv: restart: %w", err)
	}
	m.StartupTime = time.Since(begin)
	return nil
}

// PID is the process id of the running mariadbd, or 0 when stopped.
func (m *MariaDB) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return 0
	}
	return m.proc.cmd.Process.Pid
}

// Done is closed when the current mariadbd process exits (Stop, Restart, or a
// crash). After Restart, call Done again for the new process.
func (m *MariaDB) Done() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return m.proc.done
}

// ErrorLogPath is the server's error log (mariadbd's stderr), kept until Stop.
func (m *MariaDB) ErrorLogPath() string { return filepath.Join(m.runDir, "error.log") }

// ErrorLogTail returns the last n lines of the server's error log.
func (m *MariaDB) ErrorLogTail(n int) string { return logTail(m.ErrorLogPath(), 0, n) }

// config is the driver configuration behind DSN.
func (m *MariaDB) config(user, password, db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	cfg.DBName = db
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = 10 * time.Second
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	return cfg
}

// DSN is a go-sql-driver/mysql DSN over TCP to 127.0.0.1:Port:
//
//		user:password@tcp(127.0.0.1:PORT)/db?parseTime=true&loc=UTC&time_zone=%27%2B00%3A00%27&timeout=10s
//
//	  - parseTime=true: DATE/DATETIME/TIMESTAMP scan into time.Time;
//	  - loc=UTC: those values are interpreted (and sent) as UTC;
//	  - time_zone='+00:00' (URL-encoded): the session time zone, so TIMESTAMP
//	    columns and NOW() are UTC on the wire, matching loc;
//	  - timeout=10s: dial timeout.
//
// db may be empty (no default database).
func (m *MariaDB) DSN(user, password, db string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?parseTime=true&loc=UTC&time_zone=%%27%%2B00%%3A00%%27&timeout=10s",
		user, password, net.JoinHostPort(m.Host, strconv.Itoa(m.Port)), db)
}

// RootDSN is DSN for root and Database.
func (m *MariaDB) RootDSN() string { return m.DSN(m.RootUser, m.RootPassword, m.Database) }

// BridgeDSN is DSN for the least-privileged bridge user and Database.
func (m *MariaDB) BridgeDSN() string { return m.DSN(m.BridgeUser, m.BridgePassword, m.Database) }

// ClientCommand is a mariadb command line that opens a root session on
// Database (over the socket, so it works without TCP too).
func (m *MariaDB) ClientCommand() string {
	return fmt.Sprintf("mariadb --no-defaults --socket=%s -u%s -p%s %s", m.Socket, m.RootUser, m.RootPassword, m.Database)
}

// rootPool is the shared root pool used by the helpers.
func (m *MariaDB) rootPool() (*sql.DB, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return nil, errors.New("testenv: server is stopped")
	}
	if m.pool == nil {
		conn, err := mysql.NewConnector(m.config(m.RootUser, m.RootPassword, m.Database))
		if err != nil {
			return nil, err
		}
		m.pool = sql.OpenDB(conn)
		m.pool.SetMaxIdleConns(4)
	}
	return m.pool, nil
}

func freePort() (int, error) {
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("testenv: picking a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 3306 {
			return port, nil
		}
	}
	return 0, errors.New("testenv: no free port")
}

// logTail returns the last n lines of path written after offset.
func logTail(path string, offset int64, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if offset > 0 && offset <= int64(len(b)) {
		b = b[offset:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// quoteIdent quotes a MariaDB identifier; "db.table" is quoted per part.
func quoteIdent(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = "`" + strings.ReplaceAll(p, "`", "``") + "`"
	}
	return strings.Join(parts, ".")
}
