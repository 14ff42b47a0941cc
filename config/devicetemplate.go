package config

import (
	"fmt"
	"strings"
)

// MinBatchMaxBytes is the smallest iotdb.batch.max_bytes accepted: one
// wide row must fit in a request.
const MinBatchMaxBytes = 64 << 10

// deviceTemplates checks iotdb.mappings[].device_template (tree model):
// a plain name used by one mapping only, a device path whose fixed
// beginning (the nodes before the first ${column}) reaches the database,
// where the template is set, and no other mapping writing devices that
// could fall under that beginning (IoTDB allows one template per path, and
// a device of another shape under it would add its measurements to the
// template). The template's measurements are the mapping's: a fixed list,
// typed when the mapping compiles.
func (v *validator) deviceTemplates() {
	// The fixed beginning always reaches the database: treeTarget refuses a
	// device path that is not below its database node by node, and the
	// database holds no ${...}; so the template is set at or below it.
	maps := v.c.IoTDB.Mappings
	type fixed struct {
		i     int
		nodes []string // the literal beginning of the device path
	}
	var tree []fixed
	byName := map[string]int{}
	for i := range maps {
		m := &maps[i]
		p := fmt.Sprintf("iotdb.mappings[%d]", i)
		if v.c.IoTDB.Model == ModelTable {
			if m.DeviceTemplate != "" {
				v.errf(p+".device_template", "device templates are for model: tree; the table model keeps every device of a table as tag values and needs no per-device schema")
			}
			continue
		}
		tpl, err := ParseDeviceTemplate(m.Device)
		if err != nil {
			continue // reported with the device
		}
		var lit []string
		for _, n := range tpl.Nodes {
			if !n.IsLiteral() {
				break
			}
			lit = append(lit, storedNode(n.Raw))
		}
		tree = append(tree, fixed{i, lit})
		if m.DeviceTemplate == "" {
			continue
		}
		tp := p + ".device_template"
		name := m.DeviceTemplate
		if !IsLegalNodeName(name) || strings.ContainsAny(name, "`.") {
			v.errf(tp, "%q is not a plain name (letters, digits, _; not a number)", name)
			continue
		}
		if j, dup := byName[name]; dup {
			v.errf(tp, "device template %q is also named by iotdb.mappings[%d] at %s: give each mapping its own template", name, j, maps[j].Pos)
			continue
		}
		byName[name] = i
	}
	// Overlaps: a template mapping's fixed beginning against every other
	// tree mapping's (one is a node prefix of the other: the devices may meet).
	for a := range tree {
		ma := &maps[tree[a].i]
		if ma.DeviceTemplate == "" {
			continue
		}
		for b := range tree {
			if a == b {
				continue
			}
			mb := &maps[tree[b].i]
			if !nodePrefix(tree[a].nodes, tree[b].nodes) && !nodePrefix(tree[b].nodes, tree[a].nodes) {
				continue
			}
			if mb.DeviceTemplate != "" && tree[b].i < tree[a].i {
				continue // reported once, from the earlier mapping
			}
			at := strings.Join(tree[a].nodes, ".")
			if mb.DeviceTemplate != "" {
				v.errf(fmt.Sprintf("iotdb.mappings[%d].device_template", tree[a].i),
					"device templates %q and %q (iotdb.mappings[%d] at %s) would be set on overlapping paths %s and %s: IoTDB allows one template per path; give the mappings disjoint device paths",
					ma.DeviceTemplate, mb.DeviceTemplate, tree[b].i, mb.Pos, at, strings.Join(tree[b].nodes, "."))
				continue
			}
			v.errf(fmt.Sprintf("iotdb.mappings[%d].device", tree[b].i),
				"%q may write devices under %s, where iotdb.mappings[%d] (at %s) sets device template %q: those devices would take the template, and their measurements would be added to it; give this mapping a device path outside %s",
				mb.Device, at, tree[a].i, ma.Pos, ma.DeviceTemplate, at)
		}
	}
}

// nodePrefix reports whether p is a node-wise prefix of n.
func nodePrefix(p, n []string) bool {
	if len(p) > len(n) {
		return false
	}
	for i := range p {
		if p[i] != n[i] {
			return false
		}
	}
	return true
}

// storedNode is a literal node as IoTDB stores it: `abc` is abc when abc
// needs no quotes.
func storedNode(raw string) string {
	if inner, ok := unquoteNode(raw); ok && IsLegalNodeName(inner) && !isReservedMeasurement(inner) {
		return inner
	}
	return raw
}
