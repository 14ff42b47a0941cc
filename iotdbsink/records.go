package iotdbsink

import (
	"context"
	"encoding/binary"
	"errors"
	"math"

	"github.com/apache/iotdb-client-go/v2/client"

	"github.com/apache/iotdb-client-go/v2/rpc"
	"github.com/apache/thrift/lib/go/thrift"

	"github.com/mysql-iotdb-bridge/bridge/mapping"
)

// insertRecords, encoded by the sink itself (docs/iotdb.md §2.4).
//
// A fleet batch is thousands of one-row records, each with its device, its
// measurement names, its values and its time. Through the generated thrift
// code every one of those strings is a separate protocol call, which made
// the encoding the largest cost the sink adds per row at 10^5 devices and
// more (profile of issue 10). Here the request body is appended to one
// buffer in the thrift binary protocol's layout, exactly as the generated
// TSInsertRecordsReq.Write would write it (TestRawRecordsMatchThrift
// compares the bytes), and handed to the transport in one write; the
// answer is read by the generated code.
//
// Binary protocol (thrift): a field is its type byte and its id as a
// big-endian i16; a list is its element type byte and an i32 count; a
// string or binary is an i32 length and the bytes; a struct ends with a
// stop byte (0). TSInsertRecordsReq: 1 sessionId i64, 2 prefixPaths
// list<string>, 3 measurementsList list<list<string>>, 4 valuesList
// list<binary>, 5 timestamps list<i64>, 6 isAligned bool.

const (
	tBool   = 2
	tI64    = 10
	tString = 11
	tStruct = 12
	tList   = 15
)

// rawRecords is an encoded insertRecords request without its session id.
type rawRecords struct {
	body []byte // from field 2 of the request to the end of the arguments
	n    int    // records
}

// recordsWriter appends the lists of one request.
type recordsWriter struct{ b []byte }

func (w *recordsWriter) field(typ byte, id int16) {
	w.b = append(w.b, typ)
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(id))
}

func (w *recordsWriter) list(elem byte, n int) {
	w.b = append(w.b, elem)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
}

func (w *recordsWriter) str(s string) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

