# Oozo — `make help` lists the targets. Everything installs what it needs first.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
PYTEST  := $(VENV)/bin/pytest
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock | sha256sum | cut -c1-12)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

##@ Getting started

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} \
	  /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: dev
dev: $(STAMP) ## Create .venv with everything, test tools included (fast when already done)

# uv.lock pins every package (`make lock` after changing pyproject.toml): --locked refuses a lock
# that no longer matches pyproject.toml instead of resolving anew; --inexact keeps uv itself.
$(STAMP): pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --locked --inexact --python $(PY) \
	  --extra operator --extra runtime --extra dev
	@rm -f $(VENV)/.installed-* && touch $@

.PHONY: lock
lock: ## Pin the dependencies again into uv.lock after a change to pyproject.toml
	@test -x $(VENV)/bin/uv || $(MAKE) dev
	$(VENV)/bin/uv lock

.PHONY: demo
demo: dev controlplane ## Run the whole loop on the embedded quickstart corpus and ask it a question
	$(PY) -m devcluster.demo

##@ Testing

.PHONY: test
test: dev controlplane tools corpora ## The full suite: unit, runtime, control-plane, e2e, s3, git and dev-cluster tiers
	$(PYTEST) tests

.PHONY: test-unit
test-unit: dev ## Unit tier only (seconds)
	$(PYTEST) -m unit tests

.PHONY: test-runtime
test-runtime: dev corpora ## Runtime tier: real model, real FAISS, real .docx, real Russian man pages, real redis-server, headless chromium
	@bash hack/tools/redis.sh >/dev/null
	@bash hack/tools/chromium.sh >/dev/null
	$(PYTEST) -m runtime tests

.PHONY: test-s3
test-s3: dev tools ## S3 tier: backup and restore against a real MinIO on loopback
	$(PYTEST) -m s3 tests

.PHONY: test-git
test-git: dev tools ## Git tier: fetching Git sources from a real git http-backend and a real sshd on loopback
	$(PYTEST) -m git tests

.PHONY: test-controlplane
test-controlplane: dev controlplane tools ## Control-plane tier on a real kube-apiserver
	$(PYTEST) -m "controlplane or e2e" tests

.PHONY: test-devcluster
test-devcluster: dev controlplane ## Dev-cluster tier: the simulated cluster itself (kubelets, control plane, kstatus)
	$(PYTEST) -m devcluster tests

.PHONY: test-containers
test-containers: dev controlplane tools ## Containers tier: builds the images with podman (installs it), runs rendered pods and the operator in them
	$(PYTEST) -m containers tests

.PHONY: lint
lint: dev ## ruff, mypy and import-linter (the arrows between packages: [tool.importlinter])
	$(VENV)/bin/ruff check contract operator runtime plugin tests devcluster bench hack
	$(VENV)/bin/ruff format --check contract operator runtime plugin tests devcluster bench hack
	$(VENV)/bin/mypy  # the packages, tests, devcluster, bench and hack: `files` in pyproject
	$(VENV)/bin/lint-imports

.PHONY: bench
bench: dev controlplane corpora ## Benchmarks; results go to bench-results/ and docs/benchmarks.md
	$(PY) -m bench.run

##@ Local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)

.PHONY: eval
eval: dev corpora ## Retrieval quality (hit@1, hit@5, MRR@5) of dense, lexical and hybrid on generated corpora; docs/benchmarks.md
	$(PY) -m bench.retrieval_eval

.PHONY: controlplane
controlplane: ## Build the control-plane binaries from the Go module proxy (cached in ~/.cache/oozo)
	@bash hack/controlplane/build.sh >/dev/null

.PHONY: corpora
corpora: dev ## Real non-English text for the multilingual tests: Debian's manpages-ru as text (~/.cache/oozo/corpora)
	@$(PY) -m devcluster.corpora

.PHONY: tools
tools: dev ## helm, krew and MinIO (Go module proxy), promtool, git, sshd, redis-server, chromium and pipx (Debian), olah (PyPI) for the chart, plugin, S3, Git, hub, cache and web page tests
	@bash hack/tools/helm.sh >/dev/null
	@bash hack/tools/chromium.sh >/dev/null
	@bash hack/tools/krew.sh >/dev/null
	@bash hack/tools/pipx.sh >/dev/null
	@bash hack/tools/git.sh >/dev/null
	@bash hack/tools/sshd.sh >/dev/null
	@bash hack/tools/redis.sh >/dev/null
	@bash hack/tools/promtool.sh >/dev/null
	@bash hack/s3/build-minio.sh >/dev/null
	@$(PY) -c 'from devcluster.hubserver import olah_command; olah_command()'

.PHONY: cluster-up
cluster-up: dev controlplane ## Start the local control plane; kubeconfig in .cluster/kubeconfig
	$(PY) -m devcluster.controlplane up --dir .cluster

.PHONY: cluster-down
cluster-down: ## Stop exactly what cluster-up started
	@if [ -x $(PY) ]; then $(PY) -m devcluster.controlplane down --dir .cluster; fi

##@ Images (podman, buildah and runc from Debian, installed and configured by the script)

.PHONY: images
images: ## Build oozo-operator, oozo-server, oozo-indexer (= oozo-runtime) :dev; prints sizes
	bash hack/images/build.sh

##@ kind (needs kind, kubectl and Docker or podman; not run in CI here)

.PHONY: kind-e2e
kind-e2e: dev images ## Create a kind cluster, load the images, install the chart, run the e2e tier
	bash hack/kind-e2e.sh
