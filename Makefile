# Two commands do all set-up: `make demo` (the main job) and `make test` (the whole suite).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.setup-stamp

.PHONY: setup test demo app bench clean

setup: $(STAMP)

# Idempotent: re-runs only when the dependency files change.
$(STAMP): requirements.txt pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	./scripts/install-system-deps.sh
	touch $(STAMP)

# pytest exits 5 when it collects nothing: treat that as a failure, loudly.
test: setup
	@$(BIN)/python -m pytest tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

demo: setup
	$(BIN)/portraittalk generate --ref assets/portraits/astronaut.png --audio assets/speech/en_mbp.wav --out outputs/demo.mp4

app: setup
	$(BIN)/python app.py

bench: setup
	$(BIN)/python benchmarks/lipsync.py
	$(BIN)/python benchmarks/generate_speed.py

clean:
	rm -rf $(VENV) outputs artifacts .pytest_cache
