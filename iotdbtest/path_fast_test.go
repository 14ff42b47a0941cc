package iotdbtest

import (
	"reflect"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

// legalUnquoted is a hand-written form of identRe && !realNumRe; this
// checks both agree on names that probe every branch.
func TestLegalUnquotedMatchesRegexp(t *testing.T) {
	names := []string{"", "a", "abc", "_", "a1", "1a", "1", "007", "1e3", "1E3", "1e", "e3", "1e3a", "12e34",
		"1.0", "-1", "+23e-3", "a-b", "a.b", "a b", "pump_7", "温度", "温度1", "1温度", "ab`c", "\u2E80", "\u2E7F", "\u9FFF", "\uA000",
		"dev0000001", "site01", "e", "E", "1ee3", "0e0"}
	for _, n := range names {
		want := n != "" && identRe.MatchString(n) && !realNumRe.MatchString(n)
		if got := legalUnquoted(n); got != want {
			t.Errorf("legalUnquoted(%q) = %v, the regexps say %v", n, got, want)
		}
	}
}

// The path index narrows pattern matches to the devices under the
// pattern's literal beginning; the answers must be those of a full scan.
func TestPatternsThroughIndex(t *testing.T) {
	srv := Start(t, Options{})
	s := openTree(t, srv)
	for _, p := range []string{"root.a.b.v", "root.a.b.c.v", "root.a.b.c.w", "root.a.x.v", "root.z.b.v", "root.a.`b-1`.v"} {
		i := len(p) - 1
		for p[i] != '.' {
			i--
		}
		must(t, s.InsertRecord(p[:i], []string{p[i+1:]}, []client.TSDataType{client.INT32}, []any{int32(1)}, 1))
	}
	for pat, want := range map[string][]any{
		"root.a.b.*":      {"root.a.b.v"},
		"root.a.b.v":      {"root.a.b.v"},
		"root.a.b.c.*":    {"root.a.b.c.v", "root.a.b.c.w"},
		"root.a.b.**":     {"root.a.b.c.v", "root.a.b.c.w", "root.a.b.v"},
		"root.a.*.v":      {"root.a.`b-1`.v", "root.a.b.v", "root.a.x.v"},
		"root.*.b.v":      {"root.a.b.v", "root.z.b.v"},
		"root.**.v":       {"root.a.`b-1`.v", "root.a.b.c.v", "root.a.b.v", "root.a.x.v", "root.z.b.v"},
		"root.a.`b-1`.*":  {"root.a.`b-1`.v"},
		"root.nothing.**": nil,
	} {
		_, rows := query(t, s, "SHOW TIMESERIES "+pat)
		var got []any
		for _, r := range rows {
			got = append(got, r[0])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SHOW TIMESERIES %s = %v, want %v", pat, got, want)
		}
	}
	_, rows := query(t, s, "SHOW DEVICES root.a.b.**")
	if len(rows) != 1 || rows[0][0] != "root.a.b.c" {
		t.Errorf("SHOW DEVICES root.a.b.** = %v", rows)
	}
	_, rows = query(t, s, "SHOW DEVICES root.a.b")
	if len(rows) != 1 || rows[0][0] != "root.a.b" {
		t.Errorf("SHOW DEVICES root.a.b = %v", rows)
	}
}
