package verify

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"strconv"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
)

// class groups the IoTDB types by how their values compare.
type class uint8

const (
	cInt   class = iota + 1 // INT32, INT64, TIMESTAMP, DATE (as yyyymmdd)
	cFloat                  // FLOAT, DOUBLE (a FLOAT is held as its exact float64)
	cBool
	cBytes // TEXT, STRING, BLOB
)

func classOf(t client.TSDataType) class {
	switch t {
	case client.INT32, client.INT64, client.TIMESTAMP, client.DATE:
		return cInt
	case client.FLOAT, client.DOUBLE:
		return cFloat
	case client.BOOLEAN:
		return cBool
	}
	return cBytes
}

// numeric reports the types IoTDB sums (sum is refused for the others).
func numeric(t client.TSDataType) bool {
	return t == client.INT32 || t == client.INT64 || t == client.FLOAT || t == client.DOUBLE
}

// ordered reports the types whose min and max verify compares: numbers,
// DATE and TIMESTAMP. Strings are left out on purpose: IoTDB orders them
// by Java's byte comparison, which need not be Go's, and first/last cover
// them without any ordering.
func ordered(t client.TSDataType) bool {
	return numeric(t) || t == client.DATE || t == client.TIMESTAMP
}

// val is one value in a comparable form: i for cInt and cBool (0/1), f for
// cFloat, s for cBytes.
type val struct {
	i int64
	f float64
	s string
}

// srcVal is the form of a value a mapping produced (mapping.Point: the Go
// types client.Tablet takes).
func srcVal(t client.TSDataType, v any) (val, error) {
	switch x := v.(type) {
	case int32:
		return val{i: int64(x)}, nil
	case int64:
		return val{i: x}, nil
	case float32:
		return val{f: float64(x)}, nil
	case float64:
		return val{f: x}, nil
	case bool:
		if x {
			return val{i: 1}, nil
		}
		return val{}, nil
	case string:
		return val{s: x}, nil
	case []byte:
		return val{s: string(x)}, nil
	case time.Time:
		if t == client.DATE {
			return val{i: int64(x.Year()*10000 + int(x.Month())*100 + x.Day())}, nil
		}
	}
	return val{}, fmt.Errorf("value %T for type %s", v, iotdbsink.TypeName(t))
}

// iotVal is the form of a value IoTDB answered (iotdbsink.Row) for a
// column of type t.
func iotVal(t client.TSDataType, v any) (val, error) { return srcVal(t, v) }

func (a val) equal(b val, c class) bool {
	switch c {
	case cFloat:
		return a.f == b.f
	case cBytes:
		return a.s == b.s
	}
	return a.i == b.i
}

func (a val) less(b val, c class) bool {
	if c == cFloat {
		return a.f < b.f
	}
	return a.i < b.i
}

func (a val) num(c class) float64 {
	if c == cFloat {
		return a.f
	}
	return float64(a.i)
}

// hashSeed is this process's seed for string hashes: both sides of a
// comparison are hashed in the same run.
var hashSeed = maphash.MakeSeed()

