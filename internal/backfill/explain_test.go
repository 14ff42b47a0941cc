package backfill

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/cenkalti/backoff/v4"

	"github.com/mysql-iotdb-bridge/bridge/config"
)

// explainDriver is a database/sql driver that answers every query with one
// canned EXPLAIN row; the DSN names the answer.
type explainDriver struct{}

var explainAnswers = map[string][]driver.Value{
	//           id        select_type table  type   key        rows            Extra
	"ok":         {int64(1), "SIMPLE", "t", "range", "PRIMARY", []byte("12"), ""},
	"impossible": {int64(1), "SIMPLE", nil, nil, nil, nil, "Impossible WHERE noticed after reading const tables"},
	"bad-rows":   {int64(1), "SIMPLE", "t", "ALL", nil, []byte("12x"), ""},
	"bad-scan":   {int64(1), "SIMPLE", "t", "ALL", nil, []int{12}, ""}, // not a driver value: Scan cannot convert it
}

var explainColumns = []string{"id", "select_type", "table", "type", "key", "rows", "Extra"}

func (explainDriver) Open(dsn string) (driver.Conn, error) { return explainConn(dsn), nil }

type explainConn string

func (c explainConn) Prepare(q string) (driver.Stmt, error) { return explainStmt(c), nil }
func (explainConn) Close() error                            { return nil }
func (explainConn) Begin() (driver.Tx, error)               { return nil, errors.New("no transactions") }

type explainStmt string

func (explainStmt) Close() error                               { return nil }
func (explainStmt) NumInput() int                              { return -1 }
func (explainStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errors.New("no exec") }
func (s explainStmt) Query([]driver.Value) (driver.Rows, error) {
	return &explainRows{row: explainAnswers[string(s)]}, nil
}

type explainRows struct {
	row  []driver.Value
	done bool
}

func (r *explainRows) Columns() []string { return explainColumns }
func (r *explainRows) Close() error      { return nil }
func (r *explainRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	copy(dest, r.row)
	return nil
}

var registerExplain sync.Once

func explainDB(t *testing.T, answer string) *sql.DB {
	t.Helper()
	registerExplain.Do(func() { sql.Register("backfill-explain-fake", explainDriver{}) })
	db, err := sql.Open("backfill-explain-fake", answer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestExplainAnswers: an EXPLAIN answer that cannot be read is a
// deterministic error: permanent at once (planning does not retry it for
// iotdb.retry.give_up_after), naming the table and the query.
func TestExplainAnswers(t *testing.T) {
	ctx := context.Background()
	tbl := config.Table{Name: "readings"}
	for answer, want := range map[string]struct {
		est     int64
		indexed bool
	}{"ok": {12, true}, "impossible": {0, true}} {
		pl := &planner{db: explainDB(t, answer), database: "factory"}
		est, indexed, err := pl.explain(ctx, tbl, "`id` > 5")
		if err != nil || est != want.est || indexed != want.indexed {
			t.Errorf("%s: est %d indexed %v err %v; want %d %v", answer, est, indexed, err, want.est, want.indexed)
		}
	}
	for _, answer := range []string{"bad-rows", "bad-scan"} {
		pl := &planner{db: explainDB(t, answer), database: "factory"}
		attempts := 0
		var last error
		op := func() error { // what planTables does
			attempts++
			_, _, err := pl.explain(ctx, tbl, "`id` > 5")
			last = err
			return permanentUnlessTransient(err)
		}
		err := backoff.Retry(op, backoff.WithMaxRetries(&backoff.ZeroBackOff{}, 3))
		if err == nil || last == nil {
			t.Errorf("%s: no error", answer)
			continue
		}
		if attempts != 1 {
			t.Errorf("%s: %d attempts, want 1 (a parse error is not transient): %v", answer, attempts, err)
		}
		for _, s := range []string{"table readings", "EXPLAIN SELECT 1 FROM `factory`.`readings` WHERE `id` > 5"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not name %q", answer, err, s)
			}
		}
	}
}
