# nas-pattern. The two commands: `make run` (a search) and `make test` (every test and linter).
# Each sets up what it needs first, on a fresh machine too: a virtual environment in .venv
# with the Python packages, Debian's Fashion-MNIST package, and for the JVM front-ends
# Debian's scala, clojure, junit4 and data.json (no Maven: javac, scalac and clojure directly).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
ARGS ?=

# The JVM side: the py4j jar shipped in the py4j wheel, Debian's jars, our classes under build/.
PY4J_JAR = $(firstword $(wildcard $(VENV)/share/py4j/py4j*.jar))
JARS := /usr/share/java
JVM_TOOLS := /usr/bin/javac /usr/bin/scalac /usr/bin/clojure $(JARS)/junit4.jar $(JARS)/data.json.jar
CLASSES := build/jvm/classes
# The front-end as a library: our classes and naspattern/core.clj in one jar (make jar), which the
# examples, the suites and the guide's commands run on; its API documented by make javadoc.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
JAR := build/naspattern.jar
JAVADOC := build/javadoc/index.html
JAVA_CP = $(JAR):$(PY4J_JAR)
TEST_CP = build/jvm/test-classes:$(JAVA_CP):$(JARS)/junit4.jar:$(JARS)/hamcrest-core.jar
# clojure/src for the example: naspattern.core itself is loaded from the jar, which comes first.
CLOJURE_CP = $(JAVA_CP):$(JARS)/data.json.jar:clojure/src
# The engine the JVM launches: this project's virtual environment.
export NAS_PATTERN_PYTHON := $(abspath $(PY))
# The examples' children; FLAGS=--weight-sharing gives them their switch; RUN_DIR where the search is
# recorded (default: runs/<language>-example-<milliseconds>).
EPISODES ?= 6
RUN_DIR =
# The guide: Mermaid from the npm registry (bundled into the site, no CDN), Debian's chromium to check it.
MERMAID_VERSION := 12.3.0
MERMAID_JS := docs/js/mermaid.min.js
# The guide's formulas: KaTeX from the npm registry (bundled into the site, fonts included, no CDN).
KATEX_VERSION := 0.19.1
KATEX := docs/katex/katex.min.js
BROWSER_TOOLS := /usr/bin/chromium /usr/bin/chromedriver

.PHONY: run test check setup data lint clean jvm jvm-tools jvm-test java-test scala-test clojure-test \
	java-example scala-example clojure-example bridge-bench bench docs docs-tools gpu-carry jar javadoc \
	jvm-checks scala-example-check clojure-example-check bridge-bench-check

run: setup
	$(PY) -m nas_pattern.run $(ARGS)

# The engine's benchmark: our child trainer against the plain PyTorch loop, the controller's cost, children
# per minute local against Ray, and the strategy study.
bench: setup
	$(PY) -m nas_pattern.bench $(ARGS)

# What benchmarks/gpu.sh needs on a lent GPU machine, whose image has torch but nothing else of ours
# and which can download nothing: .gpu/ (git ignores it; carry it) with the wheels of py4j and optuna
# (and optuna's needs the image lacks) at this environment's versions, for its Python 3.12, Debian's
# Fashion-MNIST files, and the commit. Run it right before the device call.
GPU_WHEELS := py4j|optuna|alembic|colorlog|mako|sqlalchemy
gpu-carry: setup data
	rm -rf .gpu && mkdir -p .gpu/wheels .gpu/fashion-mnist
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .gpu/wheels $$($(PY) -m pip freeze | grep -iE '^($(GPU_WHEELS))==')
	cp $(dir $(FASHION_MNIST))*.gz .gpu/fashion-mnist/
	git describe --always --dirty >.gpu/commit
	@du -sh .gpu; ls .gpu/wheels

