package bridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func TestMySQLConfigSessionSettings(t *testing.T) {
	mc, err := MySQLConfig(config.MySQL{Host: "db.example", Port: 3307, User: "bridge", Password: "s3cret", Database: "factory", TLS: "disabled"})
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
	mc, err = MySQLConfig(config.MySQL{Host: "::1", Port: 3306, TLS: "preferred"})
	if err != nil || mc.Addr != "[::1]:3306" || mc.TLSConfig != "preferred" {
		t.Fatalf("addr %q tls %q err %v", mc.Addr, mc.TLSConfig, err)
	}
	if mc, _ = MySQLConfig(config.MySQL{TLS: "required"}); mc.TLSConfig != "skip-verify" {
		t.Fatalf("required: tls %q", mc.TLSConfig)
	}
	if _, err := MySQLConfig(config.MySQL{TLS: "bogus"}); err == nil {
		t.Fatal("unknown tls mode: want an error")
	}
}

func TestTLSVerifyCA(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	if _, err := MySQLConfig(config.MySQL{TLS: "verify-ca", CAFile: missing}); err == nil || !strings.Contains(err.Error(), "mysql.ca_file") {
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
	mc, err := MySQLConfig(config.MySQL{TLS: "verify-ca", CAFile: ca})
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

func TestBackfillMapperConvertsDirtyErrors(t *testing.T) {
	ts := &mapping.TableSchema{Database: "factory", Name: "r", PrimaryKey: []string{"id"}, Columns: []mapping.Column{
		{Name: "id", Ordinal: 1, DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "dev", Ordinal: 2, DataType: "varchar", ColumnType: "varchar(10)", Charset: "utf8mb4", Nullable: true},
		{Name: "at", Ordinal: 3, DataType: "bigint", ColumnType: "bigint(20)"},
		{Name: "v", Ordinal: 4, DataType: "double", ColumnType: "double", Nullable: true},
	}}
	m := &config.Mapping{Table: "r", Device: "root.f.${dev}", Time: config.TimeSpec{Column: "at", Unit: "ms"},
		Measurements: []config.Measurement{{Column: "v", Name: "v"}}}
	mp, err := mapping.Compile(m, ts, mapping.Options{Precision: "ms"})
	if err != nil {
		t.Fatal(err)
	}
	bm := BackfillMapper{Mapper: mp}
	row := func(id int64, dev any, v any) []any {
		out := make([]any, len(mp.Columns()))
		for i, c := range mp.Columns() {
			switch c {
			case "id":
				out[i] = id
			case "dev":
				out[i] = dev
			case "at":
				out[i] = int64(1700000000000)
			case "v":
				out[i] = v
			}
		}
		return out
	}
	p, err := bm.Map(row(1, []byte("pump-7.b"), 1.5))
	if err != nil || p.Device != "root.f.`pump-7.b`" || p.Values[0] != 1.5 {
		t.Fatalf("point %+v err %v", p, err)
	}
	_, err = bm.Map(row(2, nil, 1.5))
	var de *backfill.DirtyError
	if !errors.As(err, &de) || de.Column != "dev" || de.Reason != mapping.ReasonNullDevice {
		t.Fatalf("NULL device: %#v", err)
	}
}

func TestBackfillWriterMarksSinkFailuresPermanent(t *testing.T) {
	// The adapter's error classification, without a sink: a sink error after
	// its own retries is permanent for the engine, a canceled context is not.
	err := classifyWriteErr(context.Background(), errors.New("iotdb: giving up after 5 attempts"))
	var perm *backoff.PermanentError
	if !errors.As(err, &perm) {
		t.Fatalf("want a permanent error, got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := classifyWriteErr(ctx, context.Canceled); errors.As(err, &perm) {
		t.Fatalf("canceled: want a plain error, got %v", err)
	}
}
