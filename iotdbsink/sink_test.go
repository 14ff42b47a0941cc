package iotdbsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (starts an iotdbtest server)")
	}
}

func testConfig(srv *iotdbtest.Server) config.IoTDB {
	return config.IoTDB{
		Nodes:        []string{srv.Addr()},
		User:         "root",
		Password:     "root",
		Model:        "tree",
		CreateSchema: true,
		Sessions:     2,
		WriteTimeout: 2 * time.Second,
		Batch:        config.Batch{Rows: 1000},
		Retry:        config.Retry{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Elapsed: 20 * time.Second},
	}
}

func openSink(t *testing.T, cfg config.IoTDB) *Sink {
	t.Helper()
	s, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func write(t *testing.T, s *Sink, pts []mapping.Point) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.Write(ctx, pts)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func points(srv *iotdbtest.Server, series string) string {
	var parts []string
	for _, p := range srv.Points(series) {
		parts = append(parts, fmt.Sprintf("%d=%v", p.Time, p.Value))
	}
	return strings.Join(parts, " ")
}

func expectPoints(t *testing.T, srv *iotdbtest.Server, series, want string) {
	t.Helper()
	if got := points(srv, series); got != want {
		t.Errorf("%s = %q, want %q", series, got, want)
	}
}

func allTypesSchema() *mapping.Schema {
	return &mapping.Schema{
		SourceTable: "readings", Model: "tree", Database: "root.factory", Aligned: true,
		Measurements: []string{"b", "i32", "i64", "f", "d", "txt", "ts", "day", "blob", "str"},
		Types: []client.TSDataType{client.BOOLEAN, client.INT32, client.INT64, client.FLOAT, client.DOUBLE,
			client.TEXT, client.TIMESTAMP, client.DATE, client.BLOB, client.STRING},
	}
}

func TestIntegrationEveryTypeLandsExactly(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: true})
	s := openSink(t, testConfig(srv))
	sc := allTypesSchema()
	day := time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)
	dev := "root.factory.`pump-7.b`"
	pts := []mapping.Point{
		pt(sc, dev, 1000, true, int32(-7), int64(1)<<40, float32(1.25), 3.5, "héllo, \"x\"", int64(1700000000123), day, []byte{0, 1, 255}, "s"),
		pt(sc, dev, 2000, false, int32(2147483647), int64(-9223372036854775808), float32(-0.5), -1e300, "", int64(0), day.AddDate(1, 0, 0), []byte{}, ""),
		pt(sc, dev, 3000, nil, nil, nil, nil, nil, nil, nil, nil, nil, "only"),
	}
	res := write(t, s, pts)
	if res.Points != 3 || res.Tablets != 1 || len(res.Rejected) != 0 {
		t.Fatalf("result = %+v", res)
	}
	want := map[string]string{
		"b":    "1000=true 2000=false",
		"i32":  "1000=-7 2000=2147483647",
		"i64":  "1000=1099511627776 2000=-9223372036854775808",
		"f":    "1000=1.25 2000=-0.5",
		"d":    "1000=3.5 2000=-1e+300",
		"txt":  "1000=héllo, \"x\" 2000=",
		"ts":   "1000=1700000000123 2000=0",
		"day":  "1000=20240305 2000=20250305",
		"blob": "1000=[0 1 255] 2000=[]",
		"str":  "1000=s 2000= 3000=only",
	}
	for m, w := range want {
		expectPoints(t, srv, dev+"."+m, w)
	}
	// create_schema made typed, aligned series (auto-create is off on the server).
	for i, m := range sc.Measurements {
		typ, ok := srv.SeriesType(dev + "." + m)
		if !ok || typ != sc.Types[i] {
			t.Errorf("series %s type = %v %v, want %v", m, typ, ok, sc.Types[i])
		}
	}
	if aligned, ok := srv.DeviceAligned(dev); !ok || !aligned {
		t.Errorf("device aligned = %v %v", aligned, ok)
	}
	if s.Precision() != "ms" {
		t.Errorf("precision = %q", s.Precision())
	}
}

func TestIntegrationUnsortedAndDuplicates(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	d := "root.factory.d1"
	pts := []mapping.Point{
		pt(sc, d, 30, 3.0, int32(3), "c"),
		pt(sc, d, 10, 1.0, int32(1), "a"),
		pt(sc, d, 20, 2.0, int32(2), "b"),
		pt(sc, d, 10, 1.5, nil, "a2"), // later NULL must not erase state=1
		pt(sc, d, 30, nil, int32(33), nil),
	}
	res := write(t, s, pts)
	if res.Points != 5 || len(res.Rejected) != 0 {
		t.Fatalf("result = %+v", res)
	}
	expectPoints(t, srv, d+".temp", "10=1.5 20=2 30=3")
	expectPoints(t, srv, d+".state", "10=1 20=2 30=33")
	expectPoints(t, srv, d+".note", "10=a2 20=b 30=c")
}

