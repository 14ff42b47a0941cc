package backfill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func iv(n string) *Value { return &Value{Kind: KindInt, Text: n} }

func TestSplitRangeInt(t *testing.T) {
	kc := KeyColumn{Name: "id", Kind: KindInt}
	parts, err := splitRange(kc, iv("1"), iv("100"), 4)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range parts {
		got = append(got, p.String())
	}
	want := "[1, 25] (25, 50] (50, 75] (75, 100]"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	// Span smaller than the count: no empty or inverted ranges.
	parts, _ = splitRange(kc, iv("5"), iv("7"), 10)
	got = got[:0]
	for _, p := range parts {
		got = append(got, p.String())
	}
	if s := strings.Join(got, " "); s != "[5, 5] (5, 6] (6, 7]" {
		t.Fatalf("narrow: got %s", s)
	}
	parts, _ = splitRange(kc, iv("9"), iv("9"), 4)
	if len(parts) != 1 || parts[0].String() != "[9, 9]" {
		t.Fatalf("single value: %v", parts)
	}
	// Negative and unsigned extremes do not overflow.
	parts, _ = splitRange(KeyColumn{Kind: KindUint}, &Value{Kind: KindUint, Text: "0"}, &Value{Kind: KindUint, Text: "18446744073709551615"}, 2)
	if len(parts) != 2 || parts[0].Hi.Text != "9223372036854775807" {
		t.Fatalf("uint: %v", parts)
	}
	parts, _ = splitRange(kc, iv("-10"), iv("10"), 2)
	if parts[0].Hi.Text != "0" {
		t.Fatalf("negative: %v", parts)
	}
}

func TestSplitRangeTime(t *testing.T) {
	kc := KeyColumn{Name: "ts", Kind: KindTime, Prec: 0}
	lo := &Value{Kind: KindTime, Text: "2024-01-01 00:00:00"}
	hi := &Value{Kind: KindTime, Text: "2024-01-01 00:00:03"}
	parts, err := splitRange(kc, lo, hi, 4)
	if err != nil {
		t.Fatal(err)
	}
	// 3 seconds in 4 ranges at second precision: boundaries truncate to
	// whole seconds, duplicates dropped.
	var got []string
	for _, p := range parts {
		got = append(got, p.String())
	}
	want := `["2024-01-01 00:00:00", "2024-01-01 00:00:00"] ("2024-01-01 00:00:00", "2024-01-01 00:00:01"] ("2024-01-01 00:00:01", "2024-01-01 00:00:02"] ("2024-01-01 00:00:02", "2024-01-01 00:00:03"]`
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s", strings.Join(got, " "))
	}
	// Millisecond precision keeps fractions.
	kc.Prec = 3
	parts, _ = splitRange(kc, lo, &Value{Kind: KindTime, Text: "2024-01-01 00:00:01"}, 4)
	if parts[0].Hi.Text != "2024-01-01 00:00:00.25" {
		t.Fatalf("ms boundary %s", parts[0].Hi.Text)
	}
	// Dates.
	dk := KeyColumn{Kind: KindDate}
	parts, _ = splitRange(dk, &Value{Kind: KindDate, Text: "2024-01-01"}, &Value{Kind: KindDate, Text: "2024-01-09"}, 2)
	if parts[0].Hi.Text != "2024-01-05" {
		t.Fatalf("date boundary %s", parts[0].Hi.Text)
	}
}

func TestMidpoint(t *testing.T) {
	kc := KeyColumn{Kind: KindInt}
	if m, ok := midpoint(kc, Partition{Lo: iv("10"), Hi: iv("20")}); !ok || m.Text != "15" {
		t.Fatalf("got %v %v", m, ok)
	}
	if _, ok := midpoint(kc, Partition{Lo: iv("10"), Hi: iv("11")}); ok {
		t.Fatal("(10, 11] has one value: no split")
	}
	if m, ok := midpoint(kc, Partition{Lo: iv("10"), LoInclusive: true, Hi: iv("11")}); !ok || m.Text != "10" {
		t.Fatalf("[10, 11] splits at 10: got %v %v", m, ok)
	}
}

