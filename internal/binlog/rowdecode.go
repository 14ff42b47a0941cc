package binlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

// rowDecoder decodes the row images of rows events in place of go-mysql's
// RowsEvent.DecodeData (installed as BinlogSyncerConfig.RowsEventDecodeFunc).
//
// Why: decoding is the largest cost of catching up. go-mysql decodes every
// rows event of every table, and for each row image rebuilds the table's
// signedness map and allocates the row and a skipped-columns slice. This
// decoder:
//   - skips the images of tables Config.Tables does not select (their
//     events still arrive, with Rows nil, and are dropped by the processor);
//   - works out each table map's column layout once per table map, not once
//     per row;
//   - puts all the rows of an event in one backing array.
//
// The values it produces are exactly go-mysql's (ParseTime on, UseDecimal
// off; the types listed on RowsEvent.Rows), for the column types it
// handles: integers, FLOAT, DOUBLE, DECIMAL, YEAR, DATE, DATETIME(n),
// TIMESTAMP(n), CHAR/VARCHAR/BINARY/VARBINARY, ENUM, SET, BIT, TEXT/BLOB.
// Everything else is handed to go-mysql's own decoder: a table with another
// column type (TIME, JSON, GEOMETRY, the pre-5.6 temporal types), an image
// that is not FULL, compressed (MariaDB) and partial-JSON (MySQL) events,
// and an event holding a value go-mysql renders as text (zero and pre-1970
// dates, a zero TIMESTAMP). A test decodes the same real binlog both ways
// and compares every value.
//
// A decoder belongs to one syncer: go-mysql calls it from that syncer's
// parsing goroutine only.
type rowDecoder struct {
	tables func(schema, table string) bool // nil: every table

	tm   *replication.TableMapEvent // the table map plan was made for
	plan *rowPlan
	// plans remembers the plan of each table id: a transaction's table maps
	// are new objects with the same layout, so a plan is reused when the
	// layout is the same.
	plans map[uint64]*rowPlan

	counts *decodeCounts
	box    boxer // the current event's value arrays
}

// decodeCounts counts rows events by how they were decoded. Atomic: read
// by the metrics while the syncer decodes.
type decodeCounts struct {
	fast, fallback, skipped atomic.Int64
}

// DecodeStats counts rows events by how their row images were decoded.
type DecodeStats struct {
	Fast    int64 // by the stream's own decoder
	GoMySQL int64 // by go-mysql's decoder: a column type, image or event kind the own decoder leaves to it
	Skipped int64 // not decoded: tables Config.Tables does not select
}

func newRowDecoder(tables func(schema, table string) bool, counts *decodeCounts) *rowDecoder {
	if counts == nil {
		counts = &decodeCounts{}
	}
	return &rowDecoder{tables: tables, plans: map[uint64]*rowPlan{}, counts: counts}
}

// rowPlan is what decoding needs to know about a table map.
type rowPlan struct {
	schema, table   []byte // as in the table map, to recognise the same layout
	types, signed   []byte
	meta            []uint16
	wanted          bool // selected by Config.Tables
	fast            bool // every column has a type decodeFast handles
	cols            []fastCol
	nullBitmapBytes int
	perKind         [sizeKinds]int // boxed slots per row image, by kind
	lastImage       int            // bytes of the last row image decoded
}

type fastCol struct {
	kind     colKind
	unsigned bool
	size     int    // fixed size in bytes (integers, FLOAT, DOUBLE, DECIMAL, BIT, temporals, ENUM, SET)
	lenBytes int    // length prefix size (strings, blobs)
	prec     uint8  // DECIMAL
	scale    uint8  // DECIMAL
	dec      uint16 // fractional second digits (DATETIME2, TIMESTAMP2)
	nbits    int    // BIT
}

type colKind uint8

const (
	kTiny colKind = iota
	kShort
	kInt24
	kLong
	kLongLong
	kFloat
	kDouble
	kDecimal
	kYear
	kDate
	kDatetime2
	kTimestamp2
	kString // CHAR, VARCHAR, BINARY, VARBINARY: string
	kBlob   // TEXT, BLOB: []byte
	kEnum
	kSet
	kBit
)

