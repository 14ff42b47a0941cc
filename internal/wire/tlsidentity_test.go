package wire

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// tlsMariaDB starts a MariaDB serving a certificate for hosts, signed by
// ca, with the bridge user made to REQUIRE SSL (a plain connection would
// be refused, so a passing connection is an encrypted one).
func tlsMariaDB(t *testing.T, ca *testenv.CA, hosts ...string) *testenv.MariaDB {
	t.Helper()
	cert, key := ca.Server(t, "mariadb", hosts...)
	m := testenv.StartMariaDB(t, testenv.Options{ExtraArgs: []string{"--ssl-cert=" + cert, "--ssl-key=" + key}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []string{"CREATE TABLE t (id INT PRIMARY KEY)", "ALTER USER '" + m.BridgeUser + "'@'127.0.0.1' REQUIRE SSL"} {
		if err := m.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func tlsWiring(t *testing.T, m *testenv.MariaDB, mode, caFile string) *Wiring {
	cfg := &config.Config{MySQL: config.MySQL{Host: "127.0.0.1", Port: m.Port, User: m.BridgeUser, Password: m.BridgePassword,
		Database: m.Database, TLS: mode, CAFile: caFile, ServerID: 5402},
		DirtyRows: config.DirtyRows{File: filepath.Join(t.TempDir(), "dirty.jsonl")}}
	w := New(cfg, zerolog.Nop(), 2)
	t.Cleanup(func() { w.Close() })
	return w
}

// runBinlog streams from the current position until the first row of an
// INSERT arrives (nil) or the stream ends (its error).
func runBinlog(ctx context.Context, t *testing.T, m *testenv.MariaDB, bc binlog.Config) error {
	t.Helper()
	file, pos, _, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bc.Tables = func(string, string) bool { return true }
	bc.Reconnect.MaxAttempts = 1
	h := &rowCounter{rows: make(chan struct{}, 1)}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- binlog.New(bc).Run(sctx, binlog.Position{File: file, Pos: pos}, h) }()
	if err := m.Exec(ctx, "INSERT INTO t VALUES (?)", time.Now().UnixNano()%1e9); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.rows:
		stop()
		<-done
		return nil
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatal("the binlog stream neither delivered a row nor ended")
		return nil
	}
}

// mysql.tls: verify-identity checks the chain and that the certificate
// names mysql.host, on the SQL pool and on the binlog connection: a
// certificate for 127.0.0.1 passes when mysql.host is 127.0.0.1, and one
// made for another name fails with an error saying so, where verify-ca
// (the chain only) still passes.
func TestIntegrationMySQLVerifyIdentity(t *testing.T) {
	ca := testenv.NewCA(t, "mysql-ca")
	t.Run("right name", func(t *testing.T) {
		m := tlsMariaDB(t, ca, "127.0.0.1", "db.example.test")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w := tlsWiring(t, m, "verify-identity", ca.CertFile)
		_, flavor, err := w.OpenSource(ctx)
		if err != nil {
			t.Fatalf("SQL pool under verify-identity with the right name: %v", err)
		}
		bc := w.Binlog(flavor)
		if bc.TLS == nil || bc.TLS.ServerName != "127.0.0.1" || bc.TLS.InsecureSkipVerify {
			t.Fatalf("binlog TLS config %+v: want the host checked", bc.TLS)
		}
		if err := runBinlog(ctx, t, m, bc); err != nil {
			t.Fatalf("binlog under verify-identity with the right name: %v", err)
		}
		// The right name, but the certificate checked against another CA:
		// refused on the chain, saying so.
		other := testenv.NewCA(t, "other-ca")
		_, _, err = tlsWiring(t, m, "verify-identity", other.CertFile).OpenSource(ctx)
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) || !strings.Contains(err.Error(), "does not chain to mysql.ca_file") {
			t.Fatalf("verify-identity with another CA: err = %v, want an x509.UnknownAuthorityError naming mysql.ca_file", err)
		}
		t.Logf("another CA: %v", err)
	})
	t.Run("wrong name", func(t *testing.T) {
		m := tlsMariaDB(t, ca, "db.example.test")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w := tlsWiring(t, m, "verify-identity", ca.CertFile)
		_, _, err := w.OpenSource(ctx)
		var hn x509.HostnameError
		if !errors.As(err, &hn) {
			t.Fatalf("SQL pool under verify-identity, certificate for another name: err = %v, want an x509.HostnameError", err)
		}
		if !strings.Contains(err.Error(), `does not name mysql.host "127.0.0.1"`) || !strings.Contains(err.Error(), "verify-ca") {
			t.Fatalf("error %q does not say what is wrong and what to do", err)
		}
		t.Logf("SQL pool: %v", err)
		err = runBinlog(ctx, t, m, w.Binlog(binlog.FlavorMariaDB))
		if err == nil || !errors.As(err, &hn) {
			t.Fatalf("binlog under verify-identity, certificate for another name: err = %v, want an x509.HostnameError", err)
		}
		t.Logf("binlog: %v", err)
		// The same server passes verify-ca: the chain is right, only the name is not.
		if _, _, err := tlsWiring(t, m, "verify-ca", ca.CertFile).OpenSource(ctx); err != nil {
			t.Fatalf("verify-ca on the same server: %v", err)
		}
	})
}
