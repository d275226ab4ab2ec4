# ------------------------------------------------------------------ apache
# mod_asgi for Apache httpd 2.4 (apache2-dev): compiled with the flags apxs
# reports, linked to the library by its SONAME with a run path of $ORIGIN
# (as the nginx module: a copy beside it is found first). Flavours plain
# and asan, like the nginx module.

APXS ?= apxs
APACHE_SRC := $(wildcard apache/*.c)
APACHE_HDR := $(wildcard apache/*.h) include/asgicore.h
apxs_q = $(shell $(APXS) -q $(1) 2>/dev/null)
apache_cflags = $(call apxs_q,CFLAGS) $(call apxs_q,CPPFLAGS) \
	$(call apxs_q,EXTRA_CPPFLAGS) -I$(call apxs_q,INCLUDEDIR) \
	-I$(call apxs_q,APR_INCLUDEDIR) -Iinclude \
	-std=gnu11 -fPIC $(WARN) -Wno-unused-parameter \
	-Wno-missing-field-initializers

define apache_flavour
$(call fdir,$(1))/mod_asgi.so: $(APACHE_SRC) $(APACHE_HDR) \
		$(call shared,$(1))
	@command -v $(APXS) >/dev/null || { echo "apxs is missing: run" \
		"make deps (as root) to install apache2-dev"; exit 1; }
	$(CC) -shared $(apache_cflags) $(FLAGS_$(1)) \
		$(call user_ldflags,$(1)) -o $$@ $(APACHE_SRC) \
		-L$(call fdir,$(1)) -l:libasgicore.so.$(SOVERSION) -ldl \
		-lpthread -Wl,-rpath,'$$$$ORIGIN'
endef
$(eval $(call apache_flavour,plain))
$(eval $(call apache_flavour,asan))

apache: $(B)/mod_asgi.so python # the runtime its ASGIApp loads
.PHONY: apache
