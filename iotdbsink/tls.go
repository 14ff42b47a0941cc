package iotdbsink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// TLS to IoTDB (iotdb.tls; docs/iotdb.md §11). The client library's own
// TLS (client.Config.TLSConfig, thrift.NewTSSLSocketConf) dials by itself,
// which the sink cannot use: it dials the TCP connection itself so that
// its deadlines can close it (session.go). So the sink runs the same
// crypto/tls handshake on its own connection, before the Thrift framing,
// exactly where the client's TSSLSocket would.

// sinkTLS is the TLS setup of every session of a sink.
type sinkTLS struct {
	mode       string
	cfg        *tls.Config
	serverName string // verify-identity: the configured name, else each node's host
	caFile     string
}

// newSinkTLS builds the crypto/tls configuration of t; nil when TLS is off.
// It reads the files again (Load checked them already) so that a sink built
// from a configuration made in code gets the same checks.
func newSinkTLS(t config.IoTDBTLS) (*sinkTLS, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var pool *x509.CertPool
	if t.CAFile != "" {
		data, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("iotdb.tls.ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("iotdb.tls.ca_file %s: no PEM certificate found", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("iotdb.tls: cert_file and key_file go together")
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("iotdb.tls.cert_file %s, key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch t.Mode {
	case config.TLSRequired:
		cfg.InsecureSkipVerify = true // encrypted; the certificate is not checked
	case config.TLSVerifyCA:
		if pool == nil {
			return nil, errors.New("iotdb.tls.ca_file: required with mode verify-ca")
		}
		// The chain, not the names (as MySQL's VERIFY_CA): crypto/tls checks
		// both or neither, so the check of the names is turned off and the
		// chain is verified here.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChain(pool)
	case config.TLSVerifyIdentity:
		cfg.RootCAs = pool // nil: the system's CA bundle
	default:
		return nil, fmt.Errorf("iotdb.tls.mode: unknown mode %q", t.Mode)
	}
	return &sinkTLS{mode: t.Mode, cfg: cfg, serverName: t.ServerName, caFile: t.CAFile}, nil
}

func verifyChain(pool *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// TLSError is a TLS handshake with an IoTDB node that another attempt
// cannot mend: the server's certificate is refused under iotdb.tls.mode
// (unknown authority, a name it does not hold, expired), the server
// refused ours (or that we sent none), or the port does not speak TLS.
// Retryable reports false for it.
type TLSError struct {
	Node, Mode string
	Err        error
	CAFile     string // iotdb.tls.ca_file ("": the system's CA bundle)
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("TLS with iotdb %s (iotdb.tls.mode %s): %v%s", e.Node, e.Mode, e.Err, tlsHint(e.Err, e.CAFile))
}

func (e *TLSError) Unwrap() error { return e.Err }

// tlsHint says what an operator checks for a TLS failure.
func tlsHint(err error, caFile string) string {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		rh  tls.RecordHeaderError
		ope *net.OpError
	)
	switch {
	case errors.As(err, &hn):
		return " (verify-identity: the certificate must name the node's host, or set iotdb.tls.server_name to a name it holds)"
	case errors.As(err, &ua) && caFile == "":
		return " (the server's certificate does not chain to the system's CA bundle: set iotdb.tls.ca_file to the CA that signed it)"
	case errors.As(err, &ua):
		return " (the server's certificate does not chain to iotdb.tls.ca_file " + caFile + ")"
	case errors.As(err, &ci):
		return " (the server's certificate is expired, not yet valid or not for servers)"
	case errors.As(err, &rh):
		return " (the port answered, but not with TLS: is enable_thrift_ssl on for this IoTDB?)"
	case errors.As(err, &ope) && ope.Op == "remote error":
		return " (the server refused the handshake: if it asks for a client certificate, set iotdb.tls.cert_file and key_file to one its trust store accepts)"
	}
	return ""
}

// permanentTLS reports whether a handshake or first-call error is one no
// retry can mend (see TLSError).
func permanentTLS(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		rh  tls.RecordHeaderError
		ope *net.OpError
	)
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &rh) || (errors.As(err, &ope) && ope.Op == "remote error")
}

// handshake runs the TLS client handshake on nc (bounded by ctx) and
// returns the encrypted connection. The caller closes nc on error.
func (t *sinkTLS) handshake(ctx context.Context, nc net.Conn, node string) (net.Conn, error) {
	cfg := t.cfg.Clone()
	host, _, err := net.SplitHostPort(node)
	if err != nil {
		host = node
	}
	cfg.ServerName = host // SNI (omitted for an IP address) and, under verify-identity, the name checked
	if t.mode == config.TLSVerifyIdentity && t.serverName != "" {
		cfg.ServerName = t.serverName
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if permanentTLS(err) {
			return nil, &TLSError{Node: node, Mode: t.mode, Err: err, CAFile: t.caFile}
		}
		hint := " (no TLS answer: does this IoTDB serve TLS on the port? enable_thrift_ssl=true on the server)"
		if ctx.Err() != nil {
			hint = " (no TLS answer in time: does this IoTDB serve TLS on the port? enable_thrift_ssl=true on the server)"
		}
		return nil, fmt.Errorf("TLS handshake with iotdb %s (iotdb.tls.mode %s): %w%s", node, t.mode, err, hint)
	}
	return tc, nil
}

// plainHint is added to the error of a plain (iotdb.tls off) session whose
// server closed the connection without answering: what an IoTDB with
// enable_thrift_ssl does to a client that does not start with TLS.
func plainHint(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return " (the server closed the connection without answering: if this IoTDB serves TLS (enable_thrift_ssl), set iotdb.tls.mode)"
	}
	return ""
}

// joinNodeErrors joins the errors of the nodes a session was tried on. The
// join is a TLSError (not retryable) only when every node failed TLS: a
// node that is merely down may come back.
func joinNodeErrors(errs []error) error {
	all := len(errs) > 0
	for _, err := range errs {
		var te *TLSError
		if !errors.As(err, &te) {
			all = false
		}
	}
	if all {
		return errors.Join(errs...)
	}
	out := make([]error, len(errs))
	for i, err := range errs {
		var te *TLSError
		if errors.As(err, &te) {
			err = errors.New(err.Error()) // the text stays; the verdict "permanent" does not
		}
		out[i] = err
	}
	return errors.Join(out...)
}
