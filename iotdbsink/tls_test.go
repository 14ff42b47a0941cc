package iotdbsink

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// tlsDouble starts an iotdbtest serving TLS only, with a certificate for
// hosts signed by ca.
func tlsDouble(t *testing.T, ca *testenv.CA, clientCA string, hosts ...string) *iotdbtest.Server {
	t.Helper()
	cert, key := ca.Server(t, "iotdb", hosts...)
	cfg, err := iotdbtest.ServerTLS(cert, key, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	return iotdbtest.Start(t, iotdbtest.Options{TLS: cfg})
}

var tlsSchema = &mapping.Schema{SourceTable: "t", Model: "tree", Database: "root.tls", Aligned: true,
	Measurements: []string{"v"}, Types: []client.TSDataType{client.DOUBLE}}

// openAndWrite opens a sink with cfg, writes one point at time ts, and
// closes it. It returns how long Open took and its error.
func openAndWrite(cfg config.IoTDB, ts int64) (time.Duration, error) {
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		return 0, err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Open(ctx); err != nil {
		return time.Since(start), err
	}
	d := time.Since(start)
	res, err := s.Write(ctx, []mapping.Point{pt(tlsSchema, "root.tls.d", ts, float64(ts))})
	if err == nil && len(res.Rejected) > 0 {
		err = errors.New(res.Rejected[0].Message)
	}
	return d, err
}

func withTLS(srv *iotdbtest.Server, node string, tc config.IoTDBTLS) config.IoTDB {
	c := testConfig(srv)
	if node != "" {
		c.Nodes = []string{node}
	}
	c.TLS = tc
	return c
}

// Every mode against a double serving TLS with a certificate for
// 127.0.0.1 and localhost: the right CA passes, another CA or another
// name fails at once (no retries: a certificate does not mend itself), a
// plain sink fails with a hint, and the points written over TLS land.
func TestIntegrationTLSModes(t *testing.T) {
	skipShort(t)
	ca := testenv.NewCA(t, "iotdb-ca")
	other := testenv.NewCA(t, "other-ca")
	srv := tlsDouble(t, ca, "", "127.0.0.1", "localhost")
	byName := net.JoinHostPort("localhost", strconv.Itoa(srv.Port()))
	// A second double whose certificate names only a DNS name the tests
	// never dial: verify-ca takes it, verify-identity does not.
	named := tlsDouble(t, ca, "", "iotdb.elsewhere.test")

	type tc struct {
		name   string
		srv    *iotdbtest.Server
		node   string
		tls    config.IoTDBTLS
		ok     bool
		want   any    // for a failure: the error type errors.As must find
		hint   string // for a failure: in the message
		quick  bool   // for a failure: refused without retrying
		series int64
	}
	cases := []tc{
		{name: "verify-identity by IP", srv: srv, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile}, ok: true, series: 1},
		{name: "verify-identity by name", srv: srv, node: byName, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile}, ok: true, series: 2},
		{name: "verify-identity, server_name held", srv: named, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile, ServerName: "iotdb.elsewhere.test"}, ok: true, series: 3},
		{name: "verify-ca, any name", srv: named, tls: config.IoTDBTLS{Mode: "verify-ca", CAFile: ca.CertFile}, ok: true, series: 4},
		{name: "required, unknown CA", srv: srv, tls: config.IoTDBTLS{Mode: "required", CAFile: other.CertFile}, ok: true, series: 5},
		{name: "verify-identity, wrong name", srv: named, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile},
			want: &x509.HostnameError{}, hint: "iotdb.tls.server_name", quick: true},
		{name: "verify-identity, server_name not held", srv: srv, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile, ServerName: "iotdb.elsewhere.test"},
			want: &x509.HostnameError{}, hint: "iotdb.tls.server_name", quick: true},
		{name: "verify-identity, wrong CA", srv: srv, tls: config.IoTDBTLS{Mode: "verify-identity", CAFile: other.CertFile},
			want: &x509.UnknownAuthorityError{}, hint: "does not chain to iotdb.tls.ca_file", quick: true},
		{name: "verify-ca, wrong CA", srv: srv, tls: config.IoTDBTLS{Mode: "verify-ca", CAFile: other.CertFile},
			want: &x509.UnknownAuthorityError{}, hint: "does not chain to iotdb.tls.ca_file", quick: true},
		{name: "verify-identity, system roots only", srv: srv, tls: config.IoTDBTLS{Mode: "verify-identity"},
			want: &x509.UnknownAuthorityError{}, hint: "system's CA bundle", quick: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := openAndWrite(withTLS(c.srv, c.node, c.tls), c.series)
			if c.ok {
				if err != nil {
					t.Fatalf("open and write: %v", err)
				}
				if got := c.srv.Points("root.tls.d.v"); len(got) == 0 || got[len(got)-1].Time != c.series {
					t.Fatalf("points %v, want the one at %d", got, c.series)
				}
				return
			}
			if err == nil {
				t.Fatal("open succeeded")
			}
			t.Logf("refused: %v", err)
			switch w := c.want.(type) {
			case *x509.HostnameError:
				if !errors.As(err, w) {
					t.Fatalf("err = %v, want an x509.HostnameError", err)
				}
			case *x509.UnknownAuthorityError:
				if !errors.As(err, w) {
					t.Fatalf("err = %v, want an x509.UnknownAuthorityError", err)
				}
			}
			var te *TLSError
			if !errors.As(err, &te) || Retryable(err) {
				t.Fatalf("err = %v: want a TLSError that is not retryable", err)
			}
			if !strings.Contains(err.Error(), c.hint) || !strings.Contains(err.Error(), "iotdb.tls.mode "+c.tls.Mode) {
				t.Fatalf("err = %q, want it to name the mode and say %q", err, c.hint)
			}
			if c.quick && d > 5*time.Second { // the retry budget is 20 s
				t.Fatalf("refused after %s: it was retried", d)
			}
		})
	}
	if st := srv.Stats(); st.TLSHandshakeFailures == 0 {
		t.Fatal("the double counted no failed handshake")
	}
}

