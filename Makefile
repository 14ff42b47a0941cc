# mysql-iotdb-bridge
GO       ?= go
PKGS     ?= ./...
BIN      := bin

# What --version prints: the release tag (or "dev"), the commit and its time.
# The image build and the CI set them too (see internal/cli/version.go).
VERSION  ?= $(shell git describe --tags --exact-match --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null)
DATE     ?= $(shell git log -1 --format=%cI 2>/dev/null)
CLI      := github.com/mysql-iotdb-bridge/bridge/internal/cli
LDFLAGS  ?= -X $(CLI).version=$(VERSION) -X $(CLI).commit=$(COMMIT) -X $(CLI).date=$(DATE)

.PHONY: all build test test-short vet fmt bench demo clean chaos image compose-test

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

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
## figures and ratios (BENCH_ARGS="--suite cdc", "--suite sync", "--rows 200000" for a quick backfill; see bench/README.md).
bench:
	$(GO) run ./bench $(BENCH_ARGS)

## image: the product image (mysql-iotdb-bridge:local) from binaries built here, with no
## base image pulled: docker/Dockerfile --target prebuilt (the compose test builds it so).
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/backfill ./cmd/cdc ./cmd/sync ./cmd/verify ./cmd/discover
	cp /etc/ssl/certs/ca-certificates.crt $(BIN)/ca-certificates.crt
	docker build -f docker/Dockerfile --target prebuilt -t mysql-iotdb-bridge:local .

## compose-test: the users' Docker flow for real (docker/composetest/README.md): builds the
## images (the MariaDB stand-in from a debootstrap root, cached in COMPOSE_TEST_CACHE or
## ~/.cache), runs docker/docker-compose.yml with compose.test.yml through the Compose CLI.
## Not part of `make test`; .ci/run runs it after. Needs root, Docker and debootstrap.
compose-test:
	$(GO) vet -tags compose ./docker/composetest/...
	$(GO) test -tags compose -count=1 -v -timeout 30m -run '^TestCompose$$' ./docker/composetest
