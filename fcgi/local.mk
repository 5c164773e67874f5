# fcgi/: meshscope-fcgi, the read-only responder pool. Everything but main.c
# lives in a library so the unit suites (tests/unit/fcgi.mk) link the same code.
noinst_LIBRARIES += fcgi/libresponder.a
fcgi_libresponder_a_SOURCES = \
	fcgi/http.c fcgi/http.h \
	fcgi/ingest_liveness.c fcgi/ingest_liveness.h \
	fcgi/ingest_stats.c fcgi/ingest_stats.h \
	fcgi/mapping_guard.c fcgi/mapping_guard.h \
	fcgi/migration_cache.c fcgi/migration_cache.h \
	fcgi/migrations.c fcgi/migrations.h \
	fcgi/observer_metrics.c fcgi/observer_metrics.h \
	fcgi/params.c fcgi/params.h \
	fcgi/poolstats.c fcgi/poolstats.h \
	fcgi/reader_db.c fcgi/reader_db.h \
	fcgi/request.c fcgi/request.h \
	fcgi/responder.h \
	fcgi/route_healthz.c \
	fcgi/route_metrics.c \
	fcgi/route_observers.c \
	fcgi/route_packet.c \
	fcgi/route_query.h \
	fcgi/route_traffic.c \
	fcgi/route_packets.c \
	fcgi/route_perf.c \
	fcgi/route_perf_migrations.c \
	fcgi/route_perf_sqlite.c \
	fcgi/route_stats.c \
	fcgi/router.c fcgi/router.h \
	fcgi/writer_stats.c fcgi/writer_stats.h

bin_PROGRAMS += fcgi/meshscope-fcgi
fcgi_meshscope_fcgi_SOURCES = fcgi/main.c
fcgi_meshscope_fcgi_LDADD = fcgi/libresponder.a common/libmeshscope.a \
	$(FCGI_LIBS) $(JSONC_LIBS) $(SQLITE3_LIBS)