// pointHash is the exact-mode hash of one (time, value): the sum of these
// over a bucket does not depend on the order the points came in.
func pointHash(t int64, v val, c class) uint64 {
	var h uint64
	switch c {
	case cFloat:
		h = math.Float64bits(v.f)
	case cBytes:
		h = maphash.String(hashSeed, v.s)
	default:
		h = uint64(v.i) * 0xff51afd7ed558ccd
	}
	x := h ^ (uint64(t) * 0x9e3779b97f4a7c15)
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// render shows a value for the report, in the measurement's type.
func render(t client.TSDataType, v val) string {
	switch t {
	case client.BOOLEAN:
		return strconv.FormatBool(v.i != 0)
	case client.FLOAT:
		return strconv.FormatFloat(v.f, 'g', -1, 32)
	case client.DOUBLE:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case client.BLOB:
		return "base64:" + base64.StdEncoding.EncodeToString([]byte(v.s))
	case client.TEXT, client.STRING:
		return strconv.Quote(v.s)
	case client.DATE:
		return fmt.Sprintf("%04d-%02d-%02d", v.i/10000, v.i/100%100, v.i%100)
	}
	return strconv.FormatInt(v.i, 10)
}

// typeByName is the type IoTDB names in query answers and SHOW TIMESERIES.
func typeByName(s string) (client.TSDataType, bool) {
	for _, t := range []client.TSDataType{client.BOOLEAN, client.INT32, client.INT64, client.FLOAT, client.DOUBLE,
		client.TEXT, client.TIMESTAMP, client.DATE, client.BLOB, client.STRING} {
		if iotdbsink.TypeName(t) == s {
			return t, true
		}
	}
	return 0, false
}

// fig holds the figures of one measurement of one device in one bucket.
// The source side fills every field from the points a mapping produces;
// the IoTDB side fills what IoTDB computes for the model and type (have).
type fig struct {
	n          int64
	sum, abs   float64 // numeric types: Σ v and Σ |v| (abs bounds the rounding of both sums)
	min, max   val     // ordered types
	minT, maxT int64
	first      val     // the value at minT
	last       val     // the value at maxT
	crc        uint64  // Σ crc32(bytes of the value): table model (valueBytes)
	pair       int64   // Σ (t % pairMod) × (crc32(bytes) % pairMod), or × (b+1) for BOOLEAN: table model
	trues      int64   // BOOLEAN: values true
	tsum       int64   // Σ (t % bucket): table model
	pairf      float64 // FLOAT, DOUBLE: Σ (t % pairMod) × v: table model
	hash       uint64
	have       figSet
}

// figSet says which figures a fig holds.
type figSet uint16

const (
	fCount figSet = 1 << iota
	fTimes        // minT, maxT
	fFirstLast
	fSum
	fMinMax
	fCRC     // Σ crc32(value bytes): table model, every type but BOOLEAN and DATE
	fPair    // Σ time × value residues: table model, every type but DATE
	fTrues   // Σ b: table model, BOOLEAN
	fTimeSum // Σ (t % bucket): table model, every type
	fPairF   // Σ (t % pairMod) × v: table model, FLOAT and DOUBLE
	fHash    // exact mode
)

// pairMod is the modulus of the time and value residues whose products
// the table model's pair figure sums: each product is below 2^32, so the
// DOUBLE sum IoTDB computes is exact for up to 2^21 points per bucket.
const pairMod = 65521

// valueBytes is what IoTDB's crc32 reads of a value in verify's table
// queries (docs/iotdb.md §10.5): the big-endian bytes of an INT32, INT64
// or TIMESTAMP (to_big_endian_32/64), of a FLOAT's or DOUBLE's IEEE 754
// bits (to_ieee754_32/64), or the bytes of TEXT, STRING and BLOB. ok is
// false for BOOLEAN and DATE, which have no such encoding here.
func valueBytes(typ client.TSDataType, v val, buf []byte) ([]byte, bool) {
	switch typ {
	case client.INT32:
		return binary.BigEndian.AppendUint32(buf, uint32(int32(v.i))), true
	case client.INT64, client.TIMESTAMP:
		return binary.BigEndian.AppendUint64(buf, uint64(v.i)), true
	case client.FLOAT:
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(v.f))), true
	case client.DOUBLE:
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(v.f)), true
	case client.TEXT, client.STRING, client.BLOB:
		return append(buf, v.s...), true
	}
	return nil, false
}

// crcable reports the types with valueBytes.
func crcable(t client.TSDataType) bool { return t != client.BOOLEAN && t != client.DATE }

// add folds one point into f (the source side: every figure). buf is
// scratch memory for the value's bytes; add returns it, maybe grown.
func (f *fig) add(t int64, v val, typ client.TSDataType, bucket int64, buf []byte) []byte {
	c := classOf(typ)
	if f.n == 0 {
		f.minT, f.maxT, f.first, f.last, f.min, f.max = t, t, v, v, v, v
	} else {
		if t < f.minT {
			f.minT, f.first = t, v
		}
		if t > f.maxT {
			f.maxT, f.last = t, v
		}
		if v.less(f.min, c) {
			f.min = v
		}
		if f.max.less(v, c) {
			f.max = v
		}
	}
	f.n++
	if numeric(typ) {
		x := v.num(c)
		f.sum += x
		f.abs += math.Abs(x)
	}
	tm := t % pairMod
	if b, ok := valueBytes(typ, v, buf[:0]); ok {
		buf = b
		h := crc32.ChecksumIEEE(b)
		f.crc += uint64(h)
		f.pair += tm * int64(h%pairMod)
	} else if typ == client.BOOLEAN {
		f.trues += v.i
		f.pair += tm * (v.i + 1)
	}
	if c == cFloat {
		f.pairf += float64(tm) * v.f
	}
	f.tsum += t % bucket
	f.hash += pointHash(t, v, c)
	return buf
}