func TestKeysetSQL(t *testing.T) {
	cols := []KeyColumn{{Name: "a", Kind: KindInt}, {Name: "b`x", Kind: KindStr}, {Name: "c", Kind: KindDec, Scale: 2}}
	got := keysetAfter(cols)
	want := "`a` >= ? AND (`a` > ? OR (`a` = ? AND (`b``x` > ? OR (`b``x` = ? AND `c` > CAST(? AS DECIMAL(65,2))))))"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	args := keysetArgs(Key{{KindInt, "1"}, {KindStr, "x"}, {KindDec, "2.50"}})
	if len(args) != 6 || args[0] != int64(1) || args[2] != int64(1) || args[3] != "x" || args[5] != "2.50" {
		t.Fatalf("args %v", args)
	}
	if strings.Count(got, "?") != len(args) {
		t.Fatal("placeholder count differs from args")
	}
	if quoteTable("d", "t`1") != "`d`.`t``1`" {
		t.Fatal(quoteTable("d", "t`1"))
	}
	if whereSQL("a = 1 OR b = 2") != "(a = 1 OR b = 2)" || whereSQL("  ") != "" {
		t.Fatal("where must be parenthesised")
	}
}

func TestValueOf(t *testing.T) {
	v, err := valueOf(KindTime, []byte("2024-05-01 10:00:00.500"))
	if err != nil || v.Text != "2024-05-01 10:00:00.5" {
		t.Fatalf("%v %v", v, err)
	}
	if v.arg() != "2024-05-01 10:00:00.5" {
		t.Fatal(v.arg())
	}
	v, _ = valueOf(KindUint, uint64(1<<63))
	if v.arg() != uint64(1<<63) {
		t.Fatalf("%T", v.arg())
	}
	v, _ = valueOf(KindBytes, []byte{0, 255})
	if v.Text != "00ff" || string(v.arg().([]byte)) != "\x00\xff" {
		t.Fatal(v)
	}
	if _, err := valueOf(KindInt, nil); err == nil {
		t.Fatal("NULL key must fail")
	}
}

func TestShard(t *testing.T) {
	s, err := ParseShard("1/3")
	if err != nil || s.Index != 1 || s.Count != 3 {
		t.Fatal(s, err)
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if !s.owns(4) || s.owns(3) || !(Shard{}).owns(7) {
		t.Fatal("owns")
	}
	if got := StatePath("/x/state.json", s); got != "/x/state.shard-1-of-3.json" {
		t.Fatal(got)
	}
	if got := StatePath("/x/state.json", Shard{}); got != "/x/state.json" {
		t.Fatal(got)
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	st, ok, err := LoadState(path)
	if err != nil || ok || st == nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
	st.Tables["t"] = &TableProgress{Plan: &TablePlan{Table: "t", Partitions: []Partition{{ID: 0}}}, Progress: []PartProgress{{Last: Key{{KindInt, "5"}}}}}
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	got, ok, err := LoadState(path)
	if err != nil || !ok || got.Tables["t"].Progress[0].Last[0].Text != "5" {
		t.Fatalf("round trip: %v %v", ok, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	os.WriteFile(path, []byte(`{"version":1,"tables":{"t":`), 0o644)
	if _, _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "--restart") {
		t.Fatalf("corrupt: %v", err)
	}
	os.WriteFile(path, []byte(`{"version":99}`), 0o644)
	if _, _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("version: %v", err)
	}
	// Read as strictly as the cdc checkpoint: a misspelt field or an empty
	// file is refused, not taken for an empty state.
	for content, want := range map[string]string{`{"version":1,"tabels":{}}`: "unknown field", " \n": "empty", `{"tables":{}}`: "no version"} {
		os.WriteFile(path, []byte(content), 0o644)
		if _, _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Fatalf("%q: %v, want an error naming the file and %q", content, err, want)
		}
	}
}

func TestCollisions(t *testing.T) {
	c := newCollisions(0)
	c.observe([]string{"d1", "d1", "d2"}, []int64{1, 2, 1}, []string{"k1", "k2", "k3"})
	c.observe([]string{"d1", "d1"}, []int64{1, 1}, []string{"k1", "k4"}) // k1 again: replay, k4: collision
	if c.total() != 1 {
		t.Fatalf("got %d", c.total())
	}
	small := newCollisions(2)
	small.observe([]string{"a", "b", "c", "a"}, []int64{1, 1, 1, 1}, []string{"1", "2", "3", "4"})
	if small.total() != 0 {
		t.Fatalf("window cleared, got %d", small.total())
	}
}