// errSlowPath means the event holds something only go-mysql's decoder
// renders (see rowDecoder): decode the whole event that way instead.
var errSlowPath = errors.New("binlog: value left to go-mysql's decoder")

// rowsEventTypeIndex locates go-mysql's unexported RowsEvent.eventType, the
// only record of whether an event is compressed or a partial update (the
// decode hook is not given the header). -1 when this go-mysql has no such
// field: then every event takes go-mysql's decoder.
var rowsEventTypeIndex = func() int {
	f, ok := reflect.TypeOf(replication.RowsEvent{}).FieldByName("eventType")
	if !ok || f.Type != reflect.TypeOf(replication.EventType(0)) || len(f.Index) != 1 {
		return -1
	}
	return f.Index[0]
}()

func rowsEventType(re *replication.RowsEvent) (replication.EventType, bool) {
	if rowsEventTypeIndex < 0 {
		return 0, false
	}
	return replication.EventType(reflect.ValueOf(re).Elem().Field(rowsEventTypeIndex).Uint()), true
}

// decode is the RowsEventDecodeFunc.
func (d *rowDecoder) decode(re *replication.RowsEvent, data []byte) error {
	pos, err := re.DecodeHeader(data)
	if err != nil {
		return err
	}
	plan := d.planFor(re.Table)
	if !plan.wanted {
		d.counts.skipped.Add(1)
		return nil
	}
	update, ok := d.fastEvent(re, plan)
	if ok {
		rows, err := plan.decodeRows(data[pos:], update, &d.box)
		if err == nil {
			d.counts.fast.Add(1)
			re.Rows = rows
			return nil
		}
		if !errors.Is(err, errSlowPath) {
			return fmt.Errorf("decode rows of %s.%s (table id %d): %w", plan.schema, plan.table, re.TableID, err)
		}
	}
	d.counts.fallback.Add(1)
	return re.DecodeData(pos, data)
}

// fastEvent tells whether decodeRows can take re, and whether it is an
// update (two images per row).
func (d *rowDecoder) fastEvent(re *replication.RowsEvent, plan *rowPlan) (update, ok bool) {
	if !plan.fast {
		return false, false
	}
	t, known := rowsEventType(re)
	if !known {
		return false, false
	}
	switch t {
	case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
	case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		update = true
	default: // v0, compressed, partial JSON
		return false, false
	}
	n := int(re.ColumnCount)
	if n != len(plan.cols) || !allSet(re.ColumnBitmap1, n) || update && !allSet(re.ColumnBitmap2, n) {
		return false, false // not a FULL image: go-mysql reports the skipped columns
	}
	return update, true
}

