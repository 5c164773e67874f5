/* app.js: the dashboard on index.html: totals from /api/stats, every
 * migration from /api/perf/async-migrations, and the recent-packets table from
 * /api/packets with keyset paging, all refreshed live.
 *
 * Like warmup-banner.js it is a classic script whose pure helpers load in a
 * bare `vm` sandbox (for the unit tests); the DOM part runs only where a
 * document exists. It uses the banner's shared helpers (isObject,
 * formatCount, formatHms, el, getJson), so it loads after warmup-banner.js.
 * Every server-supplied string reaches the DOM as text. */
(function () {
  'use strict';

  var REFRESH_MS = 5000;
  var REFRESH_BUSY_MS = 2000;
  var PACKETS_PAGE_SIZE = 25;

  var shared = window.__warmupBanner;
  var isObject = shared.isObject;

  function finiteNumber(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  /* A count with thousands separators; a dash when it is not one. */
  function formatCount(v) {
    return shared.formatCount(v, '\u2014');
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /* Unix seconds as "YYYY-MM-DD HH:MM:SS UTC"; a dash for 0 or nonsense
   * (last_seen is 0 until the backfill or ingest fills it). */
  function formatUnixTime(sec) {
    var n = finiteNumber(sec);
    if (n === null || n <= 0) return '\u2014';
    var d = new Date(n * 1000);
    if (isNaN(d.getTime())) return '\u2014';
    return d.getUTCFullYear() + '-' + pad2(d.getUTCMonth() + 1) + '-' + pad2(d.getUTCDate()) + ' ' +
      pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds()) + ' UTC';
  }

  /* A duration in seconds as "1h 2m 5s" / "2m 5s" / "5s" (the banner's
   * format; warmup-banner.js loads first); a dash when unknown. */
  function formatDuration(sec) {
    var n = finiteNumber(sec);
    if (n === null || n < 0) return '\u2014';
    return shared.formatHms(Math.round(n));
  }

  /* The API's database timestamps (either format, docs/database.md) shown as they are, in UTC. */
  function formatDbTime(s) {
    if (typeof s !== 'string' || s === '') return '\u2014';
    var m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})/.exec(s);
    return m ? m[1] + ' ' + m[2] + ' UTC' : s;
  }

  var STAT_LABELS = [
    ['transmissions', 'Transmissions', 'count'],
    ['observations', 'Observations', 'count'],
    ['newestLastSeen', 'Newest packet seen', 'time'],
  ];

  /* The totals cards, in a fixed order: the known fields first, then any
   * other top-level number the responder adds. */
  function statsCards(stats) {
    if (!isObject(stats)) return [];
    var cards = [];
    var seen = Object.create(null);
    STAT_LABELS.forEach(function (entry) {
      var key = entry[0];
      if (!(key in stats)) return;
      seen[key] = true;
      if (entry[2] === 'time') {
        cards.push({ key: key, label: entry[1], value: formatUnixTime(stats[key]), kind: 'time' });
      } else {
        cards.push({ key: key, label: entry[1], value: formatCount(stats[key]) });
      }
    });
    Object.keys(stats).forEach(function (key) {
      if (seen[key] || finiteNumber(stats[key]) === null) return;
      var label = key.replace(/_/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
      cards.push({ key: key, label: label.charAt(0).toUpperCase() + label.slice(1), value: formatCount(stats[key]) });
    });
    return cards;
  }

  /* The rows and the cursor of an /api/packets answer. */
  function packetsFromBody(body) {
    var rows = isObject(body) && Array.isArray(body.packets) ? body.packets : [];
    var next = isObject(body) ? body.next : null;
    if (typeof next === 'string' && /^[0-9]+$/.test(next)) next = Number(next);
    if (finiteNumber(next) === null || next <= 0) next = null;
    return { rows: rows.filter(isObject), next: next };
  }

  function packetsUrl(limit, before) {
    var url = '/api/packets?limit=' + encodeURIComponent(String(limit));
    if (before !== null && before !== undefined) url += '&before=' + encodeURIComponent(String(before));
    return url;
  }

  /* last_seen 0 means "not filled yet" only for a transmission that has
   * observations; one without any keeps 0 for good (the backfill skips it). */
  function lastSeenText(p) {
    if (finiteNumber(p.lastSeen) !== 0) return formatUnixTime(p.lastSeen);
    return finiteNumber(p.observations) > 0 ? 'not yet backfilled' : '\u2014';
  }

  function packetRow(p) {
    return [
      finiteNumber(p.id) === null ? '\u2014' : String(p.id),
      typeof p.hash === 'string' ? p.hash : '\u2014',
      finiteNumber(p.payloadType) === null ? '\u2014' : String(p.payloadType),
      formatUnixTime(p.firstSeen),
      lastSeenText(p),
      formatCount(p.observations),
    ];
  }

  var STATUS_LABELS = { running: 'running', paused: 'paused', done: 'done', failed: 'failed' };

  function rateText(v) {
    var rate = finiteNumber(v);
    return rate !== null && rate > 0 ? formatCount(rate) + ' rows/s' : '\u2014';
  }

  /* "paused: REASON", "throttled: REASON" or the plain status (docs/operations.md). */
  function migrationState(m, status) {
    var reason = function (r) { return typeof r === 'string' && r !== '' ? ': ' + r : ''; };
    if (status === 'paused') return 'paused' + reason(m.pauseReason);
    if (status === 'running' && m.throttled === true) return 'throttled' + reason(m.throttleReason);
    return status;
  }

  /* Facts of a job still at work: its state when steered, its rates, ETA and where its time went. */
  function activeFacts(m, status, state) {
    var facts = [];
    if (state !== status || status === 'paused') facts.push(['State', state]);
    if (status === 'paused' && m.pausedAt !== undefined) facts.push(['Paused at', formatDbTime(m.pausedAt)]);
    if (finiteNumber(m.recentRatePerSec) !== null) {
      facts.push(['Rate (recent)', rateText(m.recentRatePerSec)]);
      facts.push(['Rate (lifetime)', rateText(m.ratePerSec)]);
    } else {
      facts.push(['Rate', rateText(m.ratePerSec)]);
    }
    var eta = finiteNumber(m.etaSec);
    if (status === 'paused') facts.push(['ETA', 'unknown while paused']);
    else facts.push(['ETA', eta !== null && eta > 0 ? formatDuration(eta) : 'unknown']);
    if (finiteNumber(m.activeSec) !== null) {
      facts.push(['Active', formatDuration(m.activeSec)]);
      facts.push(['Paused', formatDuration(finiteNumber(m.pausedSec) || 0)]);
      facts.push(['Throttled', formatDuration(finiteNumber(m.throttledSec) || 0)]);
    } else {
      facts.push(['Running for', formatDuration(m.elapsedSec)]);
    }
    facts.push(['Last progress', formatDbTime(m.lastUpdateAt)]);
    return facts;
  }

  /* What the migrations panel shows for one migration info object (docs/api.md). */
  function migrationView(m) {
    var status = STATUS_LABELS[m.status] || 'unknown';
    var done = finiteNumber(m.rowsProcessed);
    var total = finiteNumber(m.rowsTotal);
    var view = {
      name: typeof m.name === 'string' && m.name !== '' ? m.name : '(unnamed)',
      status: status,
      state: migrationState(m, status),
      rows: formatCount(done === null ? 0 : done) + ' / ' + formatCount(total === null ? 0 : total) + ' rows',
      percent: total !== null && total > 0 && done !== null ? Math.max(0, Math.min(100, (done / total) * 100)) : 0,
      facts: [['Started', formatDbTime(m.startedAt)]],
      error: null,
      stalled: m.stalled === true,
    };
    if (status === 'running' || status === 'paused') {
      view.facts = view.facts.concat(activeFacts(m, status, view.state));
    } else {
      view.facts.push(['Ended', formatDbTime(m.endedAt)]);
      view.facts.push(['Duration', formatDuration(m.elapsedSec)]);
    }
    if (m.kind === 'recurring') {
      /* A recurring job (retention): its row is its current or last run. */
      view.facts.push(['Runs every', formatDuration(m.everySec)]);
      var atWork = status === 'running' || status === 'paused';
      view.facts.push(['Next run', atWork ? 'after this run'
        : typeof m.nextRunAt === 'string' ? formatDbTime(m.nextRunAt) : 'not scheduled']);
    }
    if (typeof m.errorMessage === 'string' && m.errorMessage !== '') view.error = m.errorMessage;
    else if (status === 'failed') view.error = 'unknown error';
    return view;
  }

  var api = {
    REFRESH_MS: REFRESH_MS,
    REFRESH_BUSY_MS: REFRESH_BUSY_MS,
    PACKETS_PAGE_SIZE: PACKETS_PAGE_SIZE,
    formatCount: formatCount,
    formatUnixTime: formatUnixTime,
    formatDuration: formatDuration,
    formatDbTime: formatDbTime,
    statsCards: statsCards,
    packetsFromBody: packetsFromBody,
    packetsUrl: packetsUrl,
    packetRow: packetRow,
    migrationView: migrationView,
  };
  if (typeof window !== 'undefined' && window) window.__meshscopeApp = api;
  if (typeof module !== 'undefined' && module) module.exports = api;

  /* ---- Browser part. ---- */
  if (typeof document === 'undefined' || !document || typeof window === 'undefined') return;

  var el = shared.el;
  var getJson = shared.getJson;

  function problemText(result) {
    if (!result) return 'Cannot reach meshscope; retrying';
    var detail = isObject(result.body) && typeof result.body.error === 'string' ? ': ' + result.body.error : '';
    return 'Could not load (HTTP ' + result.status + detail + '); retrying';
  }

  function setNote(panel, text) {
    var note = panel.querySelector('.panel-note');
    if (!note) return;
    note.textContent = text || '';
    note.hidden = !text;
  }

  function ensureNote(panel) {
    if (!panel.querySelector('.panel-note')) {
      var note = el('p', 'panel-note');
      note.hidden = true;
      panel.appendChild(note);
    }
  }

  /* ---- Stats ---- */
  function renderStats(stats) {
    var holder = document.getElementById('stats-cards');
    var cards = statsCards(stats);
    var nodes = cards.map(function (c) {
      var card = el('div', c.kind === 'time' ? 'card card--time' : 'card');
      card.dataset.key = c.key;
      card.appendChild(el('div', 'card-value', c.value));
      card.appendChild(el('div', 'card-label', c.label));
      return card;
    });
    if (nodes.length === 0) nodes.push(el('p', 'empty', 'No totals yet.'));
    holder.replaceChildren.apply(holder, nodes);
  }

  function refreshStats() {
    var panel = document.getElementById('stats');
    return getJson('/api/stats').then(function (r) {
      if (r.status === 200 && isObject(r.body)) {
        renderStats(r.body);
        setNote(panel, '');
      } else if (r.status === 503) {
        setNote(panel, 'Waiting for the database\u2026');
      } else {
        setNote(panel, problemText(r));
      }
    }, function () {
      setNote(panel, problemText(null));
    });
  }

  /* ---- Migrations ---- */
  function renderMigrations(list) {
    var holder = document.getElementById('migrations-list');
    var migrations = Array.isArray(list) ? list.filter(isObject) : [];
    if (migrations.length === 0) {
      holder.replaceChildren(el('p', 'empty', 'No migrations recorded.'));
      return false;
    }
    var anyRunning = false;
    var ul = el('ul', 'migration-list');
    migrations.forEach(function (m) {
      var v = migrationView(m);
      var atWork = v.status === 'running' || v.status === 'paused';
      if (atWork) anyRunning = true;
      var li = el('li', 'migration migration--' + v.status);
      li.dataset.name = v.name;
      var head = el('div', 'migration-head');
      head.appendChild(el('span', 'migration-name', v.name));
      var pill = v.stalled ? 'stalled' : v.state === v.status ? v.status : v.state.split(':')[0];
      head.appendChild(el('span', 'pill pill--' + pill, pill));
      li.appendChild(head);
      if (atWork) {
        var bar = el('progress', 'migration-progress');
        bar.max = 100;
        bar.value = v.percent;
        bar.setAttribute('aria-label', 'Progress of migration ' + v.name);
        li.appendChild(bar);
      }
      li.appendChild(el('p', 'migration-rows', v.rows + (atWork ? ' (' + Math.floor(v.percent) + '%)' : '')));
      var dl = el('dl', 'facts');
      v.facts.forEach(function (f) {
        var row = el('div', 'fact');
        row.appendChild(el('dt', '', f[0]));
        row.appendChild(el('dd', '', f[1]));
        dl.appendChild(row);
      });
      li.appendChild(dl);
      if (v.error !== null) li.appendChild(el('p', 'migration-error', v.error));
      ul.appendChild(li);
    });
    holder.replaceChildren(ul);
    return anyRunning;
  }

  function refreshMigrations() {
    var panel = document.getElementById('migrations');
    return getJson('/api/perf/async-migrations').then(function (r) {
      if (r.status === 200 && Array.isArray(r.body)) {
        setNote(panel, '');
        return renderMigrations(r.body);
      }
      setNote(panel, problemText(r));
      return false;
    }, function () {
      setNote(panel, problemText(null));
      return false;
    });
  }

  /* ---- Packets ---- */
  var HEADERS = ['ID', 'Hash', 'Type', 'First seen', 'Last seen', 'Observations'];
  /* cursors[i] is the `before` of page i; page 0 is the newest and updates live. */
  var paging = { cursors: [null], next: null, loading: false, token: 0, signature: null };

  function renderPackets(rows) {
    var holder = document.getElementById('packets-table');
    /* Unchanged rows are left alone, so a live refresh keeps selection and scroll. */
    var signature = paging.cursors.length + JSON.stringify(rows);
    if (signature === paging.signature && holder.firstChild) return;
    paging.signature = signature;
    if (rows.length === 0) {
      holder.replaceChildren(el('p', 'empty', paging.cursors.length > 1 ? 'No older packets.' : 'No packets yet.'));
      return;
    }
    var wrap = el('div', 'table-wrap');
    wrap.tabIndex = 0;
    wrap.setAttribute('role', 'region');
    wrap.setAttribute('aria-label', 'Recent packets table');
    var table = el('table', 'packets');
    var thead = el('thead');
    var tr = el('tr');
    HEADERS.forEach(function (h, i) {
      var th = el('th', 'col-' + i, h);
      th.scope = 'col';
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el('tbody');
    rows.forEach(function (p) {
      var row = el('tr');
      if (typeof p.id === 'number') {
        row.dataset.id = String(p.id); /* views.js opens its detail on click or Enter */
        row.tabIndex = 0;
        row.className = 'packet-row';
      }
      packetRow(p).forEach(function (cell, i) {
        var td = el('td', 'col-' + i, cell);
        td.dataset.label = HEADERS[i]; /* the column name narrow screens show beside each value */
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    holder.replaceChildren(wrap);
  }

  function renderPager() {
    var newer = document.getElementById('packets-newer');
    var older = document.getElementById('packets-older');
    var where = document.getElementById('packets-page');
    newer.disabled = paging.loading || paging.cursors.length <= 1;
    older.disabled = paging.loading || paging.next === null;
    var before = paging.cursors[paging.cursors.length - 1];
    where.textContent = before === null ? 'Newest first, updating live' : 'Older than #' + before;
  }

  function loadPackets() {
    var panel = document.getElementById('packets');
    var before = paging.cursors[paging.cursors.length - 1];
    var token = ++paging.token;
    paging.loading = true;
    renderPager();
    return getJson(packetsUrl(PACKETS_PAGE_SIZE, before)).then(function (r) {
      if (token !== paging.token) return; /* a newer load superseded this one */
      if (r.status === 200 && isObject(r.body)) {
        var data = packetsFromBody(r.body);
        paging.next = data.next;
        renderPackets(data.rows);
        setNote(panel, '');
      } else {
        setNote(panel, r.status === 503 ? 'Waiting for the database\u2026' : problemText(r));
      }
    }, function () {
      if (token === paging.token) setNote(panel, problemText(null));
    }).then(function () {
      if (token !== paging.token) return;
      paging.loading = false;
      renderPager();
    });
  }

  function setupPager() {
    var panel = document.getElementById('packets');
    var nav = el('div', 'pager');
    var newer = el('button', 'pager-button', '\u2190 Newer');
    newer.type = 'button';
    newer.id = 'packets-newer';
    var where = el('span', 'pager-where');
    where.id = 'packets-page';
    var older = el('button', 'pager-button', 'Older \u2192');
    older.type = 'button';
    older.id = 'packets-older';
    newer.addEventListener('click', function () {
      if (paging.cursors.length <= 1) return;
      paging.cursors.pop();
      loadPackets();
    });
    older.addEventListener('click', function () {
      if (paging.next === null) return;
      paging.cursors.push(paging.next);
      loadPackets();
    });
    nav.appendChild(newer);
    nav.appendChild(where);
    nav.appendChild(older);
    panel.appendChild(nav);
    renderPager();
  }

  /* ---- The live loop ---- */
  var timer = null;

  function refreshAll() {
    timer = null;
    var work = [refreshStats(), refreshMigrations()];
    if (paging.cursors.length === 1 && !paging.loading) work.push(loadPackets());
    Promise.all(work).then(function (results) {
      return results[1] === true;
    }, function () {
      return false;
    }).then(function (busy) {
      document.body.dataset.updated = String(Date.now());
      timer = window.setTimeout(refreshAll, busy ? REFRESH_BUSY_MS : REFRESH_MS);
    });
  }

  function start() {
    ['stats', 'migrations', 'packets'].forEach(function (id) {
      var panel = document.getElementById(id);
      if (panel) ensureNote(panel);
    });
    if (!document.getElementById('stats-cards') || !document.getElementById('migrations-list') ||
        !document.getElementById('packets-table')) {
      return; /* not the dashboard page */
    }
    setupPager();
    refreshAll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
