# The two commands of the README: `make run` and `make test`. Each creates .venv when missing
# and installs the pinned requirements once (a stamp file makes the second run install nothing).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test train eval bench examples extension clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) requirements.txt requirements-dev.txt pyproject.toml
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)  ## the Gradio app on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)
	tools/system-deps.sh --browser-only
	$(PY) app.py

test: $(STAMP)  ## the whole test suite, offline
	tools/system-deps.sh
	$(PY) -m pytest -q

train: $(STAMP)  ## retrain on ../shared/datasets/medpic and overwrite models/medpic
	$(VENV)/bin/medpic train

eval: $(STAMP)  ## the model card's figures: the recipe on held-out sources (reports/train-check/), then the bundled model through the serving path (reports/)
	$(VENV)/bin/medpic train --check
	$(VENV)/bin/medpic evaluate

bench: $(STAMP)  ## speed and memory figures (not tests)
	tools/system-deps.sh
	$(PY) bench/classify.py
	$(PY) bench/scan_pdf.py
	$(PY) bench/scan_web.py
	$(PY) bench/load_app.py
	$(PY) bench/extension_scan.py
	$(PY) bench/attack.py

extension: $(STAMP)  ## dist/medpic-extension.zip for the Chrome Web Store, dist/medpic-extension/ to load unpacked
	$(PY) tools/build_extension.py

examples: $(STAMP)  ## rebuild examples/ from images that ship inside scikit-image and pydicom
	$(PY) tools/make_examples.py

clean:
	rm -rf $(VENV) .pytest_cache reports dist
