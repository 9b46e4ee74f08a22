# Developer entry points. Everything runs through uv so the pinned dev tools are used.
.DEFAULT_GOAL := help
SHELL := bash
CHART := charts/breast-cancer
# The chart's default image tag is its appVersion: `make image` builds exactly that image.
APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(CHART)/Chart.yaml)
IMAGE ?= breast-cancer-kserve:$(APP_VERSION)
SHELL_SCRIPTS := $(shell git ls-files --cached --others --exclude-standard '*.sh') .ci/run

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: sync
sync: ## Install the locked environment
	uv sync --frozen

.PHONY: test
test: lint ## Lint, then the README's test command (uv run pytest); no cluster needed
	uv run pytest

.PHONY: ci
ci: ## Everything CI runs: .ci/run (install, lint, tests, then the local cluster's end-to-end checks)
	bash .ci/run

.PHONY: test-alerts
test-alerts: ## promtool check + unit tests of the chart's alert rules (builds promtool once)
	uv run python -m tests.chart.promtool

.PHONY: lint
lint: ## ruff, helm lint, actionlint, shellcheck, hadolint
	uv run ruff check .
	uv run ruff format --check .
	uv run python -c 'import helm_python as h, json, sys; r = h.lint("$(CHART)", strict=True, kube_version="v1.32.0"); print(json.dumps(r, indent=2)); sys.exit(bool(r["errors"]) or any(m["severity"] >= 2 for m in r["messages"]))'
	uv run actionlint
	uv run shellcheck $(SHELL_SCRIPTS)
	uv run hadolint --failure-threshold style Dockerfile

.PHONY: manifests
manifests: ## Re-render k8s/manifests/ from the chart's default values
	uv run python k8s/render_manifests.py

.PHONY: image
image: ## Build the serving/training image
	docker build --tag $(IMAGE) .

.PHONY: e2e-local
e2e-local: ## Local cluster from upstream components + KServe, k8s/e2e.sh, down (KEEP_CLUSTER=1 keeps it)
	bash k8s/e2e-local.sh

.PHONY: e2e-kind
e2e-kind: ## kind cluster + KServe + chart + payload checks (KEEP_CLUSTER=1 keeps it)
	bash k8s/e2e-kind.sh