func allSet(bitmap []byte, n int) bool {
	if len(bitmap) < (n+7)/8 {
		return false
	}
	for i := 0; i < n/8; i++ {
		if bitmap[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		mask := byte(1<<r) - 1
		return bitmap[n/8]&mask == mask
	}
	return true
}

// planFor returns the plan of tm, reusing the last one for the same layout.
func (d *rowDecoder) planFor(tm *replication.TableMapEvent) *rowPlan {
	if tm == d.tm {
		return d.plan
	}
	p := d.plans[tm.TableID]
	if p == nil || !p.sameLayout(tm) {
		p = d.newPlan(tm)
		if len(d.plans) > 4096 {
			clear(d.plans) // table ids keep growing on a server that reopens tables
		}
		d.plans[tm.TableID] = p
	}
	d.tm, d.plan = tm, p
	return p
}

func (p *rowPlan) sameLayout(tm *replication.TableMapEvent) bool {
	if len(p.meta) != len(tm.ColumnMeta) {
		return false
	}
	for i, m := range tm.ColumnMeta {
		if p.meta[i] != m {
			return false
		}
	}
	return string(p.types) == string(tm.ColumnType) && string(p.signed) == string(tm.SignednessBitmap) &&
		string(p.table) == string(tm.Table) && string(p.schema) == string(tm.Schema)
}

func (d *rowDecoder) newPlan(tm *replication.TableMapEvent) *rowPlan {
	p := &rowPlan{
		schema: append([]byte(nil), tm.Schema...),
		table:  append([]byte(nil), tm.Table...),
		types:  append([]byte(nil), tm.ColumnType...),
		signed: append([]byte(nil), tm.SignednessBitmap...),
		meta:   append([]uint16(nil), tm.ColumnMeta...),
		wanted: d.tables == nil || d.tables(string(tm.Schema), string(tm.Table)),
	}
	if !p.wanted {
		return p
	}
	n := len(tm.ColumnType)
	if uint64(n) != tm.ColumnCount || len(tm.ColumnMeta) != n {
		return p
	}
	unsigned := unsignedColumns(tm)
	p.cols = make([]fastCol, n)
	p.fast = true
	for i := range n {
		c, ok := fastColumn(tm.ColumnType[i], tm.ColumnMeta[i])
		if !ok {
			p.fast = false
			p.cols = nil
			return p
		}
		c.unsigned = unsigned[i]
		p.cols[i] = c
	}
	p.nullBitmapBytes = (n + 7) / 8
	p.lastImage = p.nullBitmapBytes // a lower bound until an image is seen
	for _, c := range p.cols {
		p.lastImage += c.size + c.lenBytes
		switch c.kind {
		case kShort:
			p.perKind[size16]++
		case kInt24, kLong, kFloat:
			p.perKind[size32]++
		case kLongLong, kDouble, kYear, kEnum, kSet, kBit:
			p.perKind[size64]++
		case kDecimal, kDate, kString:
			p.perKind[sizeString]++
		case kBlob:
			p.perKind[sizeBytes]++
		case kDatetime2, kTimestamp2:
			p.perKind[sizeTime]++
		}
	}
	return p
}

// unsignedColumns reads the table map's signedness bits the way go-mysql's
// TableMapEvent.UnsignedMap does: one bit per numeric column, most
// significant first; no bits means every column is signed.
func unsignedColumns(tm *replication.TableMapEvent) []bool {
	n := int(tm.ColumnCount)
	out := make([]bool, n)
	if len(tm.SignednessBitmap) == 0 {
		return out
	}
	i := 0
	for _, field := range tm.SignednessBitmap {
		for c := 0x80; c != 0; {
			if i >= n {
				return out
			}
			if tm.IsNumericColumn(i) {
				out[i] = field&byte(c) != 0
				c >>= 1
			}
			i++
		}
	}
	return out
}

// fastColumn describes a column of binlog type tp and metadata meta, or
// reports that decodeFast does not handle it.
func fastColumn(tp byte, meta uint16) (fastCol, bool) {
	switch tp {
	case mysql.MYSQL_TYPE_TINY:
		return fastCol{kind: kTiny, size: 1}, true
	case mysql.MYSQL_TYPE_SHORT:
		return fastCol{kind: kShort, size: 2}, true
	case mysql.MYSQL_TYPE_INT24:
		return fastCol{kind: kInt24, size: 3}, true
	case mysql.MYSQL_TYPE_LONG:
		return fastCol{kind: kLong, size: 4}, true
	case mysql.MYSQL_TYPE_LONGLONG:
		return fastCol{kind: kLongLong, size: 8}, true
	case mysql.MYSQL_TYPE_FLOAT:
		return fastCol{kind: kFloat, size: 4}, true
	case mysql.MYSQL_TYPE_DOUBLE:
		return fastCol{kind: kDouble, size: 8}, true
	case mysql.MYSQL_TYPE_YEAR:
		return fastCol{kind: kYear, size: 1}, true
	case mysql.MYSQL_TYPE_DATE:
		return fastCol{kind: kDate, size: 3}, true
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		prec, scale := uint8(meta>>8), uint8(meta)
		if prec == 0 || prec > 65 || scale > 30 || scale > prec {
			return fastCol{}, false
		}
		return fastCol{kind: kDecimal, prec: prec, scale: scale, size: decimalBinSize(int(prec), int(scale))}, true
	case mysql.MYSQL_TYPE_DATETIME2:
		if meta > 6 {
			return fastCol{}, false
		}
		return fastCol{kind: kDatetime2, dec: meta, size: 5 + int(meta+1)/2}, true
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		if meta > 6 {
			return fastCol{}, false
		}
		return fastCol{kind: kTimestamp2, dec: meta, size: 4 + int(meta+1)/2}, true
	case mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING:
		return fastCol{kind: kString, lenBytes: stringLenBytes(int(meta))}, true
	case mysql.MYSQL_TYPE_BLOB:
		if meta < 1 || meta > 4 {
			return fastCol{}, false
		}
		return fastCol{kind: kBlob, lenBytes: int(meta)}, true
	case mysql.MYSQL_TYPE_BIT:
		nbits := int(meta>>8)*8 + int(meta&0xff)
		size := (nbits + 7) / 8
		if nbits < 1 || size > 8 {
			return fastCol{}, false
		}
		return fastCol{kind: kBit, nbits: nbits, size: size}, true
	case mysql.MYSQL_TYPE_STRING:
		// The real type and the length share the metadata (see go-mysql's
		// decodeValue and the server's Field_string::do_save_field_metadata).
		length := int(meta)
		real := byte(mysql.MYSQL_TYPE_STRING)
		if meta >= 256 {
			b0, b1 := uint8(meta>>8), uint8(meta&0xff)
			if b0&0x30 != 0x30 {
				length = int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
				real = b0 | 0x30
			} else {
				length = int(meta & 0xff)
				real = b0
			}
		}
		switch real {
		case mysql.MYSQL_TYPE_STRING:
			return fastCol{kind: kString, lenBytes: stringLenBytes(length)}, true
		case mysql.MYSQL_TYPE_ENUM:
			if l := meta & 0xff; l == 1 || l == 2 {
				return fastCol{kind: kEnum, size: int(l)}, true
			}
		case mysql.MYSQL_TYPE_SET:
			if l := int(meta & 0xff); l >= 1 && l <= 8 {
				return fastCol{kind: kSet, size: l}, true
			}
		}
	}
	return fastCol{}, false
}

func stringLenBytes(maxLen int) int {
	if maxLen < 256 {
		return 1
	}
	return 2
}

// decodeRows decodes every row image in data. Rows share one backing array.
func (p *rowPlan) decodeRows(data []byte, update bool, box *boxer) (rows [][]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("malformed row image: %v", r)
		}
	}()
	n := len(p.cols)
	// Size the arrays from the last image size seen for this layout.
	est := len(data)/max(p.lastImage, p.nullBitmapBytes+1) + 1
	box.reset(p, est)
	vals := make([]any, 0, est*n)
	pos := 0
	images := 0
	for pos < len(data) {
		start := len(vals)
		if start+n > cap(vals) {
			grown := make([]any, start, 2*cap(vals)+n)
			copy(grown, vals)
			vals = grown
		}
		vals = vals[:start+n] // fresh memory: already nil
		used, err := p.decodeImage(data[pos:], vals[start:start+n], box)
		if err != nil {
			return nil, err
		}
		pos += used
		images++
		p.lastImage = used
	}
	if update && images%2 != 0 {
		return nil, fmt.Errorf("update event with %d row images", images)
	}
	rows = make([][]any, images)
	for i := range rows {
		rows[i] = vals[i*n : (i+1)*n : (i+1)*n]
	}
	return rows, nil
}