# pytest includes the guide's checks (tests/test_docs.py), which run the Java example and open the
# built site in chromium; then the JVM suites, and the Scala and Clojure examples the guide includes
# (Clojure's with --weight-sharing, so that its lines for the candidates trained from scratch run too).
# pytest-xdist runs one test process per CPU, each (and the searches it starts) with one PyTorch
# thread: on 2 cores, 11.5 min instead of 18 for one process of two threads (README, make test).
PYTEST_PARALLEL := OMP_NUM_THREADS=1 $(PY) -m pytest -n logical
test: setup lint jvm docs-tools $(MERMAID_JS) $(KATEX)
	$(PYTEST_PARALLEL)
	OMP_NUM_THREADS=1 $(MAKE) --no-print-directory -j$$(nproc) --output-sync=target jvm-checks

# The JVM suites, the examples and the bridge bench make test runs, one per CPU at a time, each
# engine with one PyTorch thread as in pytest (a JVM and the engine it launched take turns on about
# one core; each suite has run directories of its own); their output comes whole, target by target.
# On the 2-core AMD EPYC 88 s instead of 143 s one after another (2026-12-05; 160 s two at a time
# with two threads each); 96 s with the bridge bench (2026-12-07).
# The examples' checks record into build/checks/ (cleared first), not runs/ where a user's searches are.
jvm-checks: jvm-test scala-example-check clojure-example-check bridge-bench-check javadoc
scala-example-check: setup jvm
	rm -rf build/checks/scala-example
	$(SCALA_EXAMPLE) 2 build/checks/scala-example
clojure-example-check: setup jvm
	rm -rf build/checks/clojure-example
	$(CLOJURE_EXAMPLE) 2 build/checks/clojure-example --weight-sharing

# The fast loop while working: ruff, mypy and the tests not marked slow (under a minute once set up).
check: lint
	$(PYTEST_PARALLEL) -q -m "not slow"

# The pattern guide as a static site in build/site (open build/site/index.html).
docs: setup $(MERMAID_JS) $(KATEX)
	$(VENV)/bin/mkdocs build --strict
	@echo "The guide: build/site/index.html"

$(MERMAID_JS):
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } || \
		{ echo "npm is missing: run 'sudo apt-get install npm', then retry." >&2; exit 1; }
	rm -rf build/npm && mkdir -p build/npm
	cd build/npm && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null && \
		tar xzf mermaid-$(MERMAID_VERSION).tgz package/dist/mermaid.min.js
	mkdir -p $(dir $@) && cp build/npm/package/dist/mermaid.min.js $@

