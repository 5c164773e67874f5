# worker/: meshscope-worker, the only writer.
bin_PROGRAMS += worker/meshscope-worker
worker_meshscope_worker_SOURCES = \
	worker/main.c worker/worker.h
worker_meshscope_worker_LDADD = common/libmeshscope.a $(SQLITE3_LIBS) $(JSONC_LIBS)
