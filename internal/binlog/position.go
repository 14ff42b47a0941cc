// Package binlog tails a MySQL or MariaDB binary log with go-mysql's
// replication.BinlogSyncer and hands row images and transaction boundaries to
// a Handler. It knows nothing about IoTDB: the caller decides what a row
// becomes and when a position may be saved (see docs/delivery.md §2).
//
// Positions. A Position names a place in the binlog by file and offset, and,
// when the stream runs in GTID mode, by the flavor's GTID set as well. Only
// the positions handed to Handler.OnCommit and Handler.OnHeartbeat are resume
// points; they always sit on a transaction boundary.
package binlog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Flavors understood by this package (go-mysql spells them the same way).
const (
	FlavorMySQL   = mysql.MySQLFlavor   // "mysql"
	FlavorMariaDB = mysql.MariaDBFlavor // "mariadb"
)

// Position is a place in the source's binary log.
//
// File and Pos are the binlog file name and the byte offset in it. GTID, when
// set, is the flavor's GTID set in its canonical text form: MariaDB
// "domain-server-seq" per domain ("0-1-42,1-2-7"), MySQL "uuid:interval[:...]"
// per source ("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"). A Position with a
// GTID is resumed by GTID (failover-safe); one without by file and offset.
type Position struct {
	File string `json:"file,omitempty"`
	Pos  uint32 `json:"pos,omitempty"`
	GTID string `json:"gtid,omitempty"`
}

// IsZero reports whether p names no position at all.
func (p Position) IsZero() bool { return p.File == "" && p.Pos == 0 && p.GTID == "" }

// String formats p as "file:pos", "file:pos gtid=SET" or "gtid=SET".
// ParsePosition reads it back.
func (p Position) String() string {
	var b strings.Builder
	if p.File != "" || p.Pos != 0 {
		b.WriteString(p.File)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(p.Pos), 10))
	}
	if p.GTID != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("gtid=")
		b.WriteString(p.GTID)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// ParsePosition reads the forms String writes: "mysql-bin.000003:154",
// "mysql-bin.000003:154 gtid=0-1-42" and "gtid=0-1-42". The GTID text is kept
// as given; use NormalizeGTID to validate it for a flavor.
func ParsePosition(s string) (Position, error) {
	s = strings.TrimSpace(s)
	var p Position
	if s == "" || s == "(none)" {
		return p, nil
	}
	filePart := s
	if i := strings.Index(s, "gtid="); i >= 0 {
		p.GTID = strings.TrimSpace(s[i+len("gtid="):])
		if p.GTID == "" {
			return Position{}, fmt.Errorf("binlog position %q: empty gtid", s)
		}
		filePart = strings.TrimSpace(s[:i])
	}
	if filePart == "" {
		return p, nil
	}
	i := strings.LastIndexByte(filePart, ':')
	if i <= 0 || i == len(filePart)-1 {
		return Position{}, fmt.Errorf("binlog position %q: want file:pos", s)
	}
	n, err := strconv.ParseUint(filePart[i+1:], 10, 32)
	if err != nil {
		return Position{}, fmt.Errorf("binlog position %q: offset: %w", s, err)
	}
	p.File, p.Pos = filePart[:i], uint32(n)
	return p, nil
}

// Compare orders two positions by file then offset (the GTID is not
// compared: sets from different servers have no order). It returns -1, 0 or
// 1. Files compare by their numeric extension, as the server names them.
func (p Position) Compare(o Position) int {
	if p.File != o.File && (!hasNumericExt(p.File) || !hasNumericExt(o.File)) {
		return strings.Compare(p.File, o.File)
	}
	return mysql.Position{Name: p.File, Pos: p.Pos}.Compare(mysql.Position{Name: o.File, Pos: o.Pos})
}

func hasNumericExt(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return false
	}
	_, err := strconv.ParseUint(name[i+1:], 10, 64)
	return err == nil
}

// ValidFlavor reports whether f is FlavorMySQL or FlavorMariaDB.
func ValidFlavor(f string) bool { return f == FlavorMySQL || f == FlavorMariaDB }

// ParseGTIDSet parses s as a GTID set of the given flavor. An empty s is an
// empty set.
func ParseGTIDSet(flavor, s string) (mysql.GTIDSet, error) {
	s = compactGTID(s)
	switch flavor {
	case FlavorMariaDB:
		set, err := mysql.ParseMariadbGTIDSet(s)
		if err != nil {
			return nil, fmt.Errorf("mariadb gtid set %q: %w", s, err)
		}
		return set, nil
	case FlavorMySQL:
		set, err := mysql.ParseMysqlGTIDSet(s)
		if err != nil {
			return nil, fmt.Errorf("mysql gtid set %q: %w", s, err)
		}
		return set, nil
	default:
		return nil, fmt.Errorf("gtid set %q: unknown flavor %q (want mysql or mariadb)", s, flavor)
	}
}

// NormalizeGTID parses s for the flavor and returns its canonical text
// (sorted, merged intervals, no whitespace).
func NormalizeGTID(flavor, s string) (string, error) {
	set, err := ParseGTIDSet(flavor, s)
	if err != nil {
		return "", err
	}
	return set.String(), nil
}

// GuessGTIDFlavor tells which flavor wrote a GTID set text: MySQL sets
// contain a server UUID and a colon, MariaDB sets are domain-server-seq
// triples. It returns "" when s is empty or neither.
func GuessGTIDFlavor(s string) string {
	s = compactGTID(s)
	switch {
	case s == "":
		return ""
	case strings.Contains(s, ":"):
		if _, err := mysql.ParseMysqlGTIDSet(s); err == nil {
			return FlavorMySQL
		}
	default:
		if _, err := mysql.ParseMariadbGTIDSet(s); err == nil {
			return FlavorMariaDB
		}
	}
	return ""
}

// compactGTID drops the whitespace MySQL puts after the commas of long sets
// (SHOW MASTER STATUS prints "uuid:1-5,\nuuid:1-3").
func compactGTID(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
}
