# worker/: meshscope-worker, the only writer.
bin_PROGRAMS += worker/meshscope-worker
worker_meshscope_worker_SOURCES = \
	worker/main.c worker/worker.h
worker_meshscope_worker_LDADD = worker/libmigrations.a worker/libingest.a \
	common/libmeshscope.a $(SQLITE3_LIBS) $(JSONC_LIBS)

# The async migrations: runner, progress bookkeeping, one file per migration,
# and the status view. A library so the unit suites link the same code.
noinst_LIBRARIES += worker/libmigrations.a
worker_libmigrations_a_SOURCES = \
	worker/migration.h \
	worker/runner.c \
	worker/progress.c \
	worker/status.c \
	worker/migration_tx_last_seen_backfill.c

# Live ingest (design §6), a library so the unit suites link the same code.
noinst_LIBRARIES += worker/libingest.a
worker_libingest_a_SOURCES = \
	worker/ingest.h \
	worker/ingest_parse.c \
	worker/ingest_server.c \
	worker/ingest_stats.c \
	worker/ingest_store.c