// decodeImage decodes one full row image into row and returns its length.
func (p *rowPlan) decodeImage(data []byte, row []any, box *boxer) (int, error) {
	nulls := data[:p.nullBitmapBytes]
	pos := p.nullBitmapBytes
	for i := range p.cols {
		if nulls[i>>3]&(1<<(uint(i)&7)) != 0 {
			continue // row[i] stays nil
		}
		c := &p.cols[i]
		b := data[pos:]
		var v any
		n := c.size
		switch c.kind {
		case kTiny:
			if c.unsigned {
				v = b[0]
			} else {
				v = int8(b[0])
			}
		case kShort:
			u := binary.LittleEndian.Uint16(b)
			if c.unsigned {
				v = box.uint16(u)
			} else {
				v = box.int16(int16(u))
			}
		case kInt24:
			u := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			if c.unsigned {
				v = box.uint32(u)
			} else {
				if u&0x00800000 != 0 {
					u |= 0xff000000
				}
				v = box.int32(int32(u))
			}
		case kLong:
			u := binary.LittleEndian.Uint32(b)
			if c.unsigned {
				v = box.uint32(u)
			} else {
				v = box.int32(int32(u))
			}
		case kLongLong:
			u := binary.LittleEndian.Uint64(b)
			if c.unsigned {
				v = box.uint64(u)
			} else {
				v = box.int64(int64(u))
			}
		case kFloat:
			v = box.float32(binary.LittleEndian.Uint32(b))
		case kDouble:
			v = box.float64(binary.LittleEndian.Uint64(b))
		case kDecimal:
			v = box.string(decodeDecimalText(b[:c.size], int(c.prec), int(c.scale)))
		case kYear:
			y := int(b[0])
			if y != 0 {
				y += 1900
			}
			v = box.int(y)
		case kDate:
			v = box.string(dateText(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16))
		case kDatetime2:
			t, ok := datetime2(b, c.dec)
			if !ok {
				return 0, errSlowPath
			}
			v = box.time(t)
		case kTimestamp2:
			t, ok := timestamp2(b, c.dec)
			if !ok {
				return 0, errSlowPath
			}
			v = box.time(t)
		case kString:
			n = c.lenBytes + lengthPrefix(b, c.lenBytes)
			v = box.string(bytesString(b[c.lenBytes:n]))
		case kBlob:
			n = c.lenBytes + lengthPrefix(b, c.lenBytes)
			v = box.bytes(b[c.lenBytes:n:n])
		case kEnum:
			if c.size == 1 {
				v = box.int64(int64(b[0]))
			} else {
				v = box.int64(int64(binary.LittleEndian.Uint16(b)))
			}
		case kSet:
			var u uint64
			for j := c.size - 1; j >= 0; j-- {
				u = u<<8 | uint64(b[j])
			}
			v = box.int64(int64(u))
		case kBit:
			var u uint64
			for j := 0; j < c.size; j++ {
				u = u<<8 | uint64(b[j])
			}
			v = box.int64(int64(u))
		}
		row[i] = v
		pos += n
	}
	return pos, nil
}

