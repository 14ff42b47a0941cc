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
