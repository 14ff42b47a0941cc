package iotdbtest

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/apache/iotdb-client-go/v2/common"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

// conn is the rpc.IClientRPCService handler of ONE TCP connection; it owns
// the connection's session (docs/iotdb.md §1.3). Handlers of one connection run
// sequentially on that connection's goroutine.
//
// Every implemented handler recovers panics into status 305 and never
// returns a Go error: a Go error becomes a TApplicationException, which the
// v2.0.10 client treats as a lost connection and answers with reconnect +
// replay (docs/iotdb.md §1.5, §8).
type conn struct {
	unsupported // answers 300 for every method not overridden below

	srv     *Server
	ctx     context.Context // cancelled when the connection is dropped
	sess    session
	queries map[int64]*cursor
}

// cursor is an open query (paging state).
type cursor struct {
	rs  *resultSet
	pos int
}

func newConn(srv *Server, ctx context.Context) *conn {
	return &conn{srv: srv, ctx: ctx, queries: map[int64]*cursor{}}
}

func panicStatus(p any) *common.TSStatus {
	return status(codeInternalError, fmt.Sprintf("iotdbtest internal error (a bug in the test double): %v\n%s", p, debug.Stack()))
}

func recoverTS(r **common.TSStatus) {
	if p := recover(); p != nil {
		*r = panicStatus(p)
	}
}

func recoverExec(r **rpc.TSExecuteStatementResp) {
	if p := recover(); p != nil {
		*r = &rpc.TSExecuteStatementResp{Status: panicStatus(p)}
	}
}

func (h *conn) notLoggedIn() *common.TSStatus {
	if h.sess.loggedIn {
		return nil
	}
	return status(codeNotLogin, "Log in failed. Either you are not authorized or the session has timed out.")
}

func (h *conn) opts() writeOpts {
	o := &h.srv.opts
	return writeOpts{autoCreate: !o.DisableAutoCreate, partialInsert: !o.DisablePartialInsert, precision: o.Precision, discard: o.DiscardData}
}

// ---- session lifecycle (docs/iotdb.md §1.2, §1.3) ----

func (h *conn) OpenSession(ctx context.Context, req *rpc.TSOpenSessionReq) (r *rpc.TSOpenSessionResp, _ error) {
	defer func() {
		if p := recover(); p != nil {
			r = &rpc.TSOpenSessionResp{Status: panicStatus(p), ServerProtocolVersion: rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3}
		}
	}()
	h.srv.countSession()
	resp := &rpc.TSOpenSessionResp{ServerProtocolVersion: rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3}
	bad := int64(-1)
	if req.ClientProtocol != rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3 {
		resp.Status = status(codeIncompatible, fmt.Sprintf("The version is incompatible, please upgrade to %s", rpc.TSProtocolVersion_IOTDB_SERVICE_PROTOCOL_V3))
		resp.SessionId = &bad
		return resp, nil
	}
	pw := ""
	if req.Password != nil {
		pw = *req.Password
	}
	h.sess = session{opened: true}
	if req.Username != h.srv.opts.User || pw != h.srv.opts.Password {
		h.srv.countLoginFailure()
		resp.Status = status(codeWrongLogin, "Authentication failed.")
		resp.SessionId = &bad
		return resp, nil
	}
	dialect := "tree"
	if d, ok := req.Configuration["sql_dialect"]; ok {
		dialect = strings.ToLower(d)
		if dialect != "tree" && dialect != "table" {
			resp.Status = status(codeIllegalParameter, fmt.Sprintf("Unsupported sql_dialect: %s", d))
			resp.SessionId = &bad
			return resp, nil
		}
	}
	h.sess.loggedIn = true
	h.sess.dialect = dialect
	h.sess.db = req.Configuration["db"]
	id := h.srv.nextID()
	resp.SessionId = &id
	resp.Status = status(codeSuccess, "")
	msg := "Login successfully"
	resp.Status.Message = &msg
	resp.Configuration = map[string]string{"timestamp_precision": h.srv.opts.Precision}
	return resp, nil
}

func (h *conn) CloseSession(ctx context.Context, req *rpc.TSCloseSessionReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	h.sess = session{}
	h.queries = map[int64]*cursor{}
	return okStatus(), nil
}

func (h *conn) RequestStatementId(ctx context.Context, sessionId int64) (int64, error) {
	return h.srv.nextID(), nil
}

