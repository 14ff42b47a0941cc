// Package source is the SQL side of the MySQL source: the driver settings
// every connection uses (UTC sessions, TLS modes), opening the pool, the
// flavor, and which MySQL errors are worth retrying.
package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// tlsSeq names the TLS configs registered with the driver.
var tlsSeq atomic.Int64

// MySQLConfig is the driver configuration for c. Every session reads
// DATETIME/TIMESTAMP as time.Time in UTC with the session zone at +00:00, so
// TIMESTAMP values arrive as UTC instants and DATETIME as wall clock; the
// mapping applies its zone (mapping/TYPES.md). Prepared statements (the
// binary protocol) are used for scans, so interpolateParams stays off.
func DriverConfig(c config.MySQL) (*mysql.Config, error) {
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
	case "verify-ca", "verify-identity":
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
		// go-mysql has no "preferred": it either requires TLS or not. For
		// preferred the caller asks the server first (ServerOffersTLS) and
		// uses PreferredTLS when it does.
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
	case "verify-identity":
		return verifyIdentity(c) // tls.go
	}
	return nil, fmt.Errorf("mysql.tls: unknown mode %q", c.TLS)
}

// PreferredTLS is the binlog connection's TLS under mysql.tls: preferred
// once the server is known to offer TLS: encrypted, the certificate not
// checked (as preferred does for the SQL connections).
func PreferredTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

// ServerOffersTLS reports whether a connection of db is encrypted, which
// under mysql.tls: preferred means the server offers TLS.
func ServerOffersTLS(ctx context.Context, db *sql.DB) (bool, error) {
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("asking MySQL whether the connection is encrypted: %w", err)
	}
	return cipher != "", nil
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

// pingTimeout bounds the first login of Open.
var pingTimeout = 30 * time.Second

// OpenMySQL opens a pool of at most size connections and checks it can log
// in. The error names the address and user, never the password.
func Open(ctx context.Context, c config.MySQL, size int) (*sql.DB, error) {
	mc, err := DriverConfig(c)
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
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("connecting to MySQL %s as %s: no MySQL answer within %s (the server accepted the connection, "+
				"or the network held it, but no handshake came): check that mysql.host and mysql.port name a MySQL server, and "+
				"that no firewall, proxy or stopped server holds connections: %w", mc.Addr, c.User, pingTimeout, err)
		}
		return nil, fmt.Errorf("connecting to MySQL %s as %s: %w%s", mc.Addr, c.User, err, tlsHint(c, err))
	}
	return db, nil
}

// Transient tells MySQL errors worth retrying (lost connections, killed
// queries, lock timeouts, server restarts) from permanent ones (syntax,
// unknown column, privileges: retrying cannot help). A canceled or expired
// context is not transient: the caller is stopping.
func Transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1040, // too many connections
			1053,                   // server shutdown in progress
			1205,                   // lock wait timeout
			1213,                   // deadlock
			1158, 1159, 1160, 1161, // network read/write errors and timeouts
			1317,       // query execution was interrupted (KILL QUERY)
			1927,       // MariaDB: connection was killed
			1969,       // MariaDB: max_statement_time exceeded
			3024,       // MySQL: max_execution_time exceeded
			2006, 2013: // server gone away, lost connection
			return true
		}
		return false
	}
	// driver.ErrBadConn, mysql.ErrInvalidConn, io and net errors.
	return true
}

// Lost is the stricter question for errors that may come from either the
// server or the caller's own logic (a mapping that no longer compiles):
// it reports true only when err carries a lost or refused connection or a
// transient server error, never for an error of unknown origin.
func Lost(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return Transient(err)
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}
