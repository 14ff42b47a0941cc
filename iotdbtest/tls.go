package iotdbtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"
)

// TLS on the client port, as an IoTDB with enable_thrift_ssl=true serves
// it (docs/iotdb.md §11): every connection starts with a TLS handshake and
// Thrift runs inside it; a client that sends plain Thrift gets its
// connection closed, with nothing answered.

// tlsHandshakeTimeout bounds a client's handshake.
const tlsHandshakeTimeout = 10 * time.Second

// ServerTLS is the Options.TLS of a server presenting certFile/keyFile
// (PEM). With clientCAFile, a client must present a certificate that
// chains to it (IoTDB: a trust store on the server).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("iotdbtest: TLS certificate %s, key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		data, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("iotdbtest: TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("iotdbtest: TLS client CA %s: no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// serveTLS runs the server side of the handshake on nc. A failed handshake
// (a plain client, a client refusing the certificate, a missing client
// certificate) is counted in Stats.TLSHandshakeFailures and remembered for
// LastTLSError; the caller then closes the connection.
func (s *Server) serveTLS(ctx context.Context, nc net.Conn) (net.Conn, bool) {
	tc := tls.Server(nc, s.opts.TLS)
	_ = nc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	if err == nil {
		err = nc.SetDeadline(time.Time{})
	}
	if err != nil {
		s.store.mu.Lock()
		s.store.stats.TLSHandshakeFailures++
		s.store.mu.Unlock()
		s.mu.Lock()
		s.lastTLSErr = err
		s.mu.Unlock()
		return nil, false
	}
	return tc, true
}

// LastTLSError is why the last TLS handshake a client started failed (nil
// when none failed): e.g. "first record does not look like a TLS
// handshake" for a client that sent plain Thrift.
func (s *Server) LastTLSError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastTLSErr
}
