# The two commands a new user needs: `make run` and `make test`.
# Everything else is bootstrapped from here (scripts/bootstrap.sh): uv, a
# Python 3.13 venv from uv.lock, and separate tool environments for aws-sam-cli
# and checkov, whose pins conflict with the app's.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
export BC_SKIP_MAPPING := TRUE

VENV_BIN := .venv/bin
PY := $(VENV_BIN)/python
UV = $(shell scripts/bootstrap.sh uv)
PY313 = $(shell scripts/bootstrap.sh python)
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
# sam build resolves the runtime's python3.13 from PATH: put a real one first.
SAM = PATH="$(dir $(PY313)):$$PATH" $(UV) tool run --quiet --python $(PY313) --from aws-sam-cli==$(SAM_VERSION) sam
CHECKOV = $(UV) tool run --quiet --python $(PY313) --from checkov==$(CHECKOV_VERSION) checkov
STAGES := default dev staging prod
XDIST ?= -n 2

.PHONY: help setup run test lint typecheck template-checks sam-validate sam-build security pytest contracts bench screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

setup: .venv/.synced  ## create .venv from uv.lock (done by every target that needs it)

.venv/.synced: pyproject.toml uv.lock scripts/bootstrap.sh
	@scripts/bootstrap.sh sync
	@touch $@

run: setup  ## simulate a few hundred agreements over ~40 days on the embedded AWS
	$(VENV_BIN)/billing simulate --agreements 300 --days 40

test: setup lint typecheck template-checks security pytest  ## every check CI runs
	@echo "make test: all checks passed"

lint: setup  ## ruff
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

# Each handler is its own top-level module `app`: checked one by one (strict, as the packages).
typecheck: setup  ## mypy strict: the layer, the local tooling and every handler
	$(VENV_BIN)/mypy
	@for f in functions/*/app.py; do MYPYPATH=layers/shared $(VENV_BIN)/mypy --strict $$f || exit 1; done

template-checks: setup sam-validate sam-build  ## cfn-lint (+ serverless rules, + the project's E9xxx rules), sam validate --lint, sam build, arm64 proof
	$(VENV_BIN)/cfn-lint --append-rules cfn_lint_serverless.rules --append-rules src/billing_local/cfn/rules -- template.yaml
	$(PY) scripts/check_build.py

# The four validations run concurrently (each is ~10 s of mostly single-threaded cfn-lint);
# each one's output is printed, and any failure fails the target.
sam-validate:
	@mkdir -p .aws-sam/validate; pids=""; \
	for env in $(STAGES); do \
	  ( $(SAM) validate --lint --config-env $$env > .aws-sam/validate/$$env.log 2>&1; echo $$? > .aws-sam/validate/$$env.rc ) & pids="$$pids $$!"; \
	done; wait $$pids; status=0; \
	for env in $(STAGES); do \
	  echo "sam validate --lint ($$env):"; sed 's/^/  /' .aws-sam/validate/$$env.log; \
	  [ "$$(cat .aws-sam/validate/$$env.rc)" = 0 ] || status=1; \
	done; exit $$status

sam-build:  ## sam build (arm64 layer and functions) into .aws-sam/
	$(SAM) build --cached --parallel --language-extensions

# checkov scans the template as CloudFormation deploys it (Fn::ForEach expanded, SAM translated):
# on template.yaml itself it sees none of the looped resources nor SAM's generated ones.
security: setup  ## bandit on the code, checkov on the rendered template
	$(VENV_BIN)/bandit -q -r layers/shared/billing functions -c pyproject.toml
	@# Local tooling (never deployed): seeded PRNGs (B311), moto's fake credentials (B105/B106) and
	@# internal invariants (B101) are expected there; every other check applies.
	$(VENV_BIN)/bandit -q -r src -c pyproject.toml --skip B101,B311,B105,B106
	$(PY) -m billing_local.cfn.render --out .aws-sam/rendered/template.json
	$(CHECKOV) --quiet --compact -f .aws-sam/rendered/template.json --framework cloudformation

pytest: setup  ## unit, integration (moto), template rules, end to end on the embedded AWS
	$(VENV_BIN)/pytest -q $(XDIST) --cov --cov-report=term:skip-covered

contracts: setup  ## regenerate schemas/ and docs/asyncapi.yaml from the code's models
	$(PY) -m billing_local.contracts --write

bench: setup  ## measure requests, cost, cold imports, throughput into .bench/results.json
	$(VENV_BIN)/python -m billing_local.bench

# Needs a browser (Debian: apt-get install -y chromium; CHROMIUM=/path/to/chrome elsewhere), so it is
# not part of `make test`: it checks the pages in the browser and rewrites docs/images/*.png.
screenshots: setup  ## render sample invoice and credit-note pages, check and screenshot them in headless Chromium into docs/images
	$(PY) -m billing_local.screenshots --out docs/images

clean:  ## remove build output and environments
	rm -rf .aws-sam .venv .tools .bench .pytest_cache .mypy_cache .ruff_cache
