package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Start modes (Start.Mode).
const (
	StartInitial   = "initial"   // snapshot the mapped tables, then stream from the position taken before it
	StartLatest    = "latest"    // stream from the server's current position
	StartEarliest  = "earliest"  // stream from the oldest binlog the server still has
	StartPosition  = "position"  // stream from File:Pos
	StartGTID      = "gtid"      // stream after the GTID set
	StartTimestamp = "timestamp" // stream from the first event at or after Timestamp
	StartBackfill  = "backfill"  // stream from the position a finished backfill recorded before it planned (backfill.state)
)

// minBinlogPos is the first event offset in a binlog file (after its 4-byte magic).
const minBinlogPos = 4

// startError carries the line of the offending node so the loader can name it.
type startError struct {
	line int
	msg  string
}

func (e *startError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// UnmarshalYAML accepts a scalar mode (initial | latest | earliest |
// backfill) or a
// map with exactly one of {file, pos} (pos defaults to 4, the first event),
// {gtid} or {timestamp} (RFC 3339).
func (s *Start) UnmarshalYAML(n *yaml.Node) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	*s = Start{}
	switch n.Kind {
	case yaml.ScalarNode:
		mode := strings.ToLower(strings.TrimSpace(n.Value))
		switch mode {
		case StartInitial, StartLatest, StartEarliest, StartBackfill:
			s.Mode = mode
			return nil
		case "":
			return nil // null or empty: the default applies
		}
		return &startError{n.Line, fmt.Sprintf("%q is not one of initial, latest, earliest, backfill, {file, pos}, {gtid}, {timestamp}", n.Value)}
	case yaml.MappingNode:
	default:
		return &startError{n.Line, "expected initial, latest, earliest, backfill or a map {file, pos} | {gtid} | {timestamp}"}
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if first, dup := seen[k.Value]; dup {
			return &startError{k.Line, fmt.Sprintf("duplicate key %q (first at line %d)", k.Value, first.Line)}
		}
		if v.Kind != yaml.ScalarNode {
			return &startError{v.Line, fmt.Sprintf("%s: expected a scalar", k.Value)}
		}
		seen[k.Value] = k
		switch k.Value {
		case "file":
			s.File = v.Value
		case "pos":
			p, err := strconv.ParseUint(v.Value, 10, 32)
			if err != nil {
				return &startError{v.Line, fmt.Sprintf("pos: %q is not a binlog offset (an integer >= 4)", v.Value)}
			}
			if p < minBinlogPos {
				return &startError{v.Line, fmt.Sprintf("pos: %d is before the first event of a binlog file (4)", p)}
			}
			s.Pos = uint32(p)
		case "gtid":
			s.GTID = strings.TrimSpace(v.Value)
		case "timestamp":
			ts, err := time.Parse(time.RFC3339Nano, v.Value)
			if err != nil {
				return &startError{v.Line, fmt.Sprintf("timestamp: %q is not an RFC 3339 time like 2024-05-01T00:00:00Z", v.Value)}
			}
			s.Timestamp = ts
		default:
			return &startError{k.Line, fmt.Sprintf("unknown key %q (want file and pos, or gtid, or timestamp)", k.Value)}
		}
	}
	var keys []string
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch set := strings.Join(keys, ","); set {
	case "file", "file,pos":
		if s.File == "" {
			return &startError{seen["file"].Line, "file: empty binlog file name"}
		}
		if s.Pos == 0 {
			s.Pos = minBinlogPos
		}
		s.Mode = StartPosition
	case "pos":
		return &startError{n.Line, "pos needs file (the binlog file it is an offset in)"}
	case "gtid":
		if s.GTID == "" {
			return &startError{seen["gtid"].Line, "gtid: empty GTID set"}
		}
		s.Mode = StartGTID
	case "timestamp":
		s.Mode = StartTimestamp
	case "":
		return &startError{n.Line, "empty map: give {file, pos}, {gtid} or {timestamp}"}
	default:
		return &startError{n.Line, fmt.Sprintf("%s cannot be combined: give {file, pos}, {gtid} or {timestamp}", strings.ReplaceAll(set, ",", ", "))}
	}
	return nil
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (s Start) MarshalYAML() (any, error) {
	switch s.Mode {
	case StartPosition:
		return map[string]any{"file": s.File, "pos": s.Pos}, nil
	case StartGTID:
		return map[string]any{"gtid": s.GTID}, nil
	case StartTimestamp:
		return map[string]any{"timestamp": s.Timestamp.Format(time.RFC3339Nano)}, nil
	}
	return s.Mode, nil
}

// String is a short form for logs: "initial", "mysql-bin.000003:4",
// "gtid 3E11FA47-...:1-5", "timestamp 2024-05-01T00:00:00Z".
func (s Start) String() string {
	switch s.Mode {
	case StartPosition:
		return fmt.Sprintf("%s:%d", s.File, s.Pos)
	case StartGTID:
		return "gtid " + s.GTID
	case StartTimestamp:
		return "timestamp " + s.Timestamp.Format(time.RFC3339Nano)
	}
	return s.Mode
}
