package iotdbtest

import (
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
)

func insOne(s *client.Session, ts int64) error {
	return s.InsertAlignedRecord("root.f.d", []string{"v"}, []client.TSDataType{client.INT64}, []any{ts}, ts)
}

func TestFailWrites(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	srv.FailWrites(2, 606, "write process rejected")
	err := insOne(s, 1)
	wantCode(t, err, 606)
	wantCode(t, s.ExecuteNonQueryStatement("DELETE FROM root.f.d.v"), 606)
	must(t, insOne(s, 2))
	if got := srv.Points("root.f.d.v"); len(got) != 1 || got[0].Time != 2 {
		t.Fatal(got)
	}
	if st := srv.Stats(); st.FailedWrites != 2 {
		t.Fatalf("%+v", st)
	}
	// queries are not writes
	srv.FailWrites(1, 305, "")
	query(t, s, "SELECT * FROM root.f.d")
	wantCode(t, insOne(s, 3), 305)
}

func TestLatency(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	srv.SetLatency(150 * time.Millisecond)
	start := time.Now()
	must(t, insOne(s, 1))
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("answer after %v", d)
	}
	srv.SetLatency(0)
	must(t, insOne(s, 2))
}

func TestRefuse(t *testing.T) {
	srv := Start(t, Options{})
	srv.SetRefuse(true)
	s := client.NewSession(cfgFor(srv))
	if err := s.Open(false, 1000); err == nil {
		s.Close()
		t.Fatal("open succeeded while refusing")
	}
	srv.SetRefuse(false)
	openTree(t, srv)
}

func TestDropConnections(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	must(t, insOne(s, 1))
	before := srv.Stats().Connections
	srv.DropConnections()
	eventually(t, "connections closed", func() bool { return srv.OpenConnections() == 0 })
	// the client notices the dead connection, reconnects once and replays (docs/iotdb.md §1.5)
	must(t, insOne(s, 2))
	if st := srv.Stats(); st.Connections <= before {
		t.Fatalf("no reconnect: %+v", st)
	}
	if len(srv.Points("root.f.d.v")) != 2 {
		t.Fatal(srv.Points("root.f.d.v"))
	}
}

func TestHang(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	srv.SetHang(true)
	rpcs := srv.Stats().RPCs
	done := make(chan error, 1)
	go func() { done <- insOne(s, 1) }()
	eventually(t, "the RPC to arrive", func() bool { return srv.Stats().RPCs > rpcs })
	select {
	case err := <-done:
		t.Fatalf("answered while hanging: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if len(srv.Points("root.f.d.v")) != 0 {
		t.Fatal("hung write applied")
	}
	srv.SetHang(false)
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("not released")
	}
	if len(srv.Points("root.f.d.v")) != 1 {
		t.Fatal("released write not applied")
	}
}

func TestHangThenDrop(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	srv.SetHang(true)
	rpcs := srv.Stats().RPCs
	done := make(chan error, 1)
	go func() { done <- s.ExecuteNonQueryStatement("CREATE DATABASE root.hd") }()
	eventually(t, "the RPC to arrive", func() bool { return srv.Stats().RPCs > rpcs })
	srv.DropConnections() // the client sees a broken connection; its reconnect hangs too
	srv.SetHang(false)
	select {
	case <-done: // error or success after reconnect: both fine, it must return
	case <-time.After(10 * time.Second):
		t.Fatal("not released")
	}
}

func TestRestartKeepsData(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	must(t, insOne(s, 1))
	addr := srv.Addr()
	must(t, srv.Restart())
	if srv.Addr() != addr {
		t.Fatalf("address changed %s -> %s", addr, srv.Addr())
	}
	// the old session reconnects by itself on the next call
	must(t, insOne(s, 2))
	s2 := openTree(t, srv)
	_, rows := query(t, s2, "select v from root.f.d")
	if len(rows) != 2 {
		t.Fatal(rows)
	}
	if srv.Stats().Restarts != 1 {
		t.Fatal(srv.Stats())
	}
}