// lengthPrefix reads the little-endian length of size bytes (1 to 4) that
// precedes a string or blob value.
func lengthPrefix(b []byte, size int) int {
	l := 0
	for i := size - 1; i >= 0; i-- {
		l = l<<8 | int(b[i])
	}
	return l
}

// bytesString returns the bytes as a string without copying, as go-mysql
// does: the event's buffer is never reused.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// dateText renders a binlog DATE (day | month<<5 | year<<9) as go-mysql
// does: "YYYY-MM-DD", "0000-00-00" for zero.
func dateText(v uint32) string {
	if v == 0 {
		return "0000-00-00"
	}
	var buf [16]byte
	b := appendPadded(buf[:0], int(v/(16*32)), 4)
	b = append(b, '-')
	b = appendPadded(b, int(v/32%16), 2)
	b = append(b, '-')
	b = appendPadded(b, int(v%32), 2)
	return string(b)
}

// appendPadded appends n in decimal, zero-padded to at least width digits
// (fmt's %0*d for non-negative n).
func appendPadded(b []byte, n, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(n), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// fracMicros reads the fractional seconds of a DATETIME2/TIMESTAMP2/TIME2
// with dec digits, in microseconds.
func fracMicros(b []byte, dec uint16) int64 {
	switch dec {
	case 1, 2:
		return int64(b[0]) * 10000
	case 3, 4:
		return int64(binary.BigEndian.Uint16(b)) * 100
	case 5, 6:
		return int64(b[0])<<16 | int64(b[1])<<8 | int64(b[2])
	}
	return 0
}

// datetime2 decodes a DATETIME(dec) as go-mysql does with ParseTime: a UTC
// time.Time. ok is false for the values go-mysql renders as text (zero
// dates, zero month or day, before 1970-01-01).
func datetime2(b []byte, dec uint16) (time.Time, bool) {
	const intOfs = 0x8000000000
	packed := int64(b[0])<<32 | int64(b[1])<<24 | int64(b[2])<<16 | int64(b[3])<<8 | int64(b[4])
	intPart := packed - intOfs
	// 107420450816 is 1970-01-01 00:00:00 in this encoding; go-mysql renders
	// anything earlier as text.
	if intPart < 107420450816 {
		return time.Time{}, false
	}
	frac := fracMicros(b[5:], dec)
	ymd := intPart >> 17
	ym := ymd >> 5
	hms := intPart % (1 << 17)
	day := int(ymd % (1 << 5))
	month := int(ym % 13)
	year := int(ym / 13)
	if month == 0 || day == 0 {
		return time.Time{}, false
	}
	second := int(hms % (1 << 6))
	minute := int((hms >> 6) % (1 << 6))
	hour := int(hms >> 12)
	return time.Date(year, time.Month(month), day, hour, minute, second, int(frac*1000), time.UTC), true
}

// timestamp2 decodes a TIMESTAMP(dec) as go-mysql does with ParseTime:
// time.Unix in the local zone. ok is false for zero (rendered as text).
func timestamp2(b []byte, dec uint16) (time.Time, bool) {
	sec := int64(binary.BigEndian.Uint32(b))
	if sec == 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, fracMicros(b[4:], dec)*1000), true
}

