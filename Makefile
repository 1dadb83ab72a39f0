# ucid — the two set-up commands on a fresh machine:
#   make demo   the main job: stack, data, the Airflow DAG, the speed layer on a live stream, the API
#   make test   installs everything, then runs the unit and the integration tests
# Everything is installed by these targets; nothing needs to be there but python3.11, a JDK 17
# and Maven (Debian packages are installed when missing and we are root).

SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .ucid/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-packages venv test unit integration lint demo stack-up stack-down clean test-faults

setup: system-packages venv

# Debian packages the stack and the tests use: JDK 17 (servers, Spark), Maven (fetching the jars
# from Maven Central), kcat (an independent Kafka client for the tests).
system-packages:
	@bash infra/system-packages.sh

$(UV):
	python3.11 -m venv $(TOOLS) || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# the virtual environment at .venv, exactly as locked in uv.lock
venv: $(UV)
	$(UV) sync --frozen --python 3.11

lint: venv
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests/unit -q

integration: venv
	$(BIN)/pytest tests/integration -q -n 2 --dist loadfile --no-loadscope-reorder

test: setup
	bash infra/run-tests.sh

# the fault suite (not part of `make test`): a 3-node stack (started if it is not up, left up),
# nodes and brokers SIGKILLed under load; its figures go to .ucid/faults/latest.json
test-faults: setup
	UCID_FAULTS=1 UCID_STACK_NODES=3 $(BIN)/pytest tests/faults -q -s -p no:cacheprovider

stack-up: setup
	$(BIN)/ucid stack up

stack-down:
	$(BIN)/ucid stack down

# DEMO_ARGS: options of `ucid demo`, e.g. make demo DEMO_ARGS="--customers 20000 --port 8080"
demo: setup
	$(BIN)/ucid demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .ucid/lake .ucid/demo
