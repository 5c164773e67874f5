# client/: meshscope-ingest, the operators' client (send) and the demo feeder
# (feed). It talks to the worker's ingest socket and links the worker's
# libingest.a for the protocol's limits and the latency figures instead of
# copying them. The feeder's generator is a library so its unit suite links
# the same code.
noinst_LIBRARIES += client/libclient.a
client_libclient_a_SOURCES = client/ingest_feedgen.c client/ingest_tool.h
client_libclient_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/worker

bin_PROGRAMS += client/meshscope-ingest
client_meshscope_ingest_SOURCES = \
	client/ingest_tool.c client/ingest_tool.h \
	client/ingest_send.c \
	client/ingest_feed.c
client_meshscope_ingest_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/worker
client_meshscope_ingest_LDADD = client/libclient.a worker/libingest.a \
	common/libmeshscope.a $(SQLITE3_LIBS) $(JSONC_LIBS)
