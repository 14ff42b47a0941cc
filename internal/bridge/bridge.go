// Package bridge holds the wiring both binaries share: the logger, the MySQL
// connection settings, and compiling every mapping against the live schema.
// It is the only place besides the binaries that knows config, mapping and
// the sink at once.
package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-sql-driver/mysql"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// NewLogger builds the zerolog logger of cfg: JSON lines, or a human console
// format. format overrides cfg.Format when non-empty.
func NewLogger(cfg config.Log, format string, w io.Writer) zerolog.Logger {
	if format == "" {
		format = cfg.Format
	}
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.DurationFieldUnit = time.Second
	zerolog.DurationFieldInteger = false
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	lvl, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || cfg.Level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// tlsSeq names the TLS configs registered with the driver.
var tlsSeq atomic.Int64

// MySQLConfig is the driver configuration for c. Every session reads
// DATETIME/TIMESTAMP as time.Time in UTC with the session zone at +00:00, so
// TIMESTAMP values arrive as UTC instants and DATETIME as wall clock; the
// mapping applies its zone (mapping/TYPES.md). Prepared statements (the
// binary protocol) are used for scans, so interpolateParams stays off.
func MySQLConfig(c config.MySQL) (*mysql.Config, error) {
	mc := mysql.NewConfig()
	mc.User = c.User
	mc.Passwd = c.Password
	mc.Net = "tcp"
	mc.Addr = net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	mc.DBName = c.Database
	mc.ParseTime = true
	mc.Loc = time.UTC
	mc.Params = map[string]string{"time_zone": "'+00:00'"}
	mc.Timeout = 10 * time.Second
	mc.ReadTimeout = 5 * time.Minute
	mc.WriteTimeout = time.Minute
	mc.MaxAllowedPacket = 0 // ask the server
	switch c.TLS {
	case "disabled":
	case "", "preferred":
		mc.TLSConfig = "preferred"
	case "required":
		mc.TLSConfig = "skip-verify"
	case "verify-ca":
		cfg, err := TLSConfig(c)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("bridge-%d", tlsSeq.Add(1))
		if err := mysql.RegisterTLSConfig(name, cfg); err != nil {
			return nil, err
		}
		mc.TLSConfig = name
	default:
		return nil, fmt.Errorf("mysql.tls: unknown mode %q", c.TLS)
	}
	return mc, nil
}

// TLSConfig is the crypto/tls configuration for c (nil when TLS is off), for
// the binlog connection, which does not go through database/sql.
func TLSConfig(c config.MySQL) (*tls.Config, error) {
	switch c.TLS {
	case "disabled", "", "preferred":
		// go-mysql has no "preferred": it either requires TLS or not. The
		// binlog stream carries the same rows as the scans, so preferred
		// stays plain rather than failing on servers without TLS.
		return nil, nil
	case "required":
		return &tls.Config{InsecureSkipVerify: true}, nil
	case "verify-ca":
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mysql.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mysql.ca_file %s: no PEM certificate found", c.CAFile)
		}
		// verify-ca checks the chain, not the host name (as MySQL's
		// ssl-mode=VERIFY_CA does).
		return &tls.Config{RootCAs: pool, InsecureSkipVerify: true, VerifyConnection: verifyChain(pool)}, nil
	}
	return nil, fmt.Errorf("mysql.tls: unknown mode %q", c.TLS)
}

func verifyChain(pool *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("mysql server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// OpenMySQL opens a pool of at most size connections and checks it can log
// in. The error names the address and user, never the password.
func OpenMySQL(ctx context.Context, c config.MySQL, size int) (*sql.DB, error) {
	mc, err := MySQLConfig(c)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to MySQL %s as %s: %w", mc.Addr, c.User, err)
	}
	return db, nil
}

// CompileMappers loads the schema of every mapped table and compiles its
// mapping for an IoTDB server of the given precision. All problems are
// reported together, each naming the mapping's file:line.
func CompileMappers(ctx context.Context, db *sql.DB, cfg *config.Config, precision string) (map[string]*mapping.Mapper, error) {
	out := make(map[string]*mapping.Mapper, len(cfg.IoTDB.Mappings))
	var errs []string
	for i := range cfg.IoTDB.Mappings {
		m := &cfg.IoTDB.Mappings[i]
		ts, err := mapping.LoadTableSchema(ctx, db, cfg.MySQL.Database, m.Table)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: mapping for table %s: %v", m.Pos, m.Table, err))
			continue
		}
		mp, err := mapping.Compile(m, ts, MapperOptions(cfg, precision))
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[m.Table] = mp
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return out, nil
}

// MapperOptions are the compile options for cfg against a server of the given
// timestamp precision.
func MapperOptions(cfg *config.Config, precision string) mapping.Options {
	db := cfg.IoTDB.Database
	return mapping.Options{Model: cfg.IoTDB.Model, Precision: precision, Database: db}
}

// BackfillMapper adapts a compiled mapping to the backfill engine: Columns,
// KeyString and SelectList pass through; mapping's dirty-row errors become
// the engine's.
type BackfillMapper struct{ *mapping.Mapper }

// Map maps one row.
func (m BackfillMapper) Map(row []any) (mapping.Point, error) {
	p, err := m.Mapper.Map(row)
	if err != nil {
		var de *mapping.DirtyError
		if errors.As(err, &de) {
			return p, &backfill.DirtyError{Column: de.Column, Value: de.Value, Reason: de.Reason, Detail: de.Detail}
		}
	}
	return p, err
}

// BackfillWriter adapts the IoTDB sink to the backfill engine. The sink has
// already retried transient failures with the configured backoff when it
// returns an error, so the engine is told not to retry again.
type BackfillWriter struct{ Sink *iotdbsink.Sink }

// Write writes points and reports IoTDB's rejections.
func (w BackfillWriter) Write(ctx context.Context, pts []mapping.Point) (backfill.WriteResult, error) {
	res, err := w.Sink.Write(ctx, pts)
	if err != nil {
		return backfill.WriteResult{}, classifyWriteErr(ctx, err)
	}
	var out backfill.WriteResult
	for _, r := range res.Rejected {
		out.Rejected = append(out.Rejected, backfill.Rejection{Device: r.Device, Code: int(r.Code), Message: r.Message, Points: r.Points})
	}
	return out, nil
}

// classifyWriteErr tells the engine not to retry what the sink already
// retried; a canceled run stays a plain error (the engine saves and stops).
func classifyWriteErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return backoff.Permanent(err)
}
