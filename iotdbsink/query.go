package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

// QueryFetchSize is the rows per fetchResults page of Query: large pages
// make a long read cheap, and a page of a few columns stays far below the
// client's 16 MB frame limit (docs/iotdb.md §1.1).
const QueryFetchSize = 8192

// Row is one row of a Query answer: Values are parallel to Columns of the
// QueryResult, typed as IoTDB types them (docs/iotdb.md §5.2): BOOLEAN bool,
// INT32 int32, INT64 and TIMESTAMP int64 (raw, in server precision), FLOAT
// float32, DOUBLE float64, TEXT and STRING string, BLOB []byte, DATE
// time.Time; nil is NULL. Time is the row's time when the answer has a time
// column (HasTime), else 0. The slice is reused for the next row.
type Row struct {
	Time   int64
	Values []any
}

// QueryResult describes the columns of a Query answer (the time column of
// a tree query not included).
type QueryResult struct {
	Columns []string
	Types   []string // IoTDB type names, parallel to Columns
	HasTime bool     // the answer carries a time column (tree raw and GROUP BY queries)
}

// Query runs one read-only statement (executeQueryStatementV2, then
// fetchResultsV2 pages) on a pooled session and calls row for every row.
// The whole read runs under one deadline of timeout (iotdb.write_timeout
// when 0), for the IoTDB client has none of its own.
//
// A transport failure or a transient status is retried like a write, by
// running the statement again from its first row: row must therefore be
// idempotent (verify keys what it reads by device and time, so a row seen
// twice changes nothing). start, when not nil, is called before every
// attempt (also the first), with the columns of that attempt's answer. An
// error returned by start or row stops the query and is returned as it is.
func (s *Sink) Query(ctx context.Context, sql string, timeout time.Duration, start func(QueryResult) error, row func(*Row) error) error {
	if s.pool == nil {
		return errors.New("iotdb sink: Query before Open")
	}
	if timeout <= 0 {
		timeout = s.cfg.WriteTimeout
	}
	var callerErr error
	err := s.retry(ctx, "query", func() error {
		return s.withSession(ctx, "query", func(sess *session) error {
			return sess.call(ctx, timeout, "executeQueryStatement", func(cctx context.Context) error {
				err := sess.queryRows(cctx, sql, start, row)
				var ce *callerError
				if errors.As(err, &ce) {
					callerErr = ce.err
					return nil // not IoTDB's failure: neither retried nor a broken session
				}
				return err
			})
		})
	})
	if callerErr != nil {
		return callerErr
	}
	if err != nil {
		return fmt.Errorf("iotdb query %q: %w", abbrevSQL(sql), err)
	}
	return nil
}

// callerError carries an error of Query's callbacks through the session
// call unchanged.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }

func (s *session) queryRows(ctx context.Context, sql string, start func(QueryResult) error, row func(*Row) error) error {
	fetch := int32(QueryFetchSize)
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
	ignoreTime := resp.IgnoreTimeStamp != nil && *resp.IgnoreTimeStamp
	qr := QueryResult{Columns: resp.Columns, Types: resp.DataTypeList, HasTime: !ignoreTime}
	if len(qr.Types) != len(qr.Columns) {
		return fmt.Errorf("iotdb answered %d columns with %d types", len(qr.Columns), len(qr.Types))
	}
	ds, err := client.NewSessionDataSet(sql, resp.Columns, resp.DataTypeList, resp.ColumnNameIndexMap, *resp.QueryId,
		s.stmtID, s.rpc, s.id, resp.QueryResult_, ignoreTime, nil, *resp.MoreData, fetch, "UTC", 1000,
		resp.ColumnIndex2TsBlockColumnIndexList)
	if err != nil {
		return err
	}
	defer ds.Close()
	if start != nil {
		if err := start(qr); err != nil {
			return &callerError{err}
		}
	}
	// Column i of the answer is index off+i of the data set (1-based, the
	// time column first when there is one).
	off := int32(1)
	if !ignoreTime {
		off = 2
	}
	r := &Row{Values: make([]any, len(qr.Columns))}
	for {
		ok, err := ds.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if !ignoreTime {
			if r.Time, err = ds.GetLongByIndex(1); err != nil {
				return err
			}
		}
		for i, typ := range qr.Types {
			idx := off + int32(i)
			null, err := ds.IsNullByIndex(idx)
			if err != nil {
				return err
			}
			if null {
				r.Values[i] = nil
				continue
			}
			switch typ {
			case "TIMESTAMP", "INT64":
				r.Values[i], err = ds.GetLongByIndex(idx)
			default:
				r.Values[i], err = ds.GetObjectByIndex(idx)
			}
			if err != nil {
				return fmt.Errorf("column %s: %w", qr.Columns[i], err)
			}
		}
		if err := row(r); err != nil {
			return &callerError{err}
		}
	}
}

// QuoteIdent renders a table-model identifier for SQL: bare when it is a
// plain identifier, else double-quoted with "" doubled (the sink's rule).
func QuoteIdent(s string) string { return sqlIdent(s) }

// QuoteString renders a single-quoted SQL string literal.
func QuoteString(s string) string { return sqlString(s) }

func abbrevSQL(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
