package mapping

import (
	"reflect"
	"testing"
)

func TestQuoteNode(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"pump7", "pump7", false},
		{"pump_7", "pump_7", false},
		{"pump-7.b", "`pump-7.b`", false},
		{"a b`c", "`a b``c`", false},
		{"``", "``````", false},
		{"42", "`42`", false},
		{"007", "`007`", false},
		{"1e3", "`1e3`", false},
		{"-1.0", "`-1.0`", false},
		{"+23e-3", "`+23e-3`", false},
		{"1e", "1e", false}, // not a number: a legal identifier
		{"e1", "e1", false},
		{"root", "`root`", false},
		{"TIME", "`TIME`", false},
		{"Timestamp", "`Timestamp`", false},
		{"timestamps", "timestamps", false},
		{"東京", "東京", false},     // CJK inside U+2E80..U+9FFF
		{"서울", "`서울`", false},   // Hangul is outside that range
		{"温度🚀", "`温度🚀`", false}, // emoji
		{"café", "`café`", false},
		{"a*b", "`a*b`", false},
		{"", "", true},
		{"a\x00b", "", true},
		{"tab\there", "", true},
		{"del\x7f", "", true},
		{"bad\xff", "", true},
	}
	for _, tt := range tests {
		got, err := QuoteNode(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("QuoteNode(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	nodes, err := parseTemplate("root.factory.`my-line`.pump_${id}.${site}")
	if err != nil {
		t.Fatal(err)
	}
	want := []templateNode{
		{literal: "root"}, {literal: "factory"}, {literal: "`my-line`"},
		{pieces: []nodePiece{{text: "pump_"}, {col: "id"}}},
		{pieces: []nodePiece{{col: "site"}}},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Fatalf("nodes = %#v", nodes)
	}
	// A node holding a placeholder cannot also hold backquoted text: the
	// rendered node is quoted as a whole (the config grammar refuses it).
	if _, err := parseTemplate("root.f.`a.b`${id}"); err == nil {
		t.Fatal("backquotes inside a placeholder node: want an error")
	}
	for _, bad := range []string{"", "root", "x.${a}", "root.${a", "root.${}", "root.$a", "root..a", "root.a.",
		"root.`a", "root.a-b", "root.root.${a}", "root.a`b`", "root.a\x01"} {
		if _, err := parseTemplate(bad); err == nil {
			t.Errorf("parseTemplate(%q): want an error", bad)
		}
	}
}
