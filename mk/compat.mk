# ------------------------------------------------------------------ compat
# make nginx-compat NGINX_SRC=/path/to/nginx-x.y.z: builds that nginx
# (--with-compat and the modules the suites use) and the module against
# it, then runs the nginx suites against that nginx instead of Debian's.
# NGINX_SRC: a release tarball's tree or a git checkout of nginx (Debian's
# SDK, the default for the module build, holds headers only).

COMPAT := $(B)/compat
COMPAT_CONFIGURE := --prefix=$(CURDIR)/$(COMPAT) --with-compat \
	--with-debug --with-threads --with-http_ssl_module \
	--with-http_v2_module --with-http_realip_module \
	--with-http_auth_request_module --with-http_stub_status_module \
	--with-http_slice_module --with-http_dav_module --with-pcre-jit

$(COMPAT)/src/objs/Makefile: module/config
	@test -f $(NGINX_SRC)/src/core/nginx.c || { echo "NGINX_SRC=" \
		"$(NGINX_SRC) is not an nginx source tree (Debian's SDK" \
		"has headers only)"; exit 1; }
	rm -rf $(COMPAT) && mkdir -p $(COMPAT)
	cp -r $(NGINX_SRC) $(COMPAT)/src
	# a release tarball has ./configure, a git checkout auto/configure
	cd $(COMPAT)/src && ASGICORE_LIBDIR=$(CURDIR)/$(B) \
		$$(test -x configure && echo ./configure || echo auto/configure) \
		$(COMPAT_CONFIGURE) --add-dynamic-module=$(CURDIR)/module \
		> ../configure.log 2>&1 || { tail -20 ../configure.log; exit 1; }

# nginx itself, and the module's objects through that nginx's Makefile,
# linked as module.mk links them (to the library beside it, $$ORIGIN).
$(COMPAT)/ngx_http_asgi_module.so: $(COMPAT)/src/objs/Makefile \
		$(MODULE_SRC) include/asgicore.h $(call shared,plain)
	$(MAKE) -s -C $(COMPAT)/src -f objs/Makefile binary $(MODULE_OBJS)
	$(call link_module,$(COMPAT)/src,$(B),plain)
	cd $(COMPAT) && ln -sf ../libasgicore.so.$(SOVERSION) . && \
		ln -sf ../asgi_python.so . && ln -sfn ../python python

# Configured afresh every time: NGINX_SRC may name another tree.
nginx-compat:
	rm -rf $(COMPAT)
	$(MAKE) -s $(call nginx_suites,plain) $(COMPAT)/ngx_http_asgi_module.so
	$(COMPAT)/src/objs/nginx -V 2>&1 | head -1
	ASGI_BUILD_DIR=$(CURDIR)/$(B) ASGI_NGINX=$(CURDIR)/$(COMPAT)/src/objs/nginx \
		ASGI_MODULE=$(CURDIR)/$(COMPAT)/ngx_http_asgi_module.so \
		prove -I t/lib $(if $(T),$(T),t/*.t)

.PHONY: nginx-compat
