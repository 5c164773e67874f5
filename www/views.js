/* views.js: the analyzer's views (docs/browser.md): the observers panel, a
 * packet's detail and the packets-per-minute chart. Plain JavaScript, no
 * external assets; every server string reaches the DOM through textContent. */
(function () {
  'use strict';

  var SILENT_AFTER_S = 15 * 60; /* an observer unheard this long is marked silent */
  var REFRESH_MS = 15000;
  var SVG_NS = 'http://www.w3.org/2000/svg';

  function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }

  /* "3 min ago", "2 h ago", "just now", "never". */
  function agoText(unix, nowUnix) {
    var t = num(unix);
    if (t === null || t <= 0) return 'never';
    var s = Math.max(0, Math.floor(nowUnix - t));
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function observerRow(o, nowUnix) {
    var last = num(o.lastPacketUnix);
    var silent = last === null || nowUnix - last > SILENT_AFTER_S;
    var fmt = function (v, unit) { var n = num(v); return n === null ? '—' : String(n) + (unit || ''); };
    return {
      silent: silent,
      cells: [
        typeof o.name === 'string' && o.name !== '' ? o.name : String(o.id),
        typeof o.region === 'string' ? o.region : '—',
        agoText(last, nowUnix) + (silent ? ' (silent)' : ''),
        fmt(o.packetsLastHour),
        fmt(o.medianSnrLastHour, ' dB') + ' / ' + fmt(o.medianRssiLastHour, ' dBm'),
        num(o.batteryMv) === null ? '—' : (o.batteryMv / 1000).toFixed(2) + ' V',
        typeof o.firmware === 'string' ? o.firmware : '—',
      ],
    };
  }

  /* Bars of the chart: x, y, width and height in a 0..w x 0..h box. */
  function chartBars(buckets, w, h) {
    var max = 0;
    buckets.forEach(function (b) { max = Math.max(max, num(b.observations) || 0); });
    var bw = buckets.length ? w / buckets.length : 0;
    return { max: max, bars: buckets.map(function (b, i) {
      var v = num(b.observations) || 0;
      var bh = max > 0 ? (v / max) * h : 0;
      return { x: i * bw, y: h - bh, width: Math.max(bw - 1, 1), height: bh, value: v, start: b.startUnix };
    }) };
  }

  function packetIdFromHash(hash) {
    var m = /^#packet=([1-9][0-9]{0,18})$/.exec(hash || '');
    return m ? m[1] : null;
  }

  var api = { agoText: agoText, observerRow: observerRow, chartBars: chartBars,
    packetIdFromHash: packetIdFromHash, SILENT_AFTER_S: SILENT_AFTER_S };
  if (typeof window !== 'undefined' && window) window.__meshscopeViews = api;
  if (typeof module !== 'undefined' && module) module.exports = api;
  if (typeof document === 'undefined' || !document) return;

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function getJson(url) {
    return fetch(url, { headers: { Accept: 'application/json' } }).then(function (res) {
      return res.json().then(function (body) { return { status: res.status, body: body }; });
    });
  }
  function utcTime(unix) {
    var d = new Date(unix * 1000);
    var p = function (n) { return n < 10 ? '0' + n : String(n); };
    return p(d.getUTCHours()) + ':' + p(d.getUTCMinutes());
  }

  function table(headers, rows, label) {
    var wrap = el('div', 'table-wrap');
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-label', label);
    var t = el('table', 'packets view-table');
    var tr = el('tr');
    headers.forEach(function (h) { var th = el('th', null, h); th.scope = 'col'; tr.appendChild(th); });
    var thead = el('thead');
    thead.appendChild(tr);
    t.appendChild(thead);
    var tbody = el('tbody');
    rows.forEach(function (r) {
      var row = el('tr', r.className || null);
      r.cells.forEach(function (c, i) {
        var td = el('td', null, c);
        td.dataset.label = headers[i];
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    t.appendChild(tbody);
    wrap.appendChild(t);
    return wrap;
  }

  var OBSERVER_HEADERS = ['Observer', 'Region', 'Last heard', 'Packets (1 h)', 'Median SNR / RSSI (1 h)',
    'Battery', 'Firmware'];

  function refreshObservers() {
    var holder = document.getElementById('observers-table');
    if (!holder) return Promise.resolve();
    return getJson('/api/observers').then(function (r) {
      if (r.status !== 200 || !isObject(r.body) || !Array.isArray(r.body.observers)) {
        holder.replaceChildren(el('p', 'empty', 'Could not load observers (HTTP ' + r.status + ').'));
        return;
      }
      var now = num(r.body.nowUnix) || Date.now() / 1000;
      var list = r.body.observers.filter(isObject);
      if (list.length === 0) {
        holder.replaceChildren(el('p', 'empty', 'No observers yet.'));
        return;
      }
      holder.replaceChildren(table(OBSERVER_HEADERS, list.map(function (o) {
        var row = observerRow(o, now);
        return { cells: row.cells, className: row.silent ? 'observer-silent' : null };
      }), 'Observers table'));
    }, function () {
      holder.replaceChildren(el('p', 'empty', 'Cannot reach meshscope; retrying.'));
    });
  }

  function renderChart(holder, buckets) {
    var W = 600, H = 160, L = 36, B = 22;
    var c = chartBars(buckets, W - L, H - B);
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'traffic-svg',
      'aria-labelledby': 'traffic-desc' });
    var title = svg('title', { id: 'traffic-desc' });
    var total = buckets.reduce(function (n, b) { return n + (num(b.observations) || 0); }, 0);
    title.textContent = 'Observations per minute over the last ' + buckets.length + ' minutes: ' +
      total + ' in all, at most ' + c.max + ' in one minute.';
    root.appendChild(title);
    var g = svg('g', { transform: 'translate(' + L + ',0)' });
    c.bars.forEach(function (b) {
      var rect = svg('rect', { x: b.x.toFixed(1), y: b.y.toFixed(1), width: b.width.toFixed(1),
        height: b.height.toFixed(1), class: 'traffic-bar' });
      var tip = svg('title');
      tip.textContent = utcTime(b.start) + ' UTC: ' + b.value;
      rect.appendChild(tip);
      g.appendChild(rect);
    });
    root.appendChild(g);
    var axis = function (x, y, text, anchor) {
      var t = svg('text', { x: x, y: y, class: 'traffic-axis', 'text-anchor': anchor || 'start' });
      t.textContent = text;
      root.appendChild(t);
    };
    axis(L - 4, 10, String(c.max), 'end');
    axis(L - 4, H - B, '0', 'end');
    if (buckets.length) {
      axis(L, H - 6, utcTime(buckets[0].startUnix) + ' UTC');
      axis(W, H - 6, utcTime(buckets[buckets.length - 1].startUnix) + ' UTC', 'end');
    }
    root.appendChild(svg('line', { x1: L, y1: H - B, x2: W, y2: H - B, class: 'traffic-baseline' }));
    var caption = el('p', 'traffic-caption', title.textContent);
    holder.replaceChildren(root, caption);
  }

  function refreshTraffic() {
    var holder = document.getElementById('traffic-chart');
    if (!holder) return Promise.resolve();
    return getJson('/api/traffic?minutes=60').then(function (r) {
      if (r.status === 200 && isObject(r.body) && Array.isArray(r.body.buckets)) {
        renderChart(holder, r.body.buckets.filter(isObject));
      }
    }, function () { /* the next refresh tries again */ });
  }

  /* ---- Packet detail ---- */
  var lastFocus = null;

  function closeDetail() {
    var d = document.getElementById('packet-detail');
    if (!d || d.hidden) return;
    d.hidden = true;
    if (packetIdFromHash(window.location.hash)) {
      window.history.pushState(null, '', window.location.pathname + window.location.search);
    }
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  function field(list, name, value) {
    list.appendChild(el('dt', null, name));
    list.appendChild(el('dd', null, value === null || value === undefined ? '—' : value));
  }

  function renderDetail(d, p) {
    var body = d.querySelector('.detail-body');
    var dl = el('dl', 'detail-fields');
    field(dl, 'Id', p.id);
    field(dl, 'Hash', p.hash);
    var dec = isObject(p.decoded) ? p.decoded : {};
    if (typeof dec.error === 'string') {
      field(dl, 'Header', 'cannot be decoded: ' + dec.error);
    } else {
      field(dl, 'Route', dec.routeType);
      field(dl, 'Payload type', dec.payloadTypeName + ' (' + dec.payloadType + ')');
      field(dl, 'Payload version', dec.payloadVersion);
      field(dl, 'Path', Array.isArray(dec.path) && dec.path.length ? dec.path.join(' → ') : 'none (0 hops)');
      field(dl, 'Hash size', dec.hashSize);
      field(dl, 'Payload length', dec.payloadLength + ' bytes');
      if (Array.isArray(dec.transportCodes)) field(dl, 'Transport codes', dec.transportCodes.join(', '));
    }
    field(dl, 'Raw', p.rawHex);
    var obs = Array.isArray(p.observations) ? p.observations.filter(isObject) : [];
    var rows = obs.map(function (o) {
      return { cells: [o.observer === null ? '—' : o.observer, num(o.snr) === null ? '—' : o.snr,
        num(o.rssi) === null ? '—' : o.rssi, num(o.hops) === null ? '—' : o.hops,
        new Date((num(o.timestamp) || 0) * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'] };
    });
    body.replaceChildren(dl, el('h3', null, obs.length + ' observation' + (obs.length === 1 ? '' : 's')),
      table(['Observer', 'SNR', 'RSSI', 'Hops', 'Time'], rows, 'Observations of this packet'));
  }

  function openDetail(id) {
    var d = document.getElementById('packet-detail');
    if (!d) return;
    if (window.location.hash !== '#packet=' + id) window.history.pushState(null, '', '#packet=' + id);
    lastFocus = document.activeElement;
    d.hidden = false;
    d.querySelector('.detail-title').textContent = 'Packet ' + id;
    d.querySelector('.detail-body').replaceChildren(el('p', 'empty', 'Loading…'));
    d.querySelector('.detail-close').focus();
    getJson('/api/packets/' + id).then(function (r) {
      if (r.status === 200 && isObject(r.body)) renderDetail(d, r.body);
      else d.querySelector('.detail-body').replaceChildren(el('p', 'empty',
        r.status === 404 ? 'No such packet.' : 'Could not load the packet (HTTP ' + r.status + ').'));
    }, function () {
      d.querySelector('.detail-body').replaceChildren(el('p', 'empty', 'Cannot reach meshscope.'));
    });
  }

  function followHash() {
    var id = packetIdFromHash(window.location.hash);
    if (id) openDetail(id);
    else closeDetail();
  }

  function start() {
    var d = document.getElementById('packet-detail');
    if (d) {
      d.querySelector('.detail-close').addEventListener('click', closeDetail);
      document.addEventListener('keydown', function (e) { if (e.key === 'Escape') closeDetail(); });
      window.addEventListener('popstate', followHash);
      window.addEventListener('hashchange', followHash);
      followHash();
    }
    var packets = document.getElementById('packets-table');
    if (packets) {
      var pick = function (e) {
        var row = e.target.closest ? e.target.closest('tr[data-id]') : null;
        if (row && (e.type === 'click' || e.key === 'Enter')) openDetail(row.dataset.id);
      };
      packets.addEventListener('click', pick);
      packets.addEventListener('keydown', pick);
    }
    var tick = function () {
      Promise.all([refreshObservers(), refreshTraffic()]).then(function () {
        window.setTimeout(tick, REFRESH_MS);
      });
    };
    tick();
  }

  api.openDetail = openDetail;
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
