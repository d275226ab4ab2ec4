# ------------------------------------------------------------------ install
# make install: the library (install-lib: header, .so, .a, pkg-config),
# then the nginx module with the Python runtime beside it (the module loads
# asgi_python.so from its own directory, the runtime its python/ files from
# its own), and the load_module snippet where Debian keeps them. Enabling
# the module (a link in /etc/nginx/modules-enabled) is left to the operator
# or a package. Then mod_asgi for Apache httpd the same way: the module and
# a copy of the runtime in Apache's modules directory, asgi.load in
# mods-available (a2enmod asgi enables it). make uninstall removes every
# file install wrote.

NGINX_MODULES_DIR ?= /usr/lib/nginx/modules
NGINX_SNIPPETS_DIR ?= /usr/share/nginx/modules-available
MODULE_SNIPPET := mod-http-asgi.conf

INSTALLED_LIB := $(LIBDIR)/libasgicore.so.$(VERSION) \
	$(LIBDIR)/libasgicore.so.$(SOVERSION) $(LIBDIR)/libasgicore.so \
	$(LIBDIR)/libasgicore.a $(LIBDIR)/pkgconfig/asgicore.pc \
	$(INCLUDEDIR)/asgicore.h
INSTALLED_MODULE := $(NGINX_MODULES_DIR)/ngx_http_asgi_module.so \
	$(NGINX_SNIPPETS_DIR)/$(MODULE_SNIPPET)
INSTALLED_PYTHON := $(NGINX_MODULES_DIR)/asgi_python.so \
	$(NGINX_MODULES_DIR)/python/asgicore_runtime.py

APACHE_MODULES_DIR ?= /usr/lib/apache2/modules
APACHE_MODS_DIR ?= /etc/apache2/mods-available
APACHE_RUNTIME_DIR ?= $(APACHE_MODULES_DIR)/../asgi
INSTALLED_APACHE := $(APACHE_MODULES_DIR)/mod_asgi.so \
	$(APACHE_RUNTIME_DIR)/asgi_python.so \
	$(APACHE_RUNTIME_DIR)/python/asgicore_runtime.py \
	$(APACHE_MODS_DIR)/asgi.load

install: install-lib install-module install-apache

# mod_asgi loads the runtime from ../asgi/ (Apache's modules directory
# holds modules only), the runtime its python/ files from its own
install-apache: apache python
	install -d $(DESTDIR)$(APACHE_MODULES_DIR) \
		$(DESTDIR)$(APACHE_RUNTIME_DIR)/python $(DESTDIR)$(APACHE_MODS_DIR)
	install -m 0644 $(B)/mod_asgi.so $(DESTDIR)$(APACHE_MODULES_DIR)/
	install -m 0644 $(B)/asgi_python.so $(DESTDIR)$(APACHE_RUNTIME_DIR)/
	install -m 0644 $(B)/python/asgicore_runtime.py \
		$(DESTDIR)$(APACHE_RUNTIME_DIR)/python/
	echo "LoadModule asgi_module $(APACHE_MODULES_DIR)/mod_asgi.so" \
		> $(DESTDIR)$(APACHE_MODS_DIR)/asgi.load

install-module: module python
	install -d $(DESTDIR)$(NGINX_MODULES_DIR) $(DESTDIR)$(NGINX_SNIPPETS_DIR)
	install -m 0644 $(B)/ngx_http_asgi_module.so $(DESTDIR)$(NGINX_MODULES_DIR)/
	echo "load_module $(NGINX_MODULES_DIR)/ngx_http_asgi_module.so;" \
		> $(DESTDIR)$(NGINX_SNIPPETS_DIR)/$(MODULE_SNIPPET)
	@if [ -f $(B)/asgi_python.so ]; then \
		install -d $(DESTDIR)$(NGINX_MODULES_DIR)/python && \
		install -m 0644 $(B)/asgi_python.so \
			$(DESTDIR)$(NGINX_MODULES_DIR)/ && \
		install -m 0644 $(B)/python/asgicore_runtime.py \
			$(DESTDIR)$(NGINX_MODULES_DIR)/python/ && \
		echo "installed the Python runtime"; \
	else \
		echo "the Python runtime was not built: not installed"; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_LIB) $(INSTALLED_MODULE) \
		$(INSTALLED_PYTHON) $(INSTALLED_APACHE))
	-rmdir $(DESTDIR)$(NGINX_MODULES_DIR)/python 2>/dev/null
	-rmdir $(DESTDIR)$(APACHE_RUNTIME_DIR)/python \
		$(DESTDIR)$(APACHE_RUNTIME_DIR) 2>/dev/null

# install-test: make install into a scratch root lists exactly the files
# above; make uninstall leaves none of them.
install-test:
	sh tools/check-install $(B)

.PHONY: install install-module install-apache uninstall install-test
