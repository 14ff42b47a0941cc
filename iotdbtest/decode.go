package iotdbtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// inCol is one decoded column of a write request. Values are not copied:
// fixed-width values stay in the request buffer, binary values are
// sub-slices of it (the thrift layer allocates a fresh buffer per request).
type inCol struct {
	name  string // measurement / column name as sent
	typ   TSDataType
	fixed []byte   // fixed-width values, rows*width bytes
	bin   [][]byte // TEXT/STRING/BLOB values
	nulls []byte   // LSB-first null bitmap (bit set = NULL), nil = no nulls
}

func (c *inCol) isNull(r int) bool {
	return c.nulls != nil && c.nulls[r>>3]&(1<<(uint(r)&7)) != 0
}

func fixedWidth(t TSDataType) int {
	switch t {
	case BOOLEAN:
		return 1
	case INT32, DATE, FLOAT:
		return 4
	case INT64, TIMESTAMP, DOUBLE:
		return 8
	}
	return 0 // binary
}

type errMalformed struct{ msg string }

func (e *errMalformed) Error() string { return "iotdbtest: malformed request: " + e.msg }

func malformed(format string, a ...any) error { return &errMalformed{msg: fmt.Sprintf(format, a...)} }

// decodeTimes decodes a tablet's timestamps buffer: rows × int64 big-endian
// (docs/iotdb.md §2.2).
func decodeTimes(b []byte, rows int) ([]int64, error) {
	if rows < 0 || len(b) < rows*8 {
		return nil, malformed("timestamps buffer has %d bytes, need %d for %d rows", len(b), rows*8, rows)
	}
	ts := make([]int64, rows)
	for i := range ts {
		ts[i] = int64(binary.BigEndian.Uint64(b[i*8:]))
	}
	return ts, nil
}

// decodeTablet decodes a tablet values buffer exactly as docs/iotdb.md §2.3:
// every column in schema order (big-endian fixed width, binary = int32 length
// + bytes), then — only if bytes remain — per column one hasNull byte and,
// when set, rows/8+1 bitmap bytes (LSB-first, bit set = NULL).
func decodeTablet(buf []byte, names []string, types []int32, rows int) ([]inCol, error) {
	if len(names) != len(types) {
		return nil, malformed("%d measurements but %d types", len(names), len(types))
	}
	if rows < 0 {
		return nil, malformed("negative row count %d", rows)
	}
	cols := make([]inCol, len(names))
	off := 0
	for i := range cols {
		t := TSDataType(types[i])
		if !validType(t) {
			return nil, malformed("unknown data type %d for %s", types[i], names[i])
		}
		c := &cols[i]
		c.name, c.typ = names[i], t
		if w := fixedWidth(t); w > 0 {
			n := w * rows
			if len(buf)-off < n {
				return nil, malformed("column %s: need %d bytes, %d left", names[i], n, len(buf)-off)
			}
			c.fixed = buf[off : off+n : off+n]
			off += n
			continue
		}
		c.bin = make([][]byte, rows)
		for r := 0; r < rows; r++ {
			if len(buf)-off < 4 {
				return nil, malformed("column %s row %d: truncated length", names[i], r)
			}
			l := int(int32(binary.BigEndian.Uint32(buf[off:])))
			off += 4
			if l < 0 || len(buf)-off < l {
				return nil, malformed("column %s row %d: bad length %d", names[i], r, l)
			}
			c.bin[r] = buf[off : off+l : off+l]
			off += l
		}
	}
	if off == len(buf) { // no bitmap section (docs/iotdb.md §2.3: no NULL in the tablet)
		return cols, nil
	}
	for i := range cols {
		if off >= len(buf) {
			return nil, malformed("bitmap section truncated at column %s", names[i])
		}
		has := buf[off]
		off++
		if has == 0 {
			continue
		}
		n := rows/8 + 1
		if len(buf)-off < n {
			return nil, malformed("bitmap of column %s truncated", names[i])
		}
		cols[i].nulls = buf[off : off+n : off+n]
		off += n
	}
	return cols, nil
}

// decodeRecord decodes one record's values (docs/iotdb.md §2.4): per value one type
// byte then the value. The result is a set of 1-row columns.
func decodeRecord(buf []byte, names []string) ([]inCol, error) {
	cols := make([]inCol, len(names))
	off := 0
	for i := range cols {
		if off >= len(buf) {
			return nil, malformed("record: value %d (%s) missing", i, names[i])
		}
		t := TSDataType(int8(buf[off]))
		off++
		if !validType(t) {
			return nil, malformed("record: unknown data type %d for %s", int8(buf[off-1]), names[i])
		}
		c := &cols[i]
		c.name, c.typ = names[i], t
		if w := fixedWidth(t); w > 0 {
			if len(buf)-off < w {
				return nil, malformed("record: value of %s truncated", names[i])
			}
			c.fixed = buf[off : off+w : off+w]
			off += w
			continue
		}
		if len(buf)-off < 4 {
			return nil, malformed("record: length of %s truncated", names[i])
		}
		l := int(int32(binary.BigEndian.Uint32(buf[off:])))
		off += 4
		if l < 0 || len(buf)-off < l {
			return nil, malformed("record: bad length %d for %s", l, names[i])
		}
		c.bin = [][]byte{buf[off : off+l : off+l]}
		off += l
	}
	if off != len(buf) {
		return nil, malformed("record: %d trailing bytes", len(buf)-off)
	}
	return cols, nil
}

