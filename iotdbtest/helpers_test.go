package iotdbtest

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/apache/thrift/lib/go/thrift"
)

func cfgFor(srv *Server) *client.Config {
	return &client.Config{Host: srv.Host(), Port: strconv.Itoa(srv.Port()), UserName: "root", Password: "root", TimeZone: "UTC"}
}

// openTree opens a tree-dialect session with the unmodified client.
func openTree(t testing.TB, srv *Server) *client.Session {
	t.Helper()
	s := client.NewSession(cfgFor(srv))
	if err := s.Open(false, 2000); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &s
}

func openTable(t testing.TB, srv *Server, db string) client.ITableSession {
	t.Helper()
	c := cfgFor(srv)
	c.Database = db
	s, err := client.NewTableSession(c, false, 2000)
	if err != nil {
		t.Fatalf("open table session: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func codeOf(err error) int32 {
	var ee *client.ExecutionError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

func wantCode(t testing.TB, err error, code int32) {
	t.Helper()
	if got := codeOf(err); got != code {
		t.Fatalf("want status %d, got err=%v", code, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type querier interface {
	ExecuteQueryStatement(sql string, timeoutMs *int64) (*client.SessionDataSet, error)
}

// query runs a query and returns column names and rows. TIMESTAMP columns
// and the tree "Time" column come back as int64, DATE as int32 yyyymmdd.
func query(t testing.TB, s querier, sql string) ([]string, [][]any) {
	t.Helper()
	ds, err := s.ExecuteQueryStatement(sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer ds.Close()
	names := ds.GetColumnNames()
	types := ds.GetColumnTypes()
	var rows [][]any
	for {
		ok, err := ds.Next()
		if err != nil {
			t.Fatalf("%s: next: %v", sql, err)
		}
		if !ok {
			break
		}
		row := make([]any, len(names))
		for i := range names {
			idx := int32(i + 1)
			null, err := ds.IsNullByIndex(idx)
			if err != nil {
				t.Fatal(err)
			}
			if null {
				continue
			}
			switch {
			case names[i] == "Time" && i == 0, types[i] == "TIMESTAMP":
				row[i], err = ds.GetLongByIndex(idx)
			case types[i] == "DATE":
				var d time.Time
				d, err = ds.GetDateByIndex(idx)
				row[i] = int32(d.Year()*10000 + int(d.Month())*100 + d.Day())
			default:
				row[i], err = ds.GetObjectByIndex(idx)
			}
			if err != nil {
				t.Fatalf("%s: col %s: %v", sql, names[i], err)
			}
		}
		rows = append(rows, row)
	}
	return names, rows
}

// rawClient is a bare thrift client, for things the session API hides
// (the openSession status, malformed buffers, old protocol versions).
type rawClient struct {
	*rpc.IClientRPCServiceClient
	trans thrift.TTransport
}

func dialRaw(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	cfg := &thrift.TConfiguration{ConnectTimeout: 2 * time.Second}
	sock := thrift.NewTSocketConf(net.JoinHostPort(srv.Host(), strconv.Itoa(srv.Port())), cfg)
	trans := thrift.NewTFramedTransportConf(sock, cfg)
	if err := trans.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trans.Close() })
	f := thrift.NewTBinaryProtocolFactoryConf(cfg)
	return &rawClient{IClientRPCServiceClient: rpc.NewIClientRPCServiceClient(thrift.NewTStandardClient(f.GetProtocol(trans), f.GetProtocol(trans))), trans: trans}
}

func (c *rawClient) open(t testing.TB, user, pw string, conf map[string]string) *rpc.TSOpenSessionResp {
	t.Helper()
	resp, err := c.OpenSession(context.Background(), &rpc.TSOpenSessionReq{
		ClientProtocol: rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3, ZoneId: "UTC", Username: user, Password: &pw, Configuration: conf})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// eventually polls cond for up to 10s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
