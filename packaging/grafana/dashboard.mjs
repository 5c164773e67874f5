// The source of packaging/grafana/meshscope-dashboard.json (Grafana's JSON model,
// importable as is). After editing, regenerate it; a test checks they agree:
//
//   node packaging/grafana/dashboard.mjs > packaging/grafana/meshscope-dashboard.json
//
// Every query selects job="meshscope" and the $instance variable; each one is
// run against a real Prometheus by tests/packaging/dashboard.test.mjs.
const sel = '{job="meshscope", instance=~"$instance"}';
const S = (extra = '') => `{job="meshscope", instance=~"$instance"${extra}}`;
let id = 0;
let y = 0;
const panels = [];
const ds = { type: 'prometheus', uid: '${datasource}' };
function row(title) {
  panels.push({ type: 'row', id: ++id, title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
  y += 1;
}
let x = 0, rowH = 0;
function panel(p, w, h = 8) {
  if (x + w > 24) { x = 0; y += rowH; rowH = 0; }
  const full = {
    id: ++id, type: p.type ?? 'timeseries', title: p.title, description: p.description,
    datasource: ds, gridPos: { h, w, x, y },
    targets: p.targets.map((t, i) => ({ datasource: ds, refId: String.fromCharCode(65 + i),
      expr: t.expr, legendFormat: t.legend ?? '', instant: p.instant ?? false, range: !(p.instant ?? false),
      ...(p.format ? { format: p.format } : {}) })),
    fieldConfig: { defaults: { unit: p.unit ?? 'short', ...(p.defaults ?? {}) }, overrides: p.overrides ?? [] },
    options: p.options ?? (p.type === 'stat' || p.type === 'bargauge' ?
      { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: 'horizontal' } :
      { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } }),
  };
  if (p.transformations) full.transformations = p.transformations;
  panels.push(full);
  x += w; rowH = Math.max(rowH, h);
}
function endRow() { y += rowH; x = 0; rowH = 0; }

row('Migrations and maintenance jobs');
panel({ type: 'bargauge', title: 'Progress', unit: 'percentunit',
  description: 'Rows processed over rows planned, per migration.',
  defaults: { min: 0, max: 1 },
  targets: [{ expr: `meshscope_async_migration_rows_processed${sel} / clamp_min(meshscope_async_migration_rows_planned${sel}, 1)`, legend: '{{name}}' }] }, 8);
panel({ type: 'stat', title: 'ETA', unit: 's',
  description: 'Seconds until each running migration finishes, from its recent rate; 0 while unknown, paused or not running.',
  targets: [{ expr: `meshscope_async_migration_eta_seconds${sel}`, legend: '{{name}}' }] }, 8);
panel({ type: 'table', title: 'State', instant: true, format: 'table',
  description: 'Each migration\'s status (running, done, failed, unknown), and whether it is stalled, paused or throttled (1 = yes).',
  targets: [
    { expr: `max by (name, status) (meshscope_async_migration_status${sel}) == 1`, legend: '{{name}} {{status}}' },
    { expr: `max by (name) (meshscope_async_migration_stalled${sel})`, legend: '{{name}} stalled' },
    { expr: `max by (name) (meshscope_async_migration_paused${sel})`, legend: '{{name}} paused' },
    { expr: `max by (name) (meshscope_async_migration_throttled${sel})`, legend: '{{name}} throttled' },
  ],
  transformations: [{ id: 'merge', options: {} }, { id: 'organize', options: { excludeByName: { Time: true },
    renameByName: { 'Value #A': 'current', 'Value #B': 'stalled', 'Value #C': 'paused', 'Value #D': 'throttled' } } }],
  options: { showHeader: true } }, 8);
endRow();
panel({ title: 'Rate (rows per second)', unit: 'short',
  description: 'Lifetime rate over active time, and the worker\'s recent rate (about the last 30 s of active time).',
  targets: [
    { expr: `meshscope_async_migration_rate_rows_per_second${sel}`, legend: '{{name}} lifetime' },
    { expr: `meshscope_async_migration_recent_rate${sel}`, legend: '{{name}} recent' },
  ] }, 8);
panel({ title: 'Rows processed', unit: 'short',
  targets: [
    { expr: `meshscope_async_migration_rows_processed${sel}`, legend: '{{name}} processed' },
    { expr: `meshscope_async_migration_rows_planned${sel}`, legend: '{{name}} planned' },
  ] }, 8);
panel({ title: 'Share of time throttled', unit: 'percentunit',
  description: 'Fraction of each second a migration spends waiting on a throttle (WAL size, ingest wait, reader p99, flag file).',
  defaults: { min: 0, max: 1 },
  targets: [{ expr: `rate(meshscope_async_migration_throttled_seconds_total${sel}[$__rate_interval])`, legend: '{{name}}' }] }, 8);
endRow();

row('Live ingest');
panel({ title: 'Ingest lines per second', unit: 'short',
  targets: [
    { expr: `rate(meshscope_ingest_lines_accepted_total${sel}[$__rate_interval])`, legend: 'stored' },
    { expr: `rate(meshscope_ingest_lines_acked_total${sel}[$__rate_interval])`, legend: 'acknowledged' },
    { expr: `rate(meshscope_ingest_lines_rejected_total${sel}[$__rate_interval])`, legend: 'refused' },
  ] }, 8);
panel({ title: 'Group commits', unit: 'short',
  targets: [
    { expr: `rate(meshscope_ingest_commits_total${sel}[$__rate_interval])`, legend: 'commits per second' },
    { expr: `meshscope_ingest_commit_rows_max${sel}`, legend: 'most lines in one commit' },
  ] }, 8);
panel({ title: 'Ingest acknowledgement latency', unit: 's',
  targets: [
    { expr: `meshscope_ingest_ack_latency_p50_seconds${sel}`, legend: 'p50' },
    { expr: `meshscope_ingest_ack_latency_p99_seconds${sel}`, legend: 'p99' },
  ] }, 8);
endRow();

row('MQTT sources (meshscope-mqtt)');
panel({ title: 'MQTT messages per second by source and result', unit: 'short',
  description: 'What the bridge did with each message: received, stored, duplicate, filtered (region), status.',
  targets: [{ expr: `sum by (source, result) (rate(meshscope_mqtt_messages_total${sel}[$__rate_interval]))`, legend: '{{source}} {{result}}' }] }, 8);
panel({ title: 'MQTT errors per second by reason', unit: 'short',
  description: 'Messages the bridge refused (malformed) and lines the worker refused, by reason.',
  targets: [
    { expr: `sum by (source, reason) (rate(meshscope_mqtt_bad_messages_total${sel}[$__rate_interval]))`, legend: '{{source}} bad: {{reason}}' },
    { expr: `sum by (source, reason) (rate(meshscope_mqtt_refused_lines_total${sel}[$__rate_interval]))`, legend: '{{source}} refused: {{reason}}' },
  ] }, 8);
panel({ title: 'Seconds since the last packet, per source', unit: 's',
  description: 'Since the last message from the broker (receipt) and since the worker last stored one of its packets. Receipts fresh but storing old means the write path is stuck.',
  targets: [
    { expr: `time() - meshscope_mqtt_source_last_receipt_timestamp_seconds${sel}`, legend: '{{source}} received' },
    { expr: `time() - meshscope_mqtt_source_last_stored_timestamp_seconds${sel}`, legend: '{{source}} stored' },
  ] }, 8);
endRow();
panel({ type: 'stat', title: 'Connected sources', unit: 'short',
  targets: [{ expr: `meshscope_mqtt_source_connected${sel}`, legend: '{{source}}' }] }, 8);
panel({ title: 'Lines in flight to the worker', unit: 'short',
  description: 'Lines the bridge holds until the worker acknowledges them; a crash of the bridge loses at most these.',
  targets: [{ expr: `meshscope_mqtt_in_flight_lines${sel}`, legend: 'in flight' }] }, 8);
panel({ title: 'Bridge take-to-acknowledgement p99', unit: 's',
  description: 'From the bridge taking a message from the broker to the worker acknowledging it as stored.',
  targets: [{ expr: `meshscope_mqtt_ack_latency_p99_seconds${sel}`, legend: 'p99' }] }, 8);
endRow();

row('Writer and database (meshscope-worker)');
panel({ title: 'Writer held, seconds per second by source', unit: 'percentunit',
  description: 'Share of time each source (ingest, migration:NAME, retention, checkpoint, progress) holds SQLite\'s single writer. One source near 1 starves the others.',
  targets: [{ expr: `sum by (source) (rate(meshscope_writer_hold_seconds_sum${sel}[$__rate_interval]))`, legend: '{{source}}' }] }, 8);
panel({ title: 'Writer waited, seconds per second by source', unit: 'percentunit',
  description: 'Time each source spent waiting for the writer; ingest waiting long is what the ingest-wait throttle reacts to.',
  targets: [{ expr: `sum by (source) (rate(meshscope_writer_wait_seconds_sum${sel}[$__rate_interval]))`, legend: '{{source}}' }] }, 8);
panel({ title: 'Database and WAL size', unit: 'bytes',
  description: 'The -wal file grows while a reader holds an old snapshot; past --critical-wal-mb the worker pauses its jobs (alert MeshscopeWalCritical).',
  targets: [
    { expr: `meshscope_sqlite_database_bytes${sel}`, legend: 'database' },
    { expr: `meshscope_sqlite_wal_bytes${sel}`, legend: 'WAL' },
  ] }, 8);
endRow();
panel({ type: 'stat', title: 'Observers heard in the last hour', unit: 'short',
  targets: [{ expr: `count((time() - meshscope_observer_last_packet_timestamp_seconds${sel}) < 3600) or vector(0)`, legend: 'observers' }] }, 8);
panel({ title: 'Packets per observer per second', unit: 'short',
  targets: [{ expr: `sum by (observer) (rate(meshscope_observer_packets_total${sel}[$__rate_interval]))`, legend: '{{observer}}' }] }, 16);
endRow();

row('Readers (responder pool)');
panel({ title: 'Requests per second by endpoint', unit: 'reqps',
  targets: [{ expr: `sum by (endpoint, code) (rate(meshscope_http_requests_total${sel}[$__rate_interval]))`, legend: '{{endpoint}} {{code}}' }] }, 8);
panel({ title: 'Latency p99 by endpoint', unit: 's',
  targets: [{ expr: `histogram_quantile(0.99, sum by (endpoint, le) (rate(meshscope_http_request_duration_seconds_bucket${sel}[$__rate_interval])))`, legend: '{{endpoint}}' }] }, 8);
panel({ title: 'Latency p50 by endpoint', unit: 's',
  targets: [{ expr: `histogram_quantile(0.5, sum by (endpoint, le) (rate(meshscope_http_request_duration_seconds_bucket${sel}[$__rate_interval])))`, legend: '{{endpoint}}' }] }, 8);
endRow();
panel({ type: 'stat', title: 'Responders alive', unit: 'short',
  targets: [{ expr: `meshscope_responders${sel}`, legend: 'responders' }, { expr: `up${sel}`, legend: 'scrape up' }] }, 8);
panel({ title: 'Responder memory (RSS)', unit: 'bytes',
  targets: [{ expr: `meshscope_responder_resident_memory_bytes${sel}`, legend: 'slot {{slot}} pid {{pid}}' }] }, 8);
panel({ type: 'stat', title: 'Migrations read errors', unit: 'short',
  description: '1 when a responder could not read _async_migrations.',
  targets: [{ expr: `max(meshscope_async_migrations_read_error${sel})`, legend: 'read error' }] }, 8);
endRow();

const dashboard = {
  __inputs: [], __requires: [
    { type: 'grafana', id: 'grafana', name: 'Grafana', version: '9.0.0' },
    { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
  ],
  uid: 'meshscope', title: 'meshscope', description: 'meshscope: migrations, live ingest and the responder pool (docs/packaging.md).',
  tags: ['meshscope'], timezone: '', editable: true, graphTooltip: 1, refresh: '30s',
  schemaVersion: 37, version: 1, time: { from: 'now-6h', to: 'now' }, timepicker: {},
  annotations: { list: [] }, links: [],
  templating: { list: [
    { type: 'datasource', name: 'datasource', label: 'Prometheus', query: 'prometheus', current: {}, hide: 0, refresh: 1 },
    { type: 'query', name: 'instance', label: 'Instance', datasource: ds,
      definition: 'label_values(up{job="meshscope"}, instance)',
      query: { query: 'label_values(up{job="meshscope"}, instance)', refId: 'instance' },
      includeAll: true, multi: true, allValue: '.*', current: {}, refresh: 2, hide: 0, sort: 1 },
  ] },
  panels,
};
process.stdout.write(JSON.stringify(dashboard, null, 2) + '\n');
