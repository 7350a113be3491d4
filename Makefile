# flatfile-relay — every command sets up what it needs (a Python 3.13 venv, SAM CLI) on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
SAM_VENV  := .venv-sam
# What Lambda adds to the built layer: boto3 (the runtime) and Powertools (AWS's public layer), nothing else
LAMBDA_VENV := .venv-lambda
# checkov pins dependencies that clash with SAM CLI's and the project's: a venv of its own
CHECKOV_VENV := .venv-checkov
# uv resolves the locks (`make lock`); it is a tool of its own, pinned in requirements/uv.txt
UV_VENV   := .venv-uv
PY        := $(VENV)/bin/python
# The project's SAM CLI, with .venv/bin first on PATH: `sam build` needs a python3.13 there (the runtime's)
SAM       := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam
# No usage data leaves this machine from any SAM CLI the Makefile runs
export SAM_CLI_TELEMETRY := 0
PYTEST_ARGS ?=
# pytest-xdist: one worker per core (at most 4); every worker has its own moto and emulator. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --maxprocesses=4 --dist worksteal)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

# pip's output cut down to a progress line every 10 packages (from the index or, "Processing", a local copy of it),
# plus everything from the first error on (a hash mismatch names the file on the lines after it)
PIP_PROGRESS := awk '/ERROR|error:/{failed=1} failed{print; fflush(); next} /^(Collecting|Processing) /{n++; latest=$$2; sub(/.*\//, "", latest); if (n % 10 == 0) printf "    %d packages downloaded (latest: %s)\n", n, latest; fflush()} /^Installing collected/{print "    installing " n " packages"; fflush()}'
# Every install is from a lock (requirements/*.txt, written by `make lock`): every package pinned, with hashes.
# A failed install fails the target (pipefail: pip's status, not the progress filter's).
PIP_LOCKED := -m pip install --require-hashes -r
# pip and setuptools themselves, pinned with hashes: installed into every new venv before anything else
PIP_PINNED := -m pip install --quiet --require-hashes -r requirements/pip.txt

# Python 3.13 matches the Lambda runtime: pyenv's 3.13 first, then any python3.13 on PATH.
PYTHON313 := $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))

.PHONY: help run test invoke query emulator local-env deploy sam lint typecheck validate scan build unit integration \
	coverage bench lock clean

