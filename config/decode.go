package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns yaml.Nodes into the config structs. It is strict in the way
// yaml.Decoder.KnownFields(true) is (an unknown key is an error), but it works
// on nodes, which yaml.v3 cannot do strictly (Node.Decode has no KnownFields),
// and it does more: it keeps going after a problem so all are reported at
// once, names each problem by field path and line, rejects duplicate keys,
// records where every field was found (for later messages and for defaults
// that depend on presence), sets the Pos of tables, mappings and
// measurements, and expands ${VAR} in scalar values. Leaf values are still
// decoded by yaml.v3 (Node.Decode), so scalars resolve exactly as yaml.v3 does.
type decoder struct {
	file   string // the file being decoded, for positions
	ps     *problems
	seen   map[string]Pos  // field path -> position of its value node
	bad    map[string]bool // field paths that failed to decode (validation skips them)
	lookup func(string) (string, bool)

	noMappings bool // LoadForDiscovery: a missing mappings_dir is an empty one
}

var (
	posType         = reflect.TypeFor[Pos]()
	mappingType     = reflect.TypeFor[Mapping]()
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// noExpand reports fields whose "${...}" is not an environment variable: a
// device template's placeholders name columns.
func noExpand(t reflect.Type, field string) bool {
	return t == mappingType && field == "Device"
}

func (d *decoder) problem(line int, path, format string, args ...any) {
	d.ps.addf(Pos{File: d.file, Line: line}, path, format, args...)
	if path != "" {
		d.bad[path] = true
	}
}

func childPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlLineRE matches yaml.v3's syntax errors: "yaml: line 3: mapping values are not allowed ...".
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data as exactly one YAML document and returns its
// root content node, or nil when the file is empty or broken (the problem is
// recorded).
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.problem(0, "", "the file is empty")
			return nil
		}
		d.syntaxProblem(data, err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxProblem(data, err)
		return nil
	default:
		d.problem(next.Line, "", "a second YAML document (after ---): a file holds one document")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.problem(0, "", "the file is empty")
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) syntaxProblem(data []byte, err error) {
	msg := err.Error()
	m := yamlLineRE.FindStringSubmatch(msg)
	if m == nil {
		d.problem(0, "", "YAML syntax error: %s", strings.TrimPrefix(msg, "yaml: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	d.problem(problemLine(data, line, m[2]), "", "YAML syntax error: %s", m[2])
}

// problemLine finds the line a syntax error is on. yaml.v3 reports the line
// where the enclosing block starts (often line 1), not the offending line; so
// parse ever longer prefixes of the file, starting there, and take the first
// one that fails with the same message. Only runs on broken files.
func problemLine(data []byte, reported int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	for k := max(reported, 1); k <= len(lines); k++ {
		var n yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		if err == nil {
			continue
		}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
			return k
		}
	}
	return reported
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// nullWord is the value a nullIsWord field takes from an unquoted YAML null.
const nullWord = "null"

// nullIsWord reports the string fields whose allowed values include the
// word null (zero_date: dirty | null). YAML reads an unquoted null or ~ as
// a null, which every other field takes as "not set"; these fields take it
// as the word, so that the spelling the example file shows means what it
// says. A new key with null among its values belongs here
// (TestExampleNullKeys checks config.example.yaml against this list).
func nullIsWord(t reflect.Type, field string) bool {
	return t == mappingType && field == "ZeroDate"
}

// isNullWord reports a YAML null written as a word: null, Null, NULL or ~
// (with or without an explicit !!null tag). An empty value is not one: it
// stays "not set", as for every other key.
func isNullWord(n *yaml.Node) bool {
	if !isNull(n) {
		return false
	}
	switch n.Value {
	case "null", "Null", "NULL", "~":
		return true
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// decode fills v from n. path is the field path of v; expand says whether
// ${VAR} in scalars is expanded.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, expand bool) {
	n = deref(n)
	d.seen[path] = Pos{File: d.file, Line: n.Line}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if expand {
			n = d.expandTree(n, path)
			if n == nil {
				return
			}
		}
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			var se *startError
			if errors.As(err, &se) {
				d.problem(se.line, path, "%s", se.msg)
			} else {
				d.problem(n.Line, path, "%v", err)
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.problem(n.Line, path, "expected a list, got %s", kindName(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, out.Index(i), fmt.Sprintf("%s[%d]", path, i), expand)
		}
		v.Set(out)
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path, expand)
		v.Set(p)
	default:
		d.decodeScalar(n, v, path, expand)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if isNull(n) {
		return
	}
	fields := yamlFields(t)
	if n.Kind != yaml.MappingNode {
		d.problem(n.Line, path, "expected a map with keys %s; got %s", strings.Join(fieldNames(fields), ", "), kindName(n))
		return
	}
	if f, ok := t.FieldByName("Pos"); ok && f.Type == posType {
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(Pos{File: d.file, Line: n.Line}))
	}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(k.Line, path, "a key must be a plain name, got %s", kindName(k))
			continue
		}
		kp := childPath(path, k.Value)
		if k.ShortTag() == "!!merge" {
			d.problem(k.Line, kp, "merge keys (<<) are not supported: write the keys out")
			d.bad[path] = true // what the merge would have set is not missing
			continue
		}
		if first, dup := keyLine[k.Value]; dup {
			d.problem(k.Line, kp, "duplicate key (first at line %d)", first)
			continue
		}
		keyLine[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.problem(k.Line, kp, "unknown field%s", suggest(k.Value, fieldNames(fields)))
			continue
		}
		sf := t.Field(idx)
		if nullIsWord(t, sf.Name) && isNullWord(deref(val)) {
			// "zero_date: null" unquoted: the documented value, not "not set".
			d.seen[kp] = Pos{File: d.file, Line: deref(val).Line}
			v.Field(idx).SetString(nullWord)
			continue
		}
		d.decode(val, v.Field(idx), kp, !noExpand(t, sf.Name))
	}
}

// decodeScalar decodes one leaf with yaml.v3 after expanding ${VAR}.
func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string, expand bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n.Line, path, "expected %s, got %s", leafName(v.Type()), kindName(n))
		return
	}
	node := n
	if expand {
		val, err := expandEnv(n.Value, d.lookup)
		if err != nil {
			d.problem(n.Line, path, "%v", err)
			return
		}
		if val != n.Value {
			// The expanded text is a fresh value: a string field takes it as
			// it is ("null", "true", "0123" stay strings); other fields let
			// yaml.v3 resolve it as if it had been written plainly.
			node = &yaml.Node{Kind: yaml.ScalarNode, Value: val, Line: n.Line, Column: n.Column}
			if v.Kind() == reflect.String {
				node.Tag = "!!str"
			}
		}
	}
	if v.Type() == durationType && node.Value == "0" {
		v.SetInt(0) // yaml.v3 wants a unit, but 0 needs none
		return
	}
	if err := node.Decode(v.Addr().Interface()); err != nil {
		// Quote the text as written, not as expanded: an expanded value may
		// be a secret that landed in the wrong field.
		d.problem(n.Line, path, "expected %s, got %q", leafName(v.Type()), n.Value)
	}
}