func (h *conn) TestConnectionEmptyRPC(ctx context.Context) (*common.TSStatus, error) {
	return okStatus(), nil
}

func (h *conn) GetTimeZone(ctx context.Context, sessionId int64) (r *rpc.TSGetTimeZoneResp, _ error) {
	return &rpc.TSGetTimeZoneResp{Status: okStatus(), TimeZone: "UTC"}, nil
}

func (h *conn) SetTimeZone(ctx context.Context, req *rpc.TSSetTimeZoneReq) (*common.TSStatus, error) {
	if st := h.notLoggedIn(); st != nil {
		return st, nil
	}
	return okStatus(), nil
}

// ---- writes ----

// write runs a write RPC: login check, injected failures (FailWrites), then
// apply under the store lock. Decoding happens in prepare, outside the lock.
func (h *conn) write(count func(*Stats), apply func(o writeOpts) *common.TSStatus) (r *common.TSStatus) {
	defer recoverTS(&r)
	if st := h.notLoggedIn(); st != nil {
		return st
	}
	if h.ctx.Err() != nil {
		return status(codeInternalError, "iotdbtest: connection dropped while the request was pending")
	}
	st := h.srv.store
	if f := h.srv.takeFailure(); f != nil {
		st.mu.Lock()
		count(&st.stats)
		st.stats.FailedWrites++
		st.mu.Unlock()
		return f
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	count(&st.stats)
	r = apply(h.opts())
	if r.Code != codeSuccess {
		st.stats.RejectedWrites++
	}
	return r
}

func malformedStatus(err error) *common.TSStatus {
	if ip, ok := err.(*errIllegalPath); ok {
		return status(codeIllegalPath, ip.msg)
	}
	return status(codeExecuteError, err.Error())
}

func (h *conn) InsertTablet(ctx context.Context, req *rpc.TSInsertTabletReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	times, err := decodeTimes(req.Timestamps, int(req.Size))
	var cols []inCol
	if err == nil {
		cols, err = decodeTablet(req.Values, req.Measurements, req.Types, int(req.Size))
	}
	if req.GetWriteToTable() {
		// table model (docs/iotdb.md §6): same RPC, prefixPath = table name
		return h.write(func(s *Stats) { s.InsertTabletCalls++ }, func(o writeOpts) *common.TSStatus {
			if err != nil {
				return malformedStatus(err)
			}
			return h.srv.store.writeTable(h.sess.db, req.PrefixPath, req.ColumnCategories, times, cols, o)
		}), nil
	}
	return h.writeTree(func(s *Stats) { s.InsertTabletCalls++ }, []treeUnit{{device: req.PrefixPath, times: times, cols: cols, aligned: req.GetIsAligned()}}, err), nil
}

// writeTree answers a tree-model write: a decoding error (err) is a
// malformed-request status, otherwise units are stored; stat counts the RPC.
func (h *conn) writeTree(stat func(*Stats), units []treeUnit, err error) *common.TSStatus {
	return h.write(stat, func(o writeOpts) *common.TSStatus {
		if err != nil {
			return malformedStatus(err)
		}
		return h.srv.store.writeTree(units, o)
	})
}

func (h *conn) InsertTablets(ctx context.Context, req *rpc.TSInsertTabletsReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	n := len(req.PrefixPaths)
	var err error
	if len(req.MeasurementsList) != n || len(req.ValuesList) != n || len(req.TimestampsList) != n || len(req.TypesList) != n || len(req.SizeList) != n {
		err = malformed("insertTablets: list lengths differ")
	}
	units := make([]treeUnit, 0, n)
	for i := 0; err == nil && i < n; i++ {
		var u treeUnit
		u.device, u.aligned = req.PrefixPaths[i], req.GetIsAligned()
		u.times, err = decodeTimes(req.TimestampsList[i], int(req.SizeList[i]))
		if err == nil {
			u.cols, err = decodeTablet(req.ValuesList[i], req.MeasurementsList[i], req.TypesList[i], int(req.SizeList[i]))
		}
		units = append(units, u)
	}
	return h.writeTree(func(s *Stats) { s.InsertTabletsCalls++ }, units, err), nil
}

func (h *conn) InsertRecord(ctx context.Context, req *rpc.TSInsertRecordReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	cols, err := decodeRecord(req.Values, req.Measurements)
	return h.writeTree(func(s *Stats) { s.InsertRecordCalls++ }, []treeUnit{{device: req.PrefixPath, times: []int64{req.Timestamp}, cols: cols, aligned: req.GetIsAligned()}}, err), nil
}

func (h *conn) recordsUnits(devices []string, meas [][]string, vals [][]byte, times []int64, aligned bool) ([]treeUnit, error) {
	n := len(times)
	if len(devices) != n || len(meas) != n || len(vals) != n {
		return nil, malformed("records: list lengths differ")
	}
	units := make([]treeUnit, n)
	for i := range units {
		cols, err := decodeRecord(vals[i], meas[i])
		if err != nil {
			return nil, err
		}
		units[i] = treeUnit{device: devices[i], times: times[i : i+1], cols: cols, aligned: aligned}
	}
	return units, nil
}

func (h *conn) InsertRecords(ctx context.Context, req *rpc.TSInsertRecordsReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	units, err := h.recordsUnits(req.PrefixPaths, req.MeasurementsList, req.ValuesList, req.Timestamps, req.GetIsAligned())
	return h.writeTree(func(s *Stats) { s.InsertRecordsCalls++ }, units, err), nil
}

func (h *conn) InsertRecordsOfOneDevice(ctx context.Context, req *rpc.TSInsertRecordsOfOneDeviceReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	devs := make([]string, len(req.Timestamps))
	for i := range devs {
		devs[i] = req.PrefixPath
	}
	units, err := h.recordsUnits(devs, req.MeasurementsList, req.ValuesList, req.Timestamps, req.GetIsAligned())
	return h.writeTree(func(s *Stats) { s.InsertRecordsOfOneDeviceCalls++ }, units, err), nil
}

func (h *conn) InsertStringRecord(ctx context.Context, req *rpc.TSInsertStringRecordReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	return h.write(func(s *Stats) { s.InsertStringRecordCalls++ }, func(o writeOpts) *common.TSStatus {
		st := h.srv.store
		reg := func(name string) (TSDataType, bool) {
			if d := st.devices[req.PrefixPath]; d != nil {
				if sr := d.series[name]; sr != nil {
					return sr.dtype, true
				}
			}
			_, full, err := parseDevicePath(req.PrefixPath)
			if err != nil {
				return 0, false
			}
			m, err := parseMeasurement(name)
			if err != nil {
				return 0, false
			}
			if d := st.devices[full]; d != nil {
				if sr := d.series[m]; sr != nil {
					return sr.dtype, true
				}
			}
			return 0, false
		}
		cols, err := stringRecordCols(req.Measurements, req.Values, reg)
		if err != nil {
			return malformedStatus(err)
		}
		return st.writeTree([]treeUnit{{device: req.PrefixPath, times: []int64{req.Timestamp}, cols: cols, aligned: req.GetIsAligned()}}, o)
	}), nil
}

// ---- schema ----

func (h *conn) SetStorageGroup(ctx context.Context, sessionId int64, storageGroup string) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	if st := h.notLoggedIn(); st != nil {
		return st, nil
	}
	s := h.srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.createDB(storageGroup); e != nil {
		return status(e.code, e.msg), nil
	}
	return okStatus(), nil
}

