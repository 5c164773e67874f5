# tests/long/: suites too slow for scripts/test, run by `make check-long`
# (README, "Long suites"). They drive the real stack built in this tree.
dist_noinst_SCRIPTS += tests/valgrind-check
EXTRA_DIST += tests/long

check-long: all
	MESHSCOPE_TOP=$(abs_top_srcdir) MESHSCOPE_BINDIR=$(abs_top_builddir) \
	  node --test --test-concurrency=1 $(abs_top_srcdir)/tests/long/

.PHONY: check-long
