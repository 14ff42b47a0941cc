package iotdbtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/apache/iotdb-client-go/v2/rpc"
)

// Paged answers (docs/iotdb.md §10.6): every answer holds at most fetchSize
// rows and fits the client's 16,384,000-byte frame, whatever the size of the
// whole result; results of many rows that are larger than one frame arrive
// whole, through the unmodified client.

// blockRows reads the row count of a serialized TsBlock (docs/iotdb.md §5.3).
func blockRows(b []byte) int {
	n := int(binary.BigEndian.Uint32(b))
	return int(binary.BigEndian.Uint32(b[4+n:]))
}

// answerRows checks one answer's blocks against the limits and returns its rows.
func answerRows(t *testing.T, blocks [][]byte, fetchSize int) int {
	t.Helper()
	rows, size := 0, 0
	for _, b := range blocks {
		r := blockRows(b)
		if r == 0 || r > 1000 { // the server's max_tsblock_line_number
			t.Fatalf("a block of %d rows", r)
		}
		rows += r
		size += len(b)
	}
	if rows > fetchSize || size > clientFrameLimit-frameSlack {
		t.Fatalf("an answer of %d rows (fetch size %d) and %d bytes", rows, fetchSize, size)
	}
	return rows
}

// rawPages runs sql over a bare thrift connection with the given fetch size,
// checks every answer against the limits and returns the rows and answers.
func rawPages(t *testing.T, srv *Server, sql string, fetch int32) (rows, answers int) {
	t.Helper()
	rc := dialRaw(t, srv)
	open := rc.open(t, "root", "root", map[string]string{"sql_dialect": "tree"})
	resp, err := rc.ExecuteQueryStatementV2(context.Background(), &rpc.TSExecuteStatementReq{
		SessionId: open.GetSessionId(), Statement: sql, StatementId: 1, FetchSize: &fetch})
	if err != nil || resp.Status.Code != 200 {
		t.Fatalf("%s: %v %v", sql, err, resp)
	}
	rows, answers = answerRows(t, resp.QueryResult_, int(fetch)), 1
	for more := resp.GetMoreData(); more; {
		fr, err := rc.FetchResultsV2(context.Background(), &rpc.TSFetchResultsReq{SessionId: open.GetSessionId(), Statement: sql,
			FetchSize: fetch, QueryId: resp.GetQueryId(), IsAlign: true})
		if err != nil || fr.Status.Code != 200 || !fr.HasResultSet {
			t.Fatalf("%s: %v %v", sql, err, fr)
		}
		rows += answerRows(t, fr.QueryResult_, int(fetch))
		answers++
		more = fr.GetMoreData()
	}
	return rows, answers
}

func TestPagedRawQueryLargerThanAFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 17 MB answers; runs without -short")
	}
	srv := Start(t, Options{})
	s := openTree(t, srv)
	const rows, width = 4300, 4000 // 17 MB of TEXT: more than one frame
	tab, err := client.NewTablet("root.pg.d", []*client.MeasurementSchema{{Measurement: "v", DataType: client.TEXT}}, rows)
	must(t, err)
	val := func(r int) string { return fmt.Sprintf("%06d", r) + strings.Repeat("x", width-6) }
	for r := 0; r < rows; r++ {
		tab.SetTimestamp(int64(r), r)
		must(t, tab.SetValueAt(val(r), 0, r))
		tab.RowSize++
	}
	must(t, s.InsertTablet(tab, true))
	small, err := client.NewTablet("root.pg.small", []*client.MeasurementSchema{{Measurement: "v", DataType: client.INT64}}, 5000)
	must(t, err)
	for r := 0; r < 5000; r++ {
		small.SetTimestamp(int64(r), r)
		must(t, small.SetValueAt(int64(r), 0, r))
		small.RowSize++
	}
	must(t, s.InsertTablet(small, true))

	// on the wire: with a fetch size larger than the result the answers are
	// split by bytes (at most 8 MB each), with a small one by rows
	if got, answers := rawPages(t, srv, "SELECT v FROM root.pg.d", 100_000); got != rows || answers < 3 {
		t.Fatalf("%d rows in %d answers", got, answers)
	}
	if got, answers := rawPages(t, srv, "SELECT v FROM root.pg.small", 1500); got != 5000 || answers != 4 {
		t.Fatalf("%d rows in %d answers", got, answers)
	}
	// through the client: every value, in order
	s.SetFetchSize(100_000)
	_, got := query(t, s, "SELECT v FROM root.pg.d")
	if len(got) != rows {
		t.Fatalf("%d rows", len(got))
	}
	for r, row := range got {
		if row[0] != int64(r) || row[1] != val(r) {
			t.Fatalf("row %d is %v", r, row[0])
		}
	}
}