func TestIntegrationNonAlignedSchemaAndChunks(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: true})
	cfg := testConfig(srv)
	cfg.Batch.Rows = 7
	s := openSink(t, cfg)
	sc := testSchema(false)
	var pts []mapping.Point
	for i := 0; i < 20; i++ {
		for d := 0; d < 3; d++ {
			pts = append(pts, pt(sc, fmt.Sprintf("root.factory.d%d", d), int64(i), float64(i), int32(d), nil))
		}
	}
	res := write(t, s, pts)
	if res.Points != 60 || len(res.Rejected) != 0 {
		t.Fatalf("result = %+v", res)
	}
	if srv.Stats().InsertTabletsCalls < 9 { // 60 rows in chunks of 7
		t.Errorf("insertTablets calls = %d, want >= 9", srv.Stats().InsertTabletsCalls)
	}
	var got []string
	for _, si := range srv.Series() {
		got = append(got, fmt.Sprintf("%s %v aligned=%v n=%d", si.Path, si.Type, si.Aligned, si.Count))
	}
	want := []string{
		"root.factory.d0.note 11 aligned=false n=0", "root.factory.d0.state 1 aligned=false n=20", "root.factory.d0.temp 4 aligned=false n=20",
		"root.factory.d1.note 11 aligned=false n=0", "root.factory.d1.state 1 aligned=false n=20", "root.factory.d1.temp 4 aligned=false n=20",
		"root.factory.d2.note 11 aligned=false n=0", "root.factory.d2.state 1 aligned=false n=20", "root.factory.d2.temp 4 aligned=false n=20",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("series =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// rawSession opens a plain client session for test setup.
func rawSession(t *testing.T, srv *iotdbtest.Server) *client.Session {
	t.Helper()
	sess := client.NewSession(&client.Config{Host: srv.Host(), Port: strconv.Itoa(srv.Port()), UserName: "root", Password: "root"})
	if err := sess.Open(false, 5000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	return &sess
}

func TestIntegrationTypeConflictIsRejectedOthersWritten(t *testing.T) {
	skipShort(t)
	for _, create := range []bool{true, false} {
		t.Run(fmt.Sprintf("create_schema=%v", create), func(t *testing.T) {
			srv := iotdbtest.Start(t, iotdbtest.Options{})
			raw := rawSession(t, srv)
			if err := raw.CreateAlignedTimeseries("root.factory.bad", []string{"temp"}, []client.TSDataType{client.INT64},
				[]client.TSEncoding{client.PLAIN}, []client.TSCompressionType{client.LZ4}, nil); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(srv)
			cfg.CreateSchema = create
			s := openSink(t, cfg)
			sc := testSchema(true)
			pts := []mapping.Point{
				pt(sc, "root.factory.good", 1, 1.0, int32(1), "g"),
				pt(sc, "root.factory.bad", 1, 2.0, int32(2), "b"),
				pt(sc, "root.factory.good", 2, 3.0, int32(3), "g"),
			}
			res := write(t, s, pts)
			if len(res.Rejected) != 1 {
				t.Fatalf("rejected = %+v", res.Rejected)
			}
			r := res.Rejected[0]
			if r.Device != "root.factory.bad" || r.Code != client.MetadataError || !reflect.DeepEqual(r.Points, []int{1}) || r.Schema != sc {
				t.Errorf("rejection = %+v", r)
			}
			if !strings.Contains(r.Message, "temp") || !strings.Contains(r.Message, "INT64") {
				t.Errorf("message does not name the series and type: %q", r.Message)
			}
			if !r.Systemic {
				t.Errorf("a type conflict with the existing series is not systemic: %+v", r)
			}
			if r.Partial == create {
				t.Errorf("partial = %v: the sink's own check writes nothing, a server 507 may have", r.Partial)
			}
			if res.Points != 2 {
				t.Errorf("points = %d", res.Points)
			}
			expectPoints(t, srv, "root.factory.good.temp", "1=1 2=3")
			expectPoints(t, srv, "root.factory.bad.temp", "")
		})
	}
}

func TestIntegrationIllegalPathIsRejected(t *testing.T) {
	skipShort(t)
	for _, create := range []bool{true, false} {
		t.Run(fmt.Sprintf("create_schema=%v", create), func(t *testing.T) {
			srv := iotdbtest.Start(t, iotdbtest.Options{})
			cfg := testConfig(srv)
			cfg.CreateSchema = create
			s := openSink(t, cfg)
			sc := testSchema(true)
			pts := []mapping.Point{
				pt(sc, "root.factory.ok", 1, 1.0, nil, nil),
				pt(sc, "root.factory.not-quoted", 1, 2.0, nil, nil),
				pt(sc, "root.factory.`quoted-ok`", 1, 3.0, nil, nil),
			}
			res := write(t, s, pts)
			if len(res.Rejected) != 1 || res.Rejected[0].Device != "root.factory.not-quoted" ||
				res.Rejected[0].Code != client.IllegalPath || !reflect.DeepEqual(res.Rejected[0].Points, []int{1}) {
				t.Fatalf("rejected = %+v", res.Rejected)
			}
			if res.Rejected[0].Systemic {
				t.Errorf("an illegal device value (509) is a refusal of the row, not systemic")
			}
			expectPoints(t, srv, "root.factory.ok.temp", "1=1")
			expectPoints(t, srv, "root.factory.`quoted-ok`.temp", "1=3")
		})
	}
}

func TestIntegrationInvalidValueIsRejected(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	res := write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, "nope", nil, nil), pt(sc, "root.factory.d", 2, 2.0, nil, nil)})
	if len(res.Rejected) != 1 || res.Rejected[0].Code != 0 || !reflect.DeepEqual(res.Rejected[0].Points, []int{0}) || res.Rejected[0].Systemic {
		t.Fatalf("rejected = %+v", res.Rejected)
	}
	expectPoints(t, srv, "root.factory.d.temp", "2=2")
}

