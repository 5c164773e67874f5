# common/: the small library both programs share (logging, time formats, schema).
noinst_LIBRARIES += common/libmeshscope.a
common_libmeshscope_a_SOURCES = \
	common/db.c common/db.h \
	common/encode.c common/encode.h \
	common/log.c common/log.h \
	common/migration_info.c common/migration_info.h \
	common/packet.c common/packet.h \
	common/poolstats_file.h \
	common/poolstats_layout.c common/poolstats_layout.h \
	common/poolstats_read.c common/poolstats_read.h \
	common/rate_limit.c common/rate_limit.h \
	common/schema.c common/schema.h \
	common/timefmt.c common/timefmt.h \
	common/utf8.c common/utf8.h \
	common/util.c common/util.h \
	common/writer_stats_table.h
