# Unit suites for worker/ (cmocka, real SQLite files).
WORKER_TEST_LIBS = worker/libmigrations.a worker/libworkerhooks.a $(TEST_LIBS)
WORKER_TESTLIB = tests/unit/worker_testlib.c tests/unit/worker_testlib.h

check_PROGRAMS += tests/unit/test_worker_backfill
tests_unit_test_worker_backfill_SOURCES = tests/unit/test_worker_backfill.c $(WORKER_TESTLIB)
tests_unit_test_worker_backfill_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_backfill_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_worker_backfill

check_PROGRAMS += tests/unit/test_worker_runner
tests_unit_test_worker_runner_SOURCES = tests/unit/test_worker_runner.c $(WORKER_TESTLIB)
tests_unit_test_worker_runner_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_runner_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_worker_runner

check_PROGRAMS += tests/unit/test_worker_status
tests_unit_test_worker_status_SOURCES = tests/unit/test_worker_status.c $(WORKER_TESTLIB)
tests_unit_test_worker_status_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_status_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_worker_status

check_PROGRAMS += tests/unit/test_worker_control
tests_unit_test_worker_control_SOURCES = tests/unit/test_worker_control.c $(WORKER_TESTLIB)
tests_unit_test_worker_control_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_control_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_worker_control

check_PROGRAMS += tests/unit/test_worker_testhook
tests_unit_test_worker_testhook_SOURCES = tests/unit/test_worker_testhook.c
tests_unit_test_worker_testhook_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_testhook_LDADD = worker/libworkerhooks.a $(TEST_LIBS)
TESTS += tests/unit/test_worker_testhook

# Live ingest (worker/libingest.a): the line protocol, the store, the figures.
INGEST_TEST_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
INGEST_TEST_LIBS = worker/libingest.a worker/libworkerhooks.a $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_worker_ingest_parse
tests_unit_test_worker_ingest_parse_SOURCES = tests/unit/test_worker_ingest_parse.c
tests_unit_test_worker_ingest_parse_CFLAGS = $(INGEST_TEST_CFLAGS)
tests_unit_test_worker_ingest_parse_LDADD = $(INGEST_TEST_LIBS)
TESTS += tests/unit/test_worker_ingest_parse

check_PROGRAMS += tests/unit/test_worker_ingest_store
tests_unit_test_worker_ingest_store_SOURCES = tests/unit/test_worker_ingest_store.c
tests_unit_test_worker_ingest_store_CFLAGS = $(INGEST_TEST_CFLAGS)
tests_unit_test_worker_ingest_store_LDADD = $(INGEST_TEST_LIBS)
TESTS += tests/unit/test_worker_ingest_store

# Storage faults: the backfill and ingest's group commit through a test-only
# VFS shim that fails the Nth write, sync or truncate (tests/unit/faultvfs.c).
check_PROGRAMS += tests/unit/test_worker_storage_faults
tests_unit_test_worker_storage_faults_SOURCES = tests/unit/test_worker_storage_faults.c \
	tests/unit/faultvfs.c tests/unit/faultvfs.h $(WORKER_TESTLIB)
tests_unit_test_worker_storage_faults_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_worker_storage_faults_LDADD = worker/libmigrations.a worker/libingest.a \
	worker/libworkerhooks.a $(TEST_LIBS)
TESTS += tests/unit/test_worker_storage_faults
