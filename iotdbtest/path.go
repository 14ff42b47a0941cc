package iotdbtest

import (
	"fmt"
	"regexp"
	"strings"
)

// Path and node-name rules of the tree model (docs/iotdb.md §4).
//
//   - an unquoted node matches [0-9a-zA-Z_\u2E80-\u9FFF]+ and is not a real number;
//   - anything else must be backquoted, a backquote inside is doubled;
//   - `abc` is normalised to abc when the inside is a legal unquoted node;
//   - measurements additionally may not be the reserved words TIME, TIMESTAMP, ROOT unquoted;
//   - `root` only as the first node; `*` and `**` are wildcards (patterns only).

// identRe and realNumRe state the two rules; legalUnquoted applies them
// without the regexp engine (it runs for every node of every write, and
// at 10^6 devices the engine was a tenth of the double's CPU), and
// TestLegalUnquotedMatchesRegexp checks that both agree.
var (
	identRe   = regexp.MustCompile(`^[0-9A-Za-z_\x{2E80}-\x{9FFF}]+$`)
	realNumRe = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)
)

// errIllegalPath is reported as status 509 ILLEGAL_PATH (docs/iotdb.md §3.4, §4).
type errIllegalPath struct{ msg string }

func (e *errIllegalPath) Error() string { return e.msg }

func illegalPath(format string, a ...any) error {
	return &errIllegalPath{msg: fmt.Sprintf(format, a...)}
}

// legalUnquoted reports whether s may appear as an unquoted node.
func legalUnquoted(s string) bool {
	if s == "" {
		return false
	}
	digits := true
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r >= 0x2E80 && r <= 0x9FFF:
			digits = false
		default:
			return false
		}
	}
	if digits {
		return false // a plain integer is a number
	}
	return !isRealNumber(s)
}

// isRealNumber is realNumRe for a string of identifier characters: the
// only numbers spelled with them are digits with an exponent, 1e3 or 1E3
// (no sign, no dot: those are not identifier characters).
func isRealNumber(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) || (s[i] != 'e' && s[i] != 'E') {
		return false
	}
	i++
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isReservedWord(s string) bool {
	switch strings.ToUpper(s) {
	case "TIME", "TIMESTAMP", "ROOT":
		return true
	}
	return false
}

// quoteNode returns the stored (normalised) form of the raw node name inner.
func quoteNode(inner string) string {
	if legalUnquoted(inner) {
		return inner
	}
	return "`" + strings.ReplaceAll(inner, "`", "``") + "`"
}

// splitPath splits a path into nodes, honouring backquotes (docs/iotdb.md §4).
// Each returned node is normalised: a quoted node whose inside is a legal
// identifier loses its quotes; other quoted nodes keep them (with inner
// backquotes doubled). Wildcards are returned as "*" / "**" only when
// allowWildcard; otherwise they are illegal.
func splitPath(p string, allowWildcard bool) ([]string, error) {
	if p == "" {
		return nil, illegalPath("%s is not a legal path", p)
	}
	var nodes []string
	i := 0
	for {
		if i >= len(p) {
			return nil, illegalPath("%s is not a legal path", p)
		}
		var node string
		if p[i] == '`' {
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(p) {
				if p[j] == '`' {
					if j+1 < len(p) && p[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(p[j])
				j++
			}
			if !closed {
				return nil, illegalPath("%s is not a legal path, unclosed backquote", p)
			}
			inner := b.String()
			if inner == "" {
				return nil, illegalPath("%s is not a legal path, empty node", p)
			}
			node = quoteNode(inner)
			i = j
		} else {
			j := i
			for j < len(p) && p[j] != '.' {
				if p[j] == '`' {
					return nil, illegalPath("%s is not a legal path", p)
				}
				j++
			}
			raw := p[i:j]
			switch {
			case raw == "*" || raw == "**":
				if !allowWildcard {
					return nil, illegalPath("%s is not a legal path, wildcard not allowed here", p)
				}
				node = raw
			case legalUnquoted(raw):
				node = raw
			default:
				return nil, illegalPath("%s is not a legal path", p)
			}
			i = j
		}
		nodes = append(nodes, node)
		if i == len(p) {
			break
		}
		if p[i] != '.' {
			return nil, illegalPath("%s is not a legal path", p)
		}
		i++
	}
	if nodes[0] != "root" {
		return nil, illegalPath("%s is not a legal path, it must start with root", p)
	}
	for _, n := range nodes[1:] {
		if n == "root" {
			return nil, illegalPath("%s is not a legal path, root is only allowed as the first node", p)
		}
	}
	return nodes, nil
}

// parseDevicePath parses a device (prefix) path and returns its nodes and the
// normalised full path.
func parseDevicePath(p string) ([]string, string, error) {
	nodes, err := splitPath(p, false)
	if err != nil {
		return nil, "", err
	}
	if len(nodes) < 2 {
		return nil, "", illegalPath("%s is not a legal path", p)
	}
	return nodes, strings.Join(nodes, "."), nil
}

// parseMeasurement checks a measurement name as a single node
// (checkAndReturnSingleMeasurement, docs/iotdb.md §4) and returns its stored form.
func parseMeasurement(m string) (string, error) {
	if m == "" {
		return "", illegalPath("%s is not a legal path", m)
	}
	if m[0] == '`' {
		nodes, err := splitPath("root."+m, false)
		if err != nil || len(nodes) != 2 {
			return "", illegalPath("%s is not a legal path", m)
		}
		return nodes[1], nil
	}
	if !legalUnquoted(m) || isReservedWord(m) {
		return "", illegalPath("%s is not a legal path", m)
	}
	return m, nil
}

// matchPattern matches concrete nodes against a pattern with * (exactly one
// node) and ** (one or more nodes).
func matchPattern(pat, nodes []string) bool {
	if len(pat) == 0 {
		return len(nodes) == 0
	}
	switch pat[0] {
	case "**":
		for k := 1; k <= len(nodes); k++ {
			if matchPattern(pat[1:], nodes[k:]) {
				return true
			}
		}
		return false
	case "*":
		return len(nodes) > 0 && matchPattern(pat[1:], nodes[1:])
	default:
		return len(nodes) > 0 && pat[0] == nodes[0] && matchPattern(pat[1:], nodes[1:])
	}
}

// hasPrefixNodes reports whether prefix is a node-wise prefix of nodes.
func hasPrefixNodes(nodes, prefix []string) bool {
	if len(prefix) > len(nodes) {
		return false
	}
	for i := range prefix {
		if nodes[i] != prefix[i] {
			return false
		}
	}
	return true
}

// NormalizePath returns a full series or device path in the form the server
// stores it: every node backquoted only where IoTDB's node-name rules
// require, with backquotes doubled (`abc` becomes abc; `pump-7.b` stays
// quoted). Tests use it to compare paths they build with what was stored.
func NormalizePath(p string) (string, error) {
	nodes, err := splitPath(p, false)
	if err != nil {
		return "", err
	}
	return strings.Join(nodes, "."), nil
}
