# ------------------------------------------------------------------ tests
# Unit suites (cmocka, through the public header with a fake host) in every
# flavour and under valgrind; the ABI and behaviour-catalogue checks; the
# Python runtime under TSan; the nginx suites (t/*.t) plain and with ASan.

UNIT_SRC := $(wildcard t/unit/test_*.c)
UNIT_NAMES := $(patsubst t/unit/%.c,%,$(UNIT_SRC))
UNIT_SUPPORT := t/unit/fake_host.c
UNIT_HDR := t/unit/fake_host.h t/unit/app_thread.h include/asgicore.h
CFLAGS_TEST := -std=c11 $(WARN) -Wno-unused-parameter -Iinclude -It/unit -g

unit = $(patsubst %,$(B)/$(1)/unit/%,$(UNIT_NAMES))

define unit_flavour
$(B)/$(1)/unit/%: t/unit/%.c $$(UNIT_SUPPORT) $$(UNIT_HDR) $(call archive,$(1))
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_TEST) $$(FLAGS_$(1)) $$< $$(UNIT_SUPPORT) \
		$(call archive,$(1)) -lcmocka -lstdc++ -lpthread -o $$@
endef
$(foreach f,$(FLAVOURS),$(eval $(call unit_flavour,$(f))))

# The WebSocket codec below the public header (C++, cmocka), with libwslay
# as the oracle its random streams are compared with.
CODEC_SRC := $(wildcard t/unit/codec/test_*.cpp)
codec = $(patsubst t/unit/codec/%.cpp,$(B)/$(1)/codec/%,$(CODEC_SRC))

define codec_flavour
$(B)/$(1)/codec/%: t/unit/codec/%.cpp t/unit/codec/frames.hpp \
		$(call archive,$(1)) $$(LIB_HDR)
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXSTD) $$(WARN) -Wno-missing-field-initializers -g \
		$$(CPPFLAGS_LIB) $$(FLAGS_$(1)) $$< $(call archive,$(1)) \
		-lcmocka -lwslay -lpthread -o $$@
endef
$(foreach f,plain asan,$(eval $(call codec_flavour,$(f))))

# The context's lock below the public header (C++, cmocka), also with TSan.
LOCK_SRC := $(wildcard t/unit/lock/test_*.cpp)
lock_tests = $(patsubst t/unit/lock/%.cpp,$(B)/$(1)/lock/%,$(LOCK_SRC))

define lock_flavour
$(B)/$(1)/lock/%: t/unit/lock/%.cpp lib/brief_spin_mutex.hpp
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXSTD) $$(WARN) -g $$(CPPFLAGS_LIB) $$(FLAGS_$(1)) $$< \
		-lcmocka -lpthread -o $$@
endef
$(foreach f,$(FLAVOURS),$(eval $(call lock_flavour,$(f))))

# Against the shared library, for valgrind's leak check of the real .so.
$(B)/shared/unit/%: t/unit/%.c $(UNIT_SUPPORT) $(UNIT_HDR) \
		$(B)/libasgicore.so.$(SOVERSION)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_TEST) -O1 $< $(UNIT_SUPPORT) -L$(B) -lasgicore \
		-Wl,-rpath,'$$ORIGIN/../..' -lcmocka -lpthread -o $@

unit-test: $(call unit,plain) $(call unit,asan) $(B)/tsan/unit/test_threaded \
		$(B)/tsan/unit/test_ws_threaded \
		$(call codec,plain) $(call codec,asan) \
		$(call lock_tests,plain) $(call lock_tests,tsan)
	sh tools/run-unit plain $(call unit,plain) $(call codec,plain) \
		$(call lock_tests,plain)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1 \
		sh tools/run-unit asan $(call unit,asan) $(call codec,asan)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		sh tools/run-unit tsan $(B)/tsan/unit/test_threaded \
		$(B)/tsan/unit/test_ws_threaded $(call lock_tests,tsan)

valgrind-test: $(call unit,shared)
	sh tools/run-unit valgrind $(call unit,shared)

abi-test: lib
	sh tools/check-abi $(B)
	/usr/bin/python3 tools/api-doc check

# After a deliberate ABI change: rewrite the committed baselines.
abi-update: lib
	nm -D --defined-only $(B)/libasgicore.so.0 | \
		awk '$$2 == "T" { sub(/@.*/, "", $$3); print $$3 }' | sort \
		> abi/libasgicore.symbols
	$(CC) -std=c99 -Iinclude tools/abi_layout.c -o $(B)/abi_layout
	$(B)/abi_layout > abi/layout.txt

# clang-format's output for the C++ and the runtime's C glue; nginx's
# style for the module (tools/check-style).
format-check:
	sh tools/check-style

# docs/behaviours.md names, for every rule, the tests that prove it.
behaviours-test:
	/usr/bin/python3 tools/behaviours check

# The library and the runtime's C glue with ThreadSanitizer, driven by a
# host thread without nginx (t/tsan/pyhost.c): races across the boundary
# between the host, the library and the Python thread.
$(B)/tsan/pyhost: t/tsan/pyhost.c include/asgicore.h $(call shared,tsan)
	$(CC) -std=gnu11 $(WARN) -Wno-unused-parameter $(FLAGS_tsan) -g \
		-Iinclude $< -o $@ $(call shared,tsan) -ldl -Wl,-rpath,'$$ORIGIN'

python-tsan-test:
	$(MAKE) -s $(B)/tsan/pyhost $(B)/tsan/asgi_python.so
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(B)/tsan/pyhost $(CURDIR)/$(B)/tsan/asgi_python.so \
		$(CURDIR)/t/apps/python 240

