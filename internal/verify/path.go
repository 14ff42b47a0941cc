package verify

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// Tree-model paths. IoTDB may answer a device or a series in another
// spelling than the mapping writes it (a needless backquote removed, say),
// so both sides are brought to one form before they are compared: the
// nodes are split (dots outside backquotes), unquoted, and quoted again
// with mapping.QuoteNode, the rule every write uses (docs/iotdb.md §4).

// splitNodes splits a tree path into its nodes, each unquoted (`a“b` is
// a`b). It fails on an unclosed backquote or an empty node.
func splitNodes(path string) ([]string, error) {
	var nodes []string
	var cur strings.Builder
	quoted, inQuote := false, false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case inQuote && c == '`':
			if i+1 < len(path) && path[i+1] == '`' {
				cur.WriteByte('`')
				i++
				continue
			}
			inQuote = false
		case inQuote:
			cur.WriteByte(c)
		case c == '`':
			inQuote, quoted = true, true
		case c == '.':
			if cur.Len() == 0 && !quoted {
				return nil, fmt.Errorf("path %q has an empty node", path)
			}
			nodes = append(nodes, cur.String())
			cur.Reset()
			quoted = false
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("path %q has an unclosed backquote", path)
	}
	if cur.Len() == 0 && !quoted {
		return nil, fmt.Errorf("path %q has an empty node", path)
	}
	return append(nodes, cur.String()), nil
}

// joinNodes quotes each node as the mapping does and joins them.
func joinNodes(nodes []string) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteByte('.')
		}
		if i == 0 && n == "root" {
			b.WriteString(n)
			continue
		}
		q, err := mapping.QuoteNode(n)
		if err != nil { // a node IoTDB stores but the mapping cannot write: show it backquoted
			q = "`" + strings.ReplaceAll(n, "`", "``") + "`"
		}
		b.WriteString(q)
	}
	return b.String()
}

// canonicalPath is path in the mapping's spelling; a path that does not
// split is returned as it is.
func canonicalPath(path string) string {
	nodes, err := splitNodes(path)
	if err != nil {
		return path
	}
	return joinNodes(nodes)
}

// canonicalNode is one measurement node in the mapping's spelling.
func canonicalNode(node string) string {
	nodes, err := splitNodes(node)
	if err != nil || len(nodes) != 1 {
		return node
	}
	q, err := mapping.QuoteNode(nodes[0])
	if err != nil {
		return node
	}
	return q
}

// deviceMatcher tells which devices a tree mapping's template can produce:
// as many nodes, the literal ones equal, the others matching the literal
// text around their ${column} parts.
type deviceMatcher struct {
	nodes  []nodeMatch
	prefix []string // the leading literal nodes (root.db...): what the queries select under
}

type nodeMatch struct {
	literal string         // unquoted literal node; "" when re is set
	re      *regexp.Regexp // a node with ${column} parts
}

func newDeviceMatcher(template string) (*deviceMatcher, error) {
	t, err := config.ParseDeviceTemplate(template)
	if err != nil {
		return nil, err
	}
	m := &deviceMatcher{}
	literalRun := true
	for _, n := range t.Nodes {
		if n.IsLiteral() {
			lit, err := splitNodes(n.Raw)
			if err != nil || len(lit) != 1 {
				return nil, fmt.Errorf("device template %q: node %s", template, n.Raw)
			}
			m.nodes = append(m.nodes, nodeMatch{literal: lit[0]})
			if literalRun {
				m.prefix = append(m.prefix, lit[0])
			}
			continue
		}
		literalRun = false
		var re strings.Builder
		re.WriteString(`^`)
		for _, p := range n.Parts {
			if p.Column != "" {
				re.WriteString(`(?s:.*)`)
			} else {
				re.WriteString(regexp.QuoteMeta(p.Literal))
			}
		}
		re.WriteString(`$`)
		m.nodes = append(m.nodes, nodeMatch{re: regexp.MustCompile(re.String())})
	}
	if len(m.prefix) < 2 {
		return nil, fmt.Errorf("device template %q: verify needs at least root and one literal node before the first ${column}", template)
	}
	return m, nil
}

// match reports whether the device (split, unquoted nodes) is one the
// template can produce.
func (m *deviceMatcher) match(nodes []string) bool {
	if len(nodes) != len(m.nodes) {
		return false
	}
	for i, n := range m.nodes {
		if n.re == nil {
			if nodes[i] != n.literal {
				return false
			}
		} else if !n.re.MatchString(nodes[i]) {
			return false
		}
	}
	return true
}

// pattern is the IoTDB path pattern every device of the template lies
// under: the literal prefix, then **.
func (m *deviceMatcher) pattern() string { return joinNodes(m.prefix) + ".**" }

// overlaps reports whether two templates can produce the same device
// (checked node by node: two literals must be equal; a literal and a
// ${column} node must match; two ${column} nodes are taken to overlap).
func (m *deviceMatcher) overlaps(o *deviceMatcher) bool {
	if len(m.nodes) != len(o.nodes) {
		return false
	}
	for i, a := range m.nodes {
		b := o.nodes[i]
		switch {
		case a.re == nil && b.re == nil:
			if a.literal != b.literal {
				return false
			}
		case a.re == nil:
			if !b.re.MatchString(a.literal) {
				return false
			}
		case b.re == nil:
			if !a.re.MatchString(b.literal) {
				return false
			}
		}
	}
	return true
}
