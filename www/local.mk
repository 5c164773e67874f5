# www/: the static frontend nginx serves.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = \
	www/index.html \
	www/style.css \
	www/warmup-banner.js \
	www/app.js
