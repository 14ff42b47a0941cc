package mapping

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"

	"github.com/mysql-iotdb-bridge/bridge/config"
	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
)

const allTypesDDL = "CREATE TABLE all_types (" +
	"id BIGINT PRIMARY KEY," +
	"device_id VARCHAR(64) CHARACTER SET utf8mb4 NULL," +
	"site VARCHAR(32) NOT NULL," +
	"created_at DATETIME(6) NULL," +
	"ts TIMESTAMP(3) NULL DEFAULT NULL," +
	"temperature DOUBLE, humidity FLOAT, ok TINYINT(1)," +
	"ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED," +
	"mi MEDIUMINT, mu MEDIUMINT UNSIGNED, ii INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED," +
	"price DECIMAL(65,30), flag BIT(1), bits BIT(10)," +
	"level ENUM('low','mid','high'), opts SET('a','b','c')," +
	"doc JSON, day DATE, yr YEAR, raw VARBINARY(16), bin4 BINARY(4), note TEXT, dur TIME(3), code CHAR(6))"

const allTypesInsert = "SET STATEMENT sql_mode='' FOR INSERT INTO all_types VALUES " +
	// 1: an ordinary row
	"(1, 'pump-7.b', 'berlin', '2024-03-05 10:11:12.123456', '2024-03-05 10:11:12.345', 21.5, 40.1, 1," +
	" 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '3.14', b'1', b'1000000001', 'mid', 'a,c'," +
	" '{\"a\": 1, \"b\": [true, null]}', '2024-03-05', 2024, 0x000102, 'ab', 'hello 東京 🚀', '12:00:00', 'ab  ')," +
	// 2: maxima, utf8mb4 device id, pre-1970 DATETIME (a string in the binlog), YEAR 0
	"(2, '東京 `x`🚀', 'berlin', '1969-12-31 23:59:59.999500', '2038-01-19 03:14:07.999', -1.5e300, 3.4e38, 0," +
	" 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615," +
	" '12345678901234567890123456789012345.123456789012345678901234567890', b'0', b'1111111111', 'high', 'a,b,c'," +
	" '[]', '1000-01-01', 0, '', 'abcd', '', '-838:59:59.999', ' x ')," +
	// 3: minima, 2^63 unsigned, the first TIMESTAMP
	"(3, 'p.3', 'site 3', '2024-03-31 02:30:00', '1970-01-01 00:00:01', 0, 0, 0," +
	" -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 9223372036854775808," +
	" '-0.000000000000000000000000000001', b'0', b'0', 'low', ''," +
	" 'null', '9999-12-31', 1901, 0x00, 0x61, NULL, '00:00:00', '')," +
	// 4: zero dates
	"(4, 'zero', 'berlin', '2024-01-01 00:00:00', '0000-00-00 00:00:00', NULL, NULL, NULL," +
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," +
	" NULL, '0000-00-00', NULL, NULL, NULL, NULL, NULL, NULL)," +
	// 5: zero in date (NO_ZERO_IN_DATE is off by default in MariaDB)
	"(5, 'zero-in', 'berlin', '2024-01-01 00:00:00', NULL, NULL, NULL, NULL," +
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," +
	" NULL, '2024-00-10', NULL, NULL, NULL, NULL, NULL, NULL)," +
	// 6: NULL device, 7: NULL time, 8: zero time
	"(6, NULL, 'berlin', '2024-01-01 00:00:00', NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," +
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)," +
	"(7, 'd', 'berlin', NULL, NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," +
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)," +
	"(8, 'd', 'berlin', '0000-00-00 00:00:00', NULL, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," +
	" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"

const allTypesRows = 8

// outcome is what Map made of one row: a point or a dirty reason.
type outcome struct {
	point  Point
	reason string
	column string
}

func mapOutcome(mp *Mapper, row []any) outcome {
	p, err := mp.Map(row)
	if err != nil {
		var de *DirtyError
		if errors.As(err, &de) {
			return outcome{reason: de.Reason, column: de.Column}
		}
		return outcome{reason: "error: " + err.Error()}
	}
	return outcome{point: p}
}