func TestIntegrationTransientStatusIsRetried(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	var retries recorder
	s.SetMetrics(&retries)
	sc := testSchema(true)
	write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, 1.0, nil, nil)}) // schema in place
	srv.FailWrites(3, client.InternalServerError, "busy")
	res := write(t, s, []mapping.Point{pt(sc, "root.factory.d", 2, 2.0, nil, nil), pt(sc, "root.factory.e", 2, 3.0, nil, nil)})
	if res.Points != 2 || len(res.Rejected) != 0 {
		t.Fatalf("result = %+v", res)
	}
	if st := srv.Stats(); st.FailedWrites != 3 {
		t.Errorf("failed writes = %d", st.FailedWrites)
	}
	// two devices of one row each go as records (sink.go, chunk)
	if n := retries.count("retry insertRecords 305"); n != 3 {
		t.Errorf("retries = %d (%v)", n, retries.events())
	}
	expectPoints(t, srv, "root.factory.d.temp", "1=1 2=2")
	expectPoints(t, srv, "root.factory.e.temp", "2=3")
}

func TestIntegrationPermanentStatusIsNotRetried(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, 1.0, nil, nil)})
	srv.FailWrites(1, client.MetadataError, "Fail to insert measurements [temp] caused by [boom]")
	res := write(t, s, []mapping.Point{pt(sc, "root.factory.d", 2, 2.0, nil, nil)})
	if len(res.Rejected) != 1 || !res.Rejected[0].Partial || res.Rejected[0].Code != 507 ||
		!strings.Contains(res.Rejected[0].Message, "boom") || res.Points != 0 {
		t.Fatalf("result = %+v", res)
	}
	if st := srv.Stats(); st.FailedWrites != 1 {
		t.Errorf("failed writes = %d", st.FailedWrites)
	}
}

func TestIntegrationHangTriggersDeadlineAndNewSession(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	cfg := testConfig(srv)
	cfg.WriteTimeout = 200 * time.Millisecond
	s := openSink(t, cfg)
	sc := testSchema(true)
	write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, 1.0, nil, nil)})
	sessions := srv.Stats().Sessions

	srv.SetHang(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(context.Background(), []mapping.Point{pt(sc, "root.factory.d", 2, 2.0, nil, nil)})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Write returned while the server hangs: %v", err)
	case <-time.After(time.Second): // several deadlines fired meanwhile
	}
	srv.SetHang(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Write did not finish after the server recovered")
	}
	expectPoints(t, srv, "root.factory.d.temp", "1=1 2=2")
	if st := srv.Stats(); st.Sessions <= sessions {
		t.Errorf("no new session after the deadline fired: sessions %d -> %d", sessions, st.Sessions)
	}
}

