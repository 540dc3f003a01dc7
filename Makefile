# Two commands do all set-up: `make run` (the web chat) and `make test`.
# Each creates .venv and installs on first use; later runs skip the install
# unless pyproject.toml changed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench bench-scale eval browser clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	# torch first, pinned: the CPU build on local disk (an unpinned torch pulls CUDA).
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) app.py

# Browser tests use Debian's Chromium; install it when missing and we may.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk) >/dev/null; \
	fi

test: $(STAMP) browser
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench.speed --json bench/results/benchmark.json

# Growth with the corpus (50k to 1M characters of ../shared/data paragraphs); results kept in
# artifacts/bench-scale/, the 1M build takes many minutes here.
bench-scale: $(STAMP)
	$(PY) -m bench.scale --json bench/results/bench-scale.json --plot docs/scale.png
	# The Milvus store (Milvus Lite): 50k real characters, 250k and 1M of them repeated (docs/distributed.md).
	$(PY) -m bench.milvus_scale --real 50000 --sizes 50000,250000,1000000 --json bench/results/bench-milvus.json

eval: $(STAMP)
	$(PY) -m qa eval --json docs/eval.json --plot docs/threshold.png

clean:
	rm -rf $(VENV) .cache index artifacts
