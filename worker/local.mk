# worker/: meshscope-worker, the only writer.
bin_PROGRAMS += worker/meshscope-worker
worker_meshscope_worker_SOURCES = \
	worker/main.c worker/worker.h
worker_meshscope_worker_LDADD = worker/libmigrations.a worker/libingest.a \
	worker/libworkerhooks.a common/libmeshscope.a $(SQLITE3_LIBS) $(JSONC_LIBS)

# What the worker's two sides (the job thread with its control socket, and
# ingest) share: ingest's announcement that it waits for the writer, the
# writer accounting, the unix listening sockets, and the test-only pauses.
noinst_LIBRARIES += worker/libworkerhooks.a
worker_libworkerhooks_a_SOURCES = \
	worker/testhook.c worker/testhook.h \
	worker/unix_listener.c worker/unix_listener.h \
	worker/writer_accounting.c worker/writer_accounting.h \
	worker/writer_demand.c worker/writer_demand.h

# The async migrations: runner, progress bookkeeping, one file per migration,
# operator control (control socket, ctl, pauses, settings, throttling) and the
# status view. A library so the unit suites link the same code.
noinst_LIBRARIES += worker/libmigrations.a
worker_libmigrations_a_SOURCES = \
	worker/backfill_maxima.c worker/backfill_maxima.h \
	worker/batch_sizer.c worker/batch_sizer.h \
	worker/control_client.c worker/control_client.h \
	worker/control_command.c worker/control_command.h \
	worker/control_server.c worker/control_server.h \
	worker/job_clock.c worker/job_clock.h \
	worker/job_control.c worker/job_control.h \
	worker/job_pace.c worker/job_pace.h \
	worker/job_retention.c worker/job_retention.h \
	worker/job_wal.c worker/job_wal.h \
	worker/migration.c worker/migration.h \
	worker/migration_cancel.c worker/migration_cancel.h \
	worker/migration_params.c worker/migration_params.h \
	worker/job_registry.c worker/job_registry.h \
	worker/migration_rows.c worker/migration_rows.h \
	worker/migration_stats.c worker/migration_stats.h \
	worker/migration_tx_last_seen_backfill.c worker/migration_tx_last_seen_backfill.h \
	worker/migration_observers_backfill.c worker/migration_observers_backfill.h \
	worker/progress.c worker/progress.h \
	worker/reader_latency.c worker/reader_latency.h \
	worker/runner.c worker/runner.h \
	worker/runner_thread.c worker/runner_thread.h \
	worker/status.c worker/status.h \
	worker/throttle.c worker/throttle.h \
	worker/wal_housekeeping.c worker/wal_housekeeping.h

# Live ingest (docs/ingest.md), a library so the unit suites link the same code.
noinst_LIBRARIES += worker/libingest.a
worker_libingest_a_SOURCES = \
	worker/ingest.h \
	worker/ingest_parse.c \
	worker/ingest_server.c \
	worker/ingest_stats.c \
	worker/ingest_store.c
