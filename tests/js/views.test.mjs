// views.js's pure parts (docs/browser.md), loaded in a bare vm sandbox as the
// banner is: relative times, observer rows with silent ones marked, chart
// bars, and the packet id in the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const SOURCE_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'www', 'views.js');
const module = { exports: {} };
vm.runInContext(readFileSync(SOURCE_PATH, 'utf8'), vm.createContext({ window: {}, module, console, Date }),
  { filename: SOURCE_PATH });
const V = module.exports;
const plain = (v) => JSON.parse(JSON.stringify(v));

test('agoText: just now, minutes, hours, days, never', () => {
  const now = 1760000000;
  assert.equal(V.agoText(now - 59, now), 'just now');
  assert.equal(V.agoText(now - 180, now), '3 min ago');
  assert.equal(V.agoText(now - 3599, now), '59 min ago');
  assert.equal(V.agoText(now - 7200, now), '2 h ago');
  assert.equal(V.agoText(now - 86400 * 3, now), '3 d ago');
  for (const bad of [null, undefined, 0, -1, NaN, 'x']) assert.equal(V.agoText(bad, now), 'never');
});

test('observerRow: name or id, silent after 15 minutes, status fields when known', () => {
  const now = 1760000000;
  const row = plain(V.observerRow({ id: 'abc', name: 'Roof', region: 'SEA', lastPacketUnix: now - 120,
    packetsLastHour: 7, medianSnrLastHour: 5.5, medianRssiLastHour: -90, batteryMv: 4100, firmware: 'v1.9' }, now));
  assert.deepEqual(row, { silent: false, cells: ['Roof', 'SEA', '2 min ago', '7', '5.5 dB / -90 dBm', '4.10 V', 'v1.9'] });
  const quiet = plain(V.observerRow({ id: 'xyz', name: '', lastPacketUnix: now - V.SILENT_AFTER_S - 1 }, now));
  assert.equal(quiet.silent, true);
  assert.equal(quiet.cells[0], 'xyz');
  assert.equal(quiet.cells[2], '15 min ago (silent)');
  assert.deepEqual(quiet.cells.slice(3), ['—', '— / —', '—', '—']);
  assert.equal(V.observerRow({ id: 'n' }, now).silent, true);
});

test('chartBars: one bar per bucket, scaled to the largest, zero-safe', () => {
  const buckets = [0, 5, 10, 'x'].map((n, i) => ({ startUnix: i * 60, observations: n }));
  const c = plain(V.chartBars(buckets, 400, 100));
  assert.equal(c.bars.length, 4);
  assert.equal(c.max, 10);
  assert.deepEqual(c.bars.map((b) => b.height), [0, 50, 100, 0]);
  assert.deepEqual(c.bars.map((b) => b.x), [0, 100, 200, 300]);
  assert.equal(plain(V.chartBars([{ observations: 0 }], 10, 10)).bars[0].height, 0);
});

test('packetIdFromHash: only #packet=DIGITS', () => {
  assert.equal(V.packetIdFromHash('#packet=42'), '42');
  for (const h of ['', '#packet=', '#packet=0', '#packet=-1', '#packet=1x', '#packet=12345678901234567890', '#x=1'])
    assert.equal(V.packetIdFromHash(h), null, h);
});