// 17,000 devices with 1000-character names: SHOW TIMESERIES and an ALIGN
// BY DEVICE count each answer some 17 MB in pages; COUNT TIMESERIES is one
// row; a COUNT(*) with one column per series, whose column names alone are
// larger than a frame, is refused with a status that says why.
func TestPagedManyDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 17 MB answers; runs without -short")
	}
	srv := Start(t, Options{})
	s := openTree(t, srv)
	const devices = 17_000
	name := func(i int) string { return fmt.Sprintf("root.pm.d%01000d", i) }
	devs, meas, types, vals, times := make([]string, devices), make([][]string, devices), make([][]client.TSDataType, devices), make([][]any, devices), make([]int64, devices)
	for i := range devs {
		devs[i], meas[i], types[i], vals[i], times[i] = name(i), []string{"s"}, []client.TSDataType{client.INT64}, []any{int64(i)}, int64(i)
	}
	must(t, s.InsertRecords(devs, meas, types, vals, times))

	_, rows := query(t, s, "COUNT TIMESERIES root.pm.**")
	assertRows(t, "COUNT TIMESERIES", rows, [][]any{{int64(devices)}})
	_, rows = query(t, s, "SHOW TIMESERIES root.pm.**")
	if len(rows) != devices || rows[0][0] != name(0)+".s" || rows[devices-1][0] != name(devices-1)+".s" {
		t.Fatalf("SHOW TIMESERIES: %d rows", len(rows))
	}
	_, rows = query(t, s, "SELECT count(s), last_value(s) FROM root.pm.** ALIGN BY DEVICE")
	if len(rows) != devices {
		t.Fatalf("ALIGN BY DEVICE: %d rows", len(rows))
	}
	for i, r := range rows {
		if r[0] != name(i) || r[1] != int64(1) || r[2] != int64(i) {
			t.Fatalf("row %d: count %v last %v", i, r[1], r[2])
		}
	}
	wantQueryErr(t, s, "SELECT count(*) FROM root.pm.**", 301, "Incorrect frame size") // the message also suggests ALIGN BY DEVICE
	// the session is still usable: the refusal was a status, not a broken frame
	_, rows = query(t, s, "COUNT DEVICES root.pm.**")
	assertRows(t, "COUNT DEVICES", rows, [][]any{{int64(devices)}})
}

// One row of 9,000 columns with 1000-character names: its header alone (some
// 9 MB) fits a frame, so count(*) is answered; last_value(*) adds 9 MB of
// values to the same single row, which no page size can split, and is
// refused with a status.
func TestPagedWideRow(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 9 MB answers; runs without -short")
	}
	srv := Start(t, Options{})
	s := openTree(t, srv)
	const cols = 9000
	ms := make([]*client.MeasurementSchema, cols)
	for i := range ms {
		ms[i] = &client.MeasurementSchema{Measurement: fmt.Sprintf("m%0999d", i), DataType: client.TEXT}
	}
	tab, err := client.NewTablet("root.pw.d", ms, 1)
	must(t, err)
	tab.SetTimestamp(1, 0)
	for i := range ms {
		must(t, tab.SetValueAt(strings.Repeat("v", 1000), i, 0))
	}
	tab.RowSize = 1
	must(t, s.InsertTablet(tab, true))
	names, rows := query(t, s, "SELECT count(*) FROM root.pw.d ALIGN BY DEVICE")
	if len(names) != cols+1 || len(rows) != 1 || rows[0][0] != "root.pw.d" || rows[0][cols] != int64(1) {
		t.Fatalf("%d columns, %d rows", len(names), len(rows))
	}
	wantQueryErr(t, s, "SELECT last_value(*) FROM root.pw.d ALIGN BY DEVICE", 301, "Incorrect frame size")
}
