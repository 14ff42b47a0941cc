package source

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

func TestDriverConfigSessionSettings(t *testing.T) {
	mc, err := DriverConfig(config.MySQL{Host: "db.example", Port: 3307, User: "bridge", Password: "s3cret", Database: "factory", TLS: "disabled"})
	if err != nil {
		t.Fatal(err)
	}
	if mc.Addr != "db.example:3307" || mc.DBName != "factory" || !mc.ParseTime || mc.Loc != time.UTC {
		t.Fatalf("addr %q db %q parseTime %v loc %v", mc.Addr, mc.DBName, mc.ParseTime, mc.Loc)
	}
	if mc.Params["time_zone"] != "'+00:00'" || mc.InterpolateParams || mc.TLSConfig != "" {
		t.Fatalf("params %v interpolate %v tls %q", mc.Params, mc.InterpolateParams, mc.TLSConfig)
	}
	// IPv6 hosts are bracketed.
	mc, err = DriverConfig(config.MySQL{Host: "::1", Port: 3306, TLS: "preferred"})
	if err != nil || mc.Addr != "[::1]:3306" || mc.TLSConfig != "preferred" {
		t.Fatalf("addr %q tls %q err %v", mc.Addr, mc.TLSConfig, err)
	}
	if mc, _ = DriverConfig(config.MySQL{TLS: "required"}); mc.TLSConfig != "skip-verify" {
		t.Fatalf("required: tls %q", mc.TLSConfig)
	}
	if _, err := DriverConfig(config.MySQL{TLS: "bogus"}); err == nil {
		t.Fatal("unknown tls mode: want an error")
	}
}

func TestTLSVerifyCA(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := DriverConfig(config.MySQL{TLS: "verify-ca", CAFile: missing}); err == nil || !strings.Contains(err.Error(), "mysql.ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := TLSConfig(config.MySQL{TLS: "verify-ca", CAFile: junk}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("junk CA file: %v", err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	cfg, err := TLSConfig(config.MySQL{TLS: "verify-ca", CAFile: ca})
	if err != nil || cfg.RootCAs == nil || cfg.VerifyConnection == nil {
		t.Fatalf("verify-ca: %+v %v", cfg, err)
	}
	mc, err := DriverConfig(config.MySQL{TLS: "verify-ca", CAFile: ca})
	if err != nil || !strings.HasPrefix(mc.TLSConfig, "bridge-") {
		t.Fatalf("verify-ca registered config %q: %v", mc.TLSConfig, err)
	}
	// Plain modes give the binlog connection no TLS config.
	for _, mode := range []string{"disabled", "preferred", ""} {
		if cfg, err := TLSConfig(config.MySQL{TLS: mode}); cfg != nil || err != nil {
			t.Fatalf("%q: %v %v", mode, cfg, err)
		}
	}
}

// A server that accepts the connection and never speaks: the error says
// what that means, not only "context deadline exceeded".
func TestOpenSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	old := pingTimeout
	pingTimeout = 300 * time.Millisecond
	defer func() { pingTimeout = old }()
	addr := ln.Addr().(*net.TCPAddr)
	_, err = Open(context.Background(), config.MySQL{Host: "127.0.0.1", Port: addr.Port, User: "bridge", Password: "s3cret", TLS: "disabled"}, 1)
	if err == nil || !strings.Contains(err.Error(), "no MySQL answer within 300ms") || !strings.Contains(err.Error(), "mysql.host and mysql.port") ||
		strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open against a silent server: %v", err)
	}
}
