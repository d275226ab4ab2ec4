# asgicore: the library, the nginx module, the Python runtime, their tests.
#
#   make            build the library (build/libasgicore.so.0, .a, .pc),
#                   the nginx module and the Python runtime
#   make deps       install the build and test packages of mk/packages (root)
#   make test       make deps, then build everything and run every suite
#   make run        install what the demo needs, serve it on 127.0.0.1:8080
#   make check      every suite, without installing packages
#   make bench      benchmarks: ratios against baselines, not pass/fail
#   make fuzz       each fuzz target FUZZ_SECONDS (300) in FUZZ_JOBS (1)
#   make soak       10^6 requests against the ASan builds in nginx
#   make install PREFIX=/usr/local [DESTDIR=...]: the library, its header
#                   and pkg-config file (alone: make install-lib), the
#                   module, the Python runtime and the load_module snippet
#                   (NGINX_MODULES_DIR, NGINX_SNIPPETS_DIR); make uninstall
#   make deb        the Debian packages in build/deb (checked by lintian);
#                   make package-test (root) installs them into Debian's
#                   nginx, serves a Starlette app, purges them
#
# One file per part in mk/: lib.mk (with the build flavours plain, asan,
# tsan), module.mk, python.mk, test.mk, fuzz.mk, bench.mk, run.mk,
# install.mk, compat.mk, deb.mk. Only deps, test, run and bench install
# packages; the build targets build.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=

CC ?= gcc
CXX ?= g++
B := build
comma := ,

.DEFAULT_GOAL := all

include mk/lib.mk
include mk/module.mk
include mk/apache.mk
include mk/python.mk
include mk/test.mk
include mk/fuzz.mk
include mk/bench.mk
include mk/run.mk
include mk/install.mk
include mk/compat.mk
include mk/deb.mk

all: lib module python apache

deps:
	@sh tools/ensure-packages $$(sh tools/packages build test)

CHECK_SUITES := format-check behaviours-test unit-test valgrind-test abi-test \
	install-test fuzz-test python-unit-test python-tsan-test nginx-test \
	nginx-asan-test apache-test apache-asan-test run-check

check:
	@MAKE="$(MAKE)" sh tools/run-suites $(B) $(CHECK_SUITES)

test: deps
	@$(MAKE) --no-print-directory check

clean:
	rm -rf $(B)

.PHONY: all deps check test clean
