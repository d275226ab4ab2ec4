# asgicore: the library, its tests and (later) the nginx module.
#
#   make            build build/libasgicore.so.0, build/libasgicore.a and
#                   build/asgicore.pc
#   make test       build everything and run every test suite
#   make run        serve the example app on 127.0.0.1:8080 (foreground)
#   make bench      microbenchmarks (ratios and figures, not pass/fail)
#   make install PREFIX=/usr/local [DESTDIR=...]
#
# As root, `make test` and `make run` install missing Debian packages.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=

CC ?= gcc
CXX ?= g++
B := build

SOVERSION := 0
VERSION := $(shell sed -n 's/^\#define ASGICORE_VERSION_STRING "\(.*\)"/\1/p' include/asgicore.h)

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wundef -Werror
CXXSTD := -std=c++20
CPPFLAGS_LIB := -Iinclude -Ilib
CXXFLAGS_LIB := $(CXXSTD) $(WARN) -fPIC -fvisibility=hidden \
	-fvisibility-inlines-hidden -g

OPT := -O2
ASAN := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
TSAN := -O1 -fsanitize=thread

LIB_SRC := $(wildcard lib/*.cpp)
LIB_HDR := $(wildcard lib/*.hpp) include/asgicore.h

# One object directory per build flavour: plain, asan (ASan+UBSan), tsan.
objs = $(patsubst lib/%.cpp,$(B)/$(1)/lib/%.o,$(LIB_SRC))

.PHONY: all lib module python run-check deps-fuzz fuzz fuzz-test soak \
	python-tsan-test behaviours-test deps-module deps-nginx-test nginx-test nginx-asan-test stress test unit-test abi-test abi-update valgrind-test bench install run \
	deps deps-test clean
.DEFAULT_GOAL := all

all: lib module python

lib: $(B)/libasgicore.so.$(SOVERSION) $(B)/libasgicore.a $(B)/asgicore.pc

$(B)/plain/lib/%.o: lib/%.cpp $(LIB_HDR)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS_LIB) $(CXXFLAGS_LIB) $(OPT) -c $< -o $@

$(B)/asan/lib/%.o: lib/%.cpp $(LIB_HDR)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS_LIB) $(CXXFLAGS_LIB) $(ASAN) -c $< -o $@

$(B)/tsan/lib/%.o: lib/%.cpp $(LIB_HDR)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS_LIB) $(CXXFLAGS_LIB) $(TSAN) -c $< -o $@

$(B)/libasgicore.so.$(VERSION): $(call objs,plain) lib/libasgicore.map
	$(CXX) -shared -Wl,-soname,libasgicore.so.$(SOVERSION) \
		-Wl,--version-script=lib/libasgicore.map -Wl,-z,defs \
		-o $@ $(call objs,plain) -lpthread

$(B)/libasgicore.so.$(SOVERSION): $(B)/libasgicore.so.$(VERSION)
	ln -sf libasgicore.so.$(VERSION) $@
	ln -sf libasgicore.so.$(SOVERSION) $(B)/libasgicore.so

$(B)/libasgicore.a: $(call objs,plain)
	rm -f $@ && ar rcs $@ $^

$(B)/asan/libasgicore.a: $(call objs,asan)
	rm -f $@ && ar rcs $@ $^

$(B)/tsan/libasgicore.a: $(call objs,tsan)
	rm -f $@ && ar rcs $@ $^

$(B)/asgicore.pc: asgicore.pc.in include/asgicore.h Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$< > $@

install: lib module python
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		asgicore.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/asgicore.pc
	install -m 0755 $(B)/libasgicore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libasgicore.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/libasgicore.so.$(SOVERSION)
	ln -sf libasgicore.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libasgicore.so
	install -m 0644 $(B)/libasgicore.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/asgicore.h $(DESTDIR)$(INCLUDEDIR)/

# ------------------------------------------------------------------ module

# Debian's nginx SDK (nginx-dev): configured with the flags Debian's nginx
# was built with, so the module loads into it with load_module.
NGINX_SRC ?= /usr/share/nginx/src
MODULE_SRC := $(wildcard module/*.c module/*.h) module/config
MODULE_PACKAGES := nginx nginx-dev

deps-module:
	@sh tools/ensure-packages $(MODULE_PACKAGES)

$(B)/nginx-sdk/objs/Makefile: module/config | deps-module
	rm -rf $(B)/nginx-sdk
	mkdir -p $(B) && cp -r $(NGINX_SRC) $(B)/nginx-sdk
	cd $(B)/nginx-sdk && ASGICORE_LIBDIR=$(CURDIR)/$(B) bash -c \
		'. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
		--add-dynamic-module=$(CURDIR)/module' > configure.log 2>&1 \
		|| { tail -20 configure.log; exit 1; }

$(B)/ngx_http_asgi_module.so: $(B)/nginx-sdk/objs/Makefile $(MODULE_SRC) \
		include/asgicore.h $(B)/libasgicore.so.$(SOVERSION)
	$(MAKE) -s -C $(B)/nginx-sdk -f objs/Makefile modules
	$(CC) -shared -o $@ $(B)/nginx-sdk/objs/addon/module/*.o \
		$(B)/nginx-sdk/objs/ngx_http_asgi_module_modules.o \
		-L$(B) -lasgicore -ldl -Wl,-rpath,'$$ORIGIN'

module: $(B)/ngx_http_asgi_module.so

# The same module, library and test app built with ASan+UBSan, for the
# nginx suites run with the ASan runtime preloaded into Debian's nginx.
$(B)/asan/libasgicore.so.$(SOVERSION): $(call objs,asan) lib/libasgicore.map
	$(CXX) -shared -fsanitize=address,undefined \
		-Wl,-soname,libasgicore.so.$(SOVERSION) \
		-Wl,--version-script=lib/libasgicore.map \
		-o $@ $(call objs,asan) -lpthread

$(B)/nginx-sdk-asan/objs/Makefile: module/config | deps-module
	rm -rf $(B)/nginx-sdk-asan
	mkdir -p $(B) && cp -r $(NGINX_SRC) $(B)/nginx-sdk-asan
	cd $(B)/nginx-sdk-asan && ASGICORE_LIBDIR=$(CURDIR)/$(B)/asan bash -c \
		'. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
		--with-cc-opt="-fsanitize=address,undefined -fno-omit-frame-pointer" \
		--add-dynamic-module=$(CURDIR)/module' > configure.log 2>&1 \
		|| { tail -20 configure.log; exit 1; }

$(B)/asan/ngx_http_asgi_module.so: $(B)/nginx-sdk-asan/objs/Makefile \
		$(MODULE_SRC) include/asgicore.h $(B)/asan/libasgicore.so.$(SOVERSION)
	$(MAKE) -s -C $(B)/nginx-sdk-asan -f objs/Makefile \
		objs/addon/module/ngx_http_asgi_module.o \
		objs/addon/module/ngx_http_asgi_worker.o \
		objs/addon/module/ngx_http_asgi_request.o \
		objs/addon/module/ngx_http_asgi_body.o \
		objs/addon/module/ngx_http_asgi_scope.o \
		objs/addon/module/ngx_http_asgi_output.o \
		objs/addon/module/ngx_http_asgi_status.o \
		objs/ngx_http_asgi_module_modules.o
	$(CC) -shared -fsanitize=address,undefined -o $@ \
		$(B)/nginx-sdk-asan/objs/addon/module/*.o \
		$(B)/nginx-sdk-asan/objs/ngx_http_asgi_module_modules.o \
		-L$(B)/asan -lasgicore -ldl -Wl,-rpath,'$$ORIGIN'

$(B)/asan/t/testapp.so: t/apps/testapp.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O1 -g -std=gnu11 $(WARN) -Wno-unused-parameter \
		-fsanitize=address,undefined -fno-omit-frame-pointer \
		-Iinclude $< -o $@ -lpthread

# ------------------------------------------------------------------ python

# The Python ASGI runtime: a threaded native app embedding Debian's Python.
PYTHON_CONFIG ?= /usr/bin/python3-config
PYTHON_SONAME = $(shell /usr/bin/python3 -c \
	"import sysconfig; print(sysconfig.get_config_var('INSTSONAME'))")

# compile_python_runtime FLAGS, LIBASGICORE: linked to the shared library
# by path, so neither build can pick up a static copy of it.
compile_python_runtime = $(CC) -shared -fPIC -g -std=gnu11 $(WARN) $(1) \
	-Wno-unused-parameter -Wno-missing-field-initializers \
	-DPYTHON_SONAME='"$(PYTHON_SONAME)"' -Iinclude \
	$$($(PYTHON_CONFIG) --includes) $< -o $@ $(2) \
	$$($(PYTHON_CONFIG) --ldflags --embed) -lpthread -Wl,-rpath,'$$ORIGIN'

$(B)/asgi_python.so: lib/python/asgi_python.c include/asgicore.h \
		$(B)/libasgicore.so.$(SOVERSION) $(B)/python/asgicore_runtime.py
	@sh tools/ensure-packages python3-dev
	$(call compile_python_runtime,-O2,$(B)/libasgicore.so.$(SOVERSION))

# The library and the runtime's C glue with ThreadSanitizer, driven by a
# host thread without nginx (t/tsan/pyhost.c): races across the boundary
# between the host, the library and the Python thread.
$(B)/tsan/libasgicore.so.$(SOVERSION): $(call objs,tsan) lib/libasgicore.map
	$(CXX) -shared -fsanitize=thread \
		-Wl,-soname,libasgicore.so.$(SOVERSION) \
		-Wl,--version-script=lib/libasgicore.map \
		-o $@ $(call objs,tsan) -lpthread

$(B)/tsan/asgi_python.so: lib/python/asgi_python.c include/asgicore.h \
		$(B)/tsan/libasgicore.so.$(SOVERSION) $(B)/python/asgicore_runtime.py
	@mkdir -p $(@D)
	$(call compile_python_runtime,$(TSAN),$(B)/tsan/libasgicore.so.$(SOVERSION))

$(B)/tsan/pyhost: t/tsan/pyhost.c include/asgicore.h \
		$(B)/tsan/libasgicore.so.$(SOVERSION)
	$(CC) -std=gnu11 $(WARN) -Wno-unused-parameter $(TSAN) -g -Iinclude \
		$< -o $@ $(B)/tsan/libasgicore.so.$(SOVERSION) -ldl \
		-Wl,-rpath,'$$ORIGIN'

python-tsan-test: deps-test
	$(MAKE) -s $(B)/tsan/pyhost $(B)/tsan/asgi_python.so
	ln -sfn ../python $(B)/tsan/python
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(B)/tsan/pyhost $(CURDIR)/$(B)/tsan/asgi_python.so \
		$(CURDIR)/t/apps/python 240

# The runtime's C glue with ASan+UBSan, for nginx-asan-test.
$(B)/asan/asgi_python.so: lib/python/asgi_python.c include/asgicore.h \
		$(B)/asan/libasgicore.so.$(SOVERSION) $(B)/python/asgicore_runtime.py
	@mkdir -p $(@D)
	$(call compile_python_runtime,$(ASAN),$(B)/asan/libasgicore.so.$(SOVERSION))

$(B)/python/asgicore_runtime.py: lib/python/asgicore_runtime.py
	@mkdir -p $(@D)
	cp $< $@

# The Python runtime is optional: without python3-dev (and not root to
# install it) `make` builds the rest and says so; asgi_app then fails
# `nginx -t` with the reason, native apps serve as usual.
python:
	@if [ "$$(id -u)" -eq 0 ] || dpkg-query -W -f='$${Status}' python3-dev \
			2>/dev/null | grep -q "ok installed"; then \
		$(MAKE) -s $(B)/asgi_python.so; \
	else \
		echo "python3-dev is not installed: the Python runtime" \
		     "(asgi_app) is not built"; \
	fi

# ------------------------------------------------------------------ tests

# Debian packages the test suites need; installed when running as root.
TEST_PACKAGES := build-essential pkg-config libcmocka-dev valgrind \
	libbenchmark-dev
deps-test:
	@sh tools/ensure-packages $(TEST_PACKAGES)

UNIT_SRC := $(wildcard t/unit/test_*.c)
UNIT_NAMES := $(patsubst t/unit/%.c,%,$(UNIT_SRC))
UNIT_SUPPORT := t/unit/fake_host.c
UNIT_HDR := t/unit/fake_host.h include/asgicore.h
CFLAGS_TEST := -std=c11 $(WARN) -Wno-unused-parameter -Iinclude -It/unit -g

unit = $(patsubst %,$(B)/$(1)/unit/%,$(UNIT_NAMES))

$(B)/plain/unit/%: t/unit/%.c $(UNIT_SUPPORT) $(UNIT_HDR) $(B)/libasgicore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) $(OPT) $< $(UNIT_SUPPORT) $(B)/libasgicore.a \
		-lcmocka -lstdc++ -lpthread -o $@

$(B)/asan/unit/%: t/unit/%.c $(UNIT_SUPPORT) $(UNIT_HDR) $(B)/asan/libasgicore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) $(ASAN) $< $(UNIT_SUPPORT) $(B)/asan/libasgicore.a \
		-lcmocka -lstdc++ -lpthread -o $@

$(B)/tsan/unit/%: t/unit/%.c $(UNIT_SUPPORT) $(UNIT_HDR) $(B)/tsan/libasgicore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) $(TSAN) $< $(UNIT_SUPPORT) $(B)/tsan/libasgicore.a \
		-lcmocka -lstdc++ -lpthread -o $@

# Against the shared library, for valgrind's leak check of the real .so.
$(B)/shared/unit/%: t/unit/%.c $(UNIT_SUPPORT) $(UNIT_HDR) \
		$(B)/libasgicore.so.$(SOVERSION)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) -O1 $< $(UNIT_SUPPORT) -L$(B) -lasgicore \
		-Wl,-rpath,'$$ORIGIN/../..' -lcmocka -lpthread -o $@

unit-test: deps-test $(call unit,plain) $(call unit,asan) \
		$(B)/tsan/unit/test_threaded
	sh tools/run-unit plain $(call unit,plain)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		sh tools/run-unit asan $(call unit,asan)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		sh tools/run-unit tsan $(B)/tsan/unit/test_threaded

valgrind-test: deps-test $(call unit,shared)
	sh tools/run-unit valgrind $(call unit,shared)

abi-test: deps-test lib
	sh tools/check-abi $(B)

# docs/behaviours.md names, for every rule, the tests that prove it.
behaviours-test:
	/usr/bin/python3 tools/behaviours check

# After a deliberate ABI change: rewrite the committed baselines.
abi-update: lib
	nm -D --defined-only $(B)/libasgicore.so.0 | \
		awk '$$2 == "T" { sub(/@.*/, "", $$3); print $$3 }' | sort \
		> abi/libasgicore.symbols
	$(CC) -std=c99 -Iinclude tools/abi_layout.c -o $(B)/abi_layout
	$(B)/abi_layout > abi/layout.txt

