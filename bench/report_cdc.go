package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Targets from the CDC benchmark issue.
const (
	targetCatchupRatio = 0.5 // cdc catch-up rows/s ÷ binlog-raw rows/s, at least
	targetCDCCPUPerM   = 1.2 // cdc CPU seconds per million rows in the catch-up, at most
	targetLiveP50MS    = 5.0
	targetLiveP99MS    = 50.0
	targetBigTxRSS     = 300 << 20
)

func (r *report) getCDC(phase string) *cdcResult {
	for _, x := range r.cdc {
		if x.Phase == phase && x.ok() {
			return x
		}
	}
	return nil
}

func (r *report) cdcRatios() []ratio {
	var out []ratio
	raw, cu := r.getCDC("binlog-raw"), r.getCDC("cdc-catchup")
	if raw != nil && cu != nil {
		out = append(out,
			ratio{"cdc-catchup ÷ binlog-raw, rows/s", div(cu.rowsPerS(), raw.rowsPerS())},
			ratio{"cdc-catchup ÷ binlog-raw, client CPU per row", div(cu.perM(cu.ClientCPUS), raw.perM(raw.ClientCPUS))},
			ratio{"cdc-catchup ÷ binlog-raw, mariadbd CPU per row", div(cu.perM(cu.MariaCPUS), raw.perM(raw.MariaCPUS))},
		)
	}
	return out
}

func (r *report) cdcTargets() []target {
	var out []target
	raw, cu := r.getCDC("binlog-raw"), r.getCDC("cdc-catchup")
	if raw != nil && cu != nil {
		x := div(cu.rowsPerS(), raw.rowsPerS())
		out = append(out, target{fmt.Sprintf("catch-up rows/s ≥ %.1f × binlog-raw", targetCatchupRatio),
			fmt.Sprintf("%.2f× (%.0f vs %.0f rows/s)", x, cu.rowsPerS(), raw.rowsPerS()), passMiss(x >= targetCatchupRatio)})
	}
	if cu != nil {
		c := cu.perM(cu.ClientCPUS)
		out = append(out, target{fmt.Sprintf("catch-up cdc CPU ≤ %.1f s per M rows", targetCDCCPUPerM),
			fmt.Sprintf("%.2f", c), passMiss(c <= targetCDCCPUPerM)})
	}
	if lv := r.getCDC("cdc-live"); lv != nil && lv.Live != nil {
		l := lv.Live
		out = append(out,
			target{fmt.Sprintf("live commit-to-visible p50 < %.0f ms", targetLiveP50MS), fmt.Sprintf("%.2f ms", l.P50MS), passMiss(l.P50MS < targetLiveP50MS)},
			target{fmt.Sprintf("live commit-to-visible p99 < %.0f ms", targetLiveP99MS), fmt.Sprintf("%.2f ms", l.P99MS), passMiss(l.P99MS < targetLiveP99MS)},
		)
	}
	if bt := r.getCDC("cdc-bigtx"); bt != nil {
		out = append(out, target{fmt.Sprintf("one %s-row transaction: cdc peak RSS < %d MB", human(bt.Rows), targetBigTxRSS>>20),
			fmt.Sprintf("%.0f MB", mb(bt.ClientRSS)), passMiss(bt.ClientRSS < targetBigTxRSS)})
	}
	return out
}

