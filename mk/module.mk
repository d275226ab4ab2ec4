# ------------------------------------------------------------------ module
# ngx_http_asgi_module, built against Debian's nginx SDK (nginx-dev):
# configured with the flags Debian's nginx was built with, so the module
# loads into it with load_module. Flavours plain and asan (the nginx suites
# run again with the ASan runtime preloaded into Debian's nginx).

NGINX_SRC ?= /usr/share/nginx/src
MODULE_SRC := $(wildcard module/*.c module/*.h) module/config
MODULE_OBJS := $(patsubst module/%.c,objs/addon/module/%.o, \
	$(wildcard module/*.c)) objs/ngx_http_asgi_module_modules.o

sdk_dir = $(B)/nginx-sdk$(if $(filter plain,$(1)),,-$(1))
sdk_cc_opt = $(if $(filter plain,$(1)), \
	$(if $(strip $(CPPFLAGS) $(CFLAGS)), \
		--with-cc-opt="$(CPPFLAGS) $(CFLAGS)"), \
	--with-cc-opt="$(filter -f%,$(FLAGS_$(1)))")

# link_module OBJS_DIR, LIBDIR, FLAVOUR: the module from the objects nginx's
# Makefile built in OBJS_DIR, linked to the library of LIBDIR by its SONAME
# with a run path of $$ORIGIN (a copy beside the module is found first).
link_module = $(CC) -shared $(filter -fsanitize=%,$(FLAGS_$(3))) \
	$(call user_ldflags,$(3)) -o $@ \
	$(addprefix $(1)/,$(MODULE_OBJS)) \
	-L$(2) -l:libasgicore.so.$(SOVERSION) -ldl -Wl,-rpath,'$$ORIGIN'

define module_flavour
$(call sdk_dir,$(1))/objs/Makefile: module/config
	@test -d $$(NGINX_SRC) || { echo "nginx's SDK is not in" \
		"$$(NGINX_SRC): run make deps (as root) to install nginx-dev"; \
		exit 1; }
	rm -rf $(call sdk_dir,$(1))
	mkdir -p $(B) && cp -r $$(NGINX_SRC) $(call sdk_dir,$(1))
	cd $(call sdk_dir,$(1)) && \
		ASGICORE_LIBDIR=$$(CURDIR)/$(call fdir,$(1)) bash -c \
		'. ./conf_flags && ./configure "$$$${NGX_CONF_FLAGS[@]}" \
		$(call sdk_cc_opt,$(1)) \
		--add-dynamic-module=$$(CURDIR)/module' > configure.log 2>&1 \
		|| { tail -20 configure.log; exit 1; }

# The module's objects through nginx's own Makefile (its flags, its
# include paths); linked here, to the library beside it ($$ORIGIN).
$(call fdir,$(1))/ngx_http_asgi_module.so: \
		$(call sdk_dir,$(1))/objs/Makefile $$(MODULE_SRC) \
		include/asgicore.h $(call shared,$(1))
	$$(MAKE) -s -C $(call sdk_dir,$(1)) -f objs/Makefile $$(MODULE_OBJS)
	$$(call link_module,$(call sdk_dir,$(1)),$(call fdir,$(1)),\
		$(1))
endef
$(foreach f,plain asan,$(eval $(call module_flavour,$(f))))

module: $(B)/ngx_http_asgi_module.so

.PHONY: module
