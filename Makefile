# Thin wrapper: the logic lives in scripts/ (and bench/run.sh) so it can be read and run on its own.
#   make build      install missing Debian packages, build everything in build/ (RelWithDebInfo, -j2)
#   make run        demo: worker + nginx on http://127.0.0.1:8080 (PORT=9090 moves it), prints curl lines; Ctrl-C stops it
#   make test       unit + integration tests, then again under ASan/UBSan with the fuzz targets
#   make bench      wrk against nginx: static body, bare FastCGI, tokenfcgi (ES256, EdDSA, RS256)
#   make install    DESTDIR=... PREFIX=... (default PREFIX=/usr/local)
#   make deb        build the Debian package into build-deb/ (scripts/deb.sh; lintian-clean)
#   make clean      remove the build directories
MAKEFLAGS += --no-print-directory
PREFIX ?= /usr/local
PORT ?= 8080
DESTDIR ?=

.PHONY: all build run test bench install deb clean

all: build

build:
	scripts/deps.sh
	scripts/build.sh

run:
	PORT="$(PORT)" scripts/run-demo.sh

test:
	scripts/test.sh

bench:
	bench/run.sh

install:
	scripts/deps.sh
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh

deb:
	scripts/deps.sh
	scripts/deb.sh

clean:
	rm -rf build build-asan build-bench build-deb
