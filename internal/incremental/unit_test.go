package incremental

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

func schemaOf(cols ...mapping.Column) *mapping.TableSchema {
	return &mapping.TableSchema{Database: "db", Name: "t", Columns: cols, PrimaryKey: []string{"id"}}
}

var (
	colID   = mapping.Column{Name: "id", DataType: "bigint"}
	colUpd  = mapping.Column{Name: "upd", DataType: "datetime", Nullable: true}
	colCre  = mapping.Column{Name: "cre", DataType: "datetime"}
	colTS   = mapping.Column{Name: "ts", DataType: "timestamp"}
	colDay  = mapping.Column{Name: "day", DataType: "date"}
	colSeq  = mapping.Column{Name: "seq", DataType: "bigint", Unsigned: true}
	colName = mapping.Column{Name: "name", DataType: "varchar"}
)

func cursorOf(t *testing.T, cu config.Cursor, cols ...mapping.Column) (*Cursor, error) {
	t.Helper()
	return NewCursor(config.Table{Name: "t", Cursor: &cu}, schemaOf(append([]mapping.Column{colID}, cols...)...), 5*time.Minute, "c.yaml:3")
}

// Compiling a cursor: kinds, lookbacks and every refusal names the place.
func TestNewCursor(t *testing.T) {
	c, err := cursorOf(t, config.Cursor{Columns: []string{"UPD", "cre"}, Zone: "Europe/Berlin"}, colUpd, colCre)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Def.Columns, ",") != "upd,cre" || c.Span != 5*time.Minute || c.Nullable || !c.IsTime() || c.Lanes[1].Zone.String() != "Europe/Berlin" {
		t.Errorf("cursor %+v", c)
	}
	if c, err := cursorOf(t, config.Cursor{Columns: []string{"upd"}}, colUpd); err != nil || !c.Nullable {
		t.Errorf("a single nullable column: nullable %v, %v", c != nil && c.Nullable, err)
	}
	if c, _ := cursorOf(t, config.Cursor{Columns: []string{"ts"}, Zone: "Asia/Tokyo"}, colTS); c.Lanes[0].Zone != time.UTC {
		t.Errorf("a TIMESTAMP lane is read in UTC whatever cursor.zone says, got %s", c.Lanes[0].Zone)
	}
	if c, _ := cursorOf(t, config.Cursor{Columns: []string{"seq"}, Lookback: config.Lookback{Set: true, Count: true, N: 50}}, colSeq); c.Count != 50 || c.IsTime() {
		t.Errorf("sequence %+v", c)
	}
	for _, x := range []struct {
		cu   config.Cursor
		cols []mapping.Column
		want string
	}{
		{config.Cursor{Columns: []string{"nope"}}, nil, `c.yaml:3: table t: cursor column "nope" does not exist in db.t`},
		{config.Cursor{Columns: []string{"name"}}, []mapping.Column{colName}, "cursor column name is"},
		{config.Cursor{Columns: []string{"upd", "seq"}}, []mapping.Column{colUpd, colSeq}, "cursor columns mix date/time and integer columns"},
		{config.Cursor{Columns: []string{"seq"}}, []mapping.Column{colSeq}, "is an integer sequence: set cursor.lookback"},
		{config.Cursor{Columns: []string{"seq"}, Lookback: config.Lookback{Set: true, Duration: time.Minute}}, []mapping.Column{colSeq}, "is a duration, but seq is an integer sequence"},
		{config.Cursor{Columns: []string{"upd"}, Lookback: config.Lookback{Set: true, Count: true, N: 3}}, []mapping.Column{colUpd}, "a time cursor takes a duration"},
		{config.Cursor{Columns: []string{"upd"}, Unit: "ms"}, []mapping.Column{colUpd}, "cursor.unit is for integer epoch cursors"},
	} {
		_, err := cursorOf(t, x.cu, x.cols...)
		if err == nil || !strings.Contains(err.Error(), x.want) || !strings.HasPrefix(err.Error(), "c.yaml:3: ") {
			t.Errorf("%+v: got %v, want an error at c.yaml:3 with %q", x.cu, err, x.want)
		}
	}
	noKey := schemaOf(colID, colUpd)
	noKey.PrimaryKey = nil
	if _, err := NewCursor(config.Table{Name: "t", Cursor: &config.Cursor{Columns: []string{"upd"}}}, noKey, 0, "c.yaml:3"); err == nil || !strings.Contains(err.Error(), "needs a primary key") {
		t.Errorf("no primary key: %v", err)
	}
}

