package e2e

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/wire"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// state is what IoTDB holds (or should hold): normalised series path ->
// time -> normalised value (see normValue). Series without points are not
// listed: IoTDB keeps the schema of a series whose points were all deleted.
type state map[string]map[int64]any

func (s state) points() int {
	n := 0
	for _, m := range s {
		n += len(m)
	}
	return n
}

func (s state) add(series string, t int64, v any) {
	m := s[series]
	if m == nil {
		m = map[int64]any{}
		s[series] = m
	}
	m[t] = v
}

// blob is a normalised BLOB value: comparable, and printed as hex (an empty
// BLOB and a missing one must not look alike).
type blob string

func (b blob) String() string { return "0x" + hex.EncodeToString([]byte(b)) }

// normValue brings the mapper's values and iotdbtest's stored values to
// one comparable form: DATE time.Time -> int32 yyyymmdd (iotdbtest's form),
// []byte -> blob. Everything else (bool, int32, int64, float32, float64,
// string) is compared as it is: an int32 never equals an int64.
func normValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return int32(x.Year()*10000 + int(x.Month())*100 + x.Day())
	case []byte:
		return blob(x)
	}
	return v
}

// expectedState computes what IoTDB must hold for table: every source row
// (SELECT with the mapper's SelectList, the backfill path) mapped through
// the table's mapping in cfg, at cfg's timestamp precision (auto counts as
// ms): per device+measurement+time the value; a NULL measurement gives no
// point. Rows the mapping rejects (dirty) are left out and logged.
func expectedState(t *testing.T, db *sql.DB, cfg *config.Config, table string) state {
	t.Helper()
	out := state{}
	expectedInto(t, db, cfg, table, out)
	return out
}

func expectedInto(t *testing.T, db *sql.DB, cfg *config.Config, table string, out state) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mc, ok := cfg.Mapping(table)
	if !ok {
		t.Fatalf("expectedState: no mapping for table %s", table)
	}
	mp, err := wire.CompileOffline(ctx, db, cfg, mc)
	if err != nil {
		t.Fatalf("expectedState: compile %s: %v", table, err)
	}
	q := "SELECT " + strings.Join(mp.SelectList(), ", ") + " FROM `" + strings.ReplaceAll(table, "`", "``") + "`"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatalf("expectedState: %s: %v", q, err)
	}
	defer rows.Close()
	n := len(mp.Columns())
	vals := make([]any, n)
	ptrs := make([]any, n)
	dirty := 0
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("expectedState: scan %s: %v", table, err)
		}
		p, err := mp.Map(vals)
		if err != nil {
			if dirty < 5 {
				t.Logf("expectedState: %s: dirty row left out: %v", table, err)
			}
			dirty++
			continue
		}
		for i, v := range p.Values {
			if v == nil {
				continue
			}
			out.add(normPath(p.Device+"."+p.Schema.Measurements[i]), p.Time, normValue(v))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("expectedState: %s: %v", table, err)
	}
	if dirty > 0 {
		t.Logf("expectedState: %s: %d dirty rows left out", table, dirty)
	}
}

// actualState reads every point iotdbtest stores (tree model).
func actualState(srv *iotdbtest.Server) state {
	out := state{}
	for _, si := range srv.Series() {
		pts := srv.Points(si.Path)
		if len(pts) == 0 {
			continue
		}
		m := make(map[int64]any, len(pts))
		for _, p := range pts {
			m[p.Time] = normValue(p.Value)
		}
		out[normPath(si.Path)] = m
	}
	return out
}

// diffStates lists the differences between want and got (missing series
// and points, extra ones, different values or value types), the first
// limit of them rendered, and the total count.
func diffStates(want, got state, limit int) (int, string) {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var b strings.Builder
	n := 0
	note := func(format string, a ...any) {
		n++
		if n <= limit {
			fmt.Fprintf(&b, "  "+format+"\n", a...)
		}
	}
	for _, k := range sorted {
		w, g := want[k], got[k]
		switch {
		case g == nil:
			note("missing series %s (%d points, e.g. %s)", k, len(w), sample(w))
			continue
		case w == nil:
			note("extra series %s (%d points, e.g. %s)", k, len(g), sample(g))
			continue
		}
		times := map[int64]bool{}
		for ts := range w {
			times[ts] = true
		}
		for ts := range g {
			times[ts] = true
		}
		ts := make([]int64, 0, len(times))
		for x := range times {
			ts = append(ts, x)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		for _, x := range ts {
			wv, wok := w[x]
			gv, gok := g[x]
			switch {
			case !gok:
				note("missing %s @%d = %s", k, x, show(wv))
			case !wok:
				note("extra   %s @%d = %s", k, x, show(gv))
			case wv != gv:
				note("differs %s @%d: want %s, got %s", k, x, show(wv), show(gv))
			}
		}
	}
	if n > limit {
		fmt.Fprintf(&b, "  ... and %d more differences\n", n-limit)
	}
	return n, b.String()
}

func sample(m map[int64]any) string {
	best := int64(0)
	first := true
	for t := range m {
		if first || t < best {
			best, first = t, false
		}
	}
	if first {
		return "-"
	}
	return fmt.Sprintf("@%d = %s", best, show(m[best]))
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 60 {
			x = x[:60] + "..."
		}
		return fmt.Sprintf("%q (string)", x)
	case blob:
		return x.String() + " (blob)"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// assertSameState fails the test with the first 20 differences.
func assertSameState(t *testing.T, what string, want, got state) bool {
	t.Helper()
	n, report := diffStates(want, got, 20)
	if n == 0 {
		t.Logf("%s: IoTDB equals the source: %d series, %d points", what, len(want), want.points())
		return true
	}
	t.Errorf("%s: %d differences between the source (want: %d series, %d points) and IoTDB (got: %d series, %d points):\n%s",
		what, n, len(want), want.points(), len(got), got.points(), report)
	return false
}

// ---------------------------------------------------------------------------
// Path normalisation, as iotdbtest stores paths (docs/iotdb.md §4).

// normPath returns p in the form iotdbtest stores it (the server's own
// normaliser); an unparsable path is returned as it is (and will show up in
// a diff).
func normPath(p string) string {
	if n, err := iotdbtest.NormalizePath(p); err == nil {
		return n
	}
	return p
}

// measurementOf is the last node of a normalised series path.
func measurementOf(series string) string {
	if strings.HasSuffix(series, "`") {
		if i := strings.LastIndex(series, ".`"); i >= 0 {
			return series[i+1:]
		}
	}
	return series[strings.LastIndexByte(series, '.')+1:]
}
