package wire

import (
	"context"
	"fmt"

	"github.com/mysql-iotdb-bridge/bridge/internal/backfill"
)

// setupFailed is the exit of a backfill whose connecting or compiling
// failed: interrupted (3) when SIGINT/SIGTERM came meanwhile, since the
// signal is why it failed and nothing was copied yet (running again is
// all there is to do, as for an interruption mid-copy, and a Kubernetes
// Job's podFailurePolicy must see the same code for both); failed (1)
// otherwise.
func setupFailed(ctx context.Context, err error) (int, error) {
	if ctx.Err() != nil {
		return ExitInterrupted, fmt.Errorf("%w before the copy began: %v", backfill.ErrInterrupted, err)
	}
	return ExitFailed, err
}
