# Configuration templates, scripts and deployment files that ship with meshscope.
nginxconfdir = $(pkgdatadir)/nginx
dist_nginxconf_DATA = \
	nginx/meshscope-locations.conf \
	nginx/meshscope-site.conf \
	nginx/nginx.conf.in

# Run as root after `make install`: users, groups and directory modes (README).
deploydir = $(pkgdatadir)/deploy
dist_deploy_SCRIPTS = deploy/setup-users.sh

supervisorconfdir = $(pkgdatadir)/supervisor
dist_supervisorconf_DATA = \
	supervisor/supervisord.conf.in \
	supervisor/supervisord-mqtt.conf.in \
	deploy/supervisor-meshscope.conf

# meshscope-mqtt: an example config and the broker's ACL note (docs/mqtt.md).
dist_deploy_DATA = deploy/meshscope-mqtt.conf.example deploy/mosquitto-acl.example

EXTRA_DIST += \
	README.md docs \
	package.json package-lock.json \
	.ci/run

dist_noinst_SCRIPTS += \
	scripts/build \
	scripts/deps \
	scripts/gen-demo-db \
	scripts/run \
	scripts/stack \
	scripts/test
