# Unit suites for fcgi/ (cmocka), linked against the same library as the binary.
FCGI_TEST_LIBS = fcgi/libresponder.a $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_fcgi_params
tests_unit_test_fcgi_params_SOURCES = tests/unit/test_fcgi_params.c
tests_unit_test_fcgi_params_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_fcgi_params_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fcgi_params_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_fcgi_params

check_PROGRAMS += tests/unit/test_common_migration_info
tests_unit_test_common_migration_info_SOURCES = tests/unit/test_common_migration_info.c
tests_unit_test_common_migration_info_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_common_migration_info_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_common_migration_info_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_common_migration_info

check_PROGRAMS += tests/unit/test_fcgi_migration_cache
tests_unit_test_fcgi_migration_cache_SOURCES = tests/unit/test_fcgi_migration_cache.c
tests_unit_test_fcgi_migration_cache_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_fcgi_migration_cache_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fcgi_migration_cache_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_fcgi_migration_cache

check_PROGRAMS += tests/unit/test_fcgi_reader_db
tests_unit_test_fcgi_reader_db_SOURCES = tests/unit/test_fcgi_reader_db.c
tests_unit_test_fcgi_reader_db_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_fcgi_reader_db_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fcgi_reader_db_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_fcgi_reader_db

check_PROGRAMS += tests/unit/test_fcgi_poolstats
tests_unit_test_fcgi_poolstats_SOURCES = tests/unit/test_fcgi_poolstats.c
tests_unit_test_fcgi_poolstats_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_fcgi_poolstats_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fcgi_poolstats_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_fcgi_poolstats

check_PROGRAMS += tests/unit/test_common_encode
tests_unit_test_common_encode_SOURCES = tests/unit/test_common_encode.c
tests_unit_test_common_encode_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fcgi
tests_unit_test_common_encode_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_common_encode_LDADD = $(FCGI_TEST_LIBS)
TESTS += tests/unit/test_common_encode
