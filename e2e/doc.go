// Package e2e holds the process-level, cross-binary integration tests of
// the bridge: the real cdc, backfill and sync binaries (built once per
// test binary from ../cmd/cdc, ../cmd/backfill and ../cmd/sync) run against a throwaway
// MariaDB (internal/testenv) and the IoTDB wire-protocol test double
// (iotdbtest), over real sockets. The tests kill -9 and restart cdc, inject
// IoTDB and MySQL faults, compare cdc with backfill type by type, and check
// snapshots under concurrent writes; each one ends by comparing everything
// IoTDB stores with the state computed from the source rows through the
// mapping, exactly, in both directions.
//
// All tests are named TestIntegration*; they skip with -short (except in CI,
// see internal/testenv) and when mariadbd is not installed. Environment:
//
//	E2E_SEED=N     seed of the randomized workloads (logged at start)
//	E2E_RACE=0|1   build the binaries with -race (default: as the test binary)
//	E2E_LOG=1      copy the binaries' log lines to the test log
//	E2E_KEEP=1     keep the work directory (configs, logs, checkpoints)
package e2e
