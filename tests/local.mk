# tests/: cmocka unit suites run by `make check`. Node, integration, browser
# and benchmark suites are run by scripts/test (see README). Each component
# lists its own unit suites in tests/unit/<component>.mk.
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TEST_LIBS = common/libmeshscope.a $(CMOCKA_LIBS) $(SQLITE3_LIBS) $(JSONC_LIBS)

check_PROGRAMS += tests/unit/test_common
tests_unit_test_common_SOURCES = tests/unit/test_common.c
tests_unit_test_common_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_common_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_common

include tests/unit/worker.mk
include tests/unit/fcgi.mk
include tests/unit/mqtt.mk

EXTRA_DIST += tests/js tests/integration tests/lib tests/e2e