# The Python runtime's argument parser, loaded as a host loads it, plain
# and with ASan+UBSan.
define python_unit_flavour
$(B)/$(1)/pyunit/test_argument: t/python/test_argument.c include/asgicore.h
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_TEST) -std=gnu11 $$(FLAGS_$(1)) $$< -o $$@ -lcmocka -ldl
endef
$(foreach f,plain asan,$(eval $(call python_unit_flavour,$(f))))

python-unit-test:
	$(MAKE) -s $(B)/plain/pyunit/test_argument $(B)/asgi_python.so \
		$(B)/asan/pyunit/test_argument $(B)/asan/asgi_python.so
	$(B)/plain/pyunit/test_argument $(CURDIR)/$(B)/asgi_python.so
	ASAN_OPTIONS=detect_leaks=1 $(B)/asan/pyunit/test_argument \
		$(CURDIR)/$(B)/asan/asgi_python.so

# ------------------------------------------------------------------ nginx

$(B)/t/storm: t/tools/storm.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 $(WARN) $< -o $@ -lcurl

$(B)/t/seccomp_deny: t/tools/seccomp_deny.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=gnu11 $(WARN) $< -o $@

define testapp_flavour
$(call fdir,$(1))/t/testapp.so: t/apps/testapp.c include/asgicore.h
	@mkdir -p $$(@D)
	$$(CC) -shared -fPIC -g -std=gnu11 $$(WARN) -Wno-unused-parameter \
		$$(FLAGS_$(1)) -Iinclude $$< -o $$@ -lpthread
endef
$(foreach f,plain asan,$(eval $(call testapp_flavour,$(f))))

# nginx_suites FLAVOUR: what the t/*.t suites load, built in that flavour.
nginx_suites = $(call fdir,$(1))/ngx_http_asgi_module.so \
	$(call fdir,$(1))/t/testapp.so $(call fdir,$(1))/asgi_python.so \
	$(B)/t/storm $(B)/t/seccomp_deny $(B)/run/demo_app.so
ASAN_SUITE_ENV = ASGI_SANITIZE=asan \
	ASGI_MODULE=$(CURDIR)/$(B)/asan/ngx_http_asgi_module.so \
	ASGI_TEST_APP=$(CURDIR)/$(B)/asan/t/testapp.so

nginx-test:
	$(MAKE) -s $(call nginx_suites,plain)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) prove --timer -I t/lib $(if $(T),$(T),t/*.t)

# The suites whose behaviour is the server's, against Apache httpd with
# mod_asgi (the harness's Apache backend); then with the ASan+UBSan builds.
APACHE_SUITES := t/basic.t t/abort.t t/frameworks.t t/http2.t t/lifespan.t t/python.t \
	t/fidelity.t t/safety.t t/apache_directives.t \
	t/status.t t/storm.t t/database.t t/differential.t t/shutdown.t
# the worker MPM: the requests' threads and the abort paths again
APACHE_WORKER_SUITES := t/basic.t t/abort.t t/http2.t t/shutdown.t t/storm.t
# under ASan: the suites that drive mod_asgi's own C code (the Python
# runtime's paths run under ASan with nginx), to keep CI short
APACHE_ASAN_SUITES := t/basic.t t/abort.t t/http2.t t/lifespan.t \
	t/safety.t t/status.t t/storm.t t/shutdown.t
apache-test:
	$(MAKE) -s $(call nginx_suites,plain) $(B)/mod_asgi.so
	ASGI_SERVER=apache ASGI_BUILD_DIR=$(CURDIR)/$(B) \
		prove --timer -I t/lib $(if $(T),$(T),$(APACHE_SUITES))
	$(if $(T),,ASGI_SERVER=apache ASGI_APACHE_MPM=worker \
		ASGI_BUILD_DIR=$(CURDIR)/$(B) \
		prove --timer -I t/lib $(APACHE_WORKER_SUITES))

apache-asan-test:
	$(MAKE) -s $(call nginx_suites,asan) $(B)/asan/mod_asgi.so
	ASGI_SERVER=apache ASGI_BUILD_DIR=$(CURDIR)/$(B) $(ASAN_SUITE_ENV) \
		ASGI_APACHE_MODULE=$(CURDIR)/$(B)/asan/mod_asgi.so \
		ASGI_STORM_N=2000 prove --timer -I t/lib $(if $(T),$(T),$(APACHE_ASAN_SUITES))

# The nginx suites again with the ASan+UBSan builds (the storm smaller).
nginx-asan-test:
	$(MAKE) -s $(call nginx_suites,asan)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) $(ASAN_SUITE_ENV) ASGI_STORM_N=2000 \
		prove --timer -I t/lib $(if $(T),$(T),t/*.t)

# The soak: 10^6 requests (ASGI_SOAK_N) against ASan+UBSan builds, a small
# quarantine so that memory can be seen flat.
soak:
	$(MAKE) -s $(call nginx_suites,asan)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) $(ASAN_SUITE_ENV) \
		ASGI_ASAN_OPTIONS=quarantine_size_mb=16 \
		prove -v -I t/lib t/soak/soak.t

# The abort storm with 200,000 requests.
stress:
	$(MAKE) -s $(call nginx_suites,plain)
	ASGI_BUILD_DIR=$(CURDIR)/$(B) ASGI_STORM_N=200000 prove -v -I t/lib \
		t/storm.t

.PHONY: unit-test valgrind-test abi-test abi-update behaviours-test \
	apache-test apache-asan-test \
	format-check python-unit-test \
	python-tsan-test nginx-test nginx-asan-test soak stress
