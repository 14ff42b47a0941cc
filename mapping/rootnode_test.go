package mapping

import (
	"strings"
	"testing"
)

// TestDeviceValueRoot: IoTDB allows root only as the first node of a path,
// quoted or not (docs/iotdb.md §4; the double answers 509), so a device
// value that renders a later node as root is a dirty row with the reason
// code illegal_path, the template's column and a detail saying why, and
// never reaches IoTDB.
func TestDeviceValueRoot(t *testing.T) {
	m := baseMapping() // root.factory.${site}.${device_id}
	m.Measurements = m.Measurements[:1]
	mp := mustCompile(t, m, Options{})
	for _, v := range []any{"root", []byte("root")} {
		for _, base := range []map[string]any{sqlRow(), binlogRow()} {
			base["site"] = v
			row := rowOf(t, mp, base)
			for name, call := range map[string]func() error{
				"Map":           func() error { _, err := mp.Map(row); return err },
				"DeviceAndTime": func() error { _, _, err := mp.DeviceAndTime(row); return err },
			} {
				err := call()
				if err == nil {
					t.Fatalf("%s with site = %q: no error", name, v)
				}
				de, reason := dirtyReason(t, err)
				if reason != ReasonIllegalPath || de.Column != "site" || de.Key != "id=42" ||
					!strings.Contains(de.Detail, "root") || !strings.Contains(de.Detail, "reserved") {
					t.Errorf("%s with site = %q: %+v", name, v, de)
				}
			}
		}
	}
	// root inside a longer node, or as a measurement name, is fine.
	m.Device = "root.factory.pump_${site}.${device_id}"
	mp = mustCompile(t, m, Options{})
	r := sqlRow()
	r["site"] = []byte("root")
	p, err := mp.Map(rowOf(t, mp, r))
	if err != nil || p.Device != "root.factory.pump_root.`pump-7.b`" {
		t.Fatalf("pump_root: %q, %v", p.Device, err)
	}
}
