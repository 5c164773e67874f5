# packaging/: what an installed meshscope ships beside the programs (see
# docs/packaging.md): Prometheus alert rules and a Grafana dashboard under
# $(pkgdatadir). The systemd units name /usr/bin, the package's prefix, so
# only debian/ installs them.
prometheusrulesdir = $(pkgdatadir)/prometheus
dist_prometheusrules_DATA = packaging/prometheus/meshscope-rules.yml

grafanadashboarddir = $(pkgdatadir)/grafana
dist_grafanadashboard_DATA = packaging/grafana/meshscope-dashboard.json

dist_noinst_SCRIPTS += scripts/package
EXTRA_DIST += debian packaging/systemd packaging/grafana/dashboard.mjs tests/packaging

# Man pages; tests/packaging/man.test.mjs holds them to each program's --help.
dist_man_MANS = man/meshscope-worker.8 man/meshscope-fcgi.8 man/meshscope-ingest.1 \
	man/meshscope-mqtt.8 man/meshscope-mqtt-demo.1
