# remarket: `make help` lists the targets.
GO ?= go
PKGS ?= ./...
TEST_DB ?= $(or $(REMARKET_TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)

.PHONY: help
help: ## List targets
	@grep -E '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/remarket
	$(GO) build -o bin/remarket ./cmd/remarket

.PHONY: demo
demo: build ## Run the whole job end to end on a generated shop (no setup needed)
	./bin/remarket demo

.PHONY: test
test: ## Run every test against a real PostgreSQL (REMARKET_TEST_DATABASE_URL)
	REMARKET_TEST_DATABASE_URL='$(TEST_DB)' $(GO) test -count=1 -timeout 10m $(PKGS)

.PHONY: test/race
test/race: ## Run the tests with the race detector
	REMARKET_TEST_DATABASE_URL='$(TEST_DB)' $(GO) test -race -count=1 -timeout 15m $(PKGS)

.PHONY: check-email
check-email: ## Score every email template with Mailpit's html-check (>= 95 % supported)
	./.ci/check-email

.PHONY: fuzz
fuzz: ## Fuzz every parser for 30 s each
	$(GO) test ./internal/ingest -run XXX -fuzz FuzzParseShopify -fuzztime 30s
	$(GO) test ./internal/ingest -run XXX -fuzz FuzzParseWooCommerce -fuzztime 30s
	$(GO) test ./internal/ingest -run XXX -fuzz FuzzParseGeneric -fuzztime 30s
	$(GO) test ./internal/shop -run XXX -fuzz FuzzParseMinor -fuzztime 30s
	$(GO) test ./internal/track -run XXX -fuzz FuzzParseUnsubscribeAddress -fuzztime 30s

.PHONY: bench
bench: ## Run the benchmarks quoted in the README's Performance section
	REMARKET_TEST_DATABASE_URL='$(TEST_DB)' $(GO) test -run XXX -bench . -benchtime 1x ./internal/importer
	REMARKET_TEST_DATABASE_URL='$(TEST_DB)' $(GO) test -run XXX -bench . ./internal/server
	REMARKET_TEST_DATABASE_URL='$(TEST_DB)' $(GO) test -run XXX -bench CampaignSend -benchtime 1x ./internal/campaign
	$(GO) test -run XXX -bench 'RecommendAll|RecommendOne' ./internal/recommend
	$(GO) test -run XXX -bench . ./internal/render
	$(GO) test -run XXX -bench 'Send|PlainGoMail' -benchtime 2s ./internal/mailer

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l cmd internal migrations)" || (gofmt -l cmd internal migrations; exit 1)
	$(GO) vet $(PKGS)

.PHONY: db/reset
db/reset: ## Drop leftover test databases and templates
	psql '$(TEST_DB)' -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'remarket_t%'" | \
		while read -r db; do psql '$(TEST_DB)' -qc "DROP DATABASE \"$$db\" WITH (FORCE)"; done