// encodeRecords turns a chunk into insertRecords: one record per row, the
// row's non-NULL values each as a type byte and the value (records have no
// NULL: a NULL measurement is left out; an all-NULL row is no record).
//
// A fleet chunk is one short record per device, so the encoder's cost per
// row is what counts: the measurement list of a row without NULLs is
// copied whole from the schema's (schemaInfo.recordNames), and the values
// are appended by type without going through appendValue's generic path.
func (s *Sink) encodeRecords(ch chunk) *encoded {
	e := &encoded{buf: bufPool.Get().(*[]byte)}
	w := recordsWriter{b: (*e.buf)[:0]}
	n := 0
	for _, sg := range ch.segs {
		for r := sg.lo; r < sg.hi; r++ {
			if !allNull(sg.g.vals[r]) {
				n++
			}
		}
	}
	w.field(tList, 2) // prefixPaths
	w.list(tString, n)
	for _, sg := range ch.segs {
		for r := sg.lo; r < sg.hi; r++ {
			if !allNull(sg.g.vals[r]) {
				w.str(sg.g.device)
			}
		}
	}
	w.field(tList, 3) // measurementsList
	w.list(tList, n)
	var last *mapping.Schema
	var in *schemaInfo
	for _, sg := range ch.segs {
		if sg.g.schema != last {
			last, in = sg.g.schema, s.info(sg.g.schema)
		}
		names := sg.g.schema.Measurements
		for r := sg.lo; r < sg.hi; r++ {
			row := sg.g.vals[r]
			k := 0
			for _, v := range row {
				if v != nil {
					k++
				}
			}
			switch k {
			case 0:
				continue
			case len(row):
				w.b = append(w.b, in.recordNames...)
				continue
			}
			w.list(tString, k)
			for c, v := range row {
				if v != nil {
					w.str(names[c])
				}
			}
		}
	}
	w.field(tList, 4) // valuesList
	w.list(tString, n)
	for _, sg := range ch.segs {
		types := sg.g.schema.Types
		for r := sg.lo; r < sg.hi; r++ {
			row := sg.g.vals[r]
			if allNull(row) {
				continue
			}
			at := len(w.b)
			w.b = append(w.b, 0, 0, 0, 0) // length, set below
			for c, v := range row {
				if v == nil {
					continue
				}
				w.b = appendRecordValue(w.b, types[c], v)
			}
			binary.BigEndian.PutUint32(w.b[at:], uint32(len(w.b)-at-4))
		}
	}
	w.field(tList, 5) // timestamps
	w.list(tI64, n)
	for _, sg := range ch.segs {
		for r := sg.lo; r < sg.hi; r++ {
			if !allNull(sg.g.vals[r]) {
				w.b = binary.BigEndian.AppendUint64(w.b, uint64(sg.g.times[r]))
			}
		}
	}
	w.field(tBool, 6) // isAligned
	if ch.aligned {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
	w.b = append(w.b, 0, 0) // stop: the request, then the arguments
	*e.buf = w.b
	e.records = &rawRecords{body: w.b, n: n}
	e.empty = n == 0
	return e
}

// appendRecordValue appends one non-NULL record value: its type byte and
// the value (docs/iotdb.md §2.4). The common fixed-width types take a
// direct path; the rest go through appendValue.
func appendRecordValue(b []byte, typ client.TSDataType, v any) []byte {
	switch x := v.(type) {
	case float64:
		if typ == client.DOUBLE {
			return binary.BigEndian.AppendUint64(append(b, byte(client.DOUBLE)), math.Float64bits(x))
		}
	case float32:
		if typ == client.FLOAT {
			return binary.BigEndian.AppendUint32(append(b, byte(client.FLOAT)), math.Float32bits(x))
		}
	case int64:
		if typ == client.INT64 || typ == client.TIMESTAMP {
			return binary.BigEndian.AppendUint64(append(b, byte(typ)), uint64(x))
		}
	case int32:
		if typ == client.INT32 {
			return binary.BigEndian.AppendUint32(append(b, byte(client.INT32)), uint32(x))
		}
	}
	return appendValue(append(b, byte(typ)), typ, v)
}

func allNull(row []any) bool {
	for _, v := range row {
		if v != nil {
			return false
		}
	}
	return true
}

// recordsArgs is insertRecords' argument struct in encoded form.
type recordsArgs struct {
	session int64
	raw     *rawRecords
}

func (a *recordsArgs) Write(ctx context.Context, p thrift.TProtocol) error {
	var head [3 + 3 + 8]byte
	head[0] = tStruct // field 1 of the arguments: req
	binary.BigEndian.PutUint16(head[1:], 1)
	head[3] = tI64 // field 1 of the request: sessionId
	binary.BigEndian.PutUint16(head[4:], 1)
	binary.BigEndian.PutUint64(head[6:], uint64(a.session))
	t := p.Transport()
	if _, err := t.Write(head[:]); err != nil {
		return thrift.NewTProtocolException(err)
	}
	if _, err := t.Write(a.raw.body); err != nil {
		return thrift.NewTProtocolException(err)
	}
	return nil
}

func (a *recordsArgs) Read(context.Context, thrift.TProtocol) error {
	return errors.New("iotdbsink: recordsArgs is write-only")
}

func (a *recordsArgs) String() string { return "insertRecords_args" }

// sendRecords sends an encoded insertRecords on sess and checks the answer.
func sendRecords(ctx context.Context, sess *session, raw *rawRecords) error {
	var result rpc.IClientRPCServiceInsertRecordsResult
	if _, err := sess.rpc.Client_().Call(ctx, "insertRecords", &recordsArgs{session: sess.id, raw: raw}, &result); err != nil {
		return err
	}
	st := result.GetSuccess()
	if st == nil {
		return thrift.NewTApplicationException(thrift.MISSING_RESULT, "insertRecords failed: unknown result")
	}
	return checkStatus("insertRecords", st)
}
