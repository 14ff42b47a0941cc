package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/common"
	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/apache/thrift/lib/go/thrift"
)

// session is one IoTDB client session on a connection we own.
//
// The sink does not use client.Session, on purpose (docs/iotdb.md §1.1, §1.5, §9):
//   - client.Session has no read timeout and does not expose its transport,
//     so a hung server blocks a call forever and nothing can interrupt it.
//     Here we dial the net.Conn ourselves and close it when our deadline
//     fires, which makes the blocked read return.
//   - on any transport error client.Session silently reconnects and replays
//     the request on a session opened without sql_dialect/db (a table session
//     becomes a tree session) and without a connect timeout. Here a failed
//     session is thrown away and a fresh one is opened with the right dialect.
//   - client.Session.Open ignores the openSession status (a wrong password is
//     not noticed) and keeps the server's timestamp precision private; the raw
//     response gives both.
//   - VerifySuccess panics on a 302 whose failing sub-status has no message.
//
// The request structs are the generated rpc ones, filled exactly as the
// client fills them (session.go genTSInsertTabletReq / genInsertTabletsReq).
// A session is used by one goroutine at a time (the pool hands it out).
type session struct {
	node      string
	conn      net.Conn
	rpc       *rpc.IClientRPCServiceClient
	id        int64
	stmtID    int64
	precision string // as reported by the server: ms, us or ns ("" if not reported)
	broken    bool   // transport state unknown: never reuse
}

// errTimeout marks an RPC that our own deadline interrupted.
var errTimeout = errors.New("iotdb rpc deadline exceeded")

// StatusError is a non-success TSStatus returned by IoTDB.
type StatusError struct {
	Op      string
	Code    int32
	Message string
	Sub     []*common.TSStatus // sub-statuses of a 302 MULTIPLE_ERROR
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("iotdb %s: status %d", e.Op, e.Code)
	}
	return fmt.Sprintf("iotdb %s: status %d: %s", e.Op, e.Code, e.Message)
}

// checkStatus mirrors client.VerifySuccess (200 and 400 are success; a 302 is
// a success when every sub-status is) without its nil-message panic.
func checkStatus(op string, st *common.TSStatus) error {
	if st == nil {
		return fmt.Errorf("iotdb %s: response without status", op)
	}
	switch st.Code {
	case client.SuccessStatus, client.RedirectionRecommend:
		return nil
	case client.MultipleError:
		var msgs []string
		code := int32(0)
		for _, sub := range st.SubStatus {
			if sub == nil || sub.Code == client.SuccessStatus || sub.Code == client.RedirectionRecommend {
				continue
			}
			if code == 0 {
				code = sub.Code
			}
			msgs = append(msgs, fmt.Sprintf("%d: %s", sub.Code, sub.GetMessage()))
		}
		if len(msgs) == 0 {
			return nil
		}
		return &StatusError{Op: op, Code: client.MultipleError, Message: strings.Join(msgs, "; "), Sub: st.SubStatus}
	}
	return &StatusError{Op: op, Code: st.Code, Message: st.GetMessage()}
}

// sessionConfig is what opening a session needs.
type sessionConfig struct {
	user, password string
	table          bool
	database       string // table model: the session's database
	timeout        time.Duration
	tls            *sinkTLS // iotdb.tls; nil: plain (tls.go)
}

// openSession dials node and runs openSession + requestStatementId under
// one deadline. A non-200 openSession status (wrong password: 801) is
// returned as a *StatusError, so bad credentials fail here and not on the
// first write.
func openSession(ctx context.Context, node string, sc sessionConfig) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", node)
	if err != nil {
		return nil, fmt.Errorf("connecting to iotdb %s: %w", node, err)
	}
	conn := nc // what Thrift reads and writes; s.conn stays the TCP connection, which the deadlines close
	if sc.tls != nil {
		if conn, err = sc.tls.handshake(dctx, nc, node); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	tconf := &thrift.TConfiguration{MaxFrameSize: thrift.DEFAULT_MAX_FRAME_SIZE}
	trans := thrift.NewTFramedTransportConf(thrift.NewTSocketFromConnConf(conn, tconf), tconf)
	pf := thrift.NewTBinaryProtocolFactoryConf(tconf)
	s := &session{
		node: node,
		conn: nc,
		rpc:  rpc.NewIClientRPCServiceClient(thrift.NewTStandardClient(pf.GetProtocol(trans), pf.GetProtocol(trans))),
	}
	dialect := client.TreeSqlDialect
	if sc.table {
		dialect = client.TableSqlDialect
	}
	req := &rpc.TSOpenSessionReq{
		ClientProtocol: rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3,
		ZoneId:         "UTC", // only affects SQL datetime literals, which we never send
		Username:       sc.user,
		Password:       &sc.password,
		Configuration:  map[string]string{"sql_dialect": dialect, "version": string(client.V_1_0)},
	}
	if sc.table && sc.database != "" {
		req.Configuration["db"] = sc.database
	}
	err = s.call(ctx, sc.timeout, "openSession", func(ctx context.Context) error {
		resp, err := s.rpc.OpenSession(ctx, req)
		if err != nil {
			return err
		}
		if err := checkStatus("openSession", resp.Status); err != nil {
			return err
		}
		s.id = resp.GetSessionId()
		s.precision = resp.GetConfiguration()["timestamp_precision"]
		s.stmtID, err = s.rpc.RequestStatementId(ctx, s.id)
		return err
	})
	if err != nil {
		s.discard()
		if sc.tls == nil {
			return nil, fmt.Errorf("opening iotdb session on %s as %q: %w%s", node, sc.user, err, plainHint(err))
		}
		if permanentTLS(err) { // TLS 1.3: the server judges our certificate after the handshake
			return nil, &TLSError{Node: node, Mode: sc.tls.mode, Err: err, CAFile: sc.tls.caFile}
		}
		return nil, fmt.Errorf("opening iotdb session on %s as %q: %w", node, sc.user, err)
	}
	switch s.precision {
	case "", "ms", "us", "ns":
	default:
		s.discard()
		return nil, fmt.Errorf("opening iotdb session on %s: unknown timestamp_precision %q", node, s.precision)
	}
	return s, nil
}