func (h *conn) CreateTimeseries(ctx context.Context, req *rpc.TSCreateTimeseriesReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	if st := h.notLoggedIn(); st != nil {
		return st, nil
	}
	s := h.srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.createSeries(req.Path, TSDataType(req.DataType), false, encodingName(req.Encoding), compressorName(req.Compressor), !h.srv.opts.DisableAutoCreate); e != nil {
		return status(e.code, e.msg), nil
	}
	return okStatus(), nil
}

func (h *conn) CreateAlignedTimeseries(ctx context.Context, req *rpc.TSCreateAlignedTimeseriesReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	if st := h.notLoggedIn(); st != nil {
		return st, nil
	}
	if len(req.DataTypes) != len(req.Measurements) {
		return status(codeIllegalParameter, "measurements and dataTypes differ in length"), nil
	}
	nodes, _, err := parseDevicePath(req.PrefixPath)
	if err != nil {
		return status(codeIllegalPath, err.Error()), nil
	}
	s := h.srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range req.Measurements {
		name, err := parseMeasurement(m)
		if err != nil {
			return status(codeIllegalPath, err.Error()), nil
		}
		var enc, comp string
		if i < len(req.Encodings) {
			enc = encodingName(req.Encodings[i])
		}
		if i < len(req.Compressors) {
			comp = compressorName(req.Compressors[i])
		}
		if e := s.createSeriesNodes(nodes, name, TSDataType(req.DataTypes[i]), true, enc, comp, !h.srv.opts.DisableAutoCreate); e != nil {
			return status(e.code, e.msg), nil
		}
	}
	return okStatus(), nil
}

