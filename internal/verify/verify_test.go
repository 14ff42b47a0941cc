package verify

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/apache/iotdb-client-go/v2/client"
)

func TestSplitAndCanonicalPaths(t *testing.T) {
	for _, c := range []struct {
		in    string
		nodes []string
		canon string
	}{
		{"root.sg.d1", []string{"root", "sg", "d1"}, "root.sg.d1"},
		{"root.sg.`pump-7.b`", []string{"root", "sg", "pump-7.b"}, "root.sg.`pump-7.b`"},
		{"root.sg.`d1`", []string{"root", "sg", "d1"}, "root.sg.d1"}, // a needless quote goes
		{"root.sg.`a``b`", []string{"root", "sg", "a`b"}, "root.sg.`a``b`"},
		{"root.sg.`123`", []string{"root", "sg", "123"}, "root.sg.`123`"}, // a number stays quoted
		{"root.sg.东京", []string{"root", "sg", "东京"}, "root.sg.东京"},
	} {
		got, err := splitNodes(c.in)
		if err != nil || !reflect.DeepEqual(got, c.nodes) {
			t.Errorf("splitNodes(%q) = %q, %v; want %q", c.in, got, err, c.nodes)
		}
		if got := canonicalPath(c.in); got != c.canon {
			t.Errorf("canonicalPath(%q) = %q, want %q", c.in, got, c.canon)
		}
	}
	for _, bad := range []string{"root..d", "root.`open", "root.sg."} {
		if _, err := splitNodes(bad); err == nil {
			t.Errorf("splitNodes(%q): no error", bad)
		}
	}
}

func TestDeviceMatcher(t *testing.T) {
	m, err := newDeviceMatcher("root.factory.${site}.line_${no}.`pump.x`")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.pattern(); got != "root.factory.**" {
		t.Fatalf("pattern %q", got)
	}
	for path, want := range map[string]bool{
		"root.factory.berlin.line_7.`pump.x`": true,
		"root.factory.`b.1`.line_.`pump.x`":   true, // a column part may be empty inside a node
		"root.factory.berlin.line7.`pump.x`":  false,
		"root.factory.berlin.line_7.pump":     false,
		"root.factory.berlin.line_7":          false,
		"root.other.berlin.line_7.`pump.x`":   false,
	} {
		nodes, err := splitNodes(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.match(nodes); got != want {
			t.Errorf("match(%s) = %v, want %v", path, got, want)
		}
	}
	if _, err := newDeviceMatcher("root.${db}.x"); err == nil {
		t.Error("a template with no literal node below root: no error")
	}
	a, _ := newDeviceMatcher("root.f.${site}.${dev}")
	b, _ := newDeviceMatcher("root.f.s1.${x}")
	c, _ := newDeviceMatcher("root.f.${site}")
	d, _ := newDeviceMatcher("root.g.${site}.${dev}")
	if !a.overlaps(b) || a.overlaps(c) || a.overlaps(d) {
		t.Error("overlaps")
	}
}

// Sums of the same values in two orders are close; one value changed by
// more than the rounding bound (2·(n+1)·eps·Σ|v|) is not.
func TestSumTolerance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float64, 100000)
	var abs float64
	for i := range vals {
		vals[i] = (rng.Float64() - 0.5) * 1e6
		if vals[i] < 0 {
			abs -= vals[i]
		} else {
			abs += vals[i]
		}
	}
	sum := func(v []float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return
	}
	a := sum(vals)
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	b := sum(sorted)
	if !sumClose(a, b, int64(len(vals)), abs) {
		t.Fatalf("reordered sums %v and %v are not close", a, b)
	}
	sorted[500] += 5 // the bound here is about 0.55
	if sumClose(a, sum(sorted), int64(len(vals)), abs) {
		t.Fatal("a change of 5 went unseen")
	}
	if !exactInDouble(1<<20, 1<<32) || exactInDouble(1<<22, 1<<32) {
		t.Fatal("exactInDouble")
	}
}

func TestDiffFigs(t *testing.T) {
	var s, i fig
	for k, v := range []float64{3, 1, 2} {
		s.add(int64(10+k), val{f: v}, client.DOUBLE, 100, nil)
		i.add(int64(10+2-k), val{f: []float64{2, 1, 3}[k]}, client.DOUBLE, 100, nil) // same points, other order
	}
	i.have = fCount | fTimes | fFirstLast | fSum | fMinMax | fTimeSum | fHash
	if d := diffFigs(&s, &i, client.DOUBLE, 100); d != "" {
		t.Fatalf("the same points differ: %s", d)
	}
	j := i
	j.hash++
	if d := diffFigs(&s, &j, client.DOUBLE, 100); d != "hash of (time, value)" {
		t.Fatalf("hash: %q", d)
	}
	j = i
	j.n++
	if d := diffFigs(&s, &j, client.DOUBLE, 100); d != "count 3 vs 4" {
		t.Fatalf("count: %q", d)
	}
	j = i
	j.have = fCount // only what IoTDB answered is compared
	j.sum = 99
	if d := diffFigs(&s, &j, client.DOUBLE, 100); d != "" {
		t.Fatalf("a figure IoTDB did not give was compared: %q", d)
	}
}
