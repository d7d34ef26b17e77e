# vigil: see README.md. `make help` lists the targets.

GO       ?= go
DATA     ?= ./data
LISTEN   ?= 127.0.0.1:8080
ORIGIN   ?= dev.vigil.local/log
ROOTS    ?= testdata/dev/trust-roots.json
FUZZTIME ?= 10s
BENCHCOUNT ?= 5

.PHONY: help build run demo cluster demo-cluster test race fuzz bench lint gen check-gen check

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

build: ## build every command into ./bin (static, reproducible paths)
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...

run: build ## a local log on ./data with two local witnesses (2-of-2 policy) and the development trust root
	@echo
	@echo "vigil: starting a local log at http://$(LISTEN) with two witnesses on 127.0.0.1:8081 and :8082,"
	@echo "state in $(DATA). Every checkpoint needs both witnesses' cosignatures ($(DATA)/witness-policy.txt)."
	@echo "In another terminal, enroll a device and verify its receipt offline:"
	@echo
	@echo "  bin/vigil sign --kind enrollment --key testdata/dev/manufacturer.key --device-key testdata/dev/device.key \\"
	@echo "      --predicate testdata/dev/enrollment.json --out enrollment.dsse.json"
	@echo "  bin/vigil submit --log http://$(LISTEN) --out enrollment.bundle.json enrollment.dsse.json"
	@echo "  bin/vigil verify --policy $(DATA)/witness-policy.txt --trust-roots $(ROOTS) enrollment.bundle.json"
	@echo
	@echo "Then an attestation signed by the device (verify checks attestation -> enrollment -> manufacturer):"
	@echo
	@echo "  bin/vigil sign --kind attestation --key testdata/dev/device.key --predicate testdata/dev/attestation.json --out attestation.dsse.json"
	@echo "  bin/vigil submit --log http://$(LISTEN) --out attestation.bundle.json attestation.dsse.json"
	@echo "  bin/vigil verify --policy $(DATA)/witness-policy.txt --trust-roots $(ROOTS) attestation.bundle.json"
	@echo
	BIN=bin DATA=$(DATA) LISTEN=$(LISTEN) ORIGIN=$(ORIGIN) ROOTS=$(ROOTS) deploy/local/run.sh

demo: build ## the fleetsim scenario on a local log with witnesses, and three regulator answers, proven
	BIN=bin deploy/local/demo.sh

cluster: build ## a local cluster on loopback: MariaDB, three witnesses, two vigild frontends of one log (state in ./data-cluster)
	BIN=bin deploy/local/cluster.sh

demo-cluster: build ## the scenario through both frontends of a fresh local cluster, each frontend's answers proven, an audit; then stops
	BIN=bin deploy/local/demo-cluster.sh

test: ## everything the tests need (Chromium for the report test, MariaDB for the MySQL backend), then all the tests
	sh deploy/ci/install-test-deps.sh
	$(GO) test -timeout 20m ./...

race: ## the short tests under the race detector
	$(GO) test -short -race -timeout 20m ./...

fuzz: ## each fuzz target for FUZZTIME (default 10s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

bench: ## the benchmarks, BENCHCOUNT runs each, medians by benchstat (raw output in bench.out)
	@# The test binaries run directly, so Tessera's and badger's logs (stderr,
	@# in bench.log) cannot split benchmark lines on stdout. The personality's
	@# benchmarks run one iteration a process, each on a fresh Spanner emulator:
	@# later iterations in one process ran slower and slower on it, the third
	@# stalled (deploy/README.md).
	@mkdir -p bin && rm -f bench.out bench.log
	@set -e; for pkg in $$($(GO) list ./...); do \
	  $(GO) test -c -o bin/bench.test $$pkg >/dev/null; test -f bin/bench.test || continue; \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  if [ "$$pkg" = "$$($(GO) list ./personality)" ]; then \
	    for i in $$(seq $(BENCHCOUNT)); do \
	      (cd $$dir && $(CURDIR)/bin/bench.test -test.run '^$$' -test.bench 'Throughput|WitnessedReceipts' -test.benchtime 1x -test.timeout 60m 2>>$(CURDIR)/bench.log) | tee -a bench.out; \
	    done; \
	  fi; \
	  (cd $$dir && $(CURDIR)/bin/bench.test -test.run '^$$' -test.bench . -test.skip 'Throughput|WitnessedReceipts' -test.count $(BENCHCOUNT) -test.timeout 30m 2>>$(CURDIR)/bench.log) | grep -v '^PASS' | tee -a bench.out; \
	  rm -f bin/bench.test; \
	done
	$(GO) tool benchstat bench.out

lint: ## gofmt, go vet, staticcheck, and the deployment files in deploy/ (deploy/README.md)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	GO=$(GO) sh deploy/ci/lint-deploy.sh

gen: ## regenerate the development fixtures in testdata/dev (deterministic)
	$(GO) run testdata/gen.go

check-gen: ## fail if testdata/dev differs from what testdata/gen.go writes
	@tmp=$$(mktemp -d) && $(GO) run testdata/gen.go -out $$tmp && diff -r testdata/dev $$tmp && rm -rf $$tmp \
	  || { echo "testdata/dev is stale: run make gen"; exit 1; }

check: lint check-gen test ## what CI runs
