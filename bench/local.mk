# bench/: the benchmark (bench/run, `make bench`) and its C helper.
noinst_PROGRAMS += bench/benchtool
bench_benchtool_SOURCES = bench/benchtool.c
bench_benchtool_LDADD = common/libmeshscope.a $(SQLITE3_LIBS) $(JSONC_LIBS)

dist_noinst_SCRIPTS += bench/run
EXTRA_DIST += \
	bench/lib/main.mjs \
	bench/lib/ingest-load.mjs \
	bench/lib/stats.mjs \
	bench/lib/report.mjs \
	bench/lib/control-plane.mjs \
	bench/lib/retention.mjs \
	bench/results/latest.md

# Measures the targets of docs/benchmark.md on this machine.
bench: all
	$(top_srcdir)/bench/run $(BENCH_ARGS)
.PHONY: bench