// cell is one device in one bucket: a fig per measurement of the mapping
// (table model: per FIELD).
type cell struct {
	figs []fig
}

// eps is the unit round-off of float64.
const eps = 0x1p-53

// sumClose compares two sums of the same n values added in different
// orders: each is within (n-1)·eps·Σ|v| of the exact sum (recursive
// summation), so they differ by at most twice that.
func sumClose(a, b float64, n int64, abs float64) bool {
	return math.Abs(a-b) <= 2*float64(n+1)*eps*abs
}

// exactInDouble reports whether IoTDB's DOUBLE sum of n non-negative
// integers below max is exact: every partial sum stays below 2^53.
func exactInDouble(n int64, max float64) bool { return float64(n)*max < 0x1p53 }

// diffFigs compares the source figures s with IoTDB's i over the figures i
// has and returns the names of those that differ ("" when none).
func diffFigs(s, i *fig, typ client.TSDataType, bucket int64) string {
	c := classOf(typ)
	var out []string
	have := i.have
	if s.have != 0 {
		// the source's figures came from SQL, which computes fewer
		have &= s.have | fCount
	}
	if have&fCount != 0 && s.n != i.n {
		return fmt.Sprintf("count %d vs %d", s.n, i.n)
	}
	if s.n == 0 {
		return ""
	}
	if have&fTimes != 0 && (s.minT != i.minT || s.maxT != i.maxT) {
		out = append(out, "first/last time")
	}
	if have&fFirstLast != 0 && (!s.first.equal(i.first, c) || !s.last.equal(i.last, c)) {
		out = append(out, "first/last value")
	}
	abs := s.abs
	if s.have != 0 && numeric(typ) {
		// MySQL's figures have no Σ|v|: bound it by n × the largest
		// magnitude IoTDB holds (a damaged IoTDB value large enough to
		// widen the bound moves the sum by more than it).
		abs = float64(s.n) * max(math.Abs(i.min.num(c)), math.Abs(i.max.num(c)), math.Abs(i.sum)/float64(max(i.n, 1)))
	}
	if have&fSum != 0 && numeric(typ) && !sumClose(s.sum, i.sum, s.n, abs) {
		out = append(out, "sum")
	}
	if have&fMinMax != 0 && ordered(typ) && (!s.min.equal(i.min, c) || !s.max.equal(i.max, c)) {
		out = append(out, "min/max")
	}
	// IoTDB sums these in DOUBLE: exact while the bucket holds fewer than
	// 2^21 values, else compared as sums of n values.
	exactSum := func(a, b int64, name string) {
		if exactInDouble(s.n, 1<<32) {
			if a != b {
				out = append(out, name)
			}
		} else if !sumClose(float64(a), float64(b), s.n, math.Abs(float64(a))) {
			out = append(out, name)
		}
	}
	if have&fCRC != 0 && crcable(typ) {
		exactSum(int64(s.crc), int64(i.crc), "crc32 sum")
	}
	if have&fPair != 0 && typ != client.DATE {
		exactSum(s.pair, i.pair, "sum of time × value residues")
	}
	if have&fTrues != 0 && typ == client.BOOLEAN && s.trues != i.trues {
		out = append(out, "true values")
	}
	if have&fTimeSum != 0 {
		// IoTDB sums in DOUBLE: exact below 2^53.
		if exactInDouble(s.n, float64(bucket)) {
			if s.tsum != i.tsum {
				out = append(out, "sum of times")
			}
		} else if !sumClose(float64(s.tsum), float64(i.tsum), s.n, math.Abs(float64(s.tsum))) {
			out = append(out, "sum of times")
		}
	}
	if have&fPairF != 0 && c == cFloat && !sumClose(s.pairf, i.pairf, s.n, pairMod*abs) {
		out = append(out, "sum of time × value")
	}
	if have&fHash != 0 && s.hash != i.hash {
		out = append(out, "hash of (time, value)")
	}
	if len(out) == 0 {
		return ""
	}
	return joinComma(out)
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
