package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// IoTDBTLS is TLS on IoTDB's client RPC port (the server's
// enable_thrift_ssl, docs/iotdb.md §11). Every session the sink opens uses
// it. Relative file paths are relative to the configuration file (as
// password_file); Load makes them absolute and checks that they hold PEM
// certificates and keys.
type IoTDBTLS struct {
	// Mode: disabled (default: plain Thrift) | required (encrypted, the
	// server's certificate not checked) | verify-ca (the certificate must
	// chain to ca_file; its names are not checked) | verify-identity (the
	// chain and a name: each node's host, or server_name).
	Mode string `yaml:"mode"`
	// CAFile is the CA bundle (PEM) the server's certificate must chain to.
	CAFile string `yaml:"ca_file"` // Required with verify-ca; verify-identity: optional (empty: the system's CA bundle)
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// a server that asks for one (mutual TLS: a trust store on the server).
	CertFile string `yaml:"cert_file"` // Optional; with key_file
	KeyFile  string `yaml:"key_file"`  // Optional; with cert_file
	// ServerName is the name verify-identity expects in the certificate
	// instead of each node's host (nodes given by IP address, a certificate
	// made for a DNS name).
	ServerName string `yaml:"server_name"` // Optional: defaults to each node's host
}

// Modes of iotdb.tls.mode.
const (
	TLSDisabled       = "disabled"
	TLSRequired       = "required"
	TLSVerifyCA       = "verify-ca"
	TLSVerifyIdentity = "verify-identity"
)

// Enabled reports whether sessions use TLS.
func (t IoTDBTLS) Enabled() bool { return t.Mode != "" && t.Mode != TLSDisabled }

// iotdbTLS checks iotdb.tls and makes its file paths absolute. Nothing of a
// file's content is ever printed.
func (v *validator) iotdbTLS() {
	t := &v.c.IoTDB.TLS
	if !v.oneOf("iotdb.tls.mode", t.Mode, TLSDisabled, TLSRequired, TLSVerifyCA, TLSVerifyIdentity) {
		return
	}
	files := []struct {
		key  string
		path *string
	}{{"ca_file", &t.CAFile}, {"cert_file", &t.CertFile}, {"key_file", &t.KeyFile}}
	if !t.Enabled() {
		for _, f := range files {
			if *f.path != "" {
				v.errf("iotdb.tls."+f.key, "set, but iotdb.tls.mode is disabled: set the mode (required, verify-ca or verify-identity) or remove the key")
			}
		}
		if t.ServerName != "" {
			v.errf("iotdb.tls.server_name", "set, but iotdb.tls.mode is disabled")
		}
		return
	}
	if t.Mode == TLSVerifyCA && t.CAFile == "" {
		v.errAt("iotdb.tls.mode", "iotdb.tls.ca_file", "required with mode verify-ca")
	}
	if t.ServerName != "" && t.Mode != TLSVerifyIdentity {
		v.errf("iotdb.tls.server_name", "only used with mode verify-identity (mode is %s)", t.Mode)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		missing := "iotdb.tls.key_file"
		if t.CertFile == "" {
			missing = "iotdb.tls.cert_file"
		}
		v.errAt("iotdb.tls", missing, "cert_file and key_file go together: give both or neither")
	}
	base := filepath.Dir(v.c.Path)
	ok := true
	for _, f := range files {
		if *f.path == "" {
			continue
		}
		if !filepath.IsAbs(*f.path) {
			*f.path = filepath.Join(base, *f.path)
		}
		if _, err := os.Stat(*f.path); err != nil {
			v.errf("iotdb.tls."+f.key, "cannot read %s: %v", *f.path, unwrapFS(err))
			ok = false
		}
	}
	if !ok {
		return
	}
	if t.CAFile != "" {
		if data, err := os.ReadFile(t.CAFile); err != nil {
			v.errf("iotdb.tls.ca_file", "cannot read %s: %v", t.CAFile, unwrapFS(err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(data) {
			v.errf("iotdb.tls.ca_file", "%s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" && t.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			// crypto/tls names what is wrong (no PEM block, a key that does
			// not match the certificate) without quoting the key.
			v.errf("iotdb.tls.cert_file", "%s with key_file %s: %v", t.CertFile, t.KeyFile, unwrapFS(err))
		}
	}
}

func unwrapFS(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
