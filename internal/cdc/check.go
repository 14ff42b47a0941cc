package cdc

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Check runs what Run checks before streaming, without streaming: the
// source connection, the preflight checks (binlog settings, privileges,
// server_id, checkpoint), every mapping against the live schema, and the
// IoTDB connection. It returns the verdicts (the configuration loaded
// already, which is the first one) and whether all passed.
func (e *Engine) Check(ctx context.Context) ([]Check, bool) {
	defer e.closeAll()
	checks := []Check{{Name: "config", OK: true, Detail: e.cfg.Path}}
	add := func(c Check) { checks = append(checks, c) }
	if err := e.connect(ctx); err != nil {
		add(Check{Name: "mysql", Detail: err.Error()})
	} else {
		add(Check{Name: "mysql", OK: true, Detail: fmt.Sprintf("%s as %s (%s)", e.cfg.MySQL.Addr(), e.cfg.MySQL.User, e.flavor)})
		pf, err := e.preflight(ctx)
		if err != nil {
			add(Check{Name: "preflight", Detail: err.Error()})
		}
		checks = append(checks, pf...)
	}
	if err := e.openSink(ctx); err != nil {
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

// PrintChecks writes a PASS/WARN/FAIL table.
func PrintChecks(w io.Writer, checks []Check) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range checks {
		verdict := "PASS"
		switch {
		case !c.OK:
			verdict = "FAIL"
		case c.Warning:
			verdict = "WARN"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", verdict, c.Name, strings.ReplaceAll(c.Detail, "\n", " "))
	}
	_ = tw.Flush()
}