// The lower bound of a run: the mark minus the lookback, as instants in
// the lane's zone (a DST change is an hour of wall clock, not of lookback),
// dates as the day holding that instant, integers clamped to their type.
func TestLookback(t *testing.T) {
	v := func(k backfill.Kind, s string) backfill.Value { return backfill.Value{Kind: k, Text: s} }
	cases := []struct {
		cu    config.Cursor
		col   mapping.Column
		mark  backfill.Value
		want  string
		about string
	}{
		{config.Cursor{Columns: []string{"upd"}}, colUpd, v(backfill.KindTime, "2024-05-01 10:00:00.5"), "2024-05-01 09:55:00.5", "5m default"},
		{config.Cursor{Columns: []string{"upd"}, Zone: "Europe/Berlin", Lookback: config.Lookback{Set: true, Duration: time.Hour}}, colUpd,
			v(backfill.KindTime, "2024-03-31 03:30:00"), "2024-03-31 01:30:00", "an hour back across the spring-forward gap is two hours of wall clock"},
		{config.Cursor{Columns: []string{"day"}}, colDay, v(backfill.KindDate, "2024-05-01"), "2024-04-30", "5m before midnight is the day before"},
		{config.Cursor{Columns: []string{"seq"}, Lookback: config.Lookback{Set: true, Count: true, N: 1000}}, colSeq, v(backfill.KindUint, "400"), "0", "unsigned: not below 0"},
		{config.Cursor{Columns: []string{"seq"}, Lookback: config.Lookback{Set: true}}, colSeq, v(backfill.KindUint, "400"), "400", "0: the mark itself"},
		{config.Cursor{Columns: []string{"id"}, Lookback: config.Lookback{Set: true, Count: true, N: 10}}, colID, v(backfill.KindInt, "-9223372036854775800"), "-9223372036854775808", "signed: not below the minimum"},
		{config.Cursor{Columns: []string{"id"}, Unit: "ms", Lookback: config.Lookback{Set: true, Duration: 1500 * time.Microsecond}}, colID, v(backfill.KindInt, "1000"), "998", "an epoch in ms: 1.5ms rounds up to 2"},
		{config.Cursor{Columns: []string{"upd"}, Lookback: config.Lookback{Set: true, Duration: 200 * time.Hour * 24 * 365}}, colUpd, v(backfill.KindTime, "1100-01-01 00:00:00"), "1000-01-01 00:00:00", "not below DATETIME's first value"},
	}
	for _, c := range cases {
		cur, err := cursorOf(t, c.cu, c.col)
		if err != nil && c.col.Name != "id" {
			t.Fatalf("%s: %v", c.about, err)
		}
		if c.col.Name == "id" { // the primary key itself as the cursor
			cur, err = NewCursor(config.Table{Name: "t", Cursor: &c.cu}, schemaOf(colID), 5*time.Minute, "x")
			if err != nil {
				t.Fatalf("%s: %v", c.about, err)
			}
		}
		got, err := cur.Lookback(cur.Lanes[0], c.mark)
		if err != nil || got.Text != c.want {
			t.Errorf("%s: Lookback(%s) = %q, %v; want %q", c.about, c.mark, got.Text, err, c.want)
		}
	}
}

