package binlog

import (
	"errors"
	"testing"
)

// A malformed GTID set's error keeps go-mysql's cause in the chain.
func TestParseGTIDSetKeepsTheCause(t *testing.T) {
	for _, c := range []struct{ flavor, set string }{{FlavorMariaDB, "0-1-x"}, {FlavorMySQL, "not-a-uuid:1-5"}} {
		_, err := ParseGTIDSet(c.flavor, c.set)
		if err == nil {
			t.Fatalf("%s %q parsed", c.flavor, c.set)
		}
		if errors.Unwrap(err) == nil {
			t.Errorf("%s %q: %v: the cause is not in the chain", c.flavor, c.set, err)
		}
	}
}

// A stream started by file and offset tracks GTIDs on MariaDB (its GTID
// position is the last GTID per domain, exact from any start) and not on
// MySQL (its set is every transaction ever executed, unknown from a file
// offset alone).
func TestGTIDTrackingByFlavor(t *testing.T) {
	from := Position{File: "binlog.000003", Pos: 4}
	pm, err := newProcessor(Config{Flavor: FlavorMariaDB}, from, nil)
	if err != nil || pm.gset == nil || pm.gset.String() != "" {
		t.Fatalf("mariadb: set %v, err %v: want an empty tracked set", pm.gset, err)
	}
	py, err := newProcessor(Config{Flavor: FlavorMySQL}, from, nil)
	if err != nil || py.gset != nil {
		t.Fatalf("mysql: set %v, err %v: want no tracked set", py.gset, err)
	}
	py, err = newProcessor(Config{Flavor: FlavorMySQL}, Position{GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}, nil)
	if err != nil || py.gset == nil || py.gset.String() != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5" {
		t.Fatalf("mysql with a set: %v, %v", py.gset, err)
	}
}

// The production syncer renders MySQL 8's binary JSON as MySQL's own text,
// as backfill reads it, so cdc does not overwrite backfill's JSON with a
// differently formatted string.
func TestSyncerRendersJSONAsMySQLText(t *testing.T) {
	s := New(Config{Flavor: FlavorMySQL, User: "u", ServerID: 1})
	if !s.syncerConfig().RenderJSONAsMySQLText {
		t.Fatal("RenderJSONAsMySQLText is off in the production syncer config")
	}
}
