# tests/: cmocka unit suites run by `make check` when configure found cmocka.
# Node, integration, browser and benchmark suites are run by scripts/test (see
# README). Each component lists its own unit suites in tests/unit/<component>.mk.
TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
TEST_LIBS = common/libmeshscope.a $(CMOCKA_LIBS) $(SQLITE3_LIBS) $(JSONC_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_common_util
tests_unit_test_common_util_SOURCES = tests/unit/test_common_util.c
tests_unit_test_common_util_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_common_util_LDADD = $(TEST_LIBS)
TESTS += tests/unit/test_common_util

include tests/unit/worker.mk
include tests/unit/fcgi.mk
include tests/unit/client.mk
include tests/unit/mqtt.mk
else
# configure found no cmocka: the programs build, the unit suites cannot, and
# `make check` stops before running anything (check_SCRIPTS are made first).
check_SCRIPTS = need-cmocka
need-cmocka:
	@echo "make check: the unit suites need cmocka; install the Debian package libcmocka-dev and run configure again" >&2
	@exit 1
endif

dist_noinst_SCRIPTS += tests/no-cmocka-check
EXTRA_DIST += tests/js tests/integration tests/lib tests/e2e
