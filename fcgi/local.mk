# fcgi/: meshscope-fcgi, the read-only responder pool.
bin_PROGRAMS += fcgi/meshscope-fcgi
fcgi_meshscope_fcgi_SOURCES = \
	fcgi/main.c \
	fcgi/http.c fcgi/http.h \
	fcgi/reader_db.c \
	fcgi/responder.h \
	fcgi/route_healthz.c \
	fcgi/router.c
fcgi_meshscope_fcgi_LDADD = common/libmeshscope.a $(FCGI_LIBS) $(JSONC_LIBS) $(SQLITE3_LIBS)
