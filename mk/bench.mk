# ------------------------------------------------------------------ bench
# Ratios against baselines run in the same command (docs/performance.md):
# the library's lifecycle microbenchmark; wrk against nginx's return 200,
# the module with native and Python apps, and uvicorn.

$(B)/bench/lifecycle: bench/lifecycle.cpp $(B)/libasgicore.a include/asgicore.h
	@mkdir -p $(@D)
	$(CXX) $(CXXSTD) $(WARN) -Wno-mismatched-new-delete -O2 -Iinclude \
		$< $(B)/libasgicore.a -lbenchmark -lpthread -o $@

$(B)/bench/ws_load: bench/ws_load.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror $< -o $@

$(B)/bench/hello.so: bench/apps/hello.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 $(WARN) -Iinclude $< -o $@ \
		-lpthread

bench:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/bench/lifecycle $(B)/bench/hello.so \
		$(B)/ngx_http_asgi_module.so python
	$(B)/bench/lifecycle --benchmark_repetitions=5 \
		--benchmark_report_aggregates_only=true
	sh bench/nginx-bench.sh $(B)
	sh bench/python-bench.sh $(B)
	$(MAKE) -s ws-bench
	$(MAKE) -s apache-bench

# The Python part with each server on one CPU (all its threads: the
# module's two share it, as under worker_cpu_affinity) and wrk on another:
# CPU per request and requests/s per core (bench/python-bench.sh, PIN).
bench-pinned:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/ngx_http_asgi_module.so python
	PIN=0:1 sh bench/python-bench.sh $(B)

# The WebSocket part alone (bench/ws-bench.sh).
ws-bench:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/bench/ws_load $(B)/ngx_http_asgi_module.so python
	sh bench/ws-bench.sh $(B)

# Apache httpd: mod_asgi against mod_proxy to uvicorn, and nginx's module
# (bench/apache-bench.sh).
apache-bench:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/mod_asgi.so $(B)/ngx_http_asgi_module.so python
	sh bench/apache-bench.sh $(B)

# Where the worker's CPU goes, per thread (bench/profile.sh; needs perf).
profile:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/ngx_http_asgi_module.so python
	sh bench/profile.sh $(B)

# Instructions per request under callgrind, per thread, against nginx's
# return 200 and uvicorn: a noise-free A/B of user-space work
# (bench/instructions.sh).
bench-instructions:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/bench/hello.so $(B)/ngx_http_asgi_module.so python
	sh bench/instructions.sh $(B)

# System calls and context switches per request (perf's tracepoints): the
# kernel's share, counted (bench/syscalls.sh; root).
bench-syscalls:
	@sh tools/ensure-packages $$(sh tools/packages build bench)
	$(MAKE) -s $(B)/bench/hello.so $(B)/ngx_http_asgi_module.so python
	sh bench/syscalls.sh $(B)

.PHONY: bench ws-bench apache-bench profile bench-instructions bench-syscalls bench-pinned
