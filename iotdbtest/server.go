// Package iotdbtest is an IoTDB wire-protocol TEST DOUBLE: an in-process
// server that speaks the Apache IoTDB client RPC (Thrift, framed transport,
// binary protocol) well enough for the unmodified iotdb-client-go v2.0.10
// client, with an in-memory store, inspection helpers and fault injection.
//
// It is NOT an IoTDB server and never a sink for real data. Behaviours are
// emulated from docs/iotdb.md (section numbers are cited in the
// code); see README.md for what is and is not emulated.
//
// Use it like net/http/httptest:
//
//	srv := iotdbtest.Start(t, iotdbtest.Options{})
//	sess := client.NewSession(&client.Config{Host: srv.Host(), Port: strconv.Itoa(srv.Port()), UserName: "root", Password: "root"})
package iotdbtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/common"
	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/apache/thrift/lib/go/thrift"
)

// Options configure a Server. The zero value is a usable default.
type Options struct {
	Addr                 string // listen address, default "127.0.0.1:0"
	User, Password       string // default root/root
	Precision            string // "ms" (default) | "us" | "ns"; sent as configuration["timestamp_precision"]
	DisableAutoCreate    bool   // enable_auto_create_schema=false (docs/iotdb.md §3.1)
	DisablePartialInsert bool   // enable_partial_insert=false (docs/iotdb.md §3.2)
	// DiscardData validates and counts writes (schema, types, statuses and
	// Stats are all kept) but stores no point values: for long benchmarks
	// where ~16 bytes per stored point would exhaust memory.
	DiscardData bool
	// MaxFrameSize is the largest request frame accepted, in bytes
	// (thrift_max_frame_size; frames.go): a larger one drops the connection,
	// as on a real server. 0 means DefaultMaxFrameSize (64 MiB).
	MaxFrameSize int
	// TLS, when set, serves TLS on the port as IoTDB's enable_thrift_ssl
	// does: every connection begins with a handshake (tls.go; ServerTLS
	// builds one from PEM files, a client CA making client certificates
	// required).
	TLS *tls.Config
}

// Server is a running test double. All methods are safe for concurrent use.
type Server struct {
	opts  Options
	store *store
	ids   atomic.Int64

	mu      sync.Mutex
	ln      net.Listener
	addr    string
	conns   map[*liveConn]struct{}
	wg      sync.WaitGroup
	closed  bool
	hangCh  chan struct{} // non-nil while hanging; closed on release
	failN   int
	failSt  common.TSStatus
	latency atomic.Int64
	refuse  atomic.Bool

	lastTLSErr error // tls.go
}

type liveConn struct {
	nc     net.Conn
	cancel context.CancelFunc
}