# ------------------------------------------------------------------ nginx

NGINX_TEST_PACKAGES := nginx nginx-dev libtest-base-perl curl python3 \
	python3-h2 libcurl4-openssl-dev openssl python3-dev python3-starlette \
	python3-fastapi python3-django python3-uvloop python3-sqlalchemy \
	python3-aiosqlite python3-uvicorn

$(B)/t/storm: t/tools/storm.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 $(WARN) $< -o $@ -lcurl

$(B)/t/testapp.so: t/apps/testapp.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 $(WARN) -Wno-unused-parameter \
		-Iinclude $< -o $@ -lpthread

deps-nginx-test:
	@sh tools/ensure-packages $(NGINX_TEST_PACKAGES)

NGINX_TEST_BUILD := $(B)/ngx_http_asgi_module.so $(B)/t/testapp.so \
	$(B)/t/storm $(B)/asgi_python.so $(B)/run/demo_app.so

nginx-test: deps-module deps-nginx-test
	$(MAKE) -s $(NGINX_TEST_BUILD)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) prove -I t/lib $(if $(T),$(T),t/*.t)

# The nginx suites again with the ASan+UBSan builds (the storm smaller).
nginx-asan-test: deps-module deps-nginx-test
	$(MAKE) -s $(B)/asan/ngx_http_asgi_module.so $(B)/asan/t/testapp.so \
		$(B)/t/storm $(B)/asan/asgi_python.so $(B)/run/demo_app.so
	ln -sfn ../python $(B)/asan/python
	ASGI_BUILD_DIR=$(CURDIR)/$(B) ASGI_SANITIZE=asan ASGI_STORM_N=2000 \
		ASGI_MODULE=$(CURDIR)/$(B)/asan/ngx_http_asgi_module.so \
		ASGI_TEST_APP=$(CURDIR)/$(B)/asan/t/testapp.so \
		prove -I t/lib $(if $(T),$(T),t/*.t)

# The soak: 10^6 requests (ASGI_SOAK_N) against ASan+UBSan builds, a small
# quarantine so that memory can be seen flat.
soak: deps-module deps-nginx-test
	$(MAKE) -s $(B)/asan/ngx_http_asgi_module.so $(B)/asan/t/testapp.so \
		$(B)/t/storm $(B)/asan/asgi_python.so
	ln -sfn ../python $(B)/asan/python
	ASGI_BUILD_DIR=$(CURDIR)/$(B) ASGI_SANITIZE=asan \
		ASGI_ASAN_OPTIONS=quarantine_size_mb=16 \
		ASGI_MODULE=$(CURDIR)/$(B)/asan/ngx_http_asgi_module.so \
		ASGI_TEST_APP=$(CURDIR)/$(B)/asan/t/testapp.so \
		prove -v -I t/lib t/soak/soak.t

# The abort storm with 200,000 requests.
stress: deps-module deps-nginx-test
	$(MAKE) -s $(NGINX_TEST_BUILD)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) ASGI_STORM_N=200000 prove -v -I t/lib \
		t/storm.t

# The configuration `make run` serves passes `nginx -t` (t/demo.t tests
# its apps).
run-check: deps-module lib
	$(MAKE) -s $(B)/ngx_http_asgi_module.so $(B)/run/demo_app.so \
		$(B)/run/nginx.conf python
	nginx -t -q -p $(CURDIR)/$(B)/run/ -c nginx.conf

# ------------------------------------------------------------------ fuzz

# libFuzzer targets built with clang and ASan+UBSan (t/fuzz): programs of
# host and app events over several scopes, and the fields that cross the
# library; and the failed-allocation sweep over the seed corpus.
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev
FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?= 100000
FUZZ_JOBS ?= 1
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fno-omit-frame-pointer -Iinclude -Ilib \
	-fno-sanitize-recover=all
FUZZ_PROGRAM := t/fuzz/program.cpp t/fuzz/program.hpp

deps-fuzz:
	@sh tools/ensure-packages $(FUZZ_PACKAGES)

$(B)/fuzz/fuzz_scopes: t/fuzz/fuzz_scopes.cpp $(FUZZ_PROGRAM) $(LIB_SRC) \
		$(LIB_HDR) | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer,address,undefined \
		t/fuzz/fuzz_scopes.cpp t/fuzz/program.cpp $(LIB_SRC) -o $@

$(B)/fuzz/fuzz_fields: t/fuzz/fuzz_fields.cpp $(LIB_SRC) $(LIB_HDR) \
		| deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer,address,undefined \
		t/fuzz/fuzz_fields.cpp $(LIB_SRC) -o $@

$(B)/fuzz/alloc_sweep: t/fuzz/alloc_sweep.cpp $(FUZZ_PROGRAM) $(LIB_SRC) \
		$(LIB_HDR) | deps-fuzz
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=address,undefined \
		t/fuzz/alloc_sweep.cpp t/fuzz/program.cpp $(LIB_SRC) -o $@

FUZZ_BUILD := $(B)/fuzz/fuzz_scopes $(B)/fuzz/fuzz_fields \
	$(B)/fuzz/alloc_sweep

# make test: a fixed budget from the seed corpus, and the sweep.
fuzz-test: deps-fuzz
	$(MAKE) -s $(FUZZ_BUILD)
	sh tools/run-fuzz $(B) runs $(FUZZ_RUNS)
	ASAN_OPTIONS=detect_leaks=1 $(B)/fuzz/alloc_sweep t/fuzz/corpus/*.bin

# make fuzz: FUZZ_SECONDS per target in FUZZ_JOBS processes; the corpus
# grows in build/fuzz.
fuzz: deps-fuzz
	$(MAKE) -s $(FUZZ_BUILD)
	sh tools/run-fuzz $(B) seconds $(FUZZ_SECONDS) $(FUZZ_JOBS)

test: behaviours-test unit-test valgrind-test abi-test fuzz-test \
	python-tsan-test nginx-test nginx-asan-test run-check

# ------------------------------------------------------------------ bench

$(B)/bench/lifecycle: bench/lifecycle.cpp $(B)/libasgicore.a include/asgicore.h
	@mkdir -p $(@D)
	$(CXX) $(CXXSTD) $(WARN) -Wno-mismatched-new-delete -O2 -Iinclude \
		$< $(B)/libasgicore.a \
		-lbenchmark -lpthread -o $@

$(B)/bench/hello.so: bench/apps/hello.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 $(WARN) -Iinclude $< -o $@ \
		-lpthread

bench: deps-test deps-module $(B)/bench/lifecycle $(B)/bench/hello.so
	@sh tools/ensure-packages wrk curl python3-starlette python3-uvicorn \
		python3-httptools python3-uvloop
	$(MAKE) -s $(B)/ngx_http_asgi_module.so python
	$(B)/bench/lifecycle --benchmark_repetitions=5 \
		--benchmark_report_aggregates_only=true
	sh bench/nginx-bench.sh $(B)
	sh bench/python-bench.sh $(B)

# ------------------------------------------------------------------ run

$(B)/run/demo_app.so: docs/examples/demo_app.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 $(WARN) -Wno-unused-parameter \
		-Iinclude $< -o $@ -lpthread

$(B)/run/nginx.conf: docs/examples/nginx.conf.in Makefile
	@mkdir -p $(B)/run/logs
	sed -e 's|@BUILD@|$(CURDIR)/$(B)|g' -e 's|@ROOT@|$(CURDIR)|g' \
		-e 's|@USER@|$(shell [ "$$(id -u)" -eq 0 ] && echo "user root;")|' \
		$< > $@

# The demo in the foreground on 127.0.0.1:8080; Ctrl-C stops it.
run: deps-module lib
	$(MAKE) -s $(B)/ngx_http_asgi_module.so $(B)/run/demo_app.so \
		$(B)/run/nginx.conf python
	@echo "serving the asgicore demos: Python on http://127.0.0.1:8080/," \
		"native on http://127.0.0.1:8081/ (Ctrl-C stops)"
	nginx -p $(CURDIR)/$(B)/run/ -c nginx.conf -g 'daemon off;'

clean:
	rm -rf $(B)
