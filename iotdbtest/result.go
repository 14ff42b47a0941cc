package iotdbtest

import (
	"encoding/binary"
	"math"
)

// resultSet is a materialised query result (a snapshot taken when the query
// runs), served to the client in pages of fetchSize rows.
type resultSet struct {
	names      []string
	types      []TSDataType
	ignoreTime bool
	times      []int64
	cols       [][]any   // cols[c][row]; nil = NULL
	src        rowSource // when set, rows come from src instead of times/cols (fetch.go)
}

func (r *resultSet) rows() int {
	if r.src != nil {
		return r.src.numRows()
	}
	return len(r.times)
}

func (r *resultSet) timeAt(i int) int64 {
	if r.src != nil {
		return r.src.timeAt(i)
	}
	return r.times[i]
}

func (r *resultSet) cell(c, i int) any {
	if r.src != nil {
		return r.src.cellAt(c, i)
	}
	return r.cols[c][i]
}

// encodeTsBlock serialises rows [lo,hi) as a TsBlock (docs/iotdb.md §5.3): all
// integers big-endian; null flags and booleans packed MSB-first.
func (r *resultSet) encodeTsBlock(lo, hi int) []byte {
	n := hi - lo
	b := make([]byte, 0, 64+n*(8+9*len(r.types)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.types)))
	for _, t := range r.types {
		b = append(b, byte(t))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = append(b, 2) // time column: INT64_ARRAY
	for _, t := range r.types {
		b = append(b, columnEncoding(t))
	}
	// time column, never null
	b = append(b, 0)
	for i := lo; i < hi; i++ {
		b = binary.BigEndian.AppendUint64(b, uint64(r.timeAt(i)))
	}
	vals := make([]any, n)
	for ci, t := range r.types {
		hasNull := false
		for i := range vals {
			vals[i] = r.cell(ci, lo+i)
			if vals[i] == nil {
				hasNull = true
			}
		}
		if hasNull {
			b = append(b, 1)
			b = appendPacked(b, n, func(i int) bool { return vals[i] == nil })
		} else {
			b = append(b, 0)
		}
		switch t {
		case BOOLEAN:
			b = appendPacked(b, n, func(i int) bool { v, _ := vals[i].(bool); return v })
		default:
			for _, v := range vals {
				if v == nil {
					continue
				}
				b = appendValue(b, t, v)
			}
		}
	}
	return b
}

func columnEncoding(t TSDataType) byte {
	switch t {
	case BOOLEAN:
		return 0 // BYTE_ARRAY
	case INT32, DATE, FLOAT:
		return 1 // INT32_ARRAY
	case INT64, TIMESTAMP, DOUBLE:
		return 2 // INT64_ARRAY
	}
	return 3 // BINARY_ARRAY
}

// appendPacked appends ceil(n/8) bytes, bit 0x80 of the first byte = position 0.
func appendPacked(b []byte, n int, bit func(int) bool) []byte {
	for i := 0; i < n; i += 8 {
		var x byte
		for k := 0; k < 8 && i+k < n; k++ {
			if bit(i + k) {
				x |= 0x80 >> uint(k)
			}
		}
		b = append(b, x)
	}
	return b
}

func appendValue(b []byte, t TSDataType, v any) []byte {
	be := binary.BigEndian
	switch t {
	case INT32, DATE:
		return be.AppendUint32(b, uint32(v.(int32)))
	case FLOAT:
		return be.AppendUint32(b, math.Float32bits(v.(float32)))
	case INT64, TIMESTAMP:
		return be.AppendUint64(b, uint64(v.(int64)))
	case DOUBLE:
		return be.AppendUint64(b, math.Float64bits(v.(float64)))
	default:
		var s []byte
		switch x := v.(type) {
		case string:
			s = []byte(x)
		case []byte:
			s = x
		}
		b = be.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
}