func encodingName(e int32) string {
	names := []string{"PLAIN", "DICTIONARY", "RLE", "DIFF", "TS_2DIFF", "BITMAP", "GORILLA_V1", "REGULAR", "GORILLA", "ZIGZAG", "FREQ", "CHIMP", "SPRINTZ", "RLBE"}
	if e >= 0 && int(e) < len(names) {
		return names[e]
	}
	return ""
}

func compressorName(c int32) string {
	names := []string{"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "SDT", "PAA", "PLA", "LZ4", "ZSTD", "LZMA2"}
	if c >= 0 && int(c) < len(names) {
		return names[c]
	}
	return ""
}

// ---- deletes ----

func (h *conn) DeleteData(ctx context.Context, req *rpc.TSDeleteDataReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	return h.write(func(s *Stats) { s.Deletes++ }, func(o writeOpts) *common.TSStatus {
		if req.StartTime > req.EndTime {
			return okStatus()
		}
		if e := h.srv.store.deleteTree(req.Paths, req.StartTime, req.EndTime); e != nil {
			return status(e.code, e.msg)
		}
		return okStatus()
	}), nil
}

// ---- SQL ----

// isWriteStmt: statements that count as writes for FailWrites.
func isWriteStmt(st *stmt) bool { return st.kind == stDelete }

// runSQL parses and executes one statement.
func (h *conn) runSQL(sql string) (execResult, *stmt) {
	if h.ctx.Err() != nil {
		return fail(codeInternalError, "iotdbtest: connection dropped while the request was pending"), nil
	}
	st, err := parseSQL(sql, h.sess.dialect)
	if err != nil {
		return fail(codeSQLParseError, "iotdbtest: cannot parse %q: %v (supported forms are listed in iotdbtest/README.md)", sql, err), nil
	}
	if isWriteStmt(st) {
		if f := h.srv.takeFailure(); f != nil {
			h.srv.store.mu.Lock()
			h.srv.store.stats.FailedWrites++
			h.srv.store.mu.Unlock()
			return execResult{st: &statusErr{code: f.Code, msg: f.GetMessage()}}, st
		}
	}
	s := h.srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Statements++
	res := s.exec(st, &h.sess, h.opts())
	if res.st != nil && isWriteStmt(st) {
		s.stats.RejectedWrites++
	}
	return res, st
}

func (h *conn) ExecuteStatementV2(ctx context.Context, req *rpc.TSExecuteStatementReq) (r *rpc.TSExecuteStatementResp, _ error) {
	defer recoverExec(&r)
	if st := h.notLoggedIn(); st != nil {
		return &rpc.TSExecuteStatementResp{Status: st}, nil
	}
	res, _ := h.runSQL(req.Statement)
	if res.st != nil {
		return &rpc.TSExecuteStatementResp{Status: status(res.st.code, res.st.msg)}, nil
	}
	if res.rs != nil {
		return h.queryResp(res.rs, req.FetchSize), nil
	}
	resp := &rpc.TSExecuteStatementResp{Status: okStatus()}
	if res.useDB != nil {
		h.sess.db = *res.useDB
		resp.Database = res.useDB
	}
	return resp, nil
}

func (h *conn) ExecuteQueryStatementV2(ctx context.Context, req *rpc.TSExecuteStatementReq) (r *rpc.TSExecuteStatementResp, _ error) {
	defer recoverExec(&r)
	if st := h.notLoggedIn(); st != nil {
		return &rpc.TSExecuteStatementResp{Status: st}, nil
	}
	st, err := parseSQL(req.Statement, h.sess.dialect)
	if err != nil {
		return &rpc.TSExecuteStatementResp{Status: status(codeSQLParseError, fmt.Sprintf("iotdbtest: cannot parse %q: %v (supported forms are listed in iotdbtest/README.md)", req.Statement, err))}, nil
	}
	if !st.isQuery() {
		// A real server executes it and answers status-only, which makes the
		// v2.0.10 client panic (docs/iotdb.md §1.5). The double refuses instead.
		return &rpc.TSExecuteStatementResp{Status: status(codeExecuteError, fmt.Sprintf("iotdbtest: %q is not a query; use ExecuteNonQueryStatement (a real IoTDB would execute it and the v2.0.10 client would panic on the status-only answer)", req.Statement))}, nil
	}
	res, _ := h.runSQL(req.Statement)
	if res.st != nil {
		return &rpc.TSExecuteStatementResp{Status: status(res.st.code, res.st.msg)}, nil
	}
	return h.queryResp(res.rs, req.FetchSize), nil
}

func (h *conn) ExecuteBatchStatement(ctx context.Context, req *rpc.TSExecuteBatchStatementReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	if st := h.notLoggedIn(); st != nil {
		return st, nil
	}
	var subs []*common.TSStatus
	failed := false
	for _, sql := range req.Statements {
		res, _ := h.runSQL(sql)
		if res.st != nil {
			failed = true
			subs = append(subs, status(res.st.code, res.st.msg))
		} else {
			subs = append(subs, okStatus())
		}
	}
	if !failed {
		return okStatus(), nil
	}
	st := status(302, "iotdbtest: some statements of the batch failed")
	st.SubStatus = subs
	return st, nil
}

func fetchSizeOf(p *int32) int {
	if p == nil || *p <= 0 {
		return 1024
	}
	return int(*p)
}

// queryResp answers the first page of a query (docs/iotdb.md §5.2): queryId and
// moreData are always set.
func (h *conn) queryResp(rs *resultSet, fetchSize *int32) *rpc.TSExecuteStatementResp {
	qid := h.srv.nextID()
	c := &cursor{rs: rs}
	blocks, e := firstPage(c, fetchSizeOf(fetchSize)) // paged and bounded in bytes: fetch.go
	if e != nil {
		return &rpc.TSExecuteStatementResp{Status: status(e.code, e.msg)}
	}
	more := c.pos < rs.rows()
	if more {
		h.queries[qid] = c
	}
	typeNames := make([]string, len(rs.types))
	for i, t := range rs.types {
		typeNames[i] = typeName(t)
	}
	ig := rs.ignoreTime
	return &rpc.TSExecuteStatementResp{
		Status:          okStatus(),
		QueryId:         &qid,
		Columns:         rs.names,
		DataTypeList:    typeNames,
		IgnoreTimeStamp: &ig,
		QueryResult_:    blocks,
		MoreData:        &more,
	}
}

func (h *conn) FetchResultsV2(ctx context.Context, req *rpc.TSFetchResultsReq) (r *rpc.TSFetchResultsResp, _ error) {
	defer func() {
		if p := recover(); p != nil {
			r = &rpc.TSFetchResultsResp{Status: panicStatus(p)}
		}
	}()
	if st := h.notLoggedIn(); st != nil {
		return &rpc.TSFetchResultsResp{Status: st}, nil
	}
	no := false
	c := h.queries[req.QueryId]
	if c == nil {
		return &rpc.TSFetchResultsResp{Status: okStatus(), HasResultSet: false, IsAlign: true, MoreData: &no}, nil
	}
	fs := req.FetchSize
	blocks, e := laterPage(c, fetchSizeOf(&fs))
	if e != nil {
		delete(h.queries, req.QueryId)
		return &rpc.TSFetchResultsResp{Status: status(e.code, e.msg), HasResultSet: false, IsAlign: true, MoreData: &no}, nil
	}
	more := c.pos < c.rs.rows()
	if !more {
		delete(h.queries, req.QueryId)
	}
	return &rpc.TSFetchResultsResp{Status: okStatus(), HasResultSet: true, IsAlign: true, QueryResult_: blocks, MoreData: &more}, nil
}

func (h *conn) CloseOperation(ctx context.Context, req *rpc.TSCloseOperationReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	if req.QueryId != nil {
		delete(h.queries, *req.QueryId)
	}
	return okStatus(), nil
}

func (h *conn) CancelOperation(ctx context.Context, req *rpc.TSCancelOperationReq) (r *common.TSStatus, _ error) {
	defer recoverTS(&r)
	delete(h.queries, req.QueryId)
	return okStatus(), nil
}

// GetProperties answers the server properties (docs/iotdb.md §7).
func (h *conn) GetProperties(ctx context.Context) (*rpc.ServerProperties, error) {
	return &rpc.ServerProperties{Version: "iotdbtest (test double)", SupportedTimeAggregationOperations: []string{"count"}, TimestampPrecision: h.srv.opts.Precision}, nil
}
