# Unit suites for worker/ (cmocka, real SQLite files).
WORKER_TEST_LIBS = worker/libmigrations.a worker/libworkerhooks.a $(TEST_LIBS) -lm
WORKER_TESTLIB = tests/unit/worker_testlib.c tests/unit/worker_testlib.h

check_PROGRAMS += tests/unit/test_backfill
tests_unit_test_backfill_SOURCES = tests/unit/test_backfill.c $(WORKER_TESTLIB)
tests_unit_test_backfill_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_backfill_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_backfill

check_PROGRAMS += tests/unit/test_runner
tests_unit_test_runner_SOURCES = tests/unit/test_runner.c $(WORKER_TESTLIB)
tests_unit_test_runner_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_runner_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_runner

check_PROGRAMS += tests/unit/test_status
tests_unit_test_status_SOURCES = tests/unit/test_status.c $(WORKER_TESTLIB)
tests_unit_test_status_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_status_LDADD = $(WORKER_TEST_LIBS)
TESTS += tests/unit/test_status

check_PROGRAMS += tests/unit/test_testhook
tests_unit_test_testhook_SOURCES = tests/unit/test_testhook.c
tests_unit_test_testhook_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_testhook_LDADD = worker/libworkerhooks.a $(TEST_LIBS)
TESTS += tests/unit/test_testhook

# Live ingest (worker/libingest.a): the line protocol, the store, the figures.
INGEST_TEST_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
INGEST_TEST_LIBS = worker/libingest.a worker/libworkerhooks.a $(TEST_LIBS) -lm

check_PROGRAMS += tests/unit/test_ingest_parse
tests_unit_test_ingest_parse_SOURCES = tests/unit/test_ingest_parse.c
tests_unit_test_ingest_parse_CFLAGS = $(INGEST_TEST_CFLAGS)
tests_unit_test_ingest_parse_LDADD = $(INGEST_TEST_LIBS)
TESTS += tests/unit/test_ingest_parse

check_PROGRAMS += tests/unit/test_ingest_store
tests_unit_test_ingest_store_SOURCES = tests/unit/test_ingest_store.c
tests_unit_test_ingest_store_CFLAGS = $(INGEST_TEST_CFLAGS)
tests_unit_test_ingest_store_LDADD = $(INGEST_TEST_LIBS)
TESTS += tests/unit/test_ingest_store

check_PROGRAMS += tests/unit/test_ingest_feedgen
tests_unit_test_ingest_feedgen_SOURCES = tests/unit/test_ingest_feedgen.c
tests_unit_test_ingest_feedgen_CFLAGS = $(INGEST_TEST_CFLAGS)
tests_unit_test_ingest_feedgen_LDADD = $(INGEST_TEST_LIBS)
TESTS += tests/unit/test_ingest_feedgen

# Storage faults: the backfill and ingest's group commit through a test-only
# VFS shim that fails the Nth write, sync or truncate (tests/unit/faultvfs.c).
check_PROGRAMS += tests/unit/test_storage_faults
tests_unit_test_storage_faults_SOURCES = tests/unit/test_storage_faults.c \
	tests/unit/faultvfs.c tests/unit/faultvfs.h $(WORKER_TESTLIB)
tests_unit_test_storage_faults_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
tests_unit_test_storage_faults_LDADD = worker/libmigrations.a worker/libingest.a \
	worker/libworkerhooks.a $(TEST_LIBS) -lm
TESTS += tests/unit/test_storage_faults
