package source

import (
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// verify-identity checks names: crypto/tls verifies the chain and
// ServerName, so the configuration must carry mysql.host and must not skip
// verification. The live checks are internal/wire's
// TestIntegrationMySQLVerifyIdentity.
func TestTLSVerifyIdentityConfig(t *testing.T) {
	ca := testenv.NewCA(t, "ca")
	c := config.MySQL{Host: "db.example.test", TLS: "verify-identity", CAFile: ca.CertFile}
	cfg, err := TLSConfig(c)
	if err != nil || cfg.ServerName != "db.example.test" || cfg.InsecureSkipVerify || cfg.RootCAs == nil || cfg.VerifyConnection != nil {
		t.Fatalf("verify-identity: %+v %v", cfg, err)
	}
	mc, err := DriverConfig(c)
	if err != nil || !strings.HasPrefix(mc.TLSConfig, "bridge-") {
		t.Fatalf("verify-identity registered config %q: %v", mc.TLSConfig, err)
	}
	// Without ca_file: the system's bundle (RootCAs nil), names still checked.
	cfg, err = TLSConfig(config.MySQL{Host: "db.example.test", TLS: "verify-identity"})
	if err != nil || cfg.RootCAs != nil || cfg.ServerName != "db.example.test" || cfg.InsecureSkipVerify {
		t.Fatalf("verify-identity without ca_file: %+v %v", cfg, err)
	}
	if _, err := TLSConfig(config.MySQL{TLS: "verify-identity", CAFile: "/nonexistent.pem"}); err == nil || !strings.Contains(err.Error(), "mysql.ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
}
