package mapping

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// QuoteNode returns s as one IoTDB tree-model path node (IOTDB.md section 4):
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
	var b strings.Builder
	if err := appendNode(&b, s); err != nil {
		return "", err
	}
	return b.String(), nil
}

// appendNode writes s quoted as one node (see QuoteNode) to b.
func appendNode(b *strings.Builder, s string) error {
	if s == "" {
		return errors.New("empty path node")
	}
	plain := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("path node %q is not valid UTF-8", s)
		}
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("path node %q contains control character %U", s, r)
		}
		if !identRune(r) {
			plain = false
		}
		i += size
	}
	if plain && !isRealNumber(s) && !reservedNode(s) {
		b.WriteString(s)
		return nil
	}
	b.Grow(len(s) + 2)
	b.WriteByte('`')
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			b.WriteByte('`')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('`')
	return nil
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
// "root.factory.${site}.`line-1`.pump_${device_id}" into nodes. Nodes are
// separated by dots outside backquotes and ${...}. A node made only of
// literal text must already be a legal node (unquoted identifier or a
// backquoted name); a node with a ${column} reference is rendered from the
// row and quoted as one node, so dots inside values never split it.
func parseTemplate(tpl string) ([]templateNode, error) {
	if tpl == "" {
		return nil, errors.New("device template is empty")
	}
	var nodes []templateNode
	var cur []nodePiece
	var text strings.Builder
	raw := strings.Builder{} // the literal node as written, for literal-only nodes
	flushText := func() {
		if text.Len() > 0 {
			cur = append(cur, nodePiece{text: text.String()})
			text.Reset()
		}
	}
	endNode := func(pos int) error {
		flushText()
		if len(cur) == 0 && raw.Len() == 0 {
			return fmt.Errorf("device template %q: empty node at offset %d", tpl, pos)
		}
		hasCol := false
		for _, p := range cur {
			if p.col != "" {
				hasCol = true
			}
		}
		if hasCol {
			nodes = append(nodes, templateNode{pieces: cur})
		} else {
			lit := raw.String()
			if err := checkLiteralNode(lit); err != nil {
				return fmt.Errorf("device template %q: %w", tpl, err)
			}
			nodes = append(nodes, templateNode{literal: lit})
		}
		cur = nil
		raw.Reset()
		return nil
	}
	for i := 0; i < len(tpl); {
		c := tpl[i]
		switch {
		case c == '.':
			if err := endNode(i); err != nil {
				return nil, err
			}
			i++
		case c == '`':
			// Backquoted literal: runs to the closing backquote that is not doubled.
			j := i + 1
			var inner strings.Builder
			closed := false
			for j < len(tpl) {
				if tpl[j] == '`' {
					if j+1 < len(tpl) && tpl[j+1] == '`' {
						inner.WriteByte('`')
						j += 2
						continue
					}
					closed = true
					break
				}
				inner.WriteByte(tpl[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("device template %q: unclosed backquote at offset %d", tpl, i)
			}
			raw.WriteString(tpl[i : j+1])
			text.WriteString(inner.String())
			i = j + 1
		case c == '$':
			if i+1 >= len(tpl) || tpl[i+1] != '{' {
				return nil, fmt.Errorf("device template %q: '$' at offset %d must start ${column}", tpl, i)
			}
			end := strings.IndexByte(tpl[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("device template %q: unclosed ${ at offset %d", tpl, i)
			}
			name := strings.TrimSpace(tpl[i+2 : i+2+end])
			if name == "" {
				return nil, fmt.Errorf("device template %q: empty ${} at offset %d", tpl, i)
			}
			flushText()
			cur = append(cur, nodePiece{col: name})
			raw.WriteString(tpl[i : i+3+end])
			i += 3 + end
		default:
			raw.WriteByte(c)
			text.WriteByte(c)
			i++
		}
	}
	if err := endNode(len(tpl)); err != nil {
		return nil, err
	}
	if nodes[0].literal != "root" {
		return nil, fmt.Errorf("device template %q must start with the literal node root", tpl)
	}
	if len(nodes) < 2 {
		return nil, fmt.Errorf("device template %q needs at least one node below root", tpl)
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
