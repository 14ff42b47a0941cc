package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Targets from the backfill benchmark issue, for this 2-core machine where
// the bridge shares the cores with both servers.
const (
	targetCPUPerM    = 1.2   // bridge CPU seconds per million rows, at most
	targetRowsPerS   = 0.8e6 // end-to-end rows/s, at least
	targetRSS        = 300 << 20
	targetRSSFlat    = 1.25 // largest ÷ smallest peak RSS across --sizes, at most
	targetIoTDBShare = 0.5  // iotdbtest CPU ÷ bridge CPU, at most: it must not be what limits the run
	flatnessMinSizes = 2    // sizes needed for the flatness target
)

// report collects everything printed at the end.
type report struct {
	opts    *options
	env     map[string]string
	results []*result // one per phase, in phase order, at --rows
	sizes   []*result // the backfill at each --sizes entry
	cdc     []*cdcResult
	devices []*devResult // the device-cardinality suite (devices.go)
}

// describeEnv records what the figures depend on.
func describeEnv(ctx context.Context, w *world) map[string]string {
	env := map[string]string{
		"go":    runtime.Version(),
		"cores": fmt.Sprint(runtime.NumCPU()),
	}
	var v string
	if err := w.rootDB.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err == nil {
		env["mariadb"] = v
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				env["cpu"] = strings.TrimSpace(val)
				break
			}
		}
	}
	return env
}

func (r *report) get(phase string) *result {
	for _, x := range r.results {
		if x.Phase == phase && x.ok() {
			return x
		}
	}
	return nil
}

// failed says whether any phase did not deliver the right data.
func (r *report) failed() bool {
	for _, x := range append(r.results[:len(r.results):len(r.results)], r.sizes...) {
		if !x.ok() {
			return true
		}
	}
	for _, x := range r.cdc {
		if !x.ok() {
			return true
		}
	}
	for _, x := range r.devices {
		if !x.ok() {
			return true
		}
	}
	return false
}

// ratio is one figure of ours over a reference, measured in the same run.
type ratio struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

func (r *report) ratios() []ratio {
	var out []ratio
	raw, bf, ir := r.get("raw-scan"), r.get("backfill"), r.get("insert-records")
	if raw != nil && bf != nil {
		out = append(out,
			ratio{"backfill ÷ raw-scan, rows/s", div(bf.rowsPerS(), raw.rowsPerS())},
			ratio{"backfill ÷ raw-scan, client CPU per row", div(bf.perM(bf.ClientCPUS), raw.perM(raw.ClientCPUS))},
			ratio{"backfill ÷ raw-scan, mariadbd CPU per row", div(bf.perM(bf.MariaCPUS), raw.perM(raw.MariaCPUS))},
		)
	}
	if vf := r.get("verify"); vf != nil && raw != nil {
		out = append(out,
			ratio{"verify ÷ raw-scan, rows/s (target ≥ 1)", div(vf.rowsPerS(), raw.rowsPerS())},
			ratio{"verify ÷ raw-scan, client CPU per row", div(vf.perM(vf.ClientCPUS), raw.perM(raw.ClientCPUS))},
		)
		if bf != nil {
			out = append(out, ratio{"verify ÷ backfill, rows/s", div(vf.rowsPerS(), bf.rowsPerS())})
		}
	}
	if ir != nil && bf != nil {
		out = append(out,
			ratio{"insert-records ÷ backfill, rows/s", div(ir.rowsPerS(), bf.rowsPerS())},
			ratio{"insert-records ÷ backfill, client CPU per row", div(ir.perM(ir.ClientCPUS), bf.perM(bf.ClientCPUS))},
			ratio{"insert-records ÷ backfill, iotdbtest CPU per row", div(ir.perM(ir.IoTCPUS), bf.perM(bf.IoTCPUS))},
		)
	}
	return out
}

