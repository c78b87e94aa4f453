# Steward's developer entry points.
#
# PostgreSQL comes from the machine's packages (scripts/ensure-postgres.sh).
# Without DATABASE_URL, `steward serve` runs its own private cluster under
# .data/postgres; without TEST_DATABASE_URL, `make test` runs one under
# .data/postgres-test, shared by all test packages and stopped afterwards.

GO ?= go
BIN := bin/steward

# The test cluster trades durability for speed: see pgcluster.Config.Fast.
TEST_DATA_DIR := .data/postgres-test

ifneq ($(TEST_DATABASE_URL),)
GO_TEST := $(GO) test -count=1 ./...
else
GO_TEST := $(GO) run . pg run --data $(TEST_DATA_DIR) --fast -- $(GO) test -count=1 ./...
endif

.PHONY: build run test generate bench postgres-bin clean

build:
	$(GO) build -o $(BIN) .

run: postgres-bin build
	./$(BIN) serve --seed-demo

test: postgres-bin
	$(GO) vet ./...
	@unformatted="$$(git ls-files -z --cached --others --exclude-standard -- '*.go' | xargs -0 -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists files to format:"; echo "$$unformatted"; exit 1; fi
	$(GO_TEST)

generate:
	$(GO) tool gqlgen generate

bench: postgres-bin build
	./$(BIN) bench

postgres-bin:
	bash scripts/ensure-postgres.sh

clean:
	rm -rf bin/