func TestIntegrationRestartDuringWrites(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	const batches, per = 40, 50
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(20 * time.Millisecond)
		if err := srv.Restart(); err != nil {
			t.Error(err)
		}
	}()
	for b := 0; b < batches; b++ {
		var pts []mapping.Point
		for i := 0; i < per; i++ {
			n := int64(b*per + i)
			pts = append(pts, pt(sc, fmt.Sprintf("root.factory.d%d", i%5), n, float64(n), nil, nil))
		}
		if res := write(t, s, pts); res.Points != per || len(res.Rejected) != 0 {
			t.Fatalf("batch %d: %+v", b, res)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if got := srv.TotalPoints(); got != batches*per {
		t.Errorf("total points = %d, want %d", got, batches*per)
	}
	if srv.Stats().Restarts != 1 {
		t.Errorf("restarts = %d", srv.Stats().Restarts)
	}
}

func TestIntegrationRefusedThenAccepted(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, 1.0, nil, nil)})
	srv.SetRefuse(true)
	srv.DropConnections()
	go func() {
		time.Sleep(300 * time.Millisecond)
		srv.SetRefuse(false)
	}()
	start := time.Now()
	res := write(t, s, []mapping.Point{pt(sc, "root.factory.d", 2, 2.0, nil, nil)})
	if res.Points != 1 {
		t.Fatalf("result = %+v", res)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Errorf("write succeeded while connections were refused")
	}
	expectPoints(t, srv, "root.factory.d.temp", "1=1 2=2")
}

