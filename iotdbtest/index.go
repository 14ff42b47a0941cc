package iotdbtest

// pathIndex holds the tree devices by path node (a trie from root), so that
// a pattern with a literal beginning, such as SHOW TIMESERIES
// root.sg.`dev-1`.* (what the sink sends per device), looks at the devices
// under that beginning only instead of at every device: with 10^6 devices
// the scan made each such statement cost a second. Patterns are still
// decided by matchPattern; the index only narrows the candidates.
type pathIndex struct {
	root *pnode // the node "root"
}

type pnode struct {
	kids map[string]*pnode
	dev  *device // the device at this path, or nil for an inner node
}

func newPathIndex() pathIndex { return pathIndex{root: &pnode{}} }

// add files d under its nodes (d.nodes[0] is "root").
func (ix *pathIndex) add(d *device) {
	n := ix.root
	for _, name := range d.nodes[1:] {
		k := n.kids[name]
		if k == nil {
			if n.kids == nil {
				n.kids = map[string]*pnode{}
			}
			k = &pnode{}
			n.kids[name] = k
		}
		n = k
	}
	n.dev = d
}

// literalPrefix is the pattern's nodes before its first wildcard.
func literalPrefix(pat []string) []string {
	for i, n := range pat {
		if n == "*" || n == "**" {
			return pat[:i]
		}
	}
	return pat
}

// under calls fn for the device at prefix (nodes from "root") and every
// device below it.
func (ix *pathIndex) under(prefix []string, fn func(*device)) {
	if len(prefix) == 0 {
		ix.root.walk(fn)
		return
	}
	if prefix[0] != "root" {
		return
	}
	n := ix.root
	for _, name := range prefix[1:] {
		if n = n.kids[name]; n == nil {
			return
		}
	}
	n.walk(fn)
}

func (n *pnode) walk(fn func(*device)) {
	if n.dev != nil {
		fn(n.dev)
	}
	for _, k := range n.kids {
		k.walk(fn)
	}
}

// devicesMatching calls fn for every device whose path matches a device
// pattern.
func (s *store) devicesMatching(pat []string, fn func(*device)) {
	s.index.under(literalPrefix(pat), func(d *device) {
		if matchPattern(pat, d.nodes) {
			fn(d)
		}
	})
}

// seriesCandidates calls fn for every device that may hold a series
// matching a series pattern (whose last node is a measurement).
func (s *store) seriesCandidates(pat []string, fn func(*device)) {
	lit := literalPrefix(pat)
	if len(lit) == len(pat) && len(lit) > 0 {
		lit = lit[:len(lit)-1] // the last literal node is the measurement
	}
	s.index.under(lit, fn)
}