func TestInstantAndCompare(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	l := Lane{Column: backfill.KeyColumn{Kind: backfill.KindTime}, Zone: berlin}
	got, err := l.Instant(backfill.Value{Kind: backfill.KindTime, Text: "2024-01-01 01:00:00.25"})
	if err != nil || !got.Equal(time.Date(2024, 1, 1, 0, 0, 0, 250e6, time.UTC)) {
		t.Errorf("Instant in Berlin: %v %v", got, err)
	}
	ep := Lane{Column: backfill.KeyColumn{Kind: backfill.KindInt}, Unit: time.Millisecond}
	if got, _ := ep.Instant(backfill.Value{Kind: backfill.KindInt, Text: "1700000000123"}); !got.Equal(time.UnixMilli(1700000000123)) {
		t.Errorf("epoch ms: %v", got)
	}
	if _, err := (Lane{Column: backfill.KeyColumn{Kind: backfill.KindInt}}).Instant(backfill.Value{Kind: backfill.KindInt, Text: "5"}); err == nil {
		t.Error("a sequence has no instant")
	}
	tv := func(s string) backfill.Value { return backfill.Value{Kind: backfill.KindTime, Text: s} }
	iv := func(s string) backfill.Value { return backfill.Value{Kind: backfill.KindInt, Text: s} }
	for _, c := range []struct {
		a, b backfill.Value
		want int
	}{
		{tv("2024-01-01 00:00:00"), tv("2024-01-01 00:00:00.5"), -1},
		{tv("2024-01-01 00:00:00.5"), tv("2024-01-01 00:00:00.25"), 1},
		{iv("9"), iv("10"), -1},
		{iv("-3"), iv("-20"), 1},
	} {
		if got := compare(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestDiffDefinitions(t *testing.T) {
	a := Definition{Columns: []string{"upd"}, Kinds: []backfill.Kind{backfill.KindTime}, Key: []string{"id"}}
	b := Definition{Columns: []string{"upd", "cre"}, Kinds: []backfill.Kind{backfill.KindTime, backfill.KindTime}, Key: []string{"site", "id"}, Where: "x > 1", Unit: "ms"}
	got := strings.Join(DiffDefinitions(a, b), "\n")
	want := `columns: [upd] -> [upd, cre]
column kinds: [time] -> [time, time]
unit: "" -> "ms"
primary key: [id] -> [site, id]
where: "" -> "x > 1"`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if d := DiffDefinitions(a, a); d != nil {
		t.Errorf("same definition: %v", d)
	}
}

// The page query: the lane's NULL prefix, the keyset after the last row
// (or the lower bound), the upper bound and the filter; identifiers quoted.
func TestLaneQuery(t *testing.T) {
	c, err := cursorOf(t, config.Cursor{Columns: []string{"upd", "cre"}}, colUpd, colCre)
	if err != nil {
		t.Fatal(err)
	}
	tb := Table{Config: config.Table{Name: "we`ird", Where: "site = 'a'"}, Cursor: c, Mapper: fakeMapper{}}
	lo := backfill.Value{Kind: backfill.KindTime, Text: "2024-01-01 00:00:00"}
	run := &LaneRun{Lo: &lo, Hi: backfill.Value{Kind: backfill.KindTime, Text: "2024-01-02 00:00:00"}}
	q, args := laneQuery("db", tb, 1, run, 7)
	want := "SELECT `v`, CAST(`cre` AS CHAR), `id` FROM `db`.`we``ird` WHERE `upd` IS NULL AND `cre` >= ? AND `cre` <= ? AND (site = 'a') ORDER BY `cre`, `id` LIMIT ?"
	if q != want || len(args) != 3 || args[2] != int64(7) {
		t.Errorf("first page:\n%s %v\nwant\n%s", q, args, want)
	}
	run.After = backfill.Key{lo, {Kind: backfill.KindInt, Text: "5"}}
	q, args = laneQuery("db", tb, 0, run, 7)
	want = "SELECT `v`, CAST(`upd` AS CHAR), `id` FROM `db`.`we``ird` WHERE `upd` >= ? AND (`upd` > ? OR (`upd` = ? AND `id` > ?)) AND `upd` <= ? AND (site = 'a') ORDER BY `upd`, `id` LIMIT ?"
	if q != want || len(args) != 6 || args[3] != int64(5) {
		t.Errorf("next page:\n%s %v\nwant\n%s", q, args, want)
	}
}

type fakeMapper struct{}

func (fakeMapper) Columns() []string                    { return []string{"v"} }
func (fakeMapper) SelectList() []string                 { return []string{"`v`"} }
func (fakeMapper) KeyString([]any) string               { return "" }
func (fakeMapper) Map([]any) (mapping.Point, error)     { return mapping.Point{}, nil }
func (fakeMapper) AppendKey(dst []byte, _ []any) []byte { return dst }

// The schedule: runs never overlap, fire times passed during a run are
// skipped and counted, a fatal error ends the loop, a failed run does not.
// The clock and the waits are the test's.
func TestLoop(t *testing.T) {
	anchor := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := anchor
	var waited []time.Duration
	oldNow, oldSleep := timeNow, sleep
	t.Cleanup(func() { timeNow, sleep = oldNow, oldSleep })
	timeNow = func() time.Time { return now }
	sleep = func(_ context.Context, d time.Duration) bool {
		waited = append(waited, d)
		now = now.Add(d)
		return true
	}

	var fires []time.Time
	running := false
	durations := []time.Duration{10 * time.Second, 150 * time.Second, 10 * time.Second, 0, 0}
	run := func(_ context.Context, fire time.Time) error {
		if running {
			t.Fatal("two runs at once")
		}
		running = true
		defer func() { running = false }()
		i := len(fires)
		fires = append(fires, fire)
		now = now.Add(durations[i])
		switch i {
		case 2:
			return errors.New("MySQL went away") // the schedule goes on
		case 4:
			return &FatalError{Err: errors.New("mapping does not compile")}
		}
		return nil
	}
	m := NewMetrics(nil)
	err := Loop(context.Background(), Every(anchor, time.Minute), anchor, run, m, zerolog.Nop())
	if !IsFatal(err) {
		t.Fatalf("Loop returned %v, want the fatal error", err)
	}
	want := []time.Time{anchor, anchor.Add(time.Minute), anchor.Add(4 * time.Minute), anchor.Add(5 * time.Minute), anchor.Add(6 * time.Minute)}
	if len(fires) != len(want) {
		t.Fatalf("fires %v, want %v", fires, want)
	}
	for i := range want {
		if !fires[i].Equal(want[i]) {
			t.Errorf("fire %d at %s, want %s (the run of 150s skips the fires at +2m and +3m)", i, fires[i].Format("15:04:05"), want[i].Format("15:04:05"))
		}
	}
	var got struct{ ok, failed, skipped float64 }
	got.ok = testutilValue(t, m, `mysql_iotdb_bridge_sync_runs_total{result="ok"}`)
	got.failed = testutilValue(t, m, `mysql_iotdb_bridge_sync_runs_total{result="failed"}`)
	got.skipped = testutilValue(t, m, `mysql_iotdb_bridge_sync_runs_skipped_total`)
	if got.ok != 3 || got.failed != 2 || got.skipped != 2 {
		t.Errorf("metrics ok %v failed %v skipped %v, want 3, 2, 2", got.ok, got.failed, got.skipped)
	}
	if ok, why := m.Readiness(now); ok || !strings.Contains(why, "mapping does not compile") {
		t.Errorf("readiness after a failed run: %v %q", ok, why)
	}
}

func testutilValue(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			full := mf.GetName()
			if len(mt.GetLabel()) > 0 {
				var ls []string
				for _, l := range mt.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				full += "{" + strings.Join(ls, ",") + "}"
			}
			if full == name {
				if c := mt.GetCounter(); c != nil {
					return c.GetValue()
				}
				return mt.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestWindowFilter(t *testing.T) {
	w := Window{From: time.Date(2024, 5, 1, 0, 0, 0, 1, time.UTC), To: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)}
	m := func(unit, zone string) *config.Mapping {
		return &config.Mapping{Table: "t", Time: config.TimeSpec{Column: "ts", Unit: unit, Zone: zone}}
	}
	for _, c := range []struct {
		m    *config.Mapping
		col  mapping.Column
		want string
	}{
		{m("", "Europe/Berlin"), mapping.Column{Name: "ts", DataType: "datetime"}, "`ts` >= '2024-05-01 02:00:00.000001' AND `ts` < '2024-05-02 02:00:00'"},
		{m("", "Europe/Berlin"), mapping.Column{Name: "ts", DataType: "timestamp"}, "`ts` >= '2024-05-01 00:00:00.000001' AND `ts` < '2024-05-02 00:00:00'"},
		{m("ms", ""), mapping.Column{Name: "ts", DataType: "bigint"}, "`ts` >= 1714521600001 AND `ts` < 1714608000000"},
		{m("s", ""), mapping.Column{Name: "ts", DataType: "int"}, "`ts` >= 1714521601 AND `ts` < 1714608000"},
	} {
		got, col, err := WindowFilter(c.m, schemaOf(colID, c.col), w)
		if err != nil || got != c.want || col != "ts" {
			t.Errorf("%s %s: %q %v, want %q", c.col.DataType, c.m.Time.Unit, got, err, c.want)
		}
	}
	if p := WindowStatePath("/s/sync.json", Window{From: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 5, 1, 12, 30, 0, 5e8, time.UTC)}); p != "/s/sync.json.window-20240501T000000Z-20240501T123000.5Z.json" {
		t.Errorf("window state path %s", p)
	}
	if _, err := ParseWindowTime("yesterday"); err == nil {
		t.Error("ParseWindowTime accepted yesterday")
	}
}

func TestCopyStatePath(t *testing.T) {
	a, b := CopyStatePath("s.json", "a b"), CopyStatePath("s.json", "a_b")
	if a == b || b != "s.json.initial-a_b.json" || !strings.HasPrefix(a, "s.json.initial-a_b-") {
		t.Errorf("copy state paths %q and %q must differ", a, b)
	}
}
