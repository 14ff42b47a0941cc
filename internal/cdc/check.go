package cdc

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// CheckIoTDBTimeout bounds the IoTDB connection attempts of Check: a
// preflight should say "unreachable" in seconds, not retry for
// iotdb.retry.give_up_after.
const CheckIoTDBTimeout = 15 * time.Second

// Check runs what Run checks before streaming, without streaming: the
// source connection, the preflight checks (binlog settings, privileges,
// server_id, checkpoint), every mapping against the live schema, and the
// IoTDB connection. Each verdict goes to emit as soon as it is decided
// (nil: none); Check returns them all (the configuration loaded already is
// the first one) and whether all passed.
func (e *Engine) Check(ctx context.Context, emit func(Check)) ([]Check, bool) {
	defer e.closeAll()
	var checks []Check
	add := func(c Check) {
		checks = append(checks, c)
		if emit != nil {
			emit(c)
		}
	}
	add(Check{Name: "config", OK: true, Detail: e.cfg.Path})
	if err := e.connect(ctx); err != nil {
		add(Check{Name: "mysql", Detail: err.Error()})
	} else {
		add(Check{Name: "mysql", OK: true, Detail: fmt.Sprintf("%s as %s (%s)", e.cfg.MySQL.Addr(), e.cfg.MySQL.User, e.flavor)})
		pf, err := e.preflight(ctx)
		if err != nil {
			add(Check{Name: "preflight", Detail: err.Error()})
		}
		for _, c := range pf {
			add(c)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, CheckIoTDBTimeout)
	defer cancel()
	if err := e.openSink(sctx); err != nil {
		add(Check{Name: "iotdb", Detail: err.Error()})
	} else {
		add(Check{Name: "iotdb", OK: true, Detail: fmt.Sprintf("%s as %s, precision %s",
			strings.Join(e.cfg.IoTDB.Nodes, ","), e.cfg.IoTDB.User, e.sink.Precision())})
	}
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	return checks, ok
}

// PrintCheck writes one PASS/WARN/FAIL row: the verdict, the check's name
// in a fixed-width column (so rows printed as they are decided line up) and
// the detail on one line.
func PrintCheck(w io.Writer, c Check) {
	verdict := "PASS"
	switch {
	case !c.OK:
		verdict = "FAIL"
	case c.Warning:
		verdict = "WARN"
	}
	fmt.Fprintf(w, "%s  %-*s  %s\n", verdict, checkNameWidth, c.Name, strings.ReplaceAll(c.Detail, "\n", " "))
}

// checkNameWidth fits "checkpoint", "server_id" and most table names.
const checkNameWidth = 18
