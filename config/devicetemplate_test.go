package config

import (
	"strings"
	"testing"
)

// twoTables is minimal with a second table and mapping; tests edit it.
const twoTables = `mysql:
  user: bridge
  database: factory
  tables: [{name: a}, {name: b}]
iotdb:
  nodes: ["127.0.0.1:6667"]
  mappings:
    - table: a
      device: "DEV_A"
      TMPL_A
      time: {column: created_at}
      measurements: [{column: v}]
    - table: b
      device: "DEV_B"
      TMPL_B
      time: {column: created_at}
      measurements: [{column: w}]
`

func templateConfig(devA, tmplA, devB, tmplB string) string {
	r := strings.NewReplacer("DEV_A", devA, "DEV_B", devB, "TMPL_A", tmplA, "TMPL_B", tmplB)
	return r.Replace(twoTables)
}

func TestDeviceTemplateField(t *testing.T) {
	c := mustParse(t, templateConfig("root.fleet.${site}.${id}", "device_template: meter", "root.plant.${id}", ""))
	if got := c.IoTDB.Mappings[0].DeviceTemplate; got != "meter" {
		t.Errorf("device_template = %q", got)
	}
	// a backquoted literal node in the fixed beginning
	mustParse(t, templateConfig("root.fleet.`site-1`.${id}", "device_template: meter", "root.fleet.`site-2`.${id}", ""))

	cases := []struct{ devA, tmplA, devB, tmplB, want string }{
		{"root.fleet.${id}", "device_template: \"`m-1`\"", "root.plant.${id}", "",
			"test.yaml:10: iotdb.mappings[0].device_template: \"`m-1`\" is not a plain name (letters, digits, _; not a number)"},
		{"root.fleet.${id}", "device_template: \"123\"", "root.plant.${id}", "",
			`test.yaml:10: iotdb.mappings[0].device_template: "123" is not a plain name (letters, digits, _; not a number)`},
		// one template name, one mapping
		{"root.fleet.${id}", "device_template: meter", "root.plant.${id}", "device_template: meter",
			"test.yaml:15: iotdb.mappings[1].device_template: device template \"meter\" is also named by iotdb.mappings[0] at test.yaml:8: give each mapping its own template"},
		// overlapping paths: two templates, or another mapping's devices under the template
		{"root.fleet.${id}", "device_template: meter", "root.fleet.x.${id}", "device_template: other",
			`test.yaml:10: iotdb.mappings[0].device_template: device templates "meter" and "other" (iotdb.mappings[1] at test.yaml:13) would be set on overlapping paths root.fleet and root.fleet.x: IoTDB allows one template per path; give the mappings disjoint device paths`},
		{"root.fleet.${site}.${id}", "device_template: meter", "root.fleet.${id}", "",
			`test.yaml:14: iotdb.mappings[1].device: "root.fleet.${id}" may write devices under root.fleet, where iotdb.mappings[0] (at test.yaml:8) sets device template "meter": those devices would take the template, and their measurements would be added to it; give this mapping a device path outside root.fleet`},
		{"root.fleet.site1.${id}", "device_template: meter", "root.fleet.${site}.${id}", "",
			`test.yaml:14: iotdb.mappings[1].device: "root.fleet.${site}.${id}" may write devices under root.fleet.site1, where iotdb.mappings[0] (at test.yaml:8) sets device template "meter": those devices would take the template, and their measurements would be added to it; give this mapping a device path outside root.fleet.site1`},
	}
	for _, tc := range cases {
		got := parseErr(t, templateConfig(tc.devA, tc.tmplA, tc.devB, tc.tmplB))
		if got != tc.want {
			t.Errorf("%s / %s:\ngot  %s\nwant %s", tc.devA, tc.devB, got, tc.want)
		}
	}
	// the table model has no per-device schema
	text := strings.Replace(minimal, "iotdb:\n", "iotdb:\n  model: table\n  database: factory\n", 1)
	text = strings.Replace(text, `device: "root.factory.${site}.${device_id}"`, "device: readings\n      tags: [device_id]\n      device_template: meter", 1)
	want := "test.yaml:14: iotdb.mappings[0].device_template: device templates are for model: tree; the table model keeps every device of a table as tag values and needs no per-device schema"
	if got := parseErr(t, text); got != want {
		t.Errorf("table model:\ngot  %s\nwant %s", got, want)
	}
	// batch.max_bytes has a floor
	text = strings.Replace(minimal, "iotdb:\n", "iotdb:\n  batch: {max_bytes: 1000}\n", 1)
	if got, want := parseErr(t, text), "test.yaml:7: iotdb.batch.max_bytes: must be at least 65536 (64 KiB), got 1000"; got != want {
		t.Errorf("max_bytes:\ngot  %s\nwant %s", got, want)
	}
}
