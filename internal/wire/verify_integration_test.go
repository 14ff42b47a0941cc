package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/testenv"
	"github.com/mysql-iotdb-bridge/bridge/internal/verify"
	"github.com/mysql-iotdb-bridge/bridge/iotdbsink"
	"github.com/mysql-iotdb-bridge/bridge/iotdbtest"
)

// noCRC is an IoTDB before 2.0.10: crc32 and the byte encodings are
// unknown functions (701).
type noCRC struct {
	verify.Target
	refused int
}

func (n *noCRC) Query(ctx context.Context, sql string, timeout time.Duration, start func(iotdbsink.QueryResult) error, row func(*iotdbsink.Row) error) error {
	if strings.Contains(sql, "crc32(") {
		n.refused++
		return &iotdbsink.StatusError{Op: "executeQueryStatement", Code: 701, Message: "Unknown function: crc32"}
	}
	return n.Target.Query(ctx, sql, timeout, start, row)
}

// Against a table-model IoTDB without crc32, verify asks again without
// the value fingerprints, says so, and still finds a changed number.
func TestIntegrationVerifyWithoutCRC32(t *testing.T) {
	my := testenv.StartMariaDB(t)
	iot := iotdbtest.Start(t, iotdbtest.Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := my.Exec(ctx, "CREATE TABLE r (id INT PRIMARY KEY, dev VARCHAR(8) NOT NULL, ts BIGINT NOT NULL, v DOUBLE, s VARCHAR(8))"); err != nil {
		t.Fatal(err)
	}
	if err := my.Exec(ctx, "INSERT INTO r VALUES (1,'a',1000,1.5,'x'),(2,'a',2000,2.5,'y'),(3,'b',1500,3.5,'z')"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	y := fmt.Sprintf(`mysql: {host: %s, port: %d, user: %s, password: %s, database: %s, tls: disabled, tables: [{name: r}]}
iotdb:
  nodes: [%q]
  model: table
  database: vdb
  mappings:
    - {table: r, device: r, tags: [dev], time: {column: ts, unit: ms}, measurements: [{column: v}, {column: s}]}
backfill: {state: %s}
dirty_rows: {file: %s}
log: {level: warn}
`, my.Host, my.Port, my.BridgeUser, my.BridgePassword, my.Database, iot.Addr(), filepath.Join(dir, "state.json"), filepath.Join(dir, "dirty.jsonl"))
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := RunBackfill(ctx, BackfillArgs{Config: cfg}, &out, &errb); code != 0 {
		t.Fatalf("backfill: %d\n%s", code, errb.String())
	}
	run := func() (int, *verify.Report, *noCRC) {
		var out, errb bytes.Buffer
		n := &noCRC{}
		code := RunVerify(ctx, VerifyArgs{Config: cfg, JSON: true, wrapTarget: func(t verify.Target) verify.Target { n.Target = t; return n }}, &out, &errb)
		var rep verify.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("exit %d: %v\n%s\n%s", code, err, out.String(), errb.String())
		}
		return code, &rep, n
	}
	code, rep, n := run()
	if code != 0 || !rep.Equal || n.refused != 1 || !strings.Contains(strings.Join(rep.Notes, "\n"), "no crc32") {
		t.Fatalf("exit %d, %d refusals, report %+v", code, n.refused, rep)
	}
	if err := iot.SetRowValue("vdb", "r", []string{"a"}, 2000, "v", 2.75); err != nil {
		t.Fatal(err)
	}
	code, rep, _ = run()
	if code != 1 || len(rep.Differences) != 1 || rep.Differences[0].Measurement != "v" || rep.Differences[0].Kind != "value" {
		t.Fatalf("exit %d, differences %+v", code, rep.Differences)
	}
}
