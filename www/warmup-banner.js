/* warmup-banner.js: the warm-up banner every page shows while the system is
 * not in steady state (docs/browser.md): migration progress, failed
 * migrations and "starting up", from polling /api/healthz.
 *
 * It is a classic script, not a module, so that it also loads in a plain `vm`
 * sandbox holding only window, module, console and Date: the pure functions
 * below need nothing else, and the browser part (mount, polling, DOM) runs
 * only when a `document` exists.
 *
 * It is also the site's one shared script: every page loads it with a single
 * tag, so the helpers the dashboard needs too (isObject, formatCount, el,
 * getJson) live here, exported, and app.js uses them rather than copies. */
(function () {
  'use strict';

  var FAILED_AUTO_DISMISS_MS = 10 * 60 * 1000;
  /* While a migration runs (or the server is starting up) the banner polls at
   * this pace; in steady state it polls at IDLE_POLL_INTERVAL_MS and never
   * stops, so a failure that appears later shows up without a reload. */
  var POLL_INTERVAL_MS = 2000;
  var IDLE_POLL_INTERVAL_MS = 30000;
  var FETCH_TIMEOUT_MS = 10000;

  /* Dismissed failures live in memory only, so a reload shows them again.
   * name -> endedAt string of the dismissed failure, or true for "any". */
  var dismissed = Object.create(null);

  function isObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  }

  /* A count from a server field: finite and >= 0, rounded; null otherwise.
   * Numeric strings are accepted. */
  function countOf(v) {
    var n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !isFinite(n) || n < 0) return null;
    return Math.round(n);
  }

  /* A count of rows from a server field, 0 when it is not one. */
  function toCount(v) {
    var n = countOf(v);
    return n === null ? 0 : n;
  }

  /* en-US thousands separators (12,000), without relying on Intl. What is not
   * a count shows as `unknown`, or as 0 when no `unknown` is given (the
   * banner's rule; the dashboard passes a dash). */
  function formatCount(v, unknown) {
    var n = countOf(v);
    if (n === null) return unknown === undefined ? '0' : unknown;
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  /* An element with a class and text content (text, never HTML). Touches the
   * document only when called. */
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* GETs a JSON endpoint, abandoned after FETCH_TIMEOUT_MS. Resolves
   * { status, body, json } (json false, body null when the answer was not
   * JSON); rejects on a network error or the timeout. */
  function getJson(url) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, FETCH_TIMEOUT_MS) : null;
    return new Promise(function (resolve) {
      resolve(window.fetch(url, {
        cache: 'no-store',
        headers: { Accept: 'application/json' },
        signal: controller ? controller.signal : undefined,
      }));
    }).then(function (res) {
      return res.json().then(function (body) {
        return { status: res.status, body: body, json: true };
      }, function () {
        return { status: res.status, body: null, json: false };
      });
    }).finally(function () {
      if (timer !== null) window.clearTimeout(timer);
    });
  }

  /* Rows done as a percentage of the total, clamped to 0..100; 0 when the
   * total is unknown or zero. */
  function progressPercent(done, total) {
    var d = toCount(done);
    var t = toCount(total);
    if (t <= 0) return 0;
    var p = (d / t) * 100;
    if (p < 0) return 0;
    if (p > 100) return 100;
    return p;
  }

  /* An ETA in seconds, or null when unknown. The API reports 0 for "unknown"
   * (docs/api.md), so zero, negative, NaN, infinite and non-numbers are all
   * unknown and the ETA part of the line is left out. */
  function etaSeconds(v) {
    if (typeof v !== 'number' || !isFinite(v) || v <= 0) return null;
    return v;
  }

  /* Whole seconds as "1h 2m 5s" / "2m 5s" / "5s" (the dashboard uses it too). */
  function formatHms(s) {
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    if (h > 0) return h + 'h ' + m + 'm ' + sec + 's';
    if (m > 0) return m + 'm ' + sec + 's';
    return sec + 's';
  }

  /* ETA rounded to whole seconds: "2s", "1m 5s", "2h 3m 4s"; "<1s" when a
   * known ETA rounds down to zero. null when unknown. */
  function formatEta(v) {
    var eta = etaSeconds(v);
    if (eta === null) return null;
    var s = Math.round(eta);
    if (s < 1) return '<1s';
    return formatHms(s);
  }

  /* Rows per second for display ("1,234 rows/s"), or null when unknown. */
  function formatRate(v) {
    if (typeof v !== 'number' || !isFinite(v) || v <= 0) return null;
    return formatCount(v) + ' rows/s';
  }

  var TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/i;

  /* Milliseconds since the epoch for a timestamp in either format the
   * database writes (docs/database.md): "YYYY-MM-DD HH:MM:SS" (datetime('now'), UTC)
   * or RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" (with an offset accepted too). NaN for
   * anything else, including impossible dates. */
  function parseTimestamp(s) {
    if (typeof s !== 'string') return NaN;
    var m = TIMESTAMP_RE.exec(s.trim());
    if (!m) return NaN;
    var y = +m[1], mo = +m[2], d = +m[3], h = +m[4], mi = +m[5], sec = +m[6];
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return NaN;
    var ms = Date.UTC(y, mo - 1, d, h, mi, sec);
    var check = new Date(ms);
    if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return NaN; /* Feb 30 */
    if (m[7]) ms += Math.floor(Number('0' + m[7]) * 1000);
    var zone = m[8];
    if (zone && zone.toUpperCase() !== 'Z') {
      var sign = zone.charAt(0) === '-' ? -1 : 1;
      var zh = +zone.substr(1, 2), zm = +zone.substr(4, 2);
      if (zh > 23 || zm > 59) return NaN;
      ms -= sign * (zh * 60 + zm) * 60000;
    }
    return ms;
  }

  function resolveNow(nowMs) {
    return typeof nowMs === 'number' && isFinite(nowMs) ? nowMs : Date.now();
  }

  function migrationName(m) {
    return typeof m.name === 'string' && m.name !== '' ? m.name : '(unnamed)';
  }

  /* A paused migration counts as running: its data is still incomplete. */
  /* A migration in progress keeps the site warming up. A recurring job's run
   * (kind "recurring": retention) does not: the data it works on is whole. */
  function isRunning(m) {
    return m.kind !== 'recurring' && (m.status === 'running' || m.status === 'paused');
  }

  function reasonOf(v) {
    return typeof v === 'string' && v.trim() !== '' ? v : null;
  }

  function migrationsOf(healthz) {
    if (!isObject(healthz) || !Array.isArray(healthz.async_migrations)) return [];
    return healthz.async_migrations.filter(isObject);
  }

  function isDismissed(m) {
    var d = dismissed[migrationName(m)];
    if (d === undefined) return false;
    return d === true || d === (typeof m.endedAt === 'string' ? m.endedAt : '');
  }

  /* A failed migration's line is visible until 10 minutes after its endedAt,
   * or until dismissed. A missing or unparseable endedAt keeps it (fail closed). */
  function isFailureVisible(m, nowMs) {
    if (m.status !== 'failed' || isDismissed(m)) return false;
    var ended = parseTimestamp(m.endedAt);
    if (isNaN(ended)) return true;
    return resolveNow(nowMs) - ended < FAILED_AUTO_DISMISS_MS;
  }

  /* "Migration NAME: 12,000 / 71,000 rows (ETA 2s)"; a paused one reads
   * "Migration NAME paused (REASON): ..." with no ETA, and a throttled one
   * shows "(throttled: REASON)" in place of the ETA. Stalled wins over both:
   * it means the worker is gone, whatever the job's state. */
  function runningText(m) {
    var paused = m.status === 'paused';
    var why = reasonOf(m.pauseReason);
    var head = 'Migration ' + migrationName(m) +
      (paused ? ' paused' + (why ? ' (' + why + ')' : '') : '');
    var text = head + ': ' + formatCount(m.rowsProcessed) + ' / ' + formatCount(m.rowsTotal) + ' rows';
    if (m.stalled === true) return text + ' (stalled: no progress reported recently)';
    if (paused) return text;
    if (m.throttled === true) {
      return text + ' (throttled: ' + (reasonOf(m.throttleReason) || 'database busy') + ')';
    }
    var eta = formatEta(m.etaSec);
    return eta === null ? text : text + ' (ETA ' + eta + ')';
  }

  function failedText(m) {
    var err = typeof m.errorMessage === 'string' && m.errorMessage.trim() !== ''
      ? m.errorMessage : 'unknown error';
    return 'Migration ' + migrationName(m) + ' FAILED: ' + err;
  }

  function isNetworkError(loadStatus) {
    return loadStatus === 'error' || loadStatus === 0;
  }

  /* The banner's content as structured items, in display order. Each has a
   * `kind` (starting, error, running, failed, pending) and the `text` that
   * getWarmupMessages returns; running items also carry progress figures and
   * failed ones the name and endedAt that dismissal needs.
   *
   * loadStatus is the outcome of the last /api/healthz request: its HTTP
   * status (200, 503, ...), or 'error' / 0 for a network failure, or
   * undefined when only the body is known. On a network error the last known
   * healthz may still be passed, and its lines are kept. */
  function getBannerItems(healthz, loadStatus, nowMs) {
    var items = [];
    var now = resolveNow(nowMs);
    if (isNetworkError(loadStatus)) {
      items.push({ kind: 'error', text: 'Cannot reach meshscope; retrying' });
    } else if (isObject(healthz) && healthz.ready === false) {
      var reason = typeof healthz.reason === 'string' && healthz.reason !== ''
        ? ' (' + healthz.reason + ')' : '';
      items.push({ kind: 'starting', text: 'meshscope is starting up' + reason });
      return items;
    } else if (loadStatus === 503) {
      items.push({ kind: 'starting', text: 'meshscope is starting up' });
      return items;
    } else if (typeof loadStatus === 'number' && loadStatus !== 200) {
      items.push({ kind: 'error', text: 'Health check failed (HTTP ' + loadStatus + '); retrying' });
      if (!isObject(healthz) || healthz.ready !== true) return items;
    }
    if (!isObject(healthz) || healthz.ready !== true) return items;

    var anyRunning = false;
    migrationsOf(healthz).forEach(function (m) {
      if (isRunning(m)) {
        anyRunning = true;
        items.push({
          kind: 'running',
          name: migrationName(m),
          text: runningText(m),
          rowsProcessed: toCount(m.rowsProcessed),
          rowsTotal: toCount(m.rowsTotal),
          percent: progressPercent(m.rowsProcessed, m.rowsTotal),
          rate: formatRate(m.ratePerSec),
          eta: formatEta(m.etaSec),
          stalled: m.stalled === true,
          paused: m.status === 'paused',
          throttled: m.status !== 'paused' && m.throttled === true,
        });
      } else if (isFailureVisible(m, now)) {
        items.push({
          kind: 'failed',
          name: migrationName(m),
          endedAt: typeof m.endedAt === 'string' ? m.endedAt : null,
          text: failedText(m),
        });
      }
    });
    if (typeof healthz.async_migrations_error === 'string' && healthz.async_migrations_error !== '') {
      items.push({ kind: 'error', text: 'Migration status unavailable: ' + healthz.async_migrations_error });
    } else if (healthz.async_migrations_running === true && !anyRunning) {
      /* The flag alone keeps the banner up (fail closed). */
      items.push({ kind: 'pending', text: 'A data migration is running' });
    }
    return items.concat(getLivenessItems(healthz, now));
  }

  /* Ingest liveness (docs/browser.md): per source of healthz.ingest_liveness,
   * in name order, a line when its receipts, or else its stored messages, are
   * strictly more than LIVENESS_STALE_MS old. A time that is not a positive
   * finite number of seconds no later than now adds nothing. */
  var LIVENESS_STALE_MS = 5 * 60 * 1000;

  function livenessTimeMs(v, now) {
    if (typeof v !== 'number' || !isFinite(v) || v <= 0) return null;
    var ms = v * 1000;
    return ms > now ? null : ms;
  }

  function livenessLine(source, entry, now) {
    if (!isObject(entry)) return null;
    var receipt = livenessTimeMs(entry.lastReceiptUnix, now);
    if (receipt === null) return null;
    if (now - receipt > LIVENESS_STALE_MS) {
      return 'No packets from ' + source + ' in ' + Math.floor((now - receipt) / 60000) + ' min.';
    }
    var stored = livenessTimeMs(entry.lastMessageUnix, now);
    if (stored === null || now - stored <= LIVENESS_STALE_MS) return null;
    return 'Packets from ' + source + ' are not being stored (last stored ' +
      Math.floor((now - stored) / 60000) + ' min ago).';
  }

  function getLivenessItems(healthz, now) {
    var items = [];
    if (!isObject(healthz) || !isObject(healthz.ingest_liveness)) return items;
    var live = healthz.ingest_liveness;
    Object.keys(live).sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; })
      .forEach(function (source) {
        var text = livenessLine(source, live[source], now);
        if (text !== null) items.push({ kind: 'liveness', name: source, text: text });
      });
    return items;
  }

  function getWarmupMessages(healthz, loadStatus, nowMs) {
    return getBannerItems(healthz, loadStatus, nowMs).map(function (i) { return i.text; });
  }

  function shouldShowBanner(healthz, loadStatus, nowMs) {
    return getBannerItems(healthz, loadStatus, nowMs).length > 0;
  }

  /* Steady state: ready, nothing running, no visible failure. A missing
   * async_migrations field means nothing is running (older responders). */
  function isSteadyState(healthz, nowMs) {
    if (!isObject(healthz) || healthz.ready !== true) return false;
    if (healthz.async_migrations_running === true) return false;
    if (typeof healthz.async_migrations_error === 'string' && healthz.async_migrations_error !== '') {
      return false;
    }
    var now = resolveNow(nowMs);
    if (getLivenessItems(healthz, now).length > 0) return false;
    return !migrationsOf(healthz).some(function (m) {
      return isRunning(m) || isFailureVisible(m, now);
    });
  }

  /* Hides a failed migration's line until reload. With endedAt, only that
   * failure is hidden, so a later failure of the same migration shows again. */
  function dismissFailedMigration(name, endedAt) {
    if (typeof name !== 'string') return;
    dismissed[name === '' ? '(unnamed)' : name] = typeof endedAt === 'string' ? endedAt
      : endedAt === null ? '' : true;
  }

  function _resetDismissedForTest() {
    dismissed = Object.create(null);
  }

  /* Delay before the next poll: fast while something is in progress, slow in
   * steady state or when only failures are shown, and never longer than the
   * time until a visible failure auto-dismisses. */
  function nextPollDelay(healthz, loadStatus, nowMs) {
    var items = getBannerItems(healthz, loadStatus, nowMs);
    var busy = items.some(function (i) {
      return i.kind === 'running' || i.kind === 'starting' || i.kind === 'pending';
    });
    var delay = busy ? POLL_INTERVAL_MS : IDLE_POLL_INTERVAL_MS;
    var now = resolveNow(nowMs);
    migrationsOf(healthz).forEach(function (m) {
      if (!isFailureVisible(m, now)) return;
      var ended = parseTimestamp(m.endedAt);
      if (isNaN(ended)) return;
      var untilExpiry = ended + FAILED_AUTO_DISMISS_MS - now + 50;
      if (untilExpiry < delay) delay = Math.max(untilExpiry, 50);
    });
    return delay;
  }

  var api = {
    getWarmupMessages: getWarmupMessages,
    shouldShowBanner: shouldShowBanner,
    isSteadyState: isSteadyState,
    dismissFailedMigration: dismissFailedMigration,
    FAILED_AUTO_DISMISS_MS: FAILED_AUTO_DISMISS_MS,
    POLL_INTERVAL_MS: POLL_INTERVAL_MS,
    IDLE_POLL_INTERVAL_MS: IDLE_POLL_INTERVAL_MS,
    _resetDismissedForTest: _resetDismissedForTest,
    getBannerItems: getBannerItems,
    nextPollDelay: nextPollDelay,
    formatCount: formatCount,
    formatEta: formatEta,
    formatHms: formatHms,
    formatRate: formatRate,
    progressPercent: progressPercent,
    parseTimestamp: parseTimestamp,
    isObject: isObject,
    el: el,
    getJson: getJson,
  };

  if (typeof window !== 'undefined' && window) window.__warmupBanner = api;
  if (typeof module !== 'undefined' && module) module.exports = api;

  /* ---- Browser part: only where a document exists. ---- */
  if (typeof document === 'undefined' || !document || typeof window === 'undefined') return;

  var state = { healthz: null, loadStatus: undefined, timer: null, root: null };

  function ensureRoot() {
    if (state.root && state.root.isConnected) return state.root;
    var root = document.getElementById('warmup-banner');
    if (!root) {
      root = document.createElement('div');
      root.id = 'warmup-banner';
      root.className = 'warmup-banner';
      root.hidden = true;
      document.body.insertBefore(root, document.body.firstChild);
    }
    root.setAttribute('role', 'status');
    root.setAttribute('aria-live', 'polite');
    if (!root.classList.contains('warmup-banner')) root.classList.add('warmup-banner');
    state.root = root;
    return root;
  }

  function renderRunning(item) {
    var li = el('li', 'warmup-line warmup-line--running');
    li.dataset.name = item.name;
    li.appendChild(el('span', 'warmup-text', item.text));
    var bar = el('progress', 'warmup-progress');
    bar.max = item.rowsTotal > 0 ? item.rowsTotal : 1;
    bar.value = item.rowsTotal > 0 ? Math.min(item.rowsProcessed, item.rowsTotal) : 0;
    bar.setAttribute('aria-label', 'Progress of migration ' + item.name);
    li.appendChild(bar);
    var details = [Math.floor(item.percent) + '%'];
    if (item.rate) details.push(item.rate);
    if (!item.eta && !item.stalled && !item.paused && !item.throttled) details.push('ETA unknown');
    li.appendChild(el('span', 'warmup-details', details.join(' \u00b7 ')));
    if (item.stalled) li.classList.add('warmup-line--stalled');
    if (item.paused) li.classList.add('warmup-line--paused');
    if (item.throttled) li.classList.add('warmup-line--throttled');
    return li;
  }

  function renderFailed(item) {
    var li = el('li', 'warmup-line warmup-line--failed');
    li.dataset.name = item.name;
    li.appendChild(el('span', 'warmup-text', item.text));
    var button = el('button', 'warmup-dismiss', '\u00d7');
    button.type = 'button';
    button.setAttribute('aria-label', 'Dismiss failed migration ' + item.name);
    button.title = 'Dismiss';
    button.addEventListener('click', function () {
      dismissFailedMigration(item.name, item.endedAt);
      render();
      var next = state.root && state.root.querySelector('.warmup-dismiss');
      if (next) next.focus();
    });
    li.appendChild(button);
    return li;
  }

  function render() {
    var root = ensureRoot();
    var items = getBannerItems(state.healthz, state.loadStatus, Date.now());
    var list = el('ul', 'warmup-list');
    items.forEach(function (item) {
      var li;
      if (item.kind === 'running') li = renderRunning(item);
      else if (item.kind === 'failed') li = renderFailed(item);
      else li = el('li', 'warmup-line warmup-line--' + item.kind, item.text);
      list.appendChild(li);
    });
    /* Rebuild only when something changed, so focus and the live region stay calm. */
    var signature = items.map(function (i) { return i.kind + '\u0000' + i.text + '\u0000' + (i.rate || ''); }).join('\u0001');
    if (root.dataset.signature !== signature) {
      var active = document.activeElement;
      var focusedName = active && root.contains(active) && active.parentNode && active.parentNode.dataset
        ? active.parentNode.dataset.name : null;
      root.replaceChildren(list);
      root.dataset.signature = signature;
      if (focusedName) {
        var again = root.querySelectorAll('.warmup-line--failed');
        for (var i = 0; i < again.length; i++) {
          if (again[i].dataset.name === focusedName) again[i].querySelector('button').focus();
        }
      }
    }
    root.hidden = items.length === 0;
    root.dataset.state = items.length === 0 ? 'steady' : 'warming';
    root.dataset.renderedAt = String(Date.now());
  }

  function schedule(delay) {
    if (state.timer !== null) window.clearTimeout(state.timer);
    state.timer = window.setTimeout(poll, delay);
  }

  function poll() {
    state.timer = null;
    var done = function () {
      try {
        render();
      } catch (e) {
        if (typeof console !== 'undefined') console.error('warmup banner: render failed', e);
      }
      var delay = IDLE_POLL_INTERVAL_MS;
      try {
        delay = nextPollDelay(state.healthz, state.loadStatus, Date.now());
      } catch (e) { /* keep the idle pace */ }
      schedule(delay);
    };
    getJson('/api/healthz').then(function (r) {
      if (r.json) {
        state.loadStatus = r.status;
        state.healthz = isObject(r.body) ? r.body : null;
      } else {
        /* Not JSON (an nginx error page, say): keep the last known body. */
        state.loadStatus = r.status === 200 ? 'error' : r.status;
      }
    }, function () {
      state.loadStatus = 'error';
    }).then(done, done);
  }

  function start() {
    ensureRoot();
    render();
    poll();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
