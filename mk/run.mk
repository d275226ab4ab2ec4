# ------------------------------------------------------------------ run
# The demo: Debian's nginx in the foreground with the module, the Python
# demo app on 127.0.0.1:8080 and the native one on 8081; Apache httpd with
# mod_asgi beside it, the Python demo on 8082.

$(B)/run/demo_app.so: docs/examples/demo_app.c include/asgicore.h
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -g -std=gnu11 $(WARN) -Wno-unused-parameter \
		-Iinclude $< -o $@ -lpthread

$(B)/run/nginx.conf: docs/examples/nginx.conf.in mk/run.mk
	@mkdir -p $(B)/run/logs
	sed -e 's|@BUILD@|$(CURDIR)/$(B)|g' -e 's|@ROOT@|$(CURDIR)|g' \
		-e 's|@USER@|$(shell [ "$$(id -u)" -eq 0 ] && echo "user root;")|' \
		$< > $@

$(B)/run/apache/httpd.conf: docs/examples/httpd.conf.in mk/run.mk
	@mkdir -p $(@D)
	sed -e 's|@BUILD@|$(CURDIR)/$(B)|g' -e 's|@ROOT@|$(CURDIR)|g' \
		-e 's|@USER@|$(shell [ "$$(id -u)" -eq 0 ] && \
			echo "User www-data")|' $< > $@

RUN_BUILD := $(B)/ngx_http_asgi_module.so $(B)/run/demo_app.so \
	$(B)/run/nginx.conf python $(B)/mod_asgi.so $(B)/run/apache/httpd.conf

# Ctrl-C stops it.
run:
	@sh tools/ensure-packages $$(sh tools/packages build)
	$(MAKE) -s $(RUN_BUILD)
	@echo "serving the asgicore demos: Python on http://127.0.0.1:8080/," \
		"native on http://127.0.0.1:8081/ (nginx), Python through" \
		"Apache httpd on http://127.0.0.1:8082/ (Ctrl-C stops)"
	sh tools/run-demo $(CURDIR)/$(B)

# The configuration `make run` serves passes `nginx -t` (t/demo.t tests
# its apps).
run-check:
	$(MAKE) -s $(RUN_BUILD)
	nginx -t -q -p $(CURDIR)/$(B)/run/ -c nginx.conf
	/usr/sbin/apache2 -t -f $(CURDIR)/$(B)/run/apache/httpd.conf

.PHONY: run run-check
