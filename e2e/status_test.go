package e2e

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mysql-iotdb-bridge/bridge/internal/cdc"
)

// getStatus reads /status of p at the address it logged.
func getStatus(t *testing.T, p *proc) cdc.Status {
	t.Helper()
	code, b := getEndpoint(t, p, "/status")
	var st cdc.Status
	if code != 200 || json.Unmarshal(b, &st) != nil {
		t.Fatalf("GET /status: %d\n%s", code, b)
	}
	return st
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cdc --status prints the running cdc's phase, checkpoint, lag and rows
// per table and outcome (from /status on metrics.listen), and fails
// clearly when no cdc runs.
func TestIntegrationCDCStatusFlag(t *testing.T) {
	e := newEnv(t)
	srv := e.bigTable(seed(t), 500)
	cfgPath, _ := e.bigConfig(srv, cfgOpts{Start: "initial", Metrics: "127.0.0.1:" + strconv.Itoa(freePort(t))})
	if code, out := e.runProc(e.cdcBin, "cdc-status-none", time.Minute, "--config", cfgPath, "--status"); code != 1 || !strings.Contains(out, "no cdc answered") {
		t.Fatalf("cdc --status with no cdc running: exit %d\n%s", code, out)
	}
	p := e.startCDC(cfgPath)
	e.waitCaughtUp(p, srv, 2*time.Minute)
	e.insertRows("big", 7)
	e.waitCaughtUp(p, srv, time.Minute)
	code, out := e.runProc(e.cdcBin, "cdc-status", time.Minute, "--config", cfgPath, "--status")
	var st cdc.Status
	if i := strings.Index(out, "{"); code != 0 || i < 0 || json.Unmarshal([]byte(out[i:]), &st) != nil {
		t.Fatalf("cdc --status: exit %d\n%s", code, out)
	}
	if st.Phase != "caught_up" || !st.Ready || st.Checkpoint == nil || st.Checkpoint.Position == "" ||
		st.Tables["big"][cdc.OutInsertWritten] != 7 {
		t.Fatalf("status once caught up: %+v (tables %v); want caught_up, ready, a checkpoint and 7 inserts of big", st, st.Tables)
	}
	if code := p.terminate(time.Minute); code != 0 {
		t.Fatalf("cdc exited %d; log:\n%s", code, p.tail(30))
	}
}
