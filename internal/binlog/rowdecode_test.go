package binlog

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

func TestRowsEventTypeFieldFound(t *testing.T) {
	// Without it every event silently takes go-mysql's slower decoder.
	if rowsEventTypeIndex < 0 {
		t.Fatal("go-mysql's RowsEvent has no eventType field: the fast row decoder is disabled")
	}
}

// Boxed values survive collections and chunk boundaries, with their types.
func TestBoxer(t *testing.T) {
	p := &rowPlan{}
	p.perKind = [sizeKinds]int{1, 1, 1, 1, 1, 1}
	var b boxer
	b.reset(p, 3) // chunks of 3 slots: many chunks below
	var got []any
	var want []any
	for i := range 1000 {
		t0 := time.Unix(int64(i)*7919, int64(i)).UTC()
		s := fmt.Sprint("s", i)
		bs := []byte(s)
		got = append(got, b.int16(int16(-i)), b.uint16(uint16(i)), b.int32(int32(-i)), b.uint32(uint32(i)),
			b.float32(math.Float32bits(float32(i)/4)), b.int64(int64(-i)<<40), b.uint64(uint64(i)<<50),
			b.float64(math.Float64bits(float64(i)/8)), b.int(i*1000), b.string(s), b.bytes(bs), b.time(t0))
		want = append(want, int16(-i), uint16(i), int32(-i), uint32(i), float32(i)/4, int64(-i)<<40, uint64(i)<<50,
			float64(i)/8, i*1000, s, []byte(s), t0)
		if i%100 == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	if !reflect.DeepEqual(got, want) {
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("value %d: %T %v, want %T %v", i, got[i], got[i], want[i], want[i])
			}
		}
	}
}

func TestDecimalBinSize(t *testing.T) {
	for _, c := range []struct{ prec, scale, want int }{
		{10, 2, 5}, {18, 0, 8}, {9, 9, 4}, {65, 30, 30}, {1, 0, 1}, {20, 5, 10},
	} {
		if got := decimalBinSize(c.prec, c.scale); got != c.want {
			t.Errorf("DECIMAL(%d,%d): %d bytes, want %d", c.prec, c.scale, got, c.want)
		}
	}
}

// fastTable has a column of every type the fast decoder handles, with the
// binlog metadata variants that matter (length prefix sizes, the packed
// CHAR metadata of a long multi-byte CHAR, BIT widths, fractional digits).
const fastTable = `CREATE TABLE fast_all (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  f FLOAT, d DOUBLE,
  d102 DECIMAL(10,2), d180 DECIMAL(18,0), d99 DECIMAL(9,9), d6530 DECIMAL(65,30), d205 DECIMAL(20,5), d31 DECIMAL(3,1),
  y YEAR, dt DATE,
  dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), dt1 DATETIME(1),
  ts0 TIMESTAMP NULL, ts2 TIMESTAMP(2) NULL, ts6 TIMESTAMP(6) NULL,
  c10 CHAR(10), c100 CHAR(100) CHARACTER SET utf8mb4, v20 VARCHAR(20), v300 VARCHAR(300), v100u VARCHAR(100) CHARACTER SET utf8mb4,
  b4 BINARY(4), vb10 VARBINARY(10),
  e ENUM('a','b','c'), s SET('x','y','z'),
  bit1 BIT(1), bit13 BIT(13), bit64 BIT(64),
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lb LONGBLOB
) ENGINE=InnoDB`

// slowTable has types the fast decoder leaves to go-mysql.
const slowTable = `CREATE TABLE slow_types (
  id INT PRIMARY KEY, tm TIME(3), js JSON, v DOUBLE
) ENGINE=InnoDB`

