package config

import (
	"strings"
	"testing"
	"time"
)

// withCursor is minimal with a cursor on its table (lines 5..) and extra
// top-level keys after it.
func withCursor(cursor, extra string) string {
	return strings.Replace(minimal, "    - name: sensor_readings\n",
		"    - name: sensor_readings\n      cursor: "+cursor+"\n", 1) + extra
}

func TestSyncConfig(t *testing.T) {
	c := mustParse(t, withCursor(`{columns: [updated_at, created_at], lookback: 90s, zone: Europe/Berlin, nulls: COPY}`, `sync:
  state: /var/lib/bridge/sync.json
  page_rows: 500
  cron: "*/5 * * * *"
  listen: 127.0.0.1:9470
`))
	cu := c.MySQL.Tables[0].Cursor
	if cu == nil {
		t.Fatal("no cursor")
	}
	if strings.Join(cu.Columns, ",") != "updated_at,created_at" || cu.Zone != "Europe/Berlin" || cu.Nulls != CursorNullsCopy {
		t.Errorf("cursor %+v", cu)
	}
	if (cu.Lookback != Lookback{Set: true, Duration: 90 * time.Second}) {
		t.Errorf("lookback %+v", cu.Lookback)
	}
	want := Sync{State: "/var/lib/bridge/sync.json", Lookback: DefaultSyncLookback, PageRows: 500, Cron: "*/5 * * * *",
		Listen: "127.0.0.1:9470", ShutdownTimeout: DefaultShutdownTimeout}
	if c.Sync != want {
		t.Errorf("sync\ngot  %+v\nwant %+v", c.Sync, want)
	}

	// Integer sequence: a count; nulls default dirty; listen inherited.
	c = mustParse(t, withCursor(`{columns: [id], lookback: 1000}`, "metrics: {listen: 127.0.0.1:9999}\n"))
	cu = c.MySQL.Tables[0].Cursor
	if (cu.Lookback != Lookback{Set: true, Count: true, N: 1000}) || cu.Nulls != CursorNullsDirty {
		t.Errorf("cursor %+v", cu)
	}
	if c.Sync.Listen != "127.0.0.1:9999" {
		t.Errorf("sync.listen %q, want metrics.listen", c.Sync.Listen)
	}
	// "0" is written, and neither a count nor a positive duration.
	c = mustParse(t, withCursor(`{columns: [id], lookback: 0}`, ""))
	if cu := c.MySQL.Tables[0].Cursor; (cu.Lookback != Lookback{Set: true}) {
		t.Errorf("lookback 0: %+v", cu.Lookback)
	}
	// No cursor: nil (tables without one take windows and full runs only).
	if c := mustParse(t, minimal); c.MySQL.Tables[0].Cursor != nil {
		t.Errorf("cursor without a key: %+v", c.MySQL.Tables[0].Cursor)
	}
}

// Every mistake in the new keys is reported at its line, all at once,
// before anything connects.
func TestSyncConfigErrors(t *testing.T) {
	got := parseErr(t, withCursor(`{columns: [updated_at, UPDATED_AT, ""], lookback: -5m, unit: week, nulls: skip}`, `sync:
  page_rows: 0
  every: 1m
  cron: "61 * * * *"
`))
	want := []string{
		`test.yaml:6: mysql.tables[0].cursor.columns[1]: column "UPDATED_AT" is listed twice (also columns[0])`,
		`test.yaml:6: mysql.tables[0].cursor.columns[2]: required`,
		`test.yaml:6: mysql.tables[0].cursor.lookback: "-5m": must not be negative`,
		`test.yaml:6: mysql.tables[0].cursor.nulls: "skip" is not one of dirty, copy`,
		`test.yaml:6: mysql.tables[0].cursor.unit: "week" is not one of s, ms, us, ns`,
		`test.yaml:16: sync.page_rows: must be a positive number, got 0`,
		`test.yaml:18: sync.cron: "61 * * * *" is not a cron expression (5 fields: minute hour day-of-month month day-of-week, or @hourly, @every 10m, ...): end of range (61) above maximum (59): 61`,
		`test.yaml:18: sync.cron: every and cron exclude each other: give one`,
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	for _, c := range []struct{ cursor, extra, want string }{
		{`{columns: []}`, "", `test.yaml:6: mysql.tables[0].cursor.columns: at least one column is required (e.g. [updated_at] or [updated_at, created_at])`},
		{`{columns: [ts_ms], unit: ms, lookback: 100}`, "", `test.yaml:6: mysql.tables[0].cursor.lookback: an integer epoch cursor (unit: ms) takes a duration such as 5m, not a count`},
		{`{columns: [ts], zone: Mars/Base}`, "", `test.yaml:6: mysql.tables[0].cursor.zone: "Mars/Base" is not a known IANA time zone (e.g. UTC, Europe/Berlin)`},
		{`{columns: [ts], lookback: soon}`, "", `test.yaml:6: mysql.tables[0].cursor.lookback: "soon" is neither a duration such as 5m nor a count of values such as 1000`},
		{`{columns: [ts], colums: [x]}`, "", `test.yaml:6: mysql.tables[0].cursor.colums: unknown field (did you mean "columns"?)`},
		{`{columns: [ts]}`, "sync: {every: 0s}\n", `test.yaml:15: sync.every: must be a positive duration, got 0s (leave it out for one run per start)`},
		{`{columns: [ts]}`, "sync: {listen: nine}\n", `test.yaml:15: sync.listen: "nine" is not host:port`},
		{`{columns: [ts]}`, "sync: {state: ./dirty-rows.jsonl}\n", `test.yaml:15: sync.state: "./dirty-rows.jsonl" is also dirty_rows.file (the default): each state file needs its own path`},
	} {
		if got := parseErr(t, withCursor(c.cursor, c.extra)); got != c.want {
			t.Errorf("cursor %s %s:\ngot  %s\nwant %s", c.cursor, c.extra, got, c.want)
		}
	}
}
