package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// String renders the position as "file:line", or just "file" when the line is unknown.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Problem is one thing wrong with a configuration: where, which field, and what.
type Problem struct {
	Pos  Pos    // file and line of the offending value (or of its nearest enclosing node)
	Path string // field path, e.g. "iotdb.mappings[1].time.unit"; empty for file-level problems
	Msg  string // what is wrong; never contains a password
}

// Error formats the problem as "file:line: path: message".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Pos.String())
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in a configuration, sorted by file and line.
// Load and Parse return it (as error) when decoding or validation fails, so
// an operator sees all mistakes at once rather than one per run.
type Error struct {
	Problems []Problem
}

// Error joins the problems, one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives the problems to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// problems collects Problems while loading. files orders the files (the main
// file first, then mapping files by name) so the sort is stable and readable.
type problems struct {
	list  []Problem
	files map[string]int
}

func (ps *problems) addf(pos Pos, path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) fileRank(name string) int {
	if r, ok := ps.files[name]; ok {
		return r
	}
	if ps.files == nil {
		ps.files = map[string]int{}
	}
	ps.files[name] = len(ps.files)
	return ps.files[name]
}

// err returns nil when there is nothing to report, else an *Error sorted by
// file, line and path, with exact duplicates removed.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	for _, p := range ps.list {
		ps.fileRank(p.Pos.File)
	}
	sort.SliceStable(ps.list, func(i, j int) bool {
		a, b := ps.list[i], ps.list[j]
		if ra, rb := ps.files[a.Pos.File], ps.files[b.Pos.File]; ra != rb {
			return ra < rb
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Path < b.Path
	})
	out := ps.list[:0:0]
	for i, p := range ps.list {
		if i > 0 && p == ps.list[i-1] {
			continue
		}
		out = append(out, p)
	}
	return &Error{Problems: out}
}
