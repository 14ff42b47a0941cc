package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// DeviceTemplate is a parsed tree-model device path such as
// "root.factory.${site}.`pump-7.b`.${device_id}". Nodes are split on dots
// outside backquotes and placeholders.
type DeviceTemplate struct {
	Nodes []DeviceNode
}

// DeviceNode is one node of a device template.
type DeviceNode struct {
	// Raw is the node as written: "factory", "`pump-7.b`", "${site}", "line_${no}".
	Raw string
	// Parts is the node's literal text and placeholders in order. A
	// backquoted node is one literal part holding the node as written
	// (backquotes included), ready for the wire.
	Parts []DevicePart
}

// DevicePart is literal text (Column == "") or a ${column} placeholder.
type DevicePart struct {
	Literal string
	Column  string
}

// IsLiteral reports whether the node has no placeholder.
func (n DeviceNode) IsLiteral() bool {
	for _, p := range n.Parts {
		if p.Column != "" {
			return false
		}
	}
	return true
}

// Columns lists the placeholder columns in order of appearance (duplicates kept once).
func (t DeviceTemplate) Columns() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range t.Nodes {
		for _, p := range n.Parts {
			if p.Column != "" && !seen[p.Column] {
				seen[p.Column] = true
				out = append(out, p.Column)
			}
		}
	}
	return out
}

// ParseDeviceTemplate splits a device template into nodes and checks its
// syntax: balanced, non-empty ${column} placeholders, closed backquotes, no
// empty node, and literal nodes that are legal IoTDB node names (letters,
// digits, _, CJK; not a number) unless backquoted. Placeholder values are
// quoted by the mapper at run time, so a node holding a placeholder may mix
// it with any literal text except backquotes. It does not check the tree
// model rules (root. prefix, database depth): validation does that.
func ParseDeviceTemplate(s string) (DeviceTemplate, error) {
	var t DeviceTemplate
	if s == "" {
		return t, errors.New("empty device template")
	}
	var node DeviceNode
	var lit strings.Builder
	start := 0
	flushLit := func() {
		if lit.Len() > 0 {
			node.Parts = append(node.Parts, DevicePart{Literal: lit.String()})
			lit.Reset()
		}
	}
	endNode := func(end int) error {
		flushLit()
		node.Raw = s[start:end]
		if node.Raw == "" {
			return errors.New("empty node (a leading, trailing or doubled dot)")
		}
		if node.IsLiteral() && !strings.HasPrefix(node.Raw, "`") && !IsLegalNodeName(node.Raw) {
			return fmt.Errorf("node %q is not a legal IoTDB node name (letters, digits, _; not a number): backquote it, as `%s`",
				node.Raw, strings.ReplaceAll(node.Raw, "`", "``"))
		}
		t.Nodes = append(t.Nodes, node)
		node = DeviceNode{}
		start = end + 1
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if err := endNode(i); err != nil {
				return t, err
			}
		case c == '`':
			if i != start {
				return t, fmt.Errorf("a backquote may only start a node (at offset %d)", i)
			}
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return t, fmt.Errorf("unclosed backquote at offset %d", i)
			}
			inner := s[i+1 : j]
			if inner == "" {
				return t, fmt.Errorf("empty backquoted node at offset %d", i)
			}
			if strings.Contains(inner, "${") {
				return t, fmt.Errorf("placeholder inside backquotes at offset %d: placeholder values are quoted automatically, drop the backquotes", i)
			}
			if j+1 < len(s) && s[j+1] != '.' {
				return t, fmt.Errorf("text after a closing backquote at offset %d: a backquoted node must be the whole node", j)
			}
			lit.WriteString(s[i : j+1])
			i = j
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return t, fmt.Errorf(`unclosed "${" at offset %d`, i)
			}
			name := s[i+2 : i+2+end]
			switch {
			case name == "":
				return t, fmt.Errorf(`empty placeholder "${}" at offset %d`, i)
			case strings.ContainsAny(name, "${`"):
				return t, fmt.Errorf(`unbalanced placeholder "${%s}" at offset %d`, name, i)
			case strings.TrimSpace(name) != name:
				return t, fmt.Errorf(`placeholder "${%s}" at offset %d has spaces around the column name`, name, i)
			}
			flushLit()
			node.Parts = append(node.Parts, DevicePart{Column: name})
			i += 2 + end
		case c == '$':
			return t, fmt.Errorf(`"$" at offset %d does not start a ${column} placeholder`, i)
		case c == '}':
			return t, fmt.Errorf(`"}" without "${" at offset %d`, i)
		default:
			lit.WriteByte(c)
		}
	}
	if err := endNode(len(s)); err != nil {
		return t, err
	}
	return t, nil
}

var (
	identRE   = regexp.MustCompile(`^[0-9A-Za-z_\x{2E80}-\x{9FFF}]+$`)
	realNumRE = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
)

// IsLegalNodeName reports whether s may appear unquoted as an IoTDB tree path
// node: letters, digits, _ and CJK characters, and not a number (docs/iotdb.md §4).
func IsLegalNodeName(s string) bool {
	return identRE.MatchString(s) && !realNumRE.MatchString(s)
}

// isReservedMeasurement reports IoTDB's reserved words, which a measurement
// may only use backquoted.
func isReservedMeasurement(s string) bool {
	switch strings.ToUpper(s) {
	case "TIME", "TIMESTAMP", "ROOT":
		return true
	}
	return false
}

// unquoteNode removes the backquotes around one node and undoes the
// doubling of backquotes inside it. ok is false when s is not one properly
// backquoted node.
func unquoteNode(s string) (string, bool) {
	if len(s) < 3 || s[0] != '`' || s[len(s)-1] != '`' {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if strings.Count(inner, "`")%2 != 0 || strings.Contains(strings.ReplaceAll(inner, "``", ""), "`") {
		return "", false
	}
	return strings.ReplaceAll(inner, "``", "`"), true
}