// stringRecordCols turns insertStringRecord values into 1-row columns with the
// server's inference rules (docs/iotdb.md §3.1: boolean -> BOOLEAN, integer and
// floating -> DOUBLE, else TEXT); reg gives already registered types.
func stringRecordCols(names, vals []string, reg func(name string) (TSDataType, bool)) ([]inCol, error) {
	if len(names) != len(vals) {
		return nil, malformed("%d measurements but %d values", len(names), len(vals))
	}
	cols := make([]inCol, len(names))
	for i, s := range vals {
		t, ok := reg(names[i])
		if !ok {
			switch {
			case s == "true" || s == "false" || s == "TRUE" || s == "FALSE":
				t = BOOLEAN
			default:
				if _, err := strconv.ParseFloat(s, 64); err == nil {
					t = DOUBLE
				} else {
					t = TEXT
				}
			}
		}
		c := &cols[i]
		c.name, c.typ = names[i], t
		var err error
		switch t {
		case BOOLEAN:
			b, e := strconv.ParseBool(s)
			err = e
			c.fixed = []byte{0}
			if b {
				c.fixed[0] = 1
			}
		case INT32, DATE:
			v, e := strconv.ParseInt(s, 10, 32)
			err = e
			c.fixed = binary.BigEndian.AppendUint32(nil, uint32(int32(v)))
		case INT64, TIMESTAMP:
			v, e := strconv.ParseInt(s, 10, 64)
			err = e
			c.fixed = binary.BigEndian.AppendUint64(nil, uint64(v))
		case FLOAT:
			v, e := strconv.ParseFloat(s, 32)
			err = e
			c.fixed = binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(v)))
		case DOUBLE:
			v, e := strconv.ParseFloat(s, 64)
			err = e
			c.fixed = binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
		default:
			c.bin = [][]byte{[]byte(s)}
		}
		if err != nil {
			return nil, fmt.Errorf("value %q of %s cannot be parsed as %s", s, names[i], typeName(t))
		}
	}
	return cols, nil
}

// valueString renders the value of row r for messages.
func (c *inCol) valueString(r int) string {
	if c.isNull(r) {
		return "null"
	}
	return fmt.Sprint(c.value(r))
}

// value returns row r as a Go value of the column's own type.
func (c *inCol) value(r int) any {
	switch c.typ {
	case BOOLEAN:
		return c.fixed[r] != 0
	case INT32, DATE:
		return int32(binary.BigEndian.Uint32(c.fixed[4*r:]))
	case INT64, TIMESTAMP:
		return int64(binary.BigEndian.Uint64(c.fixed[8*r:]))
	case FLOAT:
		return math.Float32frombits(binary.BigEndian.Uint32(c.fixed[4*r:]))
	case DOUBLE:
		return math.Float64frombits(binary.BigEndian.Uint64(c.fixed[8*r:]))
	case BLOB:
		return c.bin[r]
	default:
		return string(c.bin[r])
	}
}

// ingest writes the non-null rows of c into d, converting from c.typ to the
// registered type reg (the caller checked canCast). NULL never creates or
// overwrites a point (docs/iotdb.md §3.3). Returns the number of points written.
func ingest(d seriesStore, reg TSDataType, c *inCol, times []int64) int {
	rows := len(times)
	n := 0
	be := binary.BigEndian
	switch reg {
	case BOOLEAN:
		p := d.(*pointsOf[bool])
		for r := 0; r < rows; r++ {
			if !c.isNull(r) {
				p.put(times[r], c.fixed[r] != 0)
				n++
			}
		}
	case INT32, DATE:
		p := d.(*pointsOf[int32])
		for r := 0; r < rows; r++ {
			if !c.isNull(r) {
				p.put(times[r], int32(be.Uint32(c.fixed[4*r:])))
				n++
			}
		}
	case INT64, TIMESTAMP:
		p := d.(*pointsOf[int64])
		for r := 0; r < rows; r++ {
			if c.isNull(r) {
				continue
			}
			var v int64
			if c.typ == INT32 {
				v = int64(int32(be.Uint32(c.fixed[4*r:])))
			} else {
				v = int64(be.Uint64(c.fixed[8*r:]))
			}
			p.put(times[r], v)
			n++
		}
	case FLOAT:
		p := d.(*pointsOf[float32])
		for r := 0; r < rows; r++ {
			if c.isNull(r) {
				continue
			}
			var v float32
			if c.typ == INT32 {
				v = float32(int32(be.Uint32(c.fixed[4*r:])))
			} else {
				v = math.Float32frombits(be.Uint32(c.fixed[4*r:]))
			}
			p.put(times[r], v)
			n++
		}
	case DOUBLE:
		p := d.(*pointsOf[float64])
		for r := 0; r < rows; r++ {
			if c.isNull(r) {
				continue
			}
			var v float64
			switch c.typ {
			case INT32:
				v = float64(int32(be.Uint32(c.fixed[4*r:])))
			case INT64:
				v = float64(int64(be.Uint64(c.fixed[8*r:])))
			case FLOAT:
				v = float64(math.Float32frombits(be.Uint32(c.fixed[4*r:])))
			default:
				v = math.Float64frombits(be.Uint64(c.fixed[8*r:]))
			}
			p.put(times[r], v)
			n++
		}
	default:
		p := d.(*pointsOf[[]byte])
		for r := 0; r < rows; r++ {
			if !c.isNull(r) {
				p.put(times[r], c.bin[r])
				n++
			}
		}
	}
	return n
}

// firstNonNull returns the first non-null row (or 0).
func (c *inCol) firstNonNull(rows int) int {
	for r := 0; r < rows; r++ {
		if !c.isNull(r) {
			return r
		}
	}
	return 0
}

func countNonNull(c *inCol, rows int) int {
	if c.nulls == nil {
		return rows
	}
	n := 0
	for r := 0; r < rows; r++ {
		if !c.isNull(r) {
			n++
		}
	}
	return n
}