func (r *report) writeCDCText(w io.Writer) {
	o := r.opts
	var what []string
	ran := func(name string) bool {
		return slices.ContainsFunc(r.cdc, func(x *cdcResult) bool { return x.Phase == name })
	}
	if ran("binlog-raw") || ran("cdc-catchup") {
		what = append(what, fmt.Sprintf("catch-up %d rows in %d-row transactions", o.cdcRows, o.cdcChunk))
	}
	if ran("cdc-bigtx") {
		what = append(what, fmt.Sprintf("one %d-row transaction", o.bigTxRows))
	}
	if ran("cdc-live") {
		what = append(what, fmt.Sprintf("live %.0f single-row tx/s for %.0fs (+%.0fs warm-up) on %d connections",
			o.liveRate, o.liveSeconds.Seconds(), o.liveWarmup.Seconds(), o.liveConns))
	}
	fmt.Fprintf(w, "\ncdc benchmark: %s; iotdb.batch.rows %d\n", strings.Join(what, "; "), o.batchRows)
	if o.cdcBatchInterval > 0 {
		fmt.Fprintf(w, "iotdb.batch.interval: %s (--cdc-batch-interval; cdc's default is 200ms)\n", o.cdcBatchInterval)
	}
	fmt.Fprintf(w, "machine: %s cores (%s), %s, MariaDB %s; all processes share these cores\n\n",
		r.env["cores"], r.env["cpu"], r.env["go"], r.env["mariadb"])
	fmt.Fprintf(w, rowFmt, "phase", "rows", "wall s", "rows/s", "points/s", "client CPU", "mariadbd CPU", "iotdbtest CPU", "client RSS", "check")
	fmt.Fprintf(w, rowFmt, "", "", "", "", "", "s/M rows", "s/M rows", "s/M rows", "peak MB", "")
	for _, x := range r.cdc {
		writeRow(w, &x.result)
	}
	fmt.Fprintf(w, "\n  wall: binlog-raw child start to exit; cdc-catchup and cdc-bigtx: cdc start until IoTDB acknowledged the last row\n")
	fmt.Fprintf(w, "  (mysql_iotdb_bridge_cdc_rows_total, polled every 50 ms); client CPU and RSS: the cdc child's rusage after SIGTERM and exit.\n")
	fmt.Fprintf(w, "  cdc-live: rows/s is the commit rate achieved; iotdbtest runs inside the bench process there (no CPU figure).\n")
	for _, x := range r.cdc {
		if len(x.Walls) > 1 {
			var ws []string
			for _, v := range x.Walls {
				ws = append(ws, fmt.Sprintf("%.2f", v))
			}
			fmt.Fprintf(w, "  %-12s fastest of %d runs; walls %s s\n", x.Phase, len(x.Walls), strings.Join(ws, ", "))
		}
	}
	for _, x := range r.cdc {
		if x.TotalWallS > 0 && x.Phase != "binlog-raw" {
			fmt.Fprintf(w, "  %-12s start to exit (incl. shutdown) %.2fs; cores busy: client %.2f  mariadbd %.2f  iotdbtest %.2f\n",
				x.Phase, x.TotalWallS, div(x.ClientCPUS, x.TotalWallS), div(x.MariaCPUS, x.TotalWallS), div(x.IoTCPUS, x.TotalWallS))
		}
	}
	if lv := r.getCDC("cdc-live"); lv != nil && lv.Live != nil {
		l := lv.Live
		fmt.Fprintf(w, "\nlive: commit returned → points counted by iotdbtest, %d rows after %d warm-up rows:\n", l.Rows, l.WarmupRows)
		fmt.Fprintf(w, "  p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   max %.2f ms\n", l.P50MS, l.P90MS, l.P99MS, l.MaxMS)
		fmt.Fprintf(w, "  commits %.0f/s achieved (target %.0f/s, %d connections; commit returned on average %.0f µs after due, at worst %.1f ms)\n",
			l.AchievedRate, l.TargetRate, l.Conns, l.CommitMeanUS, l.MaxBehindMS)
		fmt.Fprintf(w, "  observer: %d counter changes, mean poll interval %.0f µs; %d rows clamped to 0 (seen before their commit returned)\n",
			l.Observations, l.PollMeanUS, l.Clamped)
		fmt.Fprintf(w, "  cdc CPU %.2fs (%.2f cores) over %.1fs; bench process (writer, iotdbtest, observer) CPU %.2fs\n",
			lv.ClientCPUS, div(lv.ClientCPUS, lv.TotalWallS), lv.TotalWallS, l.HarnessCPUS)
	}
	if bt := r.getCDC("cdc-bigtx"); bt != nil {
		fmt.Fprintf(w, "\nbig transaction %s .. %s: checkpoint positions seen while cdc ran: [%s]; after exit: %s\n",
			bt.From, bt.To, strings.Join(bt.CheckpointSeen, ", "), bt.Checkpoint)
	}
	if rs := r.cdcRatios(); len(rs) > 0 {
		fmt.Fprintf(w, "\nratios (same run):\n")
		for _, x := range rs {
			fmt.Fprintf(w, "  %-50s %6.2f\n", x.Name, x.Value)
		}
	}
	if ts := r.cdcTargets(); len(ts) > 0 {
		fmt.Fprintf(w, "\ntargets (a MISS is reported, not fatal):\n")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s  %-55s %s\n", t.Status, t.Name, t.Value)
		}
	}
	fmt.Fprintln(w)
}
