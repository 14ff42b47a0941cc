package mapping

import (
	"errors"
	"fmt"
	"github.com/mysql-iotdb-bridge/bridge/config"
	"strings"
	"unicode/utf8"
)

// QuoteNode returns s as one IoTDB tree-model path node (docs/iotdb.md §4):
// unchanged when it is a legal unquoted identifier ([0-9A-Za-z_] and CJK
// U+2E80..U+9FFF) that is neither a real number nor a reserved word
// (root, time, timestamp); otherwise wrapped in backquotes with inner
// backquotes doubled. The server stores a needlessly quoted legal name
// unquoted, so quoting is never harmful; the bridge quotes the same way for
// writes, deletes and queries.
//
// An empty string, invalid UTF-8 and control characters (U+0000..U+001F,
// U+007F) are errors: IoTDB cannot store them in a node name.
func QuoteNode(s string) (string, error) {
	b, err := appendNode(nil, s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendNode appends s quoted as one node (see QuoteNode) to b. On error
// b is returned unchanged. s does not escape (errors quote a copy): the
// device path renderer passes views of row values and stack buffers.
func appendNode(b []byte, s string) ([]byte, error) {
	if s == "" {
		return b, errors.New("empty path node")
	}
	plain, ascii := true, true
	for i := 0; i < len(s); i++ { // ASCII first: device values almost always are
		c := s[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if c < 0x20 || c == 0x7f {
			return b, fmt.Errorf("path node %q contains control character %U", strings.Clone(s), rune(c))
		}
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			plain = false
		}
	}
	if !ascii {
		plain = true
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				return b, fmt.Errorf("path node %q is not valid UTF-8", strings.Clone(s))
			}
			if r < 0x20 || r == 0x7f {
				return b, fmt.Errorf("path node %q contains control character %U", strings.Clone(s), r)
			}
			if !identRune(r) {
				plain = false
			}
			i += size
		}
	}
	// A real number starts with a digit, a sign or a dot, and the reserved
	// words have 4 or 9 letters: most names skip both checks.
	number := (s[0] >= '0' && s[0] <= '9' || s[0] == '+' || s[0] == '-' || s[0] == '.') && isRealNumber(s)
	reserved := (len(s) == 4 || len(s) == 9) && reservedNode(s)
	if plain && !number && !reserved {
		return append(b, s...), nil
	}
	b = append(b, '`')
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			b = append(b, '`')
		}
		b = append(b, s[i])
	}
	return append(b, '`'), nil
}

// errRootNode is the detail of a device value that renders a node below
// root as root: IoTDB allows root only as the first node of a path, and no
// quoting helps (`root` is normalised to root and refused with 509
// ILLEGAL_PATH, docs/iotdb.md §4).
const errRootNode = "root is reserved as a node name: IoTDB allows it only as the first node of a path, even backquoted"

// appendDeviceNode appends s quoted as one node below root of a device path
// to b: as appendNode, but the value root is an error with detail
// errRootNode. Only the lower-case word, which is what `root` normalises
// to: iotdbtest stores `Root` as the node Root and accepts it, as
// TestDeviceNodes expects (whether a real server refuses other letter cases
// is unverified).
func appendDeviceNode(b []byte, s string) ([]byte, error) {
	if s == "root" {
		return b, errors.New(errRootNode)
	}
	return appendNode(b, s)
}

// identRune reports whether r may appear in an unquoted node
// (IDENTIFIER_MATCHER [0-9a-zA-Z_\u2E80-\u9FFF]).
func identRune(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') ||
		(0x2E80 <= r && r <= 0x9FFF)
}

// reservedNode reports the words IoTDB reserves as node names
// (IoTDBConstant.reservedWords), compared case-insensitively.
func reservedNode(s string) bool {
	if s == "" || s[0]|0x20 != 'r' && s[0]|0x20 != 't' { // most names: one comparison
		return false
	}
	return strings.EqualFold(s, "root") || strings.EqualFold(s, "time") || strings.EqualFold(s, "timestamp")
}

