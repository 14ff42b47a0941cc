package iotdbsink

import (
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func TestClassifySystemic(t *testing.T) {
	for _, tc := range []struct {
		code int32
		msg  string
		want systemicClass
	}{
		{507, "Fail to insert measurements [v] caused by [Database not exists and failed to create automatically because enable_auto_create_schema is FALSE.]", systemicMissing},
		{507, "Fail to insert measurements [v] caused by [Path [root.f.d1.v] does not exist]", systemicMissing},
		{507, "Fail to insert measurements [m2] caused by [Column m2 does not exists or fails to be created]", systemicMissing},
		{500, "Database root.x doesn't exist", systemicMissing},
		{508, "Path [root.f.d1.v] does not exist", systemicMissing},
		{616, "Column m does not exist", systemicMissing},
		{507, "creating series: Database not exists and failed to create automatically because enable_auto_create_schema is FALSE.", systemicMissing},
		{507, "Fail to insert measurements [s1] caused by [data type of root.f.d1.s1 is not consistent, registered type INT32, inserting type INT64, timestamp 1, value 6]", systemicType},
		{507, "series root.f.d1.v exists with type INT64 but the mapping of table f writes DOUBLE", systemicType},
		{614, "data type mismatch", systemicType},
		{507, "Timeseries under this device is not aligned, please use createTimeseries or change device.", systemicAligned},
		{509, "root.f.not-quoted is not a legal path", notSystemic},
		{607, "insertion time [1] is less than ttl time bound", notSystemic},
		{701, "Current system timestamp precision is ms, please check whether the timestamp 99999999999999 is correct.", notSystemic},
		{0, "invalid point: measurement temp: want float64, got string", notSystemic},
		{0, "schema has no target table", notSystemic},
	} {
		if got := systemicClassOf(tc.code, tc.msg); got != tc.want {
			t.Errorf("systemicClassOf(%d, %q) = %v, want %v", tc.code, tc.msg, got, tc.want)
		}
	}
}

func TestRejectionErr(t *testing.T) {
	r := Rejection{Device: "root.f.d1", Code: 507, Message: "data type of root.f.d1.v is not consistent, registered type INT64, inserting type DOUBLE"}
	err := r.Err("f").Error()
	for _, want := range []string{"table f", "root.f.d1", "status 507", "not consistent", "measurement type", "drop or rename"} {
		if !strings.Contains(err, want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	r = Rejection{Device: "root.f.d1", Code: 507, Message: "Database not exists and failed to create automatically because enable_auto_create_schema is FALSE."}
	if err := r.Err("f").Error(); !strings.Contains(err, "create_schema: true") || !strings.Contains(err, "create the database") {
		t.Errorf("%q does not give the remedy", err)
	}
}

// The sink marks what the server (iotdbtest) answers: a write with the
// database, or the series, missing and nothing creating them is systemic.
func TestIntegrationMissingSchemaIsSystemic(t *testing.T) {
	skipShort(t)
	srv := iotdbtest.Start(t, iotdbtest.Options{DisableAutoCreate: true})
	cfg := testConfig(srv)
	cfg.CreateSchema = false
	s := openSink(t, cfg)
	sc := testSchema(true)
	res := write(t, s, []mapping.Point{pt(sc, "root.factory.d1", 1, 1.0, int32(1), "a")})
	if len(res.Rejected) != 1 || !res.Rejected[0].Systemic || res.Rejected[0].Code != client.MetadataError ||
		!strings.Contains(res.Rejected[0].Message, "Database not exists") {
		t.Fatalf("database missing: rejected = %+v", res.Rejected)
	}
	// The database and one series exist; the other series do not.
	raw := rawSession(t, srv)
	if err := raw.SetStorageGroup("root.factory"); err != nil {
		t.Fatal(err)
	}
	if err := raw.CreateAlignedTimeseries("root.factory.d1", []string{"temp"}, []client.TSDataType{client.DOUBLE},
		[]client.TSEncoding{client.PLAIN}, []client.TSCompressionType{client.LZ4}, nil); err != nil {
		t.Fatal(err)
	}
	res = write(t, s, []mapping.Point{pt(sc, "root.factory.d1", 2, 2.0, int32(2), "b")})
	if len(res.Rejected) != 1 || !res.Rejected[0].Systemic || !strings.Contains(res.Rejected[0].Message, "does not exist") {
		t.Fatalf("series missing: rejected = %+v", res.Rejected)
	}
}
