package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// copyInto copies src to dir/name and returns the new path.
func copyInto(t *testing.T, dir, name, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Relative files are relative to the configuration file, and the loaded
// configuration holds them absolute.
func TestIoTDBTLSLoads(t *testing.T) {
	ca := testenv.NewCA(t, "ca")
	cert, key := ca.Client(t, "bridge")
	dir := t.TempDir()
	copyInto(t, dir, "tls/ca.pem", ca.CertFile)
	copyInto(t, dir, "tls/client.pem", cert)
	copyInto(t, dir, "tls/client-key.pem", key)
	text := withSections("  tls: verify-identity",
		"  tls:\n    mode: verify-identity\n    ca_file: tls/ca.pem\n    cert_file: tls/client.pem\n    key_file: tls/client-key.pem\n    server_name: iotdb.example")
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	got := c.IoTDB.TLS
	want := IoTDBTLS{Mode: TLSVerifyIdentity, CAFile: filepath.Join(dir, "tls/ca.pem"), CertFile: filepath.Join(dir, "tls/client.pem"),
		KeyFile: filepath.Join(dir, "tls/client-key.pem"), ServerName: "iotdb.example"}
	if got != want {
		t.Fatalf("iotdb.tls = %+v\nwant %+v", got, want)
	}
	if c.MySQL.TLS != "verify-identity" {
		t.Fatalf("mysql.tls = %q", c.MySQL.TLS)
	}
	if c := mustParse(t, withSections("", "")); c.IoTDB.TLS.Mode != TLSDisabled || c.IoTDB.TLS.Enabled() {
		t.Fatalf("default iotdb.tls = %+v, want disabled", c.IoTDB.TLS)
	}
}

func TestIoTDBTLSErrors(t *testing.T) {
	ca := testenv.NewCA(t, "ca")
	cert, key := ca.Client(t, "bridge")
	_, otherKey := ca.Client(t, "other")
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("-----BEGIN NOTHING-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	cases := map[string]struct{ iotdb, want string }{
		"unknown mode": {"  tls: {mode: sometimes}",
			`test.yaml:7: iotdb.tls.mode: "sometimes" is not one of disabled, required, verify-ca, verify-identity`},
		"verify-ca without ca_file": {"  tls: {mode: verify-ca}",
			"test.yaml:7: iotdb.tls.ca_file: required with mode verify-ca"},
		"cert without key": {"  tls: {mode: required, cert_file: " + cert + "}",
			"test.yaml:7: iotdb.tls.key_file: cert_file and key_file go together: give both or neither"},
		"files with mode disabled": {"  tls: {ca_file: " + ca.CertFile + "}",
			"test.yaml:7: iotdb.tls.ca_file: set, but iotdb.tls.mode is disabled: set the mode (required, verify-ca or verify-identity) or remove the key"},
		"server_name without verify-identity": {"  tls: {mode: verify-ca, ca_file: " + ca.CertFile + ", server_name: x}",
			"test.yaml:7: iotdb.tls.server_name: only used with mode verify-identity (mode is verify-ca)"},
		"missing file": {"  tls: {mode: verify-identity, ca_file: " + missing + "}",
			"test.yaml:7: iotdb.tls.ca_file: cannot read " + missing + ": no such file or directory"},
		"no PEM in ca_file": {"  tls: {mode: verify-identity, ca_file: " + junk + "}",
			"test.yaml:7: iotdb.tls.ca_file: " + junk + " holds no PEM certificate"},
		"key of another certificate": {"  tls: {mode: required, cert_file: " + cert + ", key_file: " + otherKey + "}",
			"test.yaml:7: iotdb.tls.cert_file: " + cert + " with key_file " + otherKey + ": tls: private key does not match public key"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := parseErr(t, withSections("", tc.iotdb)); got != tc.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	// A key file's content never reaches a message.
	pem, _ := os.ReadFile(key)
	body := strings.Split(string(pem), "\n")[1]
	got := parseErr(t, withSections("", "  tls: {mode: required, cert_file: "+key+", key_file: "+key+"}"))
	if strings.Contains(got, body) {
		t.Fatalf("the key's content is in the message: %s", got)
	}
}
