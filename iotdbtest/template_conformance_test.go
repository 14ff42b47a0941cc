package iotdbtest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

// Device templates through the unmodified client (docs/iotdb.md §3.6):
// every assertion is a documented IoTDB behaviour.

func exec(t *testing.T, s *client.Session, sql string) {
	t.Helper()
	if err := s.ExecuteNonQueryStatement(sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func col(rows [][]any, i int) []any {
	out := make([]any, len(rows))
	for k, r := range rows {
		out[k] = r[i]
	}
	return out
}

func wantRows(t *testing.T, what string, got, want [][]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func TestTemplateCreateShowAndSet(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	exec(t, s, "create device template t1 (temperature FLOAT encoding=RLE, status BOOLEAN encoding=PLAIN compression=SNAPPY)")
	exec(t, s, "CREATE DEVICE TEMPLATE t2 ALIGNED (lat FLOAT, lon FLOAT)")

	names, rows := query(t, s, "SHOW DEVICE TEMPLATES")
	if !reflect.DeepEqual(names, []string{"TemplateName"}) {
		t.Fatalf("columns %v", names)
	}
	wantRows(t, "templates", rows, [][]any{{"t1"}, {"t2"}})

	names, rows = query(t, s, "SHOW NODES IN DEVICE TEMPLATE t1")
	if !reflect.DeepEqual(names, []string{"ChildNodes", "DataType", "Encoding", "Compression"}) {
		t.Fatalf("columns %v", names)
	}
	wantRows(t, "nodes of t1", rows, [][]any{{"temperature", "FLOAT", "RLE", "LZ4"}, {"status", "BOOLEAN", "PLAIN", "SNAPPY"}})
	// encoding and compression default per type when not given
	_, rows = query(t, s, "SHOW NODES IN DEVICE TEMPLATE t2")
	wantRows(t, "nodes of t2", rows, [][]any{{"lat", "FLOAT", "GORILLA", "LZ4"}, {"lon", "FLOAT", "GORILLA", "LZ4"}})

	// a second template of the same name: 511; an unknown one: 512
	wantCode(t, s.ExecuteNonQueryStatement("create device template t1 (x INT32)"), client.DuplicatedTemplate)
	_, err := s.ExecuteQueryStatement("SHOW NODES IN DEVICE TEMPLATE nope", nil)
	wantCode(t, err, client.UndefinedTemplate)
	wantCode(t, s.ExecuteNonQueryStatement("set device template nope to root.sg1"), client.UndefinedTemplate)

	// the database must exist before a template is set
	wantCode(t, s.ExecuteNonQueryStatement("set device template t1 to root.sg1.d1"), client.DatabaseNotExist)
	exec(t, s, "CREATE DATABASE root.sg1")
	exec(t, s, "set device template t1 to root.sg1.d1")
	exec(t, s, "set device template t2 to root.sg1.d2")
	_, rows = query(t, s, "show paths set device template t1")
	wantRows(t, "paths set t1", rows, [][]any{{"root.sg1.d1"}})
	// setting alone creates no series: activation does (on write or explicitly)
	_, rows = query(t, s, "SHOW TIMESERIES root.sg1.**")
	wantRows(t, "series before activation", rows, nil)

	// the documentation's example: explicit activation of both
	exec(t, s, "create timeseries using device template on root.sg1.d1")
	exec(t, s, "create timeseries using device template on root.sg1.d2")
	_, rows = query(t, s, "SHOW TIMESERIES root.sg1.**")
	var got [][]any
	for _, r := range rows {
		got = append(got, []any{r[0], r[3], r[4], r[5]}) // Timeseries, DataType, Encoding, Compression
	}
	wantRows(t, "series after activation", got, [][]any{
		{"root.sg1.d1.status", "BOOLEAN", "PLAIN", "SNAPPY"},
		{"root.sg1.d1.temperature", "FLOAT", "RLE", "LZ4"},
		{"root.sg1.d2.lat", "FLOAT", "GORILLA", "LZ4"},
		{"root.sg1.d2.lon", "FLOAT", "GORILLA", "LZ4"},
	})
	names, rows = query(t, s, "SHOW DEVICES root.sg1.**")
	if !reflect.DeepEqual(names, []string{"Device", "IsAligned", "Template", "TTL(ms)"}) {
		t.Fatalf("columns %v", names)
	}
	wantRows(t, "devices", rows, [][]any{{"root.sg1.d1", "false", "t1", "INF"}, {"root.sg1.d2", "true", "t2", "INF"}})
	_, rows = query(t, s, "show paths using device template t2")
	wantRows(t, "paths using t2", rows, [][]any{{"root.sg1.d2"}})

	// activating twice, or where no template is set, is refused
	wantCode(t, s.ExecuteNonQueryStatement("create timeseries using device template on root.sg1.d1"), client.TemplateIncompatible)
	wantCode(t, s.ExecuteNonQueryStatement("create timeseries using device template on root.sg1.other"), client.TemplateNotSet)
}

func TestTemplateActivationOnWrite(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	exec(t, s, "CREATE DATABASE root.fleet")
	exec(t, s, "CREATE DEVICE TEMPLATE meter ALIGNED (temperature DOUBLE, status INT32)")
	exec(t, s, "SET DEVICE TEMPLATE meter TO root.fleet")

	// the first write to any device under the path activates the template:
	// the device gets every template measurement, typed by the template
	tab, err := client.NewTablet("root.fleet.site1.`m-1`", []*client.MeasurementSchema{{Measurement: "temperature", DataType: client.DOUBLE}}, 2)
	must(t, err)
	tab.SetTimestamp(10, 0)
	must(t, tab.SetValueAt(21.5, 0, 0))
	tab.RowSize = 1
	must(t, s.InsertAlignedTablet(tab, true))
	_, rows := query(t, s, "SHOW DEVICES root.fleet.**")
	wantRows(t, "devices", rows, [][]any{{"root.fleet.site1.`m-1`", "true", "meter", "INF"}})
	_, rows = query(t, s, "SHOW TIMESERIES root.fleet.site1.`m-1`.*")
	if got := col(rows, 0); !reflect.DeepEqual(got, []any{"root.fleet.site1.`m-1`.status", "root.fleet.site1.`m-1`.temperature"}) {
		t.Fatalf("series %v", got)
	}
	if got := srv.Points("root.fleet.site1.`m-1`.temperature"); len(got) != 1 || got[0].Value != 21.5 {
		t.Fatalf("points %v", got)
	}

	// the template fixes the alignment: a non-aligned write is refused whole
	err = s.InsertRecord("root.fleet.site1.m2", []string{"status"}, []client.TSDataType{client.INT32}, []any{int32(1)}, 10)
	wantCode(t, err, client.MetadataError)
	if !strings.Contains(err.Error(), "is aligned") {
		t.Fatalf("message: %v", err)
	}
	if len(srv.Devices()) != 1 {
		t.Fatalf("a refused write created a device: %v", srv.Devices())
	}

	// the template fixes the types: INT64 into the INT32 measurement is
	// dropped (507), the rest of the write is stored (partial insert)
	err = s.InsertAlignedRecord("root.fleet.site1.m3", []string{"temperature", "status"}, []client.TSDataType{client.DOUBLE, client.INT64}, []any{1.5, int64(7)}, 10)
	wantCode(t, err, client.MetadataError)
	if !strings.Contains(err.Error(), "is not consistent, registered type INT32, inserting type INT64") {
		t.Fatalf("message: %v", err)
	}
	if got := srv.Points("root.fleet.site1.m3.temperature"); len(got) != 1 {
		t.Fatalf("the castable column was not written: %v", got)
	}
	if typ, _ := srv.SeriesType("root.fleet.site1.m3.status"); typ != client.INT32 {
		t.Fatalf("status type %v", typ)
	}

	// a measurement the template lacks extends the template (auto-create
	// on): the devices already using it get the measurement too
	must(t, s.InsertAlignedRecord("root.fleet.site1.m4", []string{"humidity"}, []client.TSDataType{client.FLOAT}, []any{float32(55)}, 10))
	_, rows = query(t, s, "SHOW NODES IN DEVICE TEMPLATE meter")
	if got := col(rows, 0); !reflect.DeepEqual(got, []any{"temperature", "status", "humidity"}) {
		t.Fatalf("template after the write: %v", got)
	}
	if typ, ok := srv.SeriesType("root.fleet.site1.`m-1`.humidity"); !ok || typ != client.FLOAT {
		t.Fatalf("an earlier device did not get the new measurement: %v %v", typ, ok)
	}

	// a series created by hand under the path is refused: 516
	wantCode(t, s.ExecuteNonQueryStatement("CREATE TIMESERIES root.fleet.x.y WITH DATATYPE=INT32"), client.TemplateIncompatible)
	err = s.CreateTimeseries("root.fleet.x.y", client.INT32, client.PLAIN, client.SNAPPY, nil, nil)
	wantCode(t, err, client.TemplateIncompatible)
	if !strings.Contains(err.Error(), "since device template [meter] already set on path [root.fleet]") {
		t.Fatalf("message: %v", err)
	}
}

func TestTemplateAutoCreateOff(t *testing.T) {
	srv := Start(t, Options{DisableAutoCreate: true})
	s := openTree(t, srv)
	exec(t, s, "CREATE DATABASE root.fleet")
	exec(t, s, "CREATE DEVICE TEMPLATE meter (temperature DOUBLE, status INT32)")
	exec(t, s, "SET DEVICE TEMPLATE meter TO root.fleet")

	// without auto-create, a write does not activate: the series are missing
	err := s.InsertRecord("root.fleet.m1", []string{"temperature"}, []client.TSDataType{client.DOUBLE}, []any{1.0}, 10)
	wantCode(t, err, client.MetadataError)
	if !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("message: %v", err)
	}
	if n := srv.TotalPoints(); n != 0 {
		t.Fatalf("%d points stored", n)
	}
	// activated explicitly, the same write goes in
	exec(t, s, "CREATE TIMESERIES USING DEVICE TEMPLATE ON root.fleet.m1")
	must(t, s.InsertRecord("root.fleet.m1", []string{"temperature"}, []client.TSDataType{client.DOUBLE}, []any{1.0}, 10))
	// a measurement outside the template is not added: it is refused (507)
	// and the rest of the write is stored
	err = s.InsertRecord("root.fleet.m1", []string{"temperature", "extra"}, []client.TSDataType{client.DOUBLE, client.INT32}, []any{2.0, int32(1)}, 20)
	wantCode(t, err, client.MetadataError)
	if got := srv.Points("root.fleet.m1.temperature"); len(got) != 2 {
		t.Fatalf("points %v", got)
	}
	_, rows := query(t, s, "SHOW NODES IN DEVICE TEMPLATE meter")
	if len(rows) != 2 {
		t.Fatalf("the template changed: %v", rows)
	}
}

func TestTemplateSetRefusals(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	exec(t, s, "CREATE DATABASE root.a")
	exec(t, s, "CREATE DEVICE TEMPLATE t1 (v DOUBLE)")
	exec(t, s, "CREATE DEVICE TEMPLATE t2 (w DOUBLE)")
	// a template may not be set over existing series
	must(t, s.InsertRecord("root.a.plain.d", []string{"v"}, []client.TSDataType{client.DOUBLE}, []any{1.0}, 1))
	err := s.ExecuteNonQueryStatement("SET DEVICE TEMPLATE t1 TO root.a.plain")
	wantCode(t, err, client.TemplateIncompatible)
	if !strings.Contains(err.Error(), "since there's timeseries under path [root.a.plain]") {
		t.Fatalf("message: %v", err)
	}
	// nor on a path above or below one that has a template already
	exec(t, s, "SET DEVICE TEMPLATE t1 TO root.a.fleet")
	wantCode(t, s.ExecuteNonQueryStatement("SET DEVICE TEMPLATE t2 TO root.a.fleet.x"), client.TemplateIncompatible)
	wantCode(t, s.ExecuteNonQueryStatement("SET DEVICE TEMPLATE t2 TO root.a.fleet"), client.TemplateIncompatible)
	// many devices of one shape: every one activates, one series each
	for i := range 50 {
		must(t, s.InsertRecord("root.a.fleet.d"+string(rune('a'+i%26))+strings.Repeat("x", i/26), []string{"v"}, []client.TSDataType{client.DOUBLE}, []any{float64(i)}, 1))
	}
	_, rows := query(t, s, "show paths using device template t1")
	if len(rows) != 50 {
		t.Fatalf("%d devices use t1", len(rows))
	}
}