// expandTree returns a copy of n with ${VAR} expanded in every scalar value
// (map keys are left alone), or nil after recording a problem.
func (d *decoder) expandTree(n *yaml.Node, path string) *yaml.Node {
	n = deref(n)
	c := *n
	switch n.Kind {
	case yaml.ScalarNode:
		val, err := expandEnv(n.Value, d.lookup)
		if err != nil {
			d.problem(n.Line, path, "%v", err)
			return nil
		}
		if val != n.Value {
			c.Value, c.Tag, c.Style = val, "", 0
		}
	case yaml.MappingNode, yaml.SequenceNode:
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, child := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				c.Content[i] = child
				continue
			}
			if c.Content[i] = d.expandTree(child, path); c.Content[i] == nil {
				return nil
			}
		}
	}
	return &c
}

func leafName(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 200ms, 1s or 5m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	}
	return t.String()
}

// yamlFields maps yaml key -> field index for the tagged fields of t.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag, ok := t.Field(i).Tag.Lookup("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if !ok || name == "-" || name == "" {
			continue
		}
		out[name] = i
	}
	return out
}

func fieldNames(fields map[string]int) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return fields[names[i]] < fields[names[j]] })
	return names
}

// suggest returns ` (did you mean "x"?)` for the closest known name, or the
// list of known names.
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, got) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		if dist := EditDistance(strings.ToLower(got), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return "; known fields: " + strings.Join(known, ", ")
}

// EditDistance is the Levenshtein distance of a and b (bytes): how the
// "did you mean" hints pick the closest name.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
