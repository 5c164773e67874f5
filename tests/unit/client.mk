# Unit suites for client/ (cmocka). The feeder's lines are checked with the
# worker's own parser, so the suite links worker/libingest.a too.
check_PROGRAMS += tests/unit/test_client_feedgen
tests_unit_test_client_feedgen_SOURCES = tests/unit/test_client_feedgen.c
tests_unit_test_client_feedgen_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/worker -I$(top_srcdir)/client
tests_unit_test_client_feedgen_LDADD = client/libclient.a worker/libingest.a $(TEST_LIBS)
TESTS += tests/unit/test_client_feedgen