func randDecimal(r *rand.Rand, prec, scale int) string {
	intg := prec - scale
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteByte('-')
	}
	digits := r.IntN(intg + 1)
	if digits == 0 {
		b.WriteByte('0')
	}
	for i := range digits {
		d := r.IntN(10)
		if i == 0 && d == 0 {
			d = 1
		}
		b.WriteByte(byte('0' + d))
	}
	if scale > 0 {
		b.WriteByte('.')
		for range scale {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	return b.String()
}

func fastRow(r *rand.Rand, id int) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	nul := func(v string) string {
		if r.IntN(10) == 0 {
			return "NULL"
		}
		return v
	}
	str := func(max int, alphabet string) string {
		a := []rune(alphabet)
		n := r.IntN(max + 1)
		var b strings.Builder
		for range n {
			b.WriteRune(a[r.IntN(len(a))])
		}
		return b.String()
	}
	bin := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return fmt.Sprintf("X'%x'", b)
	}
	dtv := func(frac int) string {
		t := time.Date(1970+r.IntN(120), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
		if frac == 0 {
			return q(t.Format("2006-01-02 15:04:05"))
		}
		return q(t.Format("2006-01-02 15:04:05." + strings.Repeat("0", frac)))
	}
	tsv := func(frac int) string {
		t := time.Unix(1+r.Int64N(2_000_000_000), int64(r.IntN(1e9))).UTC()
		if frac == 0 {
			return q(t.Format("2006-01-02 15:04:05"))
		}
		return q(t.Format("2006-01-02 15:04:05." + strings.Repeat("0", frac)))
	}
	vals := []string{
		fmt.Sprint(id),
		nul(fmt.Sprint(r.IntN(256) - 128)), nul(fmt.Sprint(r.IntN(256))),
		nul(fmt.Sprint(r.IntN(65536) - 32768)), nul(fmt.Sprint(r.IntN(65536))),
		nul(fmt.Sprint(r.IntN(1<<24) - 1<<23)), nul(fmt.Sprint(r.IntN(1 << 24))),
		nul(fmt.Sprint(int32(r.Uint32()))), nul(fmt.Sprint(r.Uint32())),
		nul(fmt.Sprint(int64(r.Uint64()))), nul(fmt.Sprint(r.Uint64())),
		nul(fmt.Sprintf("%g", float32(r.NormFloat64()*1000))), nul(fmt.Sprintf("%g", r.NormFloat64()*1e6)),
		nul(randDecimal(r, 10, 2)), nul(randDecimal(r, 18, 0)), nul(randDecimal(r, 9, 9)), nul(randDecimal(r, 65, 30)),
		nul(randDecimal(r, 20, 5)), nul(randDecimal(r, 3, 1)),
		nul(fmt.Sprint(1901 + r.IntN(255))),
		nul(q(time.Date(1000+r.IntN(9000), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02"))),
		nul(dtv(0)), nul(dtv(3)), nul(dtv(6)), nul(dtv(1)),
		nul(tsv(0)), nul(tsv(2)), nul(tsv(6)),
		nul(q(str(10, "abcXYZ 09"))), nul(q(str(100, "aé€😀z"))), nul(q(str(20, "qwerty"))), nul(q(str(300, "long text "))), nul(q(str(100, "ü漢x"))),
		nul(fmt.Sprintf("X'%08x'", r.Uint32())), nul(bin(10)),
		nul(q([]string{"a", "b", "c"}[r.IntN(3)])), nul(q([]string{"", "x", "y,z", "x,y,z"}[r.IntN(4)])),
		nul(fmt.Sprintf("b'%b'", r.IntN(2))), nul(fmt.Sprintf("b'%b'", r.IntN(1<<13))), nul(fmt.Sprintf("%d", r.Uint64()>>1)),
		nul(q(str(200, "tiny"))), nul(q(str(3000, "text "))), nul(q(str(70000, "m"))), nul(bin(300)),
	}
	return "(" + strings.Join(vals, ",") + ")"
}

// TestIntegrationRowDecoderMatchesGoMySQL reads a real MariaDB binlog with
// both decoders on every rows event and requires identical values: the
// fast path on the fast table, go-mysql's own on values and types it
// leaves to it, nothing for an unselected table.
func TestIntegrationRowDecoderMatchesGoMySQL(t *testing.T) {
	m := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if err := m.Exec(ctx, s); err != nil {
				t.Fatalf("%.200s: %v", s, err)
			}
		}
	}
	exec(fastTable, slowTable, "CREATE TABLE other (id INT PRIMARY KEY, v INT)")
	file, pos, _, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}

	r := rand.New(rand.NewPCG(1, 2))
	const n = 600
	for lo := 0; lo < n; lo += 100 {
		var rows []string
		for id := lo; id < lo+100; id++ {
			rows = append(rows, fastRow(r, id))
		}
		exec("INSERT INTO fast_all VALUES " + strings.Join(rows, ","))
	}
	exec(
		"INSERT INTO fast_all (id) VALUES (100000)", // all NULL
		// extremes
		"INSERT INTO fast_all (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d102, d6530, bit64, y, dt) VALUES "+
			"(100001, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, "+
			"-99999999.99, '-99999999999999999999999999999999999.999999999999999999999999999999', b'1111111111111111111111111111111111111111111111111111111111111111', 0, '0000-00-00')",
		"INSERT INTO fast_all (id, d102, d180, d99, d31) VALUES (100002, 0, 0, 0, 0), (100003, -0.01, -1, -0.000000001, -0.1)",
		"UPDATE fast_all SET d = d * 2, v20 = 'upd', e = 'c' WHERE id % 7 = 0",
		"DELETE FROM fast_all WHERE id % 11 = 0",
		// values go-mysql renders as text: whole events fall back
		"INSERT INTO fast_all (id, dt0) VALUES (100004, '1969-12-31 23:59:59')",
		"INSERT INTO fast_all (id, dt3) VALUES (100005, '0000-00-00 00:00:00')",
		"INSERT INTO fast_all (id, ts0) VALUES (100006, '0000-00-00 00:00:00')",
		"INSERT INTO slow_types VALUES (1, '-12:34:56.789', '{\"a\": [1, 2.5, \"x\"]}', 1.5), (2, NULL, NULL, NULL)",
		"UPDATE slow_types SET v = 2.5",
		"INSERT INTO other VALUES (1, 1), (2, 2)",
		"UPDATE other SET v = v + 1",
	)
	endFile, endPos, _, err := m.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}

	dec := newRowDecoder(func(schema, table string) bool { return schema == m.Database && table != "other" }, nil)
	type seen struct{ rows, compared int }
	got := map[string]*seen{}
	var mismatch []string
	var kept [][2][][]any // every event's rows both ways, compared again after collections
	decodeBoth := func(re *replication.RowsEvent, data []byte) error {
		std := *re
		if err := std.Decode(data); err != nil {
			return err
		}
		if err := dec.decode(re, data); err != nil {
			return err
		}
		name := string(re.Table.Table)
		s := got[name]
		if s == nil {
			s = &seen{}
			got[name] = s
		}
		s.rows += len(std.Rows)
		if name == "other" {
			if re.Rows != nil {
				mismatch = append(mismatch, "other: rows decoded for an unselected table")
			}
			return nil
		}
		if len(re.Rows) != len(std.Rows) {
			mismatch = append(mismatch, fmt.Sprintf("%s: %d rows, go-mysql %d", name, len(re.Rows), len(std.Rows)))
			return nil
		}
		kept = append(kept, [2][][]any{re.Rows, std.Rows})
		cols := re.Table.ColumnNameString()
		for i := range std.Rows {
			for j := range std.Rows[i] {
				a, b := re.Rows[i][j], std.Rows[i][j]
				if !reflect.DeepEqual(a, b) && len(mismatch) < 20 {
					mismatch = append(mismatch, fmt.Sprintf("%s row %d column %s: ours %T %#v, go-mysql %T %#v", name, i, cols[j], a, a, b, b))
				}
			}
			s.compared++
		}
		return nil
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 5409, Flavor: FlavorMariaDB, Host: m.Host, Port: uint16(m.Port),
		User: m.BridgeUser, Password: m.BridgePassword, ParseTime: true,
		DisableRetrySync: true, RowsEventDecodeFunc: decodeBoth,
	})
	defer syncer.Close()
	st, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading the binlog: %v (mismatches so far: %v)", err, mismatch)
		}
		if _, ok := ev.Event.(*replication.RotateEvent); ok {
			continue
		}
		if ev.Header.LogPos >= endPos && (endFile == file) {
			break
		}
	}
	if len(mismatch) > 0 {
		t.Fatalf("decoders disagree:\n%s", strings.Join(mismatch, "\n"))
	}
	// The values point into shared arrays: they must outlive collections
	// and the buffers of later events.
	runtime.GC()
	debug.FreeOSMemory()
	for _, k := range kept {
		if !reflect.DeepEqual(k[0], k[1]) {
			t.Fatal("decoded values changed after garbage collections")
		}
	}
	// The UPDATE and DELETE see ids 0..n-1 and 100000..100003.
	updated, deleted := 0, 0
	for _, id := range append(seq(0, n), seq(100000, 100004)...) {
		if id%7 == 0 {
			updated++
		}
		if id%11 == 0 {
			deleted++
		}
	}
	wantFast := n + 7 + 2*updated + deleted // inserts, update pairs, deletes
	if s := got["fast_all"]; s == nil || s.compared != wantFast {
		t.Fatalf("fast_all: compared %+v row images, want %d", s, wantFast)
	}
	if s := got["slow_types"]; s == nil || s.compared != 2+2*2 {
		t.Fatalf("slow_types: compared %+v row images, want 6", s)
	}
	if s := got["other"]; s == nil || s.rows != 2+2*2 {
		t.Fatalf("other: saw %+v row images, want 6", s)
	}
	// Three single-row events hold text-rendered dates, and slow_types'
	// three events are all go-mysql's; the rest took the fast path.
	if dec.counts.fallback.Load() != 3+2 {
		t.Errorf("fallback events = %d, want 5 (3 text-rendered dates, 2 slow_types)", dec.counts.fallback.Load())
	}
	if dec.counts.fast.Load() < 10 || dec.counts.skipped.Load() != 2 {
		t.Errorf("fast events = %d (want ≥ 10), skipped = %d (want 2)", dec.counts.fast.Load(), dec.counts.skipped.Load())
	}
	t.Logf("fast events %d, fallback %d, skipped %d; row images: %+v %+v", dec.counts.fast.Load(), dec.counts.fallback.Load(), dec.counts.skipped.Load(), *got["fast_all"], *got["slow_types"])
}

func seq(lo, hi int) []int {
	var out []int
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}