// DECIMAL binary format (the server's decimal2bin): the integer and the
// fractional digits are each stored as groups of 9 digits in 4 big-endian
// bytes, plus a leading (integer) or trailing (fraction) partial group in
// the fewest bytes that hold it; negative values have every bit inverted;
// the top bit of the first byte is flipped so that the bytes sort.
const decimalGroupDigits = 9

var decimalPartialBytes = [decimalGroupDigits + 1]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

func decimalBinSize(prec, scale int) int {
	intg := prec - scale
	return intg/decimalGroupDigits*4 + decimalPartialBytes[intg%decimalGroupDigits] +
		scale/decimalGroupDigits*4 + decimalPartialBytes[scale%decimalGroupDigits]
}

// decodeDecimalText renders a binary DECIMAL(prec, scale) as go-mysql's text:
// an optional "-", the integer digits without leading zeros ("0" when
// none), and when scale > 0 a "." and exactly scale fractional digits.
func decodeDecimalText(b []byte, prec, scale int) string {
	intg := prec - scale
	var mask byte
	if b[0]&0x80 == 0 {
		mask = 0xff
	}
	// be reads n bytes at off as a big-endian number, undoing the sign
	// transform (the flipped top bit of the first byte, inversion if negative).
	be := func(off, n int) uint32 {
		var v uint32
		for i := off; i < off+n; i++ {
			x := b[i]
			if i == 0 {
				x ^= 0x80
			}
			v = v<<8 | uint32(x^mask)
		}
		return v
	}
	out := make([]byte, 0, prec+3)
	if mask != 0 {
		out = append(out, '-')
	}
	pos := 0
	lead := decimalPartialBytes[intg%decimalGroupDigits]
	zeroLeading := true
	if lead > 0 {
		if v := be(0, lead); v != 0 {
			out = strconv.AppendUint(out, uint64(v), 10)
			zeroLeading = false
		}
		pos += lead
	}
	for range intg / decimalGroupDigits {
		v := be(pos, 4)
		pos += 4
		if zeroLeading {
			if v != 0 {
				out = strconv.AppendUint(out, uint64(v), 10)
				zeroLeading = false
			}
			continue
		}
		out = appendPadded(out, int(v), decimalGroupDigits)
	}
	if zeroLeading {
		out = append(out, '0')
	}
	if scale > 0 {
		out = append(out, '.')
		for range scale / decimalGroupDigits {
			out = appendPadded(out, int(be(pos, 4)), decimalGroupDigits)
			pos += 4
		}
		if rest := scale % decimalGroupDigits; rest > 0 {
			out = appendPadded(out, int(be(pos, decimalPartialBytes[rest])), rest)
		}
	}
	return string(out)
}