// isRealNumber mirrors PathUtils.isRealNumber: ^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$.
// Only called on identifier runes, but written for any input.
func isRealNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	intDigits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			fracDigits++
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		expDigits := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// templateNode is one node of a compiled device template: either a literal
// node (already in its on-the-wire form) or pieces that are concatenated from
// literal text and column values at Map time and then quoted as one node.
type templateNode struct {
	literal string      // set when the node has no column reference
	pieces  []nodePiece // otherwise
}

// nodePiece is literal text (col < 0) or a column reference.
type nodePiece struct {
	text string
	col  string // column name as written in the template; "" for text
}

// parseTemplate splits a tree-model device template such as
// "root.factory.${site}.`line-1`.pump_${device_id}" into nodes, with the
// grammar config validates (config.ParseDeviceTemplate): one parser, so what
// the config accepts is exactly what compiles. A node made only of literal
// text is kept as written (already legal on the wire); a node with a
// ${column} reference is rendered from the row at Map time and quoted as one
// node, so dots inside values never split it.
func parseTemplate(tpl string) ([]templateNode, error) {
	t, err := config.ParseDeviceTemplate(tpl)
	if err != nil {
		return nil, fmt.Errorf("device template %q: %w", tpl, err)
	}
	nodes := make([]templateNode, 0, len(t.Nodes))
	for _, n := range t.Nodes {
		if n.IsLiteral() {
			if err := checkLiteralNode(n.Raw); err != nil {
				return nil, fmt.Errorf("device template %q: %w", tpl, err)
			}
			nodes = append(nodes, templateNode{literal: n.Raw})
			continue
		}
		var pieces []nodePiece
		for _, p := range n.Parts {
			if p.Column != "" {
				pieces = append(pieces, nodePiece{col: p.Column})
			} else {
				pieces = append(pieces, nodePiece{text: p.Literal})
			}
		}
		nodes = append(nodes, templateNode{pieces: pieces})
	}
	if len(nodes) < 2 || nodes[0].literal != "root" {
		return nil, fmt.Errorf("device template %q must start with root. and have at least one node below root", tpl)
	}
	for _, n := range nodes[1:] {
		if strings.EqualFold(n.literal, "root") {
			return nil, fmt.Errorf("device template %q: root may only be the first node", tpl)
		}
	}
	return nodes, nil
}

// checkLiteralNode accepts a literal node that IoTDB parses as written:
// either a whole backquoted name or a legal unquoted identifier.
func checkLiteralNode(lit string) error {
	if len(lit) >= 2 && lit[0] == '`' && lit[len(lit)-1] == '`' {
		inner := strings.ReplaceAll(lit[1:len(lit)-1], "``", "`")
		q, err := QuoteNode(inner)
		if err != nil {
			return err
		}
		if q != lit && q != inner {
			return fmt.Errorf("node %s is not a well-formed backquoted name", lit)
		}
		return nil
	}
	if strings.Contains(lit, "`") {
		return fmt.Errorf("node %s mixes backquoted and plain text; backquote the whole node", lit)
	}
	q, err := QuoteNode(lit)
	if err != nil {
		return err
	}
	if strings.EqualFold(lit, "root") {
		return nil // legal as the first node; checked by the caller
	}
	if q != lit {
		return fmt.Errorf("node %q is not a legal unquoted node name; write it as %s", lit, q)
	}
	return nil
}

// fixedBeginning is the path of the literal nodes before the first node
// with a column (where a device template is set), each node in the form
// IoTDB stores it (docs/iotdb.md §4: `abc` is abc).
func fixedBeginning(nodes []templateNode) (string, error) {
	var out []string
	for _, n := range nodes {
		if n.literal == "" {
			break
		}
		lit := n.literal
		if len(lit) >= 2 && lit[0] == '`' && lit[len(lit)-1] == '`' {
			q, err := QuoteNode(strings.ReplaceAll(lit[1:len(lit)-1], "``", "`"))
			if err != nil {
				return "", err
			}
			lit = q
		}
		out = append(out, lit)
	}
	if len(out) < 2 {
		return "", fmt.Errorf("the device path has no fixed beginning below root to set the template on")
	}
	return strings.Join(out, "."), nil
}
