# mysql-iotdb-bridge
GO       ?= go
PKGS     ?= ./...
BIN      := bin

.PHONY: all build test test-short vet fmt bench demo clean chaos

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

## test: everything, integration tests included (starts private MariaDB and iotdbtest servers).
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## chaos: the long chaos run, NOT part of `make test`/CI: CHAOS_CYCLES kill -9 cycles of cdc under
## a mixed workload with IoTDB/MariaDB restarts and binlog kills (seeded: E2E_SEED=N), then
## IoTDB is compared with the source both ways. CHAOS_FLAGS=-race builds everything with -race.
CHAOS_CYCLES ?= 100
CHAOS_FLAGS  ?=
chaos:
	E2E_CHAOS_CYCLES=$(CHAOS_CYCLES) $(GO) test $(CHAOS_FLAGS) -count=1 -v -run '^TestChaosLong$$' -timeout 4h ./e2e

## test-short: unit tests only, no servers.
test-short:
	$(GO) test -short -count=1 $(PKGS)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

## demo: DEMO on local stand-ins (throwaway MariaDB + iotdbtest, an IoTDB test double).
demo: build
	$(GO) run ./cmd/demo --bin $(BIN)

## bench: benchmarks against real servers (backfill and cdc suites), prints tables of
## figures and ratios (BENCH_ARGS="--suite cdc", "--rows 200000" for a quick backfill; see bench/README.md).
bench:
	$(GO) run ./bench $(BENCH_ARGS)
