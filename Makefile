# mysql-iotdb-bridge
GO       ?= go
PKGS     ?= ./...
BIN      := bin

.PHONY: all build test test-short vet fmt bench demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

## test: everything, integration tests included (starts private MariaDB and iotdbtest servers).
test: vet
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

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

## bench: benchmarks against real servers, prints a table of figures and ratios
## (default 2M rows; BENCH_ARGS="--rows 200000" for a quick one).
bench:
	$(GO) run ./bench $(BENCH_ARGS)
