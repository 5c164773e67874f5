# fuzz/: the libFuzzer target over request parsing and routing (README, "Fuzzing").
#
#   make fuzz                      fuzz for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_SECONDS=600     longer
#
# libFuzzer needs coverage instrumentation in the code under test, so the
# responder library is rebuilt with clang in its own configured tree
# (fuzz/build), whatever compiler this tree uses. New inputs go to
# fuzz/corpus-work; crashes to fuzz/crash-*, replayable with
# `fuzz/fuzz_request FILE`.
FUZZ_SECONDS = 60
FUZZ_CC = clang
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BUILDDIR = $(abs_top_builddir)/fuzz/build

EXTRA_DIST += fuzz/fuzz_request.c fuzz/request.dict fuzz/corpus

fuzz-libs:
	@mkdir -p $(FUZZ_BUILDDIR)
	@cd $(FUZZ_BUILDDIR) && { test -f Makefile || \
	  $(abs_top_srcdir)/configure --quiet CC="$(FUZZ_CC)" \
	    CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SANITIZE)" \
	    LDFLAGS="$(FUZZ_SANITIZE)"; }
	@$(MAKE) -s -C $(FUZZ_BUILDDIR) fcgi/libresponder.a common/libmeshscope.a

fuzz/fuzz_request: $(srcdir)/fuzz/fuzz_request.c fuzz-libs
	@mkdir -p fuzz
	$(AM_V_CCLD)$(FUZZ_CC) -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $(FUZZ_SANITIZE) \
	  -std=c11 -include $(FUZZ_BUILDDIR)/config.h -I$(top_srcdir)/common -I$(top_srcdir)/fcgi -I$(FUZZ_BUILDDIR) \
	  $(SQLITE3_CFLAGS) $(JSONC_CFLAGS) -o $@ $(srcdir)/fuzz/fuzz_request.c \
	  $(FUZZ_BUILDDIR)/fcgi/libresponder.a $(FUZZ_BUILDDIR)/common/libmeshscope.a \
	  $(SQLITE3_LIBS) $(JSONC_LIBS) $(LIBS)

fuzz: fuzz/fuzz_request
	@mkdir -p fuzz/corpus-work
	./fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -dict=$(srcdir)/fuzz/request.dict -artifact_prefix=fuzz/ -max_len=20000 \
	  fuzz/corpus-work $(srcdir)/fuzz/corpus

fuzz-clean:
	rm -rf fuzz/build fuzz/corpus-work fuzz/fuzz_request fuzz/crash-* fuzz/leak-* fuzz/timeout-*

.PHONY: fuzz fuzz-libs fuzz-clean
