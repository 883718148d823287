# tapefs — see README.md. `make run` sets up a virtual library and shows what
# to do next; `make test` runs everything CI runs.

GO       ?= go
BIN      := $(CURDIR)/bin
RUNDIR   := $(CURDIR)/.run
FUZZTIME ?= 30s
PKGS     := ./...

.PHONY: all build run demo test test-short bench bench-scale lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/tapefs ./cmd/pmt ./cmd/pmtx

# A ready virtual library in .run/ (created on first use), mounted on ./mnt in
# the foreground; Ctrl-C unmounts.
run: build
	BIN=$(BIN) RUNDIR=$(RUNDIR) ./scripts/run.sh

# The reference's quickstart, step by step, against a fresh library in a temp dir.
demo: build
	BIN=$(BIN) ./scripts/demo.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test: lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short $(PKGS)

# tapefs against tar on the same data (ratios), then the Go benchmarks of
# the data path.
bench: build
	BIN=$(BIN) GO=$(GO) ./scripts/bench.sh
	$(GO) test -run '^$$' -bench . -benchmem ./engine/chunker ./engine/format ./vtape

# Time and memory per file at 250k, 1M and 2M files in one snapshot
# (BENCH_SCALE_N to choose), beside tar of the same tree.
bench-scale: build
	BIN=$(BIN) GO=$(GO) ./scripts/bench-scale.sh

# Run every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