// NewServer starts a server; it is listening and serving on return.
func NewServer(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.User == "" && o.Password == "" {
		o.User, o.Password = "root", "root"
	}
	switch o.Precision {
	case "":
		o.Precision = "ms"
	case "ms", "us", "ns":
	default:
		return nil, fmt.Errorf("iotdbtest: precision must be ms, us or ns, got %q", o.Precision)
	}
	s := &Server{opts: o, store: newStore(), conns: map[*liveConn]struct{}{}}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("iotdbtest: listen: %w", err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return s, nil
}

// Start is NewServer + t.Cleanup(Close); it calls t.Fatal on error.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Addr is the listen address "host:port".
func (s *Server) Addr() string { return s.addr }

// Host is the listen host.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the listen port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Options returns the effective options (defaults applied).
func (s *Server) Options() Options { return s.opts }

func (s *Server) nextID() int64 { return s.ids.Add(1) }

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		if s.refuse.Load() {
			_ = nc.Close()
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		lc := &liveConn{nc: nc, cancel: cancel}
		s.mu.Lock()
		if s.closed || s.ln != ln {
			s.mu.Unlock()
			cancel()
			_ = nc.Close()
			return
		}
		s.conns[lc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.store.mu.Lock()
		s.store.stats.Connections++
		s.store.mu.Unlock()
		go s.serve(ctx, lc)
	}
}

// peekConn lets us look at the first frame's protocol byte before thrift
// reads it (binary protocol 0x80, compact 0x82).
type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (s *Server) serve(ctx context.Context, lc *liveConn) {
	defer s.wg.Done()
	defer func() {
		lc.cancel()
		_ = lc.nc.Close()
		s.mu.Lock()
		delete(s.conns, lc)
		s.mu.Unlock()
	}()
	cfg := &thrift.TConfiguration{MaxFrameSize: s.maxFrameSize()} // docs/iotdb.md §1.1, §8; frames.go
	var nc net.Conn = lc.nc
	if s.opts.TLS != nil { // tls.go; lc.nc stays the TCP connection that drops close
		var ok bool
		if nc, ok = s.serveTLS(ctx, lc.nc); !ok {
			return
		}
	}
	fm := &frameMeter{Conn: nc, srv: s}
	pc := &peekConn{Conn: fm, r: bufio.NewReaderSize(fm, 64<<10)}
	hdr, err := pc.r.Peek(5)
	if err != nil {
		return
	}
	sock := thrift.NewTSocketFromConnConf(pc, cfg)
	trans := thrift.NewTFramedTransportConf(sock, cfg)
	var prot thrift.TProtocol
	if hdr[4] == 0x82 { // client enabled RPC compression (docs/iotdb.md §1.1)
		prot = thrift.NewTCompactProtocolConf(trans, cfg)
	} else {
		prot = thrift.NewTBinaryProtocolConf(trans, cfg)
	}
	h := newConn(s, ctx)
	proc := rpc.NewIClientRPCServiceProcessor(h)
	in := &gateProtocol{TProtocol: prot, s: s, ctx: ctx}
	for ctx.Err() == nil {
		ok, err := proc.Process(ctx, in, prot)
		if err != nil {
			var te thrift.TTransportException
			if errors.As(err, &te) {
				return
			}
			var tae thrift.TApplicationException
			if errors.As(err, &tae) && tae.TypeId() == thrift.UNKNOWN_METHOD {
				continue
			}
		}
		if !ok {
			return
		}
	}
}

// gateProtocol injects latency and hangs after a request has been read and
// before the handler answers (the generated processor calls ReadMessageEnd
// right before invoking the handler).
type gateProtocol struct {
	thrift.TProtocol
	s   *Server
	ctx context.Context
}

func (g *gateProtocol) ReadMessageEnd(ctx context.Context) error {
	err := g.TProtocol.ReadMessageEnd(ctx)
	g.s.gate(g.ctx)
	return err
}

func (s *Server) gate(ctx context.Context) {
	s.store.mu.Lock()
	s.store.stats.RPCs++
	s.store.mu.Unlock()
	s.mu.Lock()
	hang := s.hangCh
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
		}
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// Close stops listening, drops every connection and waits for the serving
// goroutines. Data is discarded with the Server.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	s.dropLocked()
	if s.hangCh != nil {
		close(s.hangCh)
		s.hangCh = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// Restart emulates an IoTDB restart: stop listening, drop all connections,
// listen again on the SAME address. Stored data, schema and fault settings
// are kept; sessions are lost (clients must reconnect).
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("iotdbtest: server closed")
	}
	old := s.ln
	_ = old.Close()
	s.dropLocked()
	s.mu.Unlock()
	// wait for this listener's goroutines to finish
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port may take a moment to be free again
		ln, err = net.Listen("tcp", s.addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("iotdbtest: restart: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("iotdbtest: server closed")
	}
	s.ln = ln
	s.wg.Add(1)
	s.mu.Unlock()
	s.store.mu.Lock()
	s.store.stats.Restarts++
	s.store.mu.Unlock()
	go s.acceptLoop(ln)
	return nil
}

func (s *Server) dropLocked() {
	for lc := range s.conns {
		lc.cancel()
		_ = lc.nc.Close()
	}
}

// ---- faults ----

// FailWrites makes the next n write RPCs (insert*, deleteData, DELETE SQL)
// answer TSStatus{code, msg} and store nothing. n <= 0 clears.
func (s *Server) FailWrites(n int, code int32, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg == "" {
		msg = fmt.Sprintf("iotdbtest: injected failure (code %d)", code)
	}
	s.failN = max(n, 0)
	s.failSt = common.TSStatus{Code: code, Message: &msg}
}

func (s *Server) takeFailure() *common.TSStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN <= 0 {
		return nil
	}
	s.failN--
	st := s.failSt
	return &st
}

// SetLatency adds d before every RPC answer (0 disables).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetRefuse: while on, new TCP connections are accepted and closed at once.
func (s *Server) SetRefuse(on bool) { s.refuse.Store(on) }

// DropConnections closes every open client connection now.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked()
}

// SetHang: while on, every RPC blocks without answering; SetHang(false)
// releases them (they then run normally). Dropped connections are released
// too, without applying their request.
func (s *Server) SetHang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && s.hangCh == nil {
		s.hangCh = make(chan struct{})
	}
	if !on && s.hangCh != nil {
		close(s.hangCh)
		s.hangCh = nil
	}
}

// OpenConnections is the number of currently open client connections.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) countSession() {
	s.store.mu.Lock()
	s.store.stats.Sessions++
	s.store.mu.Unlock()
}

func (s *Server) countLoginFailure() {
	s.store.mu.Lock()
	s.store.stats.LoginFailures++
	s.store.mu.Unlock()
}
