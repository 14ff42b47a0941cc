package mapping

import (
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// TestDescribeAgreesWithCompile: the type Describe reports is the one
// Compile gives a measurement without a declared type, and the columns it
// calls time or device columns are the ones Compile takes as such, for
// every column of readingsSchema.
func TestDescribeAgreesWithCompile(t *testing.T) {
	ts := readingsSchema()
	for i := range ts.Columns {
		c := &ts.Columns[i]
		info := Describe(c)
		m := &config.Mapping{Table: ts.Name, Device: "root.factory.${site}", Time: config.TimeSpec{Column: "created_at"},
			Measurements: []config.Measurement{{Column: c.Name, Name: "m"}}}
		mp, err := Compile(m, ts, Options{})
		if info.Refused != nil {
			if err == nil {
				t.Errorf("%s: Describe refuses it (%v), Compile takes it", c.Name, info.Refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Compile: %v", c.Name, err)
			continue
		}
		if got := mp.Schema().Types[0]; got != info.Type {
			t.Errorf("%s: Describe says %s, Compile picks %s", c.Name, TypeName(info.Type), TypeName(got))
		}
		tm := &config.Mapping{Table: ts.Name, Device: "root.factory.${site}", Time: config.TimeSpec{Column: c.Name},
			Measurements: []config.Measurement{{Column: "humidity"}}}
		if info.Time == TimeEpoch {
			tm.Time.Unit = "ms"
		}
		_, err = Compile(tm, ts, Options{})
		if (err == nil) != (info.Time != TimeNo) && !(err == nil && c.DataType == "smallint") {
			t.Errorf("%s as time: Describe %v, Compile %v", c.Name, info.Time, err)
		}
		dm := &config.Mapping{Table: ts.Name, Device: "root.factory.${" + c.Name + "}", Time: config.TimeSpec{Column: "created_at"},
			Measurements: []config.Measurement{{Column: "humidity"}}}
		if _, err = Compile(dm, ts, Options{}); (err == nil) != info.Device {
			t.Errorf("%s as device: Describe %v, Compile %v", c.Name, info.Device, err)
		}
	}
	want := map[string]func(ColumnInfo) bool{
		"big":        func(i ColumnInfo) bool { return i.BigUnsigned && i.Type == client.INT64 },
		"price":      func(i ColumnInfo) bool { return i.Rounded && i.Type == client.DOUBLE },
		"level":      func(i ColumnInfo) bool { return i.Text && i.Type == client.STRING },
		"ok":         func(i ColumnInfo) bool { return i.Type == client.BOOLEAN && i.Time == TimeNo },
		"ts":         func(i ColumnInfo) bool { return i.Time == TimeInstant },
		"created_at": func(i ColumnInfo) bool { return i.Time == TimeWall },
		"ts_ms":      func(i ColumnInfo) bool { return i.Time == TimeEpoch },
		"geo":        func(i ColumnInfo) bool { return i.Refused != nil },
		"legacy":     func(i ColumnInfo) bool { return i.Refused != nil && strings.Contains(i.Refused.Error(), "latin1") },
	}
	for name, ok := range want {
		c, _ := ts.Column(name)
		if info := Describe(c); !ok(info) {
			t.Errorf("%s: %+v", name, info)
		}
	}
}

// A misspelt column is named with its closest neighbour and the table's
// columns.
func TestMissingColumnListsTheColumns(t *testing.T) {
	ts := &TableSchema{Database: "factory", Name: "r", Columns: []Column{
		{Name: "id", DataType: "int", ColumnType: "int(11)"},
		{Name: "created_at", DataType: "datetime", ColumnType: "datetime"},
		{Name: "temperature", DataType: "double", ColumnType: "double"},
	}}
	m := &config.Mapping{Table: "r", Device: "root.factory.x", Time: config.TimeSpec{Column: "created_at"},
		Measurements: []config.Measurement{{Column: "temprature", Pos: config.Pos{File: "m.yaml", Line: 7}}}}
	_, err := Compile(m, ts, Options{})
	want := `mapping m.yaml:7 (table r): measurement column "temprature" does not exist in factory.r (did you mean "temperature"?); its columns: id, created_at, temperature`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