help:  ## list the targets, one line each
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt requirements/pip.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found (looked in pyenv's versions and on PATH); install it, e.g. 'pyenv install 3.13'" >&2; exit 1; }
	@echo "==> setting up $(VENV) (first run only, about a minute): Python 3.13 from $(PYTHON313)"
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	@$(PY) $(PIP_PINNED)
	@echo "    installing requirements/dev.txt (boto3, requests, Powertools, moto, pytest, ruff, mypy and their dependencies)"
	@set -o pipefail; $(PY) $(PIP_LOCKED) requirements/dev.txt 2>&1 | $(PIP_PROGRESS)
	@$(PY) -c "import boto3, requests, aws_lambda_powertools, moto, pytest" || { echo "error: dependency install failed" >&2; exit 1; }
	@echo "==> $(VENV) ready"
	@# the library is importable from the venv as it is in Lambda's layer (no copy, edits apply at once)
	@# the development kit (emulator, local runner) too: it lives outside the layer, in devkit/
	@printf '%s\n' "$(CURDIR)/layers/relay" "$(CURDIR)/devkit" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/flatfile_relay.pth"
	@touch $@

$(SAM_VENV)/.installed: requirements/sam.txt requirements/pip.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found" >&2; exit 1; }
	@echo "==> setting up $(SAM_VENV) (SAM CLI; first run only, about a minute)"
	@test -x $(SAM_VENV)/bin/python || $(PYTHON313) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/python $(PIP_PINNED)
	@set -o pipefail; $(SAM_VENV)/bin/python $(PIP_LOCKED) requirements/sam.txt 2>&1 | $(PIP_PROGRESS)
	@$(SAM) --version >/dev/null || { echo "error: SAM CLI install failed" >&2; exit 1; }
	@touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt requirements/pip.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found" >&2; exit 1; }
	@echo "==> setting up $(CHECKOV_VENV) (checkov; first run only, about a minute)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python $(PIP_PINNED)
	@set -o pipefail; $(CHECKOV_VENV)/bin/python $(PIP_LOCKED) requirements/checkov.txt 2>&1 | $(PIP_PROGRESS)
	@$(CHECKOV_VENV)/bin/checkov --version >/dev/null || { echo "error: checkov install failed" >&2; exit 1; }
	@touch $@

# Locked in requirements/lambda.txt; no pip (so none to pin: .venv's pinned pip installs into it), no project
# code: the artifact tests import the built handlers in it.
$(LAMBDA_VENV)/.installed: requirements/lambda.txt $(VENV)/.installed
	@echo "==> creating $(LAMBDA_VENV) (boto3 and Powertools only, as in Lambda)"
	@rm -rf $(LAMBDA_VENV) && $(PYTHON313) -m venv --without-pip $(LAMBDA_VENV)
	@set -o pipefail; $(PY) -m pip --python $(LAMBDA_VENV)/bin/python install --quiet --require-hashes -r requirements/lambda.txt 2>&1 | sed '/is ignored: it is neither/d'
	@$(LAMBDA_VENV)/bin/python -c "import boto3, aws_lambda_powertools" || { echo "error: $(LAMBDA_VENV) install failed" >&2; exit 1; }
	@touch $@

$(UV_VENV)/.installed: requirements/uv.txt requirements/pip.txt
	@test -n "$(PYTHON313)" || { echo "error: Python 3.13 not found" >&2; exit 1; }
	@echo "==> setting up $(UV_VENV) (uv, for \`make lock\`)"
	@test -x $(UV_VENV)/bin/python || $(PYTHON313) -m venv $(UV_VENV)
	@$(UV_VENV)/bin/python $(PIP_PINNED)
	@set -o pipefail; $(UV_VENV)/bin/python $(PIP_LOCKED) requirements/uv.txt 2>&1 | $(PIP_PROGRESS)
	@$(UV_VENV)/bin/uv --version >/dev/null || { echo "error: uv install failed" >&2; exit 1; }
	@touch $@

run: $(VENV)/.installed  ## the pipeline locally: moto + bundled emulator; poll, export, consume, summary in ./out
	@$(PY) -m flatfile_relay_devkit.local

test: lint typecheck validate scan build $(LAMBDA_VENV)/.installed  ## every check and every test
	@$(MAKE) --no-print-directory coverage

invoke: $(VENV)/.installed  ## one function, one event, locally without Docker: FUNCTION=PollerFunction EVENT=events/schedule.json
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<logical id> EVENT=<file>," \
	  "e.g. make invoke FUNCTION=PollerFunction EVENT=events/schedule.json" >&2; exit 2; }
	@$(PY) -m flatfile_relay_devkit.local.invoke "$(FUNCTION)" "$(EVENT)"

# The SQL as typed: `$` in it is not make's (an exported simply expanded copy of SQL's unexpanded text)
query: export QUERY_SQL := $(value SQL)
query: $(VENV)/.installed  ## SQL over ./out (what make run leaves) through the Glue tables: SQL="..." or EXAMPLE=1
	@$(PY) -m flatfile_relay_devkit.local.query --out "$${OUT:-out}" $(if $(EXAMPLE),--example "$(EXAMPLE)") \
	  $(if $(value SQL),"$$QUERY_SQL")

emulator: $(VENV)/.installed  ## the Flatfile emulator on port 8765 (PORT=...)
	@$(PY) -m flatfile_relay_devkit.emulator --port $${PORT:-8765}

local-env: $(VENV)/.installed  ## for `sam local invoke`: moto + emulator + the template's resources, and local-env.json (Ctrl-C stops)
	@$(PY) -m flatfile_relay_devkit.local.sam_env $(LOCAL_ENV_ARGS)

deploy: validate build  ## the first deploy to AWS: sam deploy --guided with the project's SAM CLI (AWS credentials)
	@echo "==> sam deploy --guided (answers are saved in samconfig.toml; later: make sam ARGS=deploy)"
	@$(SAM) deploy --guided $(ARGS)

sam: $(SAM_VENV)/.installed $(VENV)/.installed  ## any SAM CLI command with the project's SAM CLI: ARGS="logs --tail"
	@$(SAM) $(ARGS)

lint: $(VENV)/.installed  ## ruff
	@echo "==> ruff"
	@$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed  ## mypy (strict on the library)
	@echo "==> mypy"
	@$(VENV)/bin/mypy layers/relay/flatfile_relay devkit/flatfile_relay_devkit functions

validate: $(SAM_VENV)/.installed $(VENV)/.installed  ## sam validate --lint, and cfn-lint with the rules in cfn-rules/
	@echo "==> sam validate --lint"
	@$(SAM) validate --lint
	@echo "==> cfn-lint --append-rules cfn-rules"
	@$(SAM_VENV)/bin/cfn-lint template.yaml --append-rules cfn-rules

# checkov offline (--skip-download): its own checks only; a skipped check names its reason in the resource's
# Metadata (checkov: skip). It scans template.yaml, then the CloudFormation SAM makes of it (translated offline by
# SAM's own translator: the Function URL, roles and inline policies exist only there; a SAM resource's skips
# cover what it makes). bandit: the library and the handlers; its hard-coded password checks (B105-B107)
# are ruff's S105-S107, whose per-line exceptions state their reason.
SCAN_TEMPLATE := .aws-sam/scan/template.json
scan: $(CHECKOV_VENV)/.installed $(VENV)/.installed $(SAM_VENV)/.installed  ## security scans: checkov on template.yaml and on its SAM translation, bandit on the code
	@echo "==> checkov (template.yaml)"
	@$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	@echo "==> checkov (template.yaml as deployed: SAM-translated offline into $(SCAN_TEMPLATE))"
	@$(SAM_VENV)/bin/python devkit/flatfile_relay_devkit/sam_translate.py template.yaml $(SCAN_TEMPLATE)
	@$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f $(SCAN_TEMPLATE)
	@echo "==> bandit"
	@$(VENV)/bin/bandit --quiet --recursive --skip B105,B106,B107 layers/relay/flatfile_relay functions

build: $(SAM_VENV)/.installed $(VENV)/.installed  ## sam build
	@echo "==> sam build"
	@$(SAM) build --cached >/tmp/flatfile-relay-sam-build.log 2>&1 || { cat /tmp/flatfile-relay-sam-build.log; exit 1; }
	@grep -m1 "Build Succeeded" /tmp/flatfile-relay-sam-build.log

coverage: $(VENV)/.installed  ## pytest with the library's coverage
	@echo "==> pytest"
	@# sys.monitoring-based line coverage: close to no overhead on 3.12+ (branch coverage would not be)
	@COVERAGE_CORE=sysmon $(PY) -m pytest $(PYTEST_PARALLEL) --cov --cov-report=term $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; fi; exit $$rc

unit: $(VENV)/.installed  ## unit tests only
	@$(PY) -m pytest $(PYTEST_PARALLEL) tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed  ## integration tests only
	@$(PY) -m pytest $(PYTEST_PARALLEL) tests/integration $(PYTEST_ARGS)

bench: $(VENV)/.installed  ## speed and memory benchmark (ratios measured in one run)
	@$(PY) -m tests.bench

# One lock per input (requirements/<name>.in -> requirements/<name>.txt; layer.in -> the layer's requirements.txt,
# which `sam build` installs), each for every Python from 3.11 on and every platform, with the hashes of every file
# of each pinned release. Extras stay named (coverage[toml]==...): older pips (3.11's 23.2) refuse a dependency's
# extra that the lock does not name. Pins already in a lock are kept unless its input moves them; LOCK_ARGS=--upgrade
# (or --upgrade-package NAME) moves the rest. dev, lambda and layer take runtime.txt's versions.
LOCK = UV_CUSTOM_COMPILE_COMMAND="make lock" $(UV_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
  --generate-hashes --no-strip-extras $(LOCK_ARGS)
lock: $(UV_VENV)/.installed  ## lock every dependency with hashes (after editing requirements/*.in)
	@echo "==> uv pip compile: requirements/*.in -> requirements/*.txt, layers/relay/requirements.txt"
	@$(LOCK) requirements/pip.in -o requirements/pip.txt
	@$(LOCK) requirements/uv.in -o requirements/uv.txt
	@$(LOCK) requirements/runtime.in -o requirements/runtime.txt
	@$(LOCK) requirements/dev.in -c requirements/runtime.txt -o requirements/dev.txt
	@$(LOCK) requirements/lambda.in -c requirements/runtime.txt -o requirements/lambda.txt
	@$(LOCK) requirements/layer.in -c requirements/runtime.txt -o layers/relay/requirements.txt
	@$(LOCK) requirements/sam.in -o requirements/sam.txt
	@$(LOCK) requirements/checkov.in -o requirements/checkov.txt

clean:  ## remove build output and caches (keeps the venvs)
	rm -rf .aws-sam out local-env.json .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
