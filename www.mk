# www/: the static frontend nginx serves. This file sits beside www/, not in
# it, because scripts/stack and an install copy www/ whole into the web root.
wwwdir = $(pkgdatadir)/www
dist_www_DATA = \
	www/index.html \
	www/style.css \
	www/warmup-banner.js \
	www/app.js \
	www/views.js
