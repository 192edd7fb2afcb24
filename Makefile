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
JAVA_CP = $(CLASSES):$(PY4J_JAR)
TEST_CP = build/jvm/test-classes:$(JAVA_CP):$(JARS)/junit4.jar:$(JARS)/hamcrest-core.jar
CLOJURE_CP = $(JAVA_CP):$(JARS)/data.json.jar:clojure/src
# The engine the JVM launches: this project's virtual environment.
export NAS_PATTERN_PYTHON := $(abspath $(PY))
EPISODES ?= 6

.PHONY: run test setup data lint clean jvm jvm-tools jvm-test java-test scala-test clojure-test \
	java-example scala-example clojure-example bridge-bench bench

run: setup
	$(PY) -m nas_pattern.run $(ARGS)

# The engine's benchmark: our child trainer against the plain PyTorch loop, and the controller's cost.
bench: setup
	$(PY) -m nas_pattern.bench $(ARGS)

test: setup lint
	$(PY) -m pytest
	$(MAKE) --no-print-directory jvm-test

lint: setup
	$(VENV)/bin/ruff check python tests
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

$(JVM_TOOLS):
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

build/jvm/.built: $(INSTALLED) $(JVM_TOOLS) $(wildcard jvm/src/naspattern/*.java jvm/examples/*.java \
		jvm/test/naspattern/*.java jvm/scala/*.scala)
	rm -rf build/jvm && mkdir -p $(CLASSES) build/jvm/examples build/jvm/test-classes build/jvm/scala
	javac -Xlint:all -Werror -d $(CLASSES) -cp $(PY4J_JAR) jvm/src/naspattern/*.java
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
	java -cp build/jvm/examples:$(JAVA_CP) NASExample $(EPISODES)

scala-example: setup jvm
	scala -cp build/jvm/scala:$(JAVA_CP) NASExample $(EPISODES)

clojure-example: setup jvm
	clojure -cp $(CLOJURE_CP) -m naspattern.example $(EPISODES)

bridge-bench: setup jvm
	java -cp build/jvm/examples:$(JAVA_CP) BridgeBench

clean:
	rm -rf build $(VENV) runs .pytest_cache .mypy_cache .ruff_cache python/*.egg-info
