package main

import "testing"

// The sync suite's phases belong to --suite sync (and all), no other.
func TestSyncSuiteWants(t *testing.T) {
	for _, c := range []struct {
		suite string
		want  bool
	}{{"sync", true}, {"all", true}, {"backfill", false}, {"cdc", false}} {
		o, err := parseFlags([]string{"--suite", c.suite})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range syncPhaseNames() {
			if got := o.wants(p); got != c.want {
				t.Errorf("--suite %s: wants(%s) = %v", c.suite, p, got)
			}
		}
	}
	if _, err := parseFlags([]string{"--suite", "sync", "--only", "sync-idle"}); err != nil {
		t.Errorf("--only sync-idle: %v", err)
	}
	if _, err := parseFlags([]string{"--sync-changed", "0"}); err == nil {
		t.Error("--sync-changed 0 accepted")
	}
}
