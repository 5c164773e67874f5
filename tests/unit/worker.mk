# Unit suites for worker/ (cmocka, real SQLite files).

# Live ingest (worker/libingest.a): the line protocol, the store, the figures.
INGEST_TEST_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker
INGEST_TEST_LIBS = worker/libingest.a $(TEST_LIBS) -lm

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
