package mapping

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// loadMapping loads a configuration whose one mapping has the given extra
// lines (mapping keys, indented by six spaces) and measurements.
func loadMapping(t *testing.T, extra, measurements string) *config.Mapping {
	t.Helper()
	text := `mysql:
  user: bridge
  database: factory
  tables:
    - name: sensor_readings
iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings:
    - table: sensor_readings
      device: "root.factory.${site}.${device_id}"
      time: {column: created_at}
` + extra + `      measurements:
` + measurements
	c, err := config.Parse([]byte(text), "bridge.yaml")
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return &c.IoTDB.Mappings[0]
}

// TestDecimalDeclaredString: a DECIMAL column declared STRING (or TEXT) is
// written as its exact text whatever the mapping's decimal policy defaults
// to; only an explicit decimal: double conflicts, and the message says
// what to write instead.
func TestDecimalDeclaredString(t *testing.T) {
	const exact = "12345678901234567890123456789012345.123456789012345678901234567890"
	for _, extra := range []string{"", "      decimal: string\n"} {
		m := loadMapping(t, extra, "        - {column: price, type: STRING}\n        - {column: price, name: price_t, type: TEXT}\n        - {column: price, name: price_d}\n")
		mp, err := Compile(m, readingsSchema(), Options{})
		if err != nil {
			t.Fatalf("decimal %q, price declared STRING: %v", m.Decimal, err)
		}
		wantTypes := []client.TSDataType{client.STRING, client.TEXT, client.DOUBLE}
		if extra != "" {
			wantTypes[2] = client.STRING // the policy's default type
		}
		if got := mp.Schema().Types; !reflect.DeepEqual(got, wantTypes) {
			t.Errorf("decimal %q: types %v, want %v", m.Decimal, got, wantTypes)
		}
		for _, r := range []map[string]any{sqlRow(), binlogRow()} {
			p, err := mp.Map(rowOf(t, mp, r))
			if err != nil {
				t.Fatal(err)
			}
			if p.Values[0] != exact || p.Values[1] != exact {
				t.Errorf("decimal %q: values %#v, want the exact text", m.Decimal, p.Values)
			}
		}
	}

	// decimal: double written explicitly and type STRING: say what to write.
	m := loadMapping(t, "      decimal: double\n", "        - {column: price, type: STRING}\n")
	_, err := Compile(m, readingsSchema(), Options{})
	if err == nil {
		t.Fatal("explicit decimal: double with type STRING: want an error")
	}
	for _, want := range []string{"bridge.yaml:9", "price", "decimal: double", "type STRING", "decimal: string", "type: DOUBLE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// An explicit decimal: string and type DOUBLE still conflict.
	m = loadMapping(t, "      decimal: string\n", "        - {column: price, type: DOUBLE}\n")
	if _, err := Compile(m, readingsSchema(), Options{}); err == nil || !strings.Contains(err.Error(), "decimal: string") {
		t.Errorf("decimal: string with type DOUBLE: %v", err)
	}
}
