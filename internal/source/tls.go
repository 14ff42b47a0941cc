package source

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// verifyIdentity is mysql.tls: verify-identity (MySQL's
// ssl-mode=VERIFY_IDENTITY): the server's certificate must chain to
// mysql.ca_file (the system's CA bundle when it is empty) and name
// mysql.host, as a DNS name or an IP address among its subject
// alternative names. The same configuration serves the SQL pool and the
// binlog connection.
func verifyIdentity(c config.MySQL) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mysql.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mysql.ca_file %s: no PEM certificate found", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tlsHint is what a failed certificate check tells the operator to look
// at, after the driver's own message.
func tlsHint(c config.MySQL, err error) string {
	var (
		hn x509.HostnameError
		ua x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &hn):
		return fmt.Sprintf(" (mysql.tls %s: the server's certificate does not name mysql.host %q; connect by a name or address "+
			"the certificate holds, or use tls: verify-ca to check the chain only)", c.TLS, c.Host)
	case errors.As(err, &ua) && c.CAFile == "":
		return fmt.Sprintf(" (mysql.tls %s: the server's certificate does not chain to the system's CA bundle; set mysql.ca_file)", c.TLS)
	case errors.As(err, &ua):
		return fmt.Sprintf(" (mysql.tls %s: the server's certificate does not chain to mysql.ca_file %s)", c.TLS, c.CAFile)
	}
	return ""
}
