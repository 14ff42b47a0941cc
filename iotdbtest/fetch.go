package iotdbtest

// Paged query answers (docs/iotdb.md §10.6). The Go client reads every
// answer with thrift's default frame limit of 16,384,000 bytes and asks for
// the next page with fetchResultsV2 while moreData is true. Every answer the
// double sends therefore holds at most fetchSize rows, split into TsBlocks of
// at most blockMaxRows rows / blockMaxBytes bytes (a real server caps its
// blocks at 1000 rows and 128 KiB, "up to two pages"), and at most
// answerBudget bytes of blocks in all. An answer that cannot fit a frame
// even with a single row (a very wide row, or a column header of some
// hundred thousand names) is refused with a status that says so, instead of
// an oversized frame the client would reject with "Incorrect frame size".

// rowSource is a result computed when the query ran whose cells are read
// while pages are encoded (vecResult in aggregate.go).
type rowSource interface {
	numRows() int
	timeAt(i int) int64
	cellAt(c, i int) any
}

// cellSizer, when a rowSource implements it, gives encoded cell sizes
// without building the cell values.
type cellSizer interface {
	cellSize(c, i int) int
}

const (
	clientFrameLimit = 16_384_000 // thrift's default max frame size, used by the v2.0.10 client (docs/iotdb.md §1.1)
	frameSlack       = 64 << 10   // room for the response struct around the blocks
	answerBudget     = 8 << 20    // bytes of TsBlocks per answer
	blockMaxRows     = 1000
	blockMaxBytes    = 1 << 20
	blockOverhead    = 64 // counts, type and encoding bytes, null flags
)

// cellBytes is the encoded size of one cell value (docs/iotdb.md §5.3).
func cellBytes(t TSDataType, v any) int {
	if v == nil {
		return 0
	}
	switch t {
	case BOOLEAN:
		return 0 // packed bits, counted per row in rowBytes
	case INT32, DATE, FLOAT:
		return 4
	case INT64, TIMESTAMP, DOUBLE:
		return 8
	}
	switch x := v.(type) {
	case string:
		return 4 + len(x)
	case []byte:
		return 4 + len(x)
	}
	return 4
}

// rowBytes estimates the encoded size of row i: the time, every cell, a
// null bit per column and a bit per BOOLEAN value (counted for every column).
func rowBytes(r *resultSet, i int) int {
	n := 8 + 2*((len(r.types)+7)/8)
	if sz, ok := r.src.(cellSizer); ok {
		for c := range r.types {
			n += sz.cellSize(c, i)
		}
		return n
	}
	for c, t := range r.types {
		n += cellBytes(t, r.cell(c, i))
	}
	return n
}

// headerBytes is the size of the column names and type names the first
// answer carries besides its blocks.
func headerBytes(r *resultSet) int {
	n := 64
	for _, s := range r.names {
		n += 4 + len(s)
	}
	for _, t := range r.types {
		n += 4 + len(typeName(t))
	}
	return n
}

// nextBlocks encodes the next rows of c: at most fetchSize rows and, unless
// a single row is larger, at most budget bytes. It returns the blocks and
// their total size.
func nextBlocks(c *cursor, fetchSize, budget int) ([][]byte, int) {
	n := c.rs.rows()
	var blocks [][]byte
	used, taken := 0, 0
	for c.pos < n && taken < fetchSize {
		lo, hi := c.pos, c.pos
		size := blockOverhead + len(c.rs.types)
		for hi < n && hi-lo < blockMaxRows && taken+(hi-lo) < fetchSize {
			rb := rowBytes(c.rs, hi)
			if hi > lo && size+rb > blockMaxBytes {
				break
			}
			if used+size+rb > budget && (hi > lo || used > 0) {
				break // the answer is full; the first row of an answer always goes
			}
			size += rb
			hi++
		}
		if hi == lo {
			break
		}
		b := c.rs.encodeTsBlock(lo, hi)
		blocks = append(blocks, b)
		used += 4 + len(b)
		taken += hi - lo
		c.pos = hi
		if used >= budget {
			break
		}
	}
	return blocks, used
}

func oversized(need, header int) *statusErr {
	return stErr(codeExecuteError, "iotdbtest: this answer needs a frame of at least %d bytes (%d of them column names and types), more than the %d bytes the client reads; "+
		"a real server would send it and the client would fail with \"Incorrect frame size\". Ask for fewer columns, e.g. SELECT COUNT(*) FROM <pattern> ALIGN BY DEVICE (one row per device) or COUNT TIMESERIES",
		need, header, clientFrameLimit)
}

// firstPage is the page sent with executeQueryStatementV2; its budget leaves
// room for the column header.
func firstPage(c *cursor, fetchSize int) ([][]byte, *statusErr) {
	h := headerBytes(c.rs)
	blocks, used := nextBlocks(c, fetchSize, max(answerBudget-h, 1))
	if h+used > clientFrameLimit-frameSlack {
		return nil, oversized(h+used, h)
	}
	return blocks, nil
}

// laterPage is a page sent with fetchResultsV2.
func laterPage(c *cursor, fetchSize int) ([][]byte, *statusErr) {
	blocks, used := nextBlocks(c, fetchSize, answerBudget)
	if used > clientFrameLimit-frameSlack {
		return nil, oversized(used, 0)
	}
	return blocks, nil
}