func TestIntegrationLoadTableSchema(t *testing.T) {
	srv := testenv.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := srv.DB(t)
	if err := srv.Exec(ctx, allTypesDDL); err != nil {
		t.Fatal(err)
	}
	file, pos, _, err := srv.BinlogPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, allTypesInsert); err != nil {
		t.Fatal(err)
	}

	// Schema.
	ts, err := LoadTableSchema(ctx, db, srv.Database, "all_types")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ts.PrimaryKey, []string{"id"}) || len(ts.Columns) != 31 {
		t.Fatalf("schema: pk %v, %d columns", ts.PrimaryKey, len(ts.Columns))
	}
	check := func(name string, f func(c *Column) bool) {
		c, ok := ts.Column(name)
		if !ok || !f(c) {
			t.Errorf("column %s: %+v", name, c)
		}
	}
	check("bu", func(c *Column) bool { return c.Unsigned && c.DataType == "bigint" })
	check("bi", func(c *Column) bool { return !c.Unsigned })
	check("level", func(c *Column) bool { return reflect.DeepEqual(c.Elements, []string{"low", "mid", "high"}) })
	check("opts", func(c *Column) bool { return reflect.DeepEqual(c.Elements, []string{"a", "b", "c"}) })
	check("bits", func(c *Column) bool { return c.Precision == 10 })
	check("price", func(c *Column) bool { return c.Precision == 65 && c.Scale == 30 })
	check("created_at", func(c *Column) bool { return c.DatetimePrecision == 6 && c.Nullable })
	check("doc", func(c *Column) bool { return c.DataType == "longtext" }) // MariaDB JSON is LONGTEXT
	check("ok", func(c *Column) bool { return strings.HasPrefix(c.ColumnType, "tinyint(1)") })
	if _, err := LoadTableSchema(ctx, db, srv.Database, "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing table: %v", err)
	}

	// Compile with every column as a measurement.
	m := &config.Mapping{
		Table: "all_types", Device: "root.factory.${site}.${device_id}",
		Time: config.TimeSpec{Column: "created_at"}, Unsigned: "string", ZeroDate: "null",
		Pos: config.Pos{File: "it.yaml", Line: 1},
	}
	for _, c := range ts.Columns {
		switch c.Name {
		case "id", "device_id", "site", "created_at":
		default:
			m.Measurements = append(m.Measurements, config.Measurement{Column: c.Name})
		}
	}
	mp, err := Compile(m, ts, Options{Precision: "us"})
	if err != nil {
		t.Fatal(err)
	}

	// SQL path: a prepared statement (binary protocol) with the bridge DSN
	// parameters (parseTime, loc=UTC, time_zone '+00:00'), once with plain
	// columns and once with SelectList.
	bdb, err := sql.Open("mysql", srv.BridgeDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	plain := make([]string, len(mp.Columns()))
	for i, c := range mp.Columns() {
		plain[i] = "`" + c + "`"
	}
	sqlPlain := readSQL(ctx, t, bdb, mp, plain)
	sqlSel := readSQL(ctx, t, bdb, mp, mp.SelectList())

	// Binlog path.
	binlog := readBinlog(ctx, t, srv, file, pos, mp)

	for id := int64(1); id <= allTypesRows; id++ {
		s, b := sqlSel[id], binlog[id]
		if !reflect.DeepEqual(s, b) {
			t.Errorf("row %d: SQL (SelectList) and binlog differ:\n sql    %+v\n binlog %+v", id, s, b)
		}
		if id == 5 {
			continue // see below
		}
		if p := sqlPlain[id]; !reflect.DeepEqual(p, b) {
			t.Errorf("row %d: SQL (plain) and binlog differ:\n sql    %+v\n binlog %+v", id, p, b)
		}
	}
	// Row 5 holds DATE '2024-00-10': go-sql-driver's parseTime turns it into
	// 2023-12-10 (time.Date normalises month 0), undetectable after the
	// fact; SelectList reads it as text and classifies it as a zero date,
	// as the binlog path does.
	dayIdx := indexOf(mp.Schema().Measurements, "day")
	if got := sqlPlain[5].point.Values[dayIdx]; got != time.Date(2023, 12, 10, 0, 0, 0, 0, time.UTC) {
		t.Errorf("plain SELECT of 2024-00-10 = %v (driver behaviour changed? update TYPES.md)", got)
	}
	if got := binlog[5].point.Values[dayIdx]; got != nil {
		t.Errorf("binlog 2024-00-10 = %v, want NULL (zero_date: null)", got)
	}

	// Expected values, spot checks.
	ms := mp.Schema().Measurements
	val := func(id int64, name string) any {
		return binlog[id].point.Values[indexOf(ms, name)]
	}
	if p := binlog[1].point; p.Device != "root.factory.berlin.`pump-7.b`" || p.Time != 1709633472123456 {
		t.Errorf("row 1: %s %d", p.Device, p.Time)
	}
	if p := binlog[2].point; p.Device != "root.factory.berlin.`東京 ``x``🚀`" || p.Time != -500 {
		t.Errorf("row 2: %s %d", p.Device, p.Time)
	}
	if p := binlog[3].point; p.Device != "root.factory.`site 3`.`p.3`" {
		t.Errorf("row 3: %s", p.Device)
	}
	wants := []struct {
		id   int64
		name string
		want any
	}{
		{1, "temperature", 21.5}, {1, "humidity", float32(40.1)}, {1, "ok", true}, {1, "price", 3.14},
		{1, "flag", true}, {1, "bits", int64(513)}, {1, "level", "mid"}, {1, "opts", "a,c"},
		{1, "doc", `{"a": 1, "b": [true, null]}`}, {1, "day", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)},
		{1, "yr", int32(2024)}, {1, "raw", []byte{0, 1, 2}}, {1, "bin4", []byte("ab\x00\x00")},
		{1, "note", "hello 東京 🚀"}, {1, "dur", "12:00:00.000"}, {1, "ts", int64(1709633472345000)},
		{2, "ti", int32(127)}, {2, "tu", int32(255)}, {2, "si", int32(32767)}, {2, "su", int32(65535)},
		{2, "mi", int32(8388607)}, {2, "mu", int32(16777215)}, {2, "ii", int32(math.MaxInt32)},
		{2, "iu", int64(math.MaxUint32)}, {2, "bi", int64(math.MaxInt64)}, {2, "bu", "18446744073709551615"},
		{2, "price", 1.2345678901234568e34}, {2, "bits", int64(1023)}, {2, "temperature", -1.5e300},
		{2, "humidity", float32(3.4e38)}, {2, "yr", int32(0)}, {2, "raw", []byte{}}, {2, "dur", "-838:59:59.999"},
		{2, "ts", int64(2147483647999000)},
		{3, "ti", int32(-128)}, {3, "si", int32(-32768)}, {3, "mi", int32(-8388608)}, {3, "ii", int32(math.MinInt32)},
		{3, "bi", int64(math.MinInt64)}, {3, "bu", "9223372036854775808"}, {3, "price", -1e-30},
		{3, "bin4", []byte("a\x00\x00\x00")}, {3, "raw", []byte{0}}, {3, "opts", ""}, {3, "note", nil},
		{3, "day", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, {3, "dur", "00:00:00.000"}, {1, "code", "ab"}, {2, "code", " x"}, {3, "code", ""}, {3, "ts", int64(1000000)},
		{4, "day", nil}, {4, "ts", nil},
	}
	for _, w := range wants {
		if got := val(w.id, w.name); !reflect.DeepEqual(got, w.want) {
			t.Errorf("row %d %s = %#v, want %#v", w.id, w.name, got, w.want)
		}
	}
	for id, want := range map[int64]outcome{
		6: {reason: ReasonNullDevice, column: "device_id"},
		7: {reason: ReasonNullTime, column: "created_at"},
		8: {reason: ReasonZeroDate, column: "created_at"},
	} {
		if !reflect.DeepEqual(binlog[id], want) {
			t.Errorf("row %d = %+v, want %+v", id, binlog[id], want)
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// readSQL maps every row of all_types read through a prepared statement.
func readSQL(ctx context.Context, t *testing.T, db *sql.DB, mp *Mapper, selectList []string) map[int64]outcome {
	t.Helper()
	q := "SELECT " + strings.Join(selectList, ", ") + " FROM all_types WHERE id > ? ORDER BY id"
	stmt, err := db.PrepareContext(ctx, q)
	if err != nil {
		t.Fatalf("prepare %s: %v", q, err)
	}
	defer stmt.Close()
	rows, err := stmt.QueryContext(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	idIdx := indexOf(mp.Columns(), "id")
	out := map[int64]outcome{}
	for rows.Next() {
		row := make([]any, len(mp.Columns()))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[row[idIdx].(int64)] = mapOutcome(mp, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != allTypesRows {
		t.Fatalf("SQL read %d rows", len(out))
	}
	return out
}

// readBinlog maps every all_types row inserted after file:pos, read with
// the BinlogSyncer options cdc uses.
func readBinlog(ctx context.Context, t *testing.T, srv *testenv.MariaDB, file string, pos uint32, mp *Mapper) map[int64]outcome {
	t.Helper()
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:              4242,
		Flavor:                gomysql.MariaDBFlavor,
		Host:                  srv.Host,
		Port:                  uint16(srv.Port),
		User:                  srv.BridgeUser,
		Password:              srv.BridgePassword,
		ParseTime:             true,
		UseDecimal:            false,
		RenderJSONAsMySQLText: true,
		DisableRetrySync:      true,
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(gomysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatal(err)
	}
	idIdx := indexOf(mp.Columns(), "id")
	out := map[int64]outcome{}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(out) < allTypesRows {
		ev, err := st.GetEvent(rctx)
		if err != nil {
			t.Fatalf("GetEvent after %d rows: %v", len(out), err)
		}
		re, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(re.Table.Table) != "all_types" {
			continue
		}
		names := re.Table.ColumnNameString()
		if names == nil {
			t.Fatal("no column names in the table map: binlog_row_metadata=FULL is required")
		}
		pos := map[string]int{}
		for i, n := range names {
			pos[strings.ToLower(n)] = i
		}
		for _, image := range re.Rows {
			row := make([]any, len(mp.Columns()))
			for i, c := range mp.Columns() {
				j, ok := pos[strings.ToLower(c)]
				if !ok {
					t.Fatalf("column %s not in the row image", c)
				}
				row[i] = image[j]
			}
			id, ok := row[idIdx].(int64)
			if !ok {
				t.Fatalf("id delivered as %T", row[idIdx])
			}
			out[id] = mapOutcome(mp, row)
		}
	}
	return out
}