// target is one goal of the issue with its measured value.
type target struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Status string `json:"status"` // PASS | MISS
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (r *report) targets() []target {
	var out []target
	bf := r.get("backfill")
	if bf != nil {
		cpu := bf.perM(bf.ClientCPUS)
		out = append(out,
			target{fmt.Sprintf("bridge CPU ≤ %.1f s per M rows", targetCPUPerM), fmt.Sprintf("%.2f", cpu), passMiss(cpu <= targetCPUPerM)},
			target{fmt.Sprintf("end to end ≥ %.1fM rows/s", targetRowsPerS/1e6), fmt.Sprintf("%.3fM", bf.rowsPerS()/1e6), passMiss(bf.rowsPerS() >= targetRowsPerS)},
		)
		share := div(bf.IoTCPUS, bf.ClientCPUS)
		out = append(out, target{
			fmt.Sprintf("iotdbtest not the limit: its CPU ≤ %.1f × bridge CPU", targetIoTDBShare),
			fmt.Sprintf("%.2f× (iotdbtest busy %.2f cores)", share, div(bf.IoTCPUS, bf.WallS)),
			passMiss(share <= targetIoTDBShare),
		})
	}
	// Peak RSS over every backfill run.
	var peak int64
	var seen bool
	for _, x := range append(r.results[:len(r.results):len(r.results)], r.sizes...) {
		if x.Phase == "backfill" && x.ok() {
			peak, seen = max(peak, x.ClientRSS), true
		}
	}
	if seen {
		out = append(out, target{fmt.Sprintf("bridge peak RSS < %d MB", targetRSS>>20), fmt.Sprintf("%.0f MB", mb(peak)), passMiss(peak < targetRSS)})
	}
	var ok []*result
	for _, x := range r.sizes {
		if x.ok() {
			ok = append(ok, x)
		}
	}
	if len(ok) >= flatnessMinSizes {
		lo, hi := ok[0].ClientRSS, ok[0].ClientRSS
		for _, x := range ok {
			lo, hi = min(lo, x.ClientRSS), max(hi, x.ClientRSS)
		}
		f := float64(hi) / float64(lo)
		out = append(out, target{
			fmt.Sprintf("peak RSS flat from %s to %s rows (max ÷ min ≤ %.2f)", human(ok[0].Rows), human(ok[len(ok)-1].Rows), targetRSSFlat),
			fmt.Sprintf("%.2f", f), passMiss(f <= targetRSSFlat),
		})
	}
	return out
}

// div is a/b, or 0 when b is 0 (JSON has no NaN or Inf).
func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// human prints a row count as 200k, 2M, 10M.
func human(n int64) string {
	switch {
	case n >= 1e6 && n%1e5 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e6), ".0") + "M"
	case n >= 1e3 && n%100 == 0:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/1e3), ".0") + "k"
	}
	return fmt.Sprint(n)
}

const rowFmt = "%-15s %10s %8s %10s %11s %12s %14s %15s %11s  %s\n"

func writeRow(w io.Writer, x *result) {
	if x.Err != "" && x.WallS == 0 {
		fmt.Fprintf(w, rowFmt, x.Phase, fmt.Sprint(x.Rows), "-", "-", "-", "-", "-", "-", "-", x.Check)
		return
	}
	fmt.Fprintf(w, rowFmt, x.Phase, fmt.Sprint(x.Rows),
		fmt.Sprintf("%.2f", x.WallS),
		fmt.Sprintf("%.0f", x.rowsPerS()),
		fmt.Sprintf("%.0f", x.pointsPerS()),
		fmt.Sprintf("%.3f", x.perM(x.ClientCPUS)),
		fmt.Sprintf("%.3f", x.perM(x.MariaCPUS)),
		fmt.Sprintf("%.3f", x.perM(x.IoTCPUS)),
		fmt.Sprintf("%.0f", mb(x.ClientRSS)),
		x.Check)
}

func (r *report) writeText(w io.Writer) error {
	if len(r.results) > 0 || len(r.sizes) > 0 {
		r.writeBackfillText(w)
	}
	if len(r.cdc) > 0 {
		r.writeCDCText(w)
	}
	if len(r.devices) > 0 {
		r.writeDevicesText(w)
	}
	return nil
}

