package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
)

// The verify phase: ./cmd/verify over the table backfill just wrote, on
// the same iotdbtest (phase.keep), with the same configuration. Its rows/s
// is set against raw-scan's in the ratios: the target is at least
// the raw scan's.

func verifyCommand(ctx context.Context, w *world, n int64) (*exec.Cmd, error) {
	if w.iot == nil {
		return nil, errors.New("verify compares what the backfill phase wrote: run it with backfill (--only backfill,verify)")
	}
	return w.childCommand(ctx, "verify", fmt.Sprintf("verify-%d", n), mappingSpec{}, "--json")
}

// checkVerify reads verify's JSON report: equal, every row read, every
// non-NULL cell compared on both sides.
func checkVerify(_ context.Context, w *world, n int64, out []byte) (int64, string) {
	var rep struct {
		Equal  bool `json:"equal"`
		Tables []struct {
			RowsRead     int64 `json:"rows_read"`
			SourcePoints int64 `json:"source_points"`
			IoTDBPoints  int64 `json:"iotdb_points"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil || len(rep.Tables) != 1 {
		return 0, fmt.Sprintf("verify report: %v: %.200s", err, out)
	}
	t := rep.Tables[0]
	switch {
	case !rep.Equal:
		return t.SourcePoints, "verify found differences after a clean backfill"
	case t.RowsRead != n || t.SourcePoints != w.points || t.IoTDBPoints != w.points:
		return t.SourcePoints, fmt.Sprintf("verify read %d rows and compared %d/%d points; the table has %d rows, %d non-NULL cells",
			t.RowsRead, t.SourcePoints, t.IoTDBPoints, n, w.points)
	}
	return t.SourcePoints, ""
}
