# ------------------------------------------------------------------ python
# The Python ASGI runtime (lib/python): a threaded app embedding Debian's
# Python, linked to the library by path (no static copy can creep in).
# Flavours: plain; asan for the nginx suites; tsan for python-tsan-test.

PYTHON_CONFIG ?= /usr/bin/python3-config
PYTHON_SONAME = $(shell /usr/bin/python3 -c \
	"import sysconfig; print(sysconfig.get_config_var('INSTSONAME'))")

define python_flavour
$(call fdir,$(1))/asgi_python.so: lib/python/asgi_python.c include/asgicore.h \
		$(call shared,$(1)) $(B)/python/asgicore_runtime.py
	@mkdir -p $$(@D)
	@test -x $$(PYTHON_CONFIG) || { echo "$$(PYTHON_CONFIG) is missing:" \
		"run make deps (as root) to install python3-dev"; exit 1; }
	$$(CC) -shared -fPIC -g -std=gnu11 $$(WARN) $$(FLAGS_$(1)) \
		$(call user_cflags,$(1)) $(call user_ldflags,$(1)) \
		-Wno-unused-parameter -Wno-missing-field-initializers \
		-DPYTHON_SONAME='"$$(PYTHON_SONAME)"' -Iinclude \
		$$$$($$(PYTHON_CONFIG) --includes) $$< -o $$@ $(call shared,$(1)) \
		$$$$($$(PYTHON_CONFIG) --ldflags --embed) -lpthread \
		-Wl,-rpath,'$$$$ORIGIN'
$(if $(filter plain,$(1)),,$(python_dir_link))
endef
# A sanitized runtime finds asgicore_runtime.py beside it, as the plain one
# does: build/x/python is a link to build/python (never a directory).
define python_dir_link
	@if [ -d $$(@D)/python ] && [ ! -L $$(@D)/python ]; then \
		rm -rf $$(@D)/python; fi
	ln -sfn ../python $$(@D)/python
endef
$(foreach f,$(FLAVOURS),$(eval $(call python_flavour,$(f))))

$(B)/python/asgicore_runtime.py: lib/python/asgicore_runtime.py
	@mkdir -p $(@D)
	cp $< $@

# The Python runtime is optional: without python3-dev `make` builds the
# rest and says so; asgi_app then fails `nginx -t` with the reason, native
# apps serve as usual.
python:
	@if [ -x $(PYTHON_CONFIG) ]; then \
		$(MAKE) -s $(B)/asgi_python.so; \
	else \
		echo "python3-dev is not installed: the Python runtime" \
		     "(asgi_app) is not built"; \
	fi

.PHONY: python
