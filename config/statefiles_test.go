package config

import (
	"strings"
	"testing"
)

// Two state files on one path would overwrite each other: refused at load,
// naming both keys' positions.
func TestStateFilesMustDiffer(t *testing.T) {
	cases := []struct {
		name, extra string
		want        []string
	}{
		{"backfill state is the checkpoint", `backfill: {state: ./state.json}
cdc:
  checkpoint: {path: state.json}
`, []string{`test.yaml:14: backfill.state: "./state.json" is also cdc.checkpoint.path (test.yaml:16): each state file needs its own path`}},
		{"dirty rows is the checkpoint", `cdc:
  checkpoint: {path: /var/lib/bridge/x.json}
dirty_rows: {file: /var/lib/bridge/../bridge/x.json}
`, []string{`test.yaml:16: dirty_rows.file: "/var/lib/bridge/../bridge/x.json" is also cdc.checkpoint.path (test.yaml:15): each state file needs its own path`}},
		{"backfill state is the snapshot state", `cdc:
  checkpoint: {path: /s/ck.json}
backfill: {state: /s/ck.json.snapshot.json}
`, []string{`test.yaml:16: backfill.state: "/s/ck.json.snapshot.json" is also the snapshot state of cdc.checkpoint.path (test.yaml:15): each state file needs its own path`}},
		{"checkpoint is the default backfill state", `cdc:
  checkpoint: {path: ./backfill.state.json}
`, []string{`test.yaml:15: cdc.checkpoint.path: "./backfill.state.json" is also backfill.state (the default): each state file needs its own path`}},
		{"dirty rows is the backfill state", `backfill: {state: /s/a}
dirty_rows: {file: /s/a}
`, []string{`test.yaml:15: dirty_rows.file: "/s/a" is also backfill.state (test.yaml:14): each state file needs its own path`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Split(parseErr(t, minimal+c.extra), "\n")
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	// Distinct files (the defaults, or the usual layout) load.
	mustParse(t, minimal)
	mustParse(t, minimal+`backfill: {state: /s/backfill.json}
cdc:
  checkpoint: {path: /s/cdc.json}
dirty_rows: {file: /s/dirty.jsonl}
`)
}
