# ------------------------------------------------------------------ library
# libasgicore: C++20 behind the C ABI of include/asgicore.h.

SOVERSION := 0
VERSION := $(shell sed -n \
	's/^\#define ASGICORE_VERSION_STRING "\(.*\)"/\1/p' include/asgicore.h)

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wundef -Werror
CXXSTD := -std=c++20
CPPFLAGS_LIB := -Iinclude -Ilib
CXXFLAGS_LIB := $(CXXSTD) $(WARN) -fPIC -fvisibility=hidden \
	-fvisibility-inlines-hidden -g

# Build flavours: what ships (plain) and the sanitizer builds the tests use.
# FLAGS_x compiles (and links) every part of flavour x: the library, its
# unit tests, the module, the Python runtime, the test app. Each flavour's
# outputs go to $(call fdir,x): build/ for plain, build/x/ for the others.
FLAVOURS := plain asan tsan
FLAGS_plain := -O2
FLAGS_asan := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FLAGS_tsan := -O1 -fsanitize=thread

fdir = $(if $(filter plain,$(1)),$(B),$(B)/$(1))

# What ships (plain) also takes the caller's CPPFLAGS, CFLAGS, CXXFLAGS and
# LDFLAGS, as a distribution's build sets them (dpkg-buildflags: hardening).
user_cflags = $(if $(filter plain,$(1)),$(CPPFLAGS) $(CFLAGS))
user_cxxflags = $(if $(filter plain,$(1)),$(CPPFLAGS) $(CXXFLAGS))
user_ldflags = $(if $(filter plain,$(1)),$(LDFLAGS))
objs = $(patsubst lib/%.cpp,$(B)/$(1)/lib/%.o,$(LIB_SRC))
archive = $(call fdir,$(1))/libasgicore.a
shared = $(call fdir,$(1))/libasgicore.so.$(SOVERSION)

LIB_SRC := $(wildcard lib/*.cpp)
LIB_HDR := $(wildcard lib/*.hpp) include/asgicore.h

# link_lib FLAVOUR, EXTRA: the shared library with its SONAME and the
# symbol version script (only the asgicore_ functions are exported).
link_lib = $(CXX) -shared $(filter -fsanitize=%,$(FLAGS_$(1))) $(2) \
	$(call user_ldflags,$(1)) \
	-Wl,-soname,libasgicore.so.$(SOVERSION) \
	-Wl,--version-script=lib/libasgicore.map \
	-o $@ $(call objs,$(1)) -lpthread

define lib_flavour
$(B)/$(1)/lib/%.o: lib/%.cpp $$(LIB_HDR)
	@mkdir -p $$(@D)
	$$(CXX) $$(CPPFLAGS_LIB) $$(CXXFLAGS_LIB) $$(FLAGS_$(1)) \
		$(call user_cxxflags,$(1)) -c $$< -o $$@

$(call archive,$(1)): $(call objs,$(1))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach f,$(FLAVOURS),$(eval $(call lib_flavour,$(f))))

# The sanitizer flavours' shared libraries, for the nginx suites and the
# Python runtime's thread test.
define sanitized_lib
$(call shared,$(1)): $(call objs,$(1)) lib/libasgicore.map
	$$(call link_lib,$(1))
endef
$(foreach f,asan tsan,$(eval $(call sanitized_lib,$(f))))

# What ships: every symbol resolved at link time (-z defs).
Z_DEFS := -Wl,-z,defs
$(B)/libasgicore.so.$(VERSION): $(call objs,plain) lib/libasgicore.map
	$(call link_lib,plain,$(Z_DEFS))

$(B)/libasgicore.so.$(SOVERSION): $(B)/libasgicore.so.$(VERSION)
	ln -sf libasgicore.so.$(VERSION) $@
	ln -sf libasgicore.so.$(SOVERSION) $(B)/libasgicore.so

$(B)/asgicore.pc: asgicore.pc.in include/asgicore.h mk/lib.mk
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$< > $@

lib: $(B)/libasgicore.so.$(SOVERSION) $(B)/libasgicore.a $(B)/asgicore.pc

install-lib: lib
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

.PHONY: lib install-lib
