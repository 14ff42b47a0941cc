package iotdbtest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

// tlsServer starts a double serving TLS with a certificate for 127.0.0.1
// and localhost, signed by a fresh CA; clientCA, when set, makes client
// certificates required.
func tlsServer(t *testing.T, clientCA string) (*Server, *testenv.CA) {
	t.Helper()
	ca := testenv.NewCA(t, "iotdb-ca")
	cert, key := ca.Server(t, "iotdb", "127.0.0.1", "localhost")
	cfg, err := ServerTLS(cert, key, clientCA)
	if err != nil {
		t.Fatal(err)
	}
	return Start(t, Options{TLS: cfg}), ca
}

// tlsSession opens a session with the unmodified client's own TLS
// (client.Config.TLSConfig: thrift's TSSLSocket, which checks the chain
// and the host name) and runs one statement, since Open never looks at
// the openSession answer (docs/iotdb.md §1.2).
func tlsSession(srv *Server, host string, tc *client.TLSConfig) error {
	c := &client.Config{Host: host, Port: strconv.Itoa(srv.Port()), UserName: "root", Password: "root", TimeZone: "UTC", TLSConfig: tc}
	s := client.NewSession(c)
	if err := s.Open(false, 2000); err != nil {
		return err
	}
	defer s.Close()
	return s.ExecuteNonQueryStatement("CREATE DATABASE root.tls")
}

func TestConformanceTLSRightCA(t *testing.T) {
	srv, ca := tlsServer(t, "")
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := tlsSession(srv, host, &client.TLSConfig{CAFile: ca.CertFile}); err != nil && !strings.Contains(err.Error(), "501") {
			t.Fatalf("TLS session to %s with the right CA: %v", host, err)
		}
	}
	if got := srv.Databases(); len(got) != 1 || got[0] != "root.tls" {
		t.Fatalf("databases after the TLS sessions: %v, want [root.tls]", got)
	}
	if st := srv.Stats(); st.Sessions != 2 || st.TLSHandshakeFailures != 0 {
		t.Fatalf("stats: %d sessions, %d handshake failures; want 2 and 0", st.Sessions, st.TLSHandshakeFailures)
	}
}

func TestConformanceTLSWrongCA(t *testing.T) {
	srv, _ := tlsServer(t, "")
	other := testenv.NewCA(t, "other-ca")
	err := tlsSession(srv, "127.0.0.1", &client.TLSConfig{CAFile: other.CertFile})
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Fatalf("a session trusting another CA: err = %v, want x509.UnknownAuthorityError", err)
	}
	// The client gives up before the server has read its alert: wait for the count.
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().TLSHandshakeFailures == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := srv.Stats(); st.Sessions != 0 || st.TLSHandshakeFailures != 1 {
		t.Fatalf("stats: %d sessions, %d handshake failures; want 0 and 1", st.Sessions, st.TLSHandshakeFailures)
	}
}

// The certificate holds 127.0.0.1 and localhost, not 127.0.0.2: the
// client's own TLS checks the name (what the bridge calls verify-identity).
func TestConformanceTLSWrongName(t *testing.T) {
	ca := testenv.NewCA(t, "iotdb-ca")
	cert, key := ca.Server(t, "elsewhere", "iotdb.elsewhere.test")
	cfg, err := ServerTLS(cert, key, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := Start(t, Options{TLS: cfg})
	err = tlsSession(srv, "127.0.0.1", &client.TLSConfig{CAFile: ca.CertFile})
	var hn x509.HostnameError
	if !errors.As(err, &hn) {
		t.Fatalf("a certificate for another name: err = %v, want x509.HostnameError", err)
	}
}

// A client that does not start with TLS is refused at once, with nothing
// answered: the handshake fails on its first bytes and the connection is
// closed, so the client sees an error, not a hang.
func TestConformanceTLSPlainClient(t *testing.T) {
	srv, _ := tlsServer(t, "")
	start := time.Now()
	err := tlsSession(srv, "127.0.0.1", nil)
	if err == nil {
		t.Fatal("a plain session against a TLS port succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the plain client waited %s before failing", d)
	}
	if st := srv.Stats(); st.Sessions != 0 || st.TLSHandshakeFailures != 1 {
		t.Fatalf("stats: %d sessions, %d handshake failures; want 0 and 1", st.Sessions, st.TLSHandshakeFailures)
	}
	var rh tls.RecordHeaderError
	if !errors.As(srv.LastTLSError(), &rh) {
		t.Fatalf("server-side handshake error %v, want a tls.RecordHeaderError (plain bytes)", srv.LastTLSError())
	}
	t.Logf("plain client's error: %v", err)
}

// With a client CA the double asks for a client certificate (IoTDB: a
// trust store on the server): without one, or with one of another CA, the
// session fails; with one of that CA it works.
func TestConformanceTLSClientCertificate(t *testing.T) {
	clients := testenv.NewCA(t, "clients-ca")
	srv, ca := tlsServer(t, clients.CertFile)
	if err := tlsSession(srv, "127.0.0.1", &client.TLSConfig{CAFile: ca.CertFile}); err == nil {
		t.Fatal("a session without a client certificate succeeded")
	}
	stranger := testenv.NewCA(t, "stranger-ca")
	sc, sk := stranger.Client(t, "stranger")
	if err := tlsSession(srv, "127.0.0.1", &client.TLSConfig{CAFile: ca.CertFile, CertFile: sc, KeyFile: sk}); err == nil {
		t.Fatal("a session with a client certificate of another CA succeeded")
	}
	cc, ck := clients.Client(t, "bridge")
	if err := tlsSession(srv, "127.0.0.1", &client.TLSConfig{CAFile: ca.CertFile, CertFile: cc, KeyFile: ck}); err != nil {
		t.Fatalf("a session with a client certificate of the trusted CA: %v", err)
	}
	if st := srv.Stats(); st.Sessions != 1 {
		t.Fatalf("%d sessions opened, want 1 (only the one with the right client certificate)", st.Sessions)
	}
}

func TestServerTLSErrors(t *testing.T) {
	ca := testenv.NewCA(t, "ca")
	cert, key := ca.Server(t, "s", "127.0.0.1")
	if _, err := ServerTLS(cert, cert, ""); err == nil {
		t.Fatal("a certificate as its own key was accepted")
	}
	junk := t.TempDir() + "/junk.pem"
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ServerTLS(cert, key, junk); err == nil || !strings.Contains(err.Error(), "no PEM") {
		t.Fatalf("a client CA without PEM: %v", err)
	}
}