// call runs fn under a deadline of timeout (and ctx). When the deadline or ctx
// fires first, the connection is closed, which unblocks the read inside fn;
// call then waits for fn to return, so no goroutine outlives it. A panic in
// the client code becomes an error. Any error that is not a *StatusError
// leaves the session broken.
func (s *session) call(ctx context.Context, timeout time.Duration, op string, fn func(ctx context.Context) error) (err error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(cctx, func() { _ = s.conn.Close() })
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("iotdb %s: client panic: %v", op, r)
			}
		}()
		err = fn(cctx)
	}()
	if !stop() { // the deadline or ctx fired and closed the connection
		s.broken = true
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("iotdb %s on %s: %w", op, s.node, ctxErr)
		}
		return fmt.Errorf("iotdb %s on %s after %s: %w", op, s.node, timeout, errTimeout)
	}
	if err != nil {
		var se *StatusError
		if !errors.As(err, &se) {
			s.broken = true
			return fmt.Errorf("iotdb %s on %s: %w", op, s.node, err)
		}
	}
	return err
}

// discard drops the connection without talking to the server.
func (s *session) discard() {
	s.broken = true
	_ = s.conn.Close()
}

// close ends the session politely (closeSession, bounded by timeout) and
// closes the connection.
func (s *session) close(timeout time.Duration) {
	if !s.broken {
		_ = s.call(context.Background(), timeout, "closeSession", func(ctx context.Context) error {
			_, err := s.rpc.CloseSession(ctx, &rpc.TSCloseSessionReq{SessionId: s.id})
			return err
		})
	}
	s.discard()
}

// exec runs one non-query statement (executeStatementV2).
func (s *session) exec(ctx context.Context, timeout time.Duration, sql string) error {
	return s.call(ctx, timeout, "executeStatement", func(ctx context.Context) error {
		fetch := int32(client.DefaultFetchSize)
		resp, err := s.rpc.ExecuteStatementV2(ctx, &rpc.TSExecuteStatementReq{
			SessionId: s.id, Statement: sql, StatementId: s.stmtID, FetchSize: &fetch,
		})
		if err != nil {
			return err
		}
		return checkStatus("executeStatement", resp.Status)
	})
}

// query runs a query and calls row for each row with the values of the
// named columns as strings. Used only for SHOW TIMESERIES.
func (s *session) query(ctx context.Context, timeout time.Duration, sql string, cols []string, row func([]string)) error {
	return s.call(ctx, timeout, "executeQueryStatement", func(ctx context.Context) error {
		fetch := int32(client.DefaultFetchSize)
		resp, err := s.rpc.ExecuteQueryStatementV2(ctx, &rpc.TSExecuteStatementReq{
			SessionId: s.id, Statement: sql, StatementId: s.stmtID, FetchSize: &fetch,
		})
		if err != nil {
			return err
		}
		if err := checkStatus("executeQueryStatement", resp.Status); err != nil {
			return err
		}
		if resp.QueryId == nil || resp.MoreData == nil {
			return &StatusError{Op: "executeQueryStatement", Code: client.UnsupportedOperation, Message: "not a query result"}
		}
		ds, err := client.NewSessionDataSet(sql, resp.Columns, resp.DataTypeList, resp.ColumnNameIndexMap, *resp.QueryId,
			s.stmtID, s.rpc, s.id, resp.QueryResult_, resp.IgnoreTimeStamp != nil && *resp.IgnoreTimeStamp, nil,
			*resp.MoreData, fetch, "UTC", 1000, resp.ColumnIndex2TsBlockColumnIndexList)
		if err != nil {
			return err
		}
		defer ds.Close()
		vals := make([]string, len(cols))
		for {
			ok, err := ds.Next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			for i, c := range cols {
				if vals[i], err = ds.GetString(c); err != nil {
					return err
				}
			}
			row(vals)
		}
	})
}