func TestIntegrationGiveUpReturnsError(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	cfg := testConfig(srv)
	cfg.Retry.Elapsed = 300 * time.Millisecond
	s := openSink(t, cfg)
	sc := testSchema(true)
	write(t, s, []mapping.Point{pt(sc, "root.factory.d", 1, 1.0, nil, nil)})
	srv.FailWrites(1000, client.WriteProcessReject, "rejected")
	_, err := s.Write(context.Background(), []mapping.Point{pt(sc, "root.factory.d", 2, 2.0, nil, nil)})
	var se *StatusError
	if err == nil || !errors.As(err, &se) || se.Code != client.WriteProcessReject {
		t.Fatalf("err = %v", err)
	}
	srv.FailWrites(0, 0, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Write(ctx, []mapping.Point{pt(sc, "root.factory.d", 3, 3.0, nil, nil)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err = %v", err)
	}
}

func TestIntegrationPrecisionFromServer(t *testing.T) {
	skipShort(t)
	for _, p := range []string{"us", "ns"} {
		srv := iotdbtest.Start(t, iotdbtest.Options{Precision: p})
		s := openSink(t, testConfig(srv))
		if s.Precision() != p {
			t.Errorf("precision = %q, want %q", s.Precision(), p)
		}
		cfg := testConfig(srv)
		cfg.Precision = "ms"
		bad, err := New(cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if err := bad.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "uses "+p) {
			t.Errorf("configured ms against a %s server: %v", p, err)
		}
		_ = bad.Close()
	}
}

func TestIntegrationWrongPasswordFailsOpenWithoutLeaking(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	cfg := testConfig(srv)
	cfg.Password = "s3cret-pw"
	var logs bytes.Buffer
	s, err := New(cfg, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Open(context.Background())
	var se *StatusError
	if err == nil || !errors.As(err, &se) || se.Code != client.WrongLoginPassword {
		t.Fatalf("Open = %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("a wrong password was retried")
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("password leaked: %v / %s", err, logs.String())
	}
}

func TestIntegrationDelete(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	s := openSink(t, testConfig(srv))
	sc := testSchema(true)
	var pts []mapping.Point
	for i := int64(1); i <= 3; i++ {
		pts = append(pts, pt(sc, "root.factory.d1", i, float64(i), int32(i), "x"), pt(sc, "root.factory.`d-2`", i, float64(i), int32(i), "y"))
	}
	write(t, s, pts)
	err := s.Delete(context.Background(), []Deletion{
		{Schema: sc, Device: "root.factory.d1", Time: 2, Measurements: []int{1}}, // one point of one series
		{Schema: sc, Device: "root.factory.`d-2`", Time: 2},                      // the whole row
		{Schema: sc, Device: "root.factory.nothere", Time: 2},                    // nothing to delete
	})
	if err != nil {
		t.Fatal(err)
	}
	expectPoints(t, srv, "root.factory.d1.temp", "1=1 2=2 3=3")
	expectPoints(t, srv, "root.factory.d1.state", "1=1 3=3")
	expectPoints(t, srv, "root.factory.`d-2`.temp", "1=1 3=3")
	expectPoints(t, srv, "root.factory.`d-2`.state", "1=1 3=3")
	expectPoints(t, srv, "root.factory.`d-2`.note", "1=y 3=y")
	if n := srv.Stats().Deletes; n != 1 {
		t.Errorf("deletes = %d, want 1 deleteData call for one timestamp", n)
	}
	// transient failure of a delete is retried
	srv.FailWrites(2, client.InternalServerError, "busy")
	if err := s.Delete(context.Background(), []Deletion{{Schema: sc, Device: "root.factory.d1", Time: 3}}); err != nil {
		t.Fatal(err)
	}
	expectPoints(t, srv, "root.factory.d1.temp", "1=1 2=2")
}

func tableSchema() *mapping.Schema {
	return &mapping.Schema{
		SourceTable: "readings", Model: "table", Database: "db1", TargetTable: "readings",
		Aligned:      true,
		Measurements: []string{"site", "device_id", "temp", "state"},
		Types:        []client.TSDataType{client.STRING, client.STRING, client.DOUBLE, client.INT32},
		Categories:   []client.ColumnCategory{client.TAG, client.TAG, client.FIELD, client.FIELD},
	}
}

func TestIntegrationTableModelWriteAndDelete(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{})
	cfg := testConfig(srv)
	cfg.Model = "table"
	cfg.Database = "db1"
	s := openSink(t, cfg)
	sc := tableSchema()
	tp := func(site, dev string, t int64, temp any, state any) mapping.Point {
		return mapping.Point{Device: site + "\x00" + dev, Time: t, Schema: sc, Values: []any{site, dev, temp, state}}
	}
	pts := []mapping.Point{
		tp("s1", "a", 30, 3.0, int32(3)),
		tp("s1", "b'x", 10, 10.0, nil),
		tp("s1", "a", 10, 1.0, int32(1)),
		tp("s1", "a", 20, 2.0, int32(2)),
		tp("s1", "a", 10, nil, int32(11)), // duplicate: merged, temp stays 1
	}
	res := write(t, s, pts)
	if res.Points != 5 || len(res.Rejected) != 0 || res.Tablets != 1 {
		t.Fatalf("result = %+v", res)
	}
	rows := func() string {
		var out []string
		for _, r := range srv.TableRows("db1", "readings") {
			out = append(out, fmt.Sprintf("%v/%v@%v:%v,%v", r["site"], r["device_id"], r["time"], r["temp"], r["state"]))
		}
		return strings.Join(out, " ")
	}
	if got, want := rows(), "s1/a@10:1,11 s1/a@20:2,2 s1/a@30:3,3 s1/b'x@10:10,<nil>"; got != want {
		t.Errorf("rows = %s\nwant   %s", got, want)
	}
	if err := s.Delete(context.Background(), []Deletion{
		{Schema: sc, Device: "s1\x00a", Time: 20},
		{Schema: sc, Device: "s1\x00b'x", Time: 10},
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := rows(), "s1/a@10:1,11 s1/a@30:3,3"; got != want {
		t.Errorf("rows after delete = %s\nwant   %s", got, want)
	}
	// A new session after a dropped connection must still be a table session.
	srv.DropConnections()
	res = write(t, s, []mapping.Point{tp("s2", "c", 5, 5.0, int32(5))})
	if res.Points != 1 || len(res.Rejected) != 0 {
		t.Fatalf("after reconnect: %+v", res)
	}
	if got := rows(); !strings.Contains(got, "s2/c@5:5,5") {
		t.Errorf("rows = %s", got)
	}
}

// recorder is a Metrics that remembers events.
type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.evs = append(r.evs, s)
	r.mu.Unlock()
}

func (r *recorder) RPC(op string, _ time.Duration, err error) {
	r.add(fmt.Sprintf("rpc %s %v", op, err == nil))
}
func (r *recorder) Retried(op string, code int32) { r.add(fmt.Sprintf("retry %s %d", op, code)) }
func (r *recorder) Rejected(n int, code int32)    { r.add(fmt.Sprintf("rejected %d %d", n, code)) }

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.evs...)
}

func (r *recorder) count(ev string) int {
	n := 0
	for _, e := range r.events() {
		if e == ev {
			n++
		}
	}
	return n
}
