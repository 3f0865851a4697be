# Thin wrapper: the logic lives in scripts/ (and bench/run.sh) so it can be read and run on its own.
#   make deps       install the missing Debian packages the build, the demo and the tests need (scripts/deps.sh)
#   make build      build everything in build/ (RelWithDebInfo, -j2); installs nothing, runs no apt-get
#   make run        installs only what building and serving need (scripts/deps.sh --run: no Apache, no test tools),
#                   then demo: worker + nginx on http://127.0.0.1:8080 (PORT=9090 moves it), prints the demo's
#                   credentials and curl lines; Ctrl-C stops it
#   make test       says how long it takes and what it installs, make deps, then unit + integration tests, then
#                   again under ASan/UBSan with the fuzz targets
#   make bench      wrk against nginx: static body, bare FastCGI, tokenfcgi (ES256, EdDSA, RS256), LMDB and PostgreSQL
#   make install    DESTDIR=... PREFIX=... (default PREFIX=/usr/local); runs no apt-get
#   make deb        scripts/deps.sh --deb, then build the Debian package into build-deb/ (scripts/deb.sh; lintian-clean)
#   make clean      remove the build directories
MAKEFLAGS += --no-print-directory
PREFIX ?= /usr/local
PORT ?= 8080
DESTDIR ?=

.PHONY: all deps build run test bench install deb clean

all: build

deps:
	@echo "make deps: installing missing Debian packages (scripts/deps.sh; apt-get through sudo when not root)"
	scripts/deps.sh

build:
	scripts/build.sh

run:
	PORT="$(PORT)" scripts/run-demo.sh

test:
	scripts/test.sh

bench:
	bench/run.sh

install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh

deb:
	scripts/deps.sh --deb
	scripts/deb.sh

clean:
	rm -rf build build-asan build-bench build-deb
