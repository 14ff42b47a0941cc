package wire

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/binlog"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// serverCert writes a self-signed certificate and its key for a test
// server and returns their paths.
func serverCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// rowCounter is a binlog.Handler that signals the first rows event.
type rowCounter struct{ rows chan struct{} }

func (c *rowCounter) OnRows(context.Context, *binlog.RowsEvent) error {
	select {
	case c.rows <- struct{}{}:
	default:
	}
	return nil
}
func (c *rowCounter) OnCommit(context.Context, binlog.Position, uint32) error      { return nil }
func (c *rowCounter) OnDDL(context.Context, string, string, binlog.Position) error { return nil }
func (c *rowCounter) OnHeartbeat(context.Context, binlog.Position) error           { return nil }
func (c *rowCounter) OnCaughtUp(context.Context) error                             { return nil }

// mysql.tls: preferred encrypts the binlog connection too when the server
// offers TLS (the bridge user is made to REQUIRE SSL, so a plain binlog
// connection would be refused), and stays plain, and working, when it
// does not.
func TestIntegrationPreferredTLSBinlog(t *testing.T) {
	cert, key := serverCert(t)
	for _, withTLS := range []bool{true, false} {
		t.Run(fmt.Sprintf("server_tls=%v", withTLS), func(t *testing.T) {
			var o testenv.Options
			if withTLS {
				o.ExtraArgs = []string{"--ssl-cert=" + cert, "--ssl-key=" + key}
			}
			m := testenv.StartMariaDB(t, o)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stmts := []string{"CREATE TABLE t (id INT PRIMARY KEY)"}
			if withTLS {
				stmts = append(stmts, "ALTER USER '"+m.BridgeUser+"'@'127.0.0.1' REQUIRE SSL")
			}
			for _, s := range stmts {
				if err := m.Exec(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			cfg := &config.Config{MySQL: config.MySQL{Host: "127.0.0.1", Port: m.Port, User: m.BridgeUser, Password: m.BridgePassword,
				Database: m.Database, TLS: "preferred", ServerID: 5401},
				DirtyRows: config.DirtyRows{File: filepath.Join(t.TempDir(), "dirty.jsonl")}}
			w := New(cfg, zerolog.Nop(), 2)
			defer w.Close()
			db, flavor, err := w.OpenSource(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bc := w.Binlog(flavor)
			if (bc.TLS != nil) != withTLS {
				t.Fatalf("binlog TLS config %v, want TLS=%v", bc.TLS, withTLS)
			}
			from, err := binlog.CurrentPosition(ctx, db, flavor)
			if err != nil {
				t.Fatal(err)
			}
			bc.Tables = func(string, string) bool { return true }
			bc.Reconnect.MaxAttempts = 2
			h := &rowCounter{rows: make(chan struct{}, 1)}
			sctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- binlog.New(bc).Run(sctx, from, h) }()
			if err := m.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-h.rows:
			case err := <-done:
				t.Fatalf("binlog stream ended before a row arrived: %v", err)
			case <-ctx.Done():
				t.Fatal("no row arrived over the binlog connection")
			}
			stop()
			<-done
		})
	}
}