$(KATEX):
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } || \
		{ echo "npm is missing: run 'sudo apt-get install npm', then retry." >&2; exit 1; }
	rm -rf build/npm-katex && mkdir -p build/npm-katex
	cd build/npm-katex && npm pack --silent katex@$(KATEX_VERSION) >/dev/null && tar xzf katex-$(KATEX_VERSION).tgz
	rm -rf docs/katex && mkdir -p docs/katex/fonts
	cp build/npm-katex/package/dist/katex.min.css build/npm-katex/package/dist/contrib/auto-render.min.js docs/katex/
	cp build/npm-katex/package/dist/fonts/*.woff2 docs/katex/fonts/
	cp build/npm-katex/package/dist/katex.min.js $@

docs-tools: $(BROWSER_TOOLS)

$(BROWSER_TOOLS):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium and chromium-driver (the guide's browser check) ..."; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else \
		echo "$@ is missing: run 'sudo apt-get install chromium chromium-driver', then retry." >&2; \
		exit 1; \
	fi

lint: setup
	$(VENV)/bin/ruff check python tests docs
	$(VENV)/bin/mypy

setup: $(INSTALLED) data

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

data: $(FASHION_MNIST)

$(FASHION_MNIST):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's dataset-fashion-mnist ..."; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist', then retry." >&2; \
		exit 1; \
	fi

# ---- the JVM front-ends ----

jvm-tools: $(JVM_TOOLS)

$(JVM_TOOLS) &:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's JDK, scala, clojure, junit4 and data.json ..."; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			default-jdk-headless scala clojure junit4 libdata-json-clojure; \
	else \
		echo "$@ is missing: run 'sudo apt-get install default-jdk-headless scala clojure junit4" \
			"libdata-json-clojure', then retry." >&2; \
		exit 1; \
	fi

jvm: build/jvm/.built
jar: $(JAR)
javadoc: $(JAVADOC)

$(JAR): $(INSTALLED) $(JVM_TOOLS) $(wildcard jvm/src/naspattern/*.java) clojure/src/naspattern/core.clj
	rm -rf $(CLASSES) $@ && mkdir -p $(CLASSES)/naspattern
	javac -Xlint:all -Werror -d $(CLASSES) -cp $(PY4J_JAR) jvm/src/naspattern/*.java
	cp clojure/src/naspattern/core.clj $(CLASSES)/naspattern/
	printf 'Implementation-Title: nas-pattern\nImplementation-Version: %s\nAutomatic-Module-Name: naspattern\n' \
		'$(VERSION)' >build/jvm/manifest.txt
	jar --create --file $@ --manifest build/jvm/manifest.txt -C $(CLASSES) .

# The API's Javadoc; every reference and tag in it must be sound (-Xdoclint), or make test fails.
$(JAVADOC): $(INSTALLED) $(JVM_TOOLS) $(wildcard jvm/src/naspattern/*.java)
	rm -rf $(dir $@)
	javadoc -quiet -Xdoclint:all,-missing -Werror -d $(dir $@) -cp $(PY4J_JAR) \
		-windowtitle 'nas-pattern $(VERSION)' -doctitle 'nas-pattern $(VERSION): the JVM front-end' \
		jvm/src/naspattern/*.java

build/jvm/.built: $(JAR) $(wildcard jvm/examples/*.java jvm/test/naspattern/*.java jvm/scala/*.scala)
	rm -rf build/jvm/examples build/jvm/test-classes build/jvm/scala
	mkdir -p build/jvm/examples build/jvm/test-classes build/jvm/scala
	javac -Xlint:all -Werror -d build/jvm/examples -cp $(JAVA_CP) jvm/examples/*.java
	javac -Xlint:all -Werror -d build/jvm/test-classes -cp $(TEST_CP) jvm/test/naspattern/*.java
	scalac -d build/jvm/scala -cp $(TEST_CP) jvm/scala/*.scala
	touch $@

jvm-test: java-test scala-test clojure-test

java-test: setup jvm
	java -cp $(TEST_CP) naspattern.TestMain naspattern.NASGatewayTest

scala-test: setup jvm
	scala -cp build/jvm/scala:$(TEST_CP) naspattern.TestMain NASExampleTest

clojure-test: setup jvm
	clojure -cp $(CLOJURE_CP):clojure/test clojure/test/run_tests.clj

java-example: setup jvm
	java -cp build/jvm/examples:$(JAVA_CP) NASExample $(EPISODES) $(RUN_DIR) $(FLAGS)

SCALA_EXAMPLE = scala -cp build/jvm/scala:$(JAVA_CP) NASExample
scala-example: setup jvm
	$(SCALA_EXAMPLE) $(EPISODES) $(RUN_DIR) $(FLAGS)

CLOJURE_EXAMPLE = clojure -cp $(CLOJURE_CP) -m naspattern.example
clojure-example: setup jvm
	$(CLOJURE_EXAMPLE) $(EPISODES) $(RUN_DIR) $(FLAGS)

bridge-bench: setup jvm
	java -cp build/jvm/examples:$(JAVA_CP) BridgeBench
bridge-bench-check: setup jvm  # the bench, small, so that what it prints stays true to the code
	java -cp build/jvm/examples:$(JAVA_CP) BridgeBench 100 500

# What the commands above built or fetched. Not runs/: it holds your searches and the models they
# found, which no rebuild gives back (remove it yourself when you mean to).
clean:
	rm -rf build $(VENV) $(MERMAID_JS) docs/katex .gpu .pytest_cache .mypy_cache .ruff_cache python/*.egg-info
