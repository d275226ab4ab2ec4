# ------------------------------------------------------------------ fuzz
# libFuzzer targets built with clang and ASan+UBSan (t/fuzz): programs of
# host and app events over several scopes, and the fields that cross the
# library; and the failed-allocation sweep over the seed corpus.

FUZZ_CXX ?= clang++-14
FUZZ_SECONDS ?= 300
FUZZ_RUNS ?= 100000
FUZZ_JOBS ?= 1
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fno-omit-frame-pointer -Iinclude -Ilib \
	-I$(B)/fuzz -fno-sanitize-recover=all
FUZZ_PROGRAM := t/fuzz/program.cpp t/fuzz/program.hpp \
	$(B)/fuzz/documented_codes.inc

# Each function's results as the header documents them, for the program's
# check of every result.
$(B)/fuzz/documented_codes.inc: include/asgicore.h tools/api-doc
	@mkdir -p $(@D)
	/usr/bin/python3 tools/api-doc codes $@

# fuzz_build NAME, SANITIZERS, SOURCES
define fuzz_build
$(B)/fuzz/$(1): $(3) $$(LIB_SRC) $$(LIB_HDR)
	@mkdir -p $$(@D)
	$$(FUZZ_CXX) $$(FUZZ_CXXFLAGS) -fsanitize=$(2) \
		$$(filter %.cpp,$(3)) $$(LIB_SRC) -o $$@
endef
$(eval $(call fuzz_build,fuzz_scopes,fuzzer$(comma)address$(comma)undefined,\
	t/fuzz/fuzz_scopes.cpp $(FUZZ_PROGRAM)))
$(eval $(call fuzz_build,fuzz_fields,fuzzer$(comma)address$(comma)undefined,\
	t/fuzz/fuzz_fields.cpp))
$(eval $(call fuzz_build,fuzz_ws,fuzzer$(comma)address$(comma)undefined,\
	t/fuzz/fuzz_ws.cpp))
$(eval $(call fuzz_build,fuzz_ws_scope,fuzzer$(comma)address$(comma)undefined,\
	t/fuzz/fuzz_ws_scope.cpp))
$(eval $(call fuzz_build,alloc_sweep,address$(comma)undefined,\
	t/fuzz/alloc_sweep.cpp $(FUZZ_PROGRAM)))

FUZZ_BUILD := $(B)/fuzz/fuzz_scopes $(B)/fuzz/fuzz_fields \
	$(B)/fuzz/fuzz_ws $(B)/fuzz/fuzz_ws_scope $(B)/fuzz/alloc_sweep

# make test: a fixed budget from the seed corpus, and the sweep.
fuzz-test:
	$(MAKE) -s $(FUZZ_BUILD)
	sh tools/run-fuzz $(B) runs $(FUZZ_RUNS)
	ASAN_OPTIONS=detect_leaks=1 $(B)/fuzz/alloc_sweep t/fuzz/corpus/*.bin

# make fuzz: FUZZ_SECONDS per target in FUZZ_JOBS processes; the corpus
# grows in build/fuzz.
fuzz:
	$(MAKE) -s $(FUZZ_BUILD)
	sh tools/run-fuzz $(B) seconds $(FUZZ_SECONDS) $(FUZZ_JOBS)

.PHONY: fuzz fuzz-test