func (r *report) writeBackfillText(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\nbackfill benchmark: %d rows, %d devices, %d measurements, %.3g NULLs; readers %d, writers %d, partitions %d, page %d, batch %d, records batch %d\n",
		o.rows, o.devices, o.measurements, o.nulls, o.readers, o.writers, o.partitions, o.pageRows, o.batchRows, o.recordsBatch)
	fmt.Fprintf(w, "machine: %s cores (%s), %s, MariaDB %s; all processes share these cores\n\n",
		r.env["cores"], r.env["cpu"], r.env["go"], r.env["mariadb"])
	fmt.Fprintf(w, rowFmt, "phase", "rows", "wall s", "rows/s", "points/s", "client CPU", "mariadbd CPU", "iotdbtest CPU", "client RSS", "check")
	fmt.Fprintf(w, rowFmt, "", "", "", "", "", "s/M rows", "s/M rows", "s/M rows", "peak MB", "")
	for _, x := range r.results {
		writeRow(w, x)
	}
	fmt.Fprintf(w, "\ncores busy on average during each phase (of %s; a total well below that means the run waits rather than computes):\n", r.env["cores"])
	for _, x := range r.results {
		if x.WallS > 0 {
			fmt.Fprintf(w, "  %-15s client %.2f   mariadbd %.2f   iotdbtest %.2f   total %.2f\n", x.Phase,
				x.ClientCPUS/x.WallS, x.MariaCPUS/x.WallS, x.IoTCPUS/x.WallS, (x.ClientCPUS+x.MariaCPUS+x.IoTCPUS)/x.WallS)
		}
	}
	if rs := r.ratios(); len(rs) > 0 {
		fmt.Fprintf(w, "\nratios (same run):\n")
		for _, x := range rs {
			fmt.Fprintf(w, "  %-50s %6.2f\n", x.Name, x.Value)
		}
	}
	if len(r.sizes) > 0 {
		fmt.Fprintf(w, "\nbackfill at each size (RSS flatness):\n")
		fmt.Fprintf(w, rowFmt, "phase", "rows", "wall s", "rows/s", "points/s", "client CPU", "mariadbd CPU", "iotdbtest CPU", "client RSS", "check")
		for _, x := range r.sizes {
			writeRow(w, x)
		}
	}
	if ts := r.targets(); len(ts) > 0 {
		fmt.Fprintf(w, "\ntargets (a MISS is reported, not fatal):\n")
		for _, t := range ts {
			fmt.Fprintf(w, "  %-4s  %-55s %s\n", t.Status, t.Name, t.Value)
		}
	}
	fmt.Fprintln(w)
}

func (r *report) writeJSON(w io.Writer) error {
	o := r.opts
	doc := map[string]any{
		"params": map[string]any{
			"rows": o.rows, "devices": o.devices, "measurements": o.measurements, "nulls": o.nulls,
			"seed": o.seed, "readers": o.readers, "writers": o.writers, "partitions": o.partitions,
			"page_rows": o.pageRows, "batch_rows": o.batchRows, "records_batch": o.recordsBatch,
		},
		"env":     r.env,
		"phases":  r.results,
		"sizes":   r.sizes,
		"ratios":  r.ratios(),
		"targets": r.targets(),
	}
	if len(r.cdc) > 0 {
		doc["params"].(map[string]any)["cdc"] = map[string]any{
			"suite": o.suite, "cdc_rows": o.cdcRows, "cdc_tx_rows": o.cdcChunk, "big_tx_rows": o.bigTxRows,
			"live_rate": o.liveRate, "live_seconds": o.liveSeconds.Seconds(), "live_warmup_s": o.liveWarmup.Seconds(),
			"live_conns": o.liveConns, "live_poll_us": o.livePoll.Microseconds(),
		}
		doc["cdc"] = map[string]any{"phases": r.cdc, "ratios": r.cdcRatios(), "targets": r.cdcTargets()}
	}
	if len(r.devices) > 0 {
		doc["devices"] = map[string]any{"cases": r.devices, "targets": r.devicesTargets(), "params": o.devOpts.params()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