// A sink without iotdb.tls against a TLS port: the server closes the
// connection on the first plain bytes; the error says to set the mode.
func TestIntegrationTLSPlainSinkOnTLSPort(t *testing.T) {
	skipShort(t)
	srv := tlsDouble(t, testenv.NewCA(t, "ca"), "", "127.0.0.1")
	cfg := testConfig(srv)
	cfg.Retry.Elapsed = 300 * time.Millisecond
	_, err := openAndWrite(cfg, 1)
	t.Logf("plain sink: %v", err)
	if err == nil || !strings.Contains(err.Error(), "set iotdb.tls.mode") {
		t.Fatalf("err = %v, want the hint to set iotdb.tls.mode", err)
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions opened over plain Thrift on a TLS port", n)
	}
}

// A sink with iotdb.tls against a plain port: the handshake gets no TLS
// answer; the error says so.
func TestIntegrationTLSSinkOnPlainPort(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	cfg := withTLS(srv, "", config.IoTDBTLS{Mode: "required"})
	cfg.Retry.Elapsed = 300 * time.Millisecond
	_, err := openAndWrite(cfg, 1)
	t.Logf("TLS sink, plain port: %v", err)
	if err == nil || !strings.Contains(err.Error(), "enable_thrift_ssl") {
		t.Fatalf("err = %v, want the hint about enable_thrift_ssl", err)
	}
	if n := srv.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions opened", n)
	}
}

// A server that asks for client certificates (IoTDB: a trust store):
// without cert_file the session is refused for good; with a certificate of
// the CA the server trusts it works.
func TestIntegrationTLSClientCertificate(t *testing.T) {
	skipShort(t)
	ca := testenv.NewCA(t, "iotdb-ca")
	clients := testenv.NewCA(t, "clients-ca")
	srv := tlsDouble(t, ca, clients.CertFile, "127.0.0.1")
	d, err := openAndWrite(withTLS(srv, "", config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile}), 1)
	t.Logf("no client certificate: %v", err)
	var te *TLSError
	if !errors.As(err, &te) || Retryable(err) || !strings.Contains(err.Error(), "cert_file") {
		t.Fatalf("without a client certificate: err = %v, want a permanent TLSError naming cert_file", err)
	}
	if d > 5*time.Second {
		t.Fatalf("refused after %s: it was retried", d)
	}
	cert, key := clients.Client(t, "bridge")
	if _, err := openAndWrite(withTLS(srv, "", config.IoTDBTLS{Mode: "verify-identity", CAFile: ca.CertFile, CertFile: cert, KeyFile: key}), 2); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if got := srv.Points("root.tls.d.v"); len(got) != 1 || got[0].Time != 2 {
		t.Fatalf("points %v, want the one written with the client certificate", got)
	}
}

// A node that fails TLS next to one that is merely down: not a permanent
// failure, the down node may come back.
func TestJoinNodeErrors(t *testing.T) {
	te := &TLSError{Node: "a:1", Mode: "verify-ca", Err: x509.UnknownAuthorityError{}}
	if Retryable(joinNodeErrors([]error{te, te})) {
		t.Fatal("every node refused TLS: retryable")
	}
	if !Retryable(joinNodeErrors([]error{te, errors.New("connection refused")})) {
		t.Fatal("one node down, one refused TLS: not retryable")
	}
}

func TestNewTLSConfigErrors(t *testing.T) {
	base := config.IoTDB{Nodes: []string{"127.0.0.1:6667"}}
	for _, c := range []struct {
		tls  config.IoTDBTLS
		want string
	}{
		{config.IoTDBTLS{Mode: "verify-ca"}, "required with mode verify-ca"},
		{config.IoTDBTLS{Mode: "required", CAFile: "/nonexistent/ca.pem"}, "iotdb.tls.ca_file"},
		{config.IoTDBTLS{Mode: "required", CertFile: "x.pem"}, "go together"},
		{config.IoTDBTLS{Mode: "sometimes"}, "unknown mode"},
	} {
		cfg := base
		cfg.TLS = c.tls
		if _, err := New(cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.tls, err, c.want)
		}
	}
	for _, mode := range []string{"", "disabled"} {
		cfg := base
		cfg.TLS.Mode = mode
		s, err := New(cfg, zerolog.Nop())
		if err != nil || s.tls != nil {
			t.Errorf("mode %q: sink TLS %v, err %v; want plain", mode, s.tls, err)
		}
	}
}
