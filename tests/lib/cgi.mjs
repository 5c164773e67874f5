// cgi.mjs: runs meshscope-fcgi once in CGI mode (fd 0 not a socket) and
// parses its answer; builds database files in known states with sqlite3.
import { spawnSync, execFileSync } from 'node:child_process';
import path from 'node:path';
import { BINDIR } from './stack.mjs';

export const FCGI = path.join(BINDIR, 'fcgi', 'meshscope-fcgi');

// The current schema of docs/database.md, as the worker creates it.
export const SCHEMA = `
CREATE TABLE transmissions(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,
  raw_hex TEXT NOT NULL, payload_type INTEGER, first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE observations(id INTEGER PRIMARY KEY AUTOINCREMENT,
  transmission_id INTEGER NOT NULL REFERENCES transmissions(id),
  observer TEXT, snr REAL, rssi REAL, path_json TEXT, timestamp INTEGER NOT NULL);
CREATE TABLE _async_migrations(name TEXT PRIMARY KEY, status TEXT NOT NULL,
  started_at TEXT NOT NULL DEFAULT (datetime('now')), ended_at TEXT, error TEXT,
  rows_processed INTEGER NOT NULL DEFAULT 0, rows_total INTEGER NOT NULL DEFAULT 0,
  last_update_at TEXT);
CREATE INDEX idx_observations_transmission_id ON observations(transmission_id);
CREATE INDEX idx_transmissions_last_seen ON transmissions(last_seen);
`;

export function sqlite(db, sql) {
  return execFileSync('sqlite3', ['-batch', db], { input: sql, encoding: 'utf8' });
}

// Runs one request; returns { status, headers (lower-case keys), body, raw, stderr }.
export function cgi({ db, method = 'GET', uri, query, scriptName, pathInfo, uid, args = [] }) {
  const env = { PATH: process.env.PATH, REQUEST_METHOD: method };
  if (uri !== undefined) env.REQUEST_URI = uri;
  if (query !== undefined) env.QUERY_STRING = query;
  else if (uri && uri.includes('?')) env.QUERY_STRING = uri.slice(uri.indexOf('?') + 1);
  if (scriptName !== undefined) env.SCRIPT_NAME = scriptName;
  if (pathInfo !== undefined) env.PATH_INFO = pathInfo;
  const opts = { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 };
  if (uid !== undefined) { opts.uid = uid; opts.gid = uid; }
  const res = spawnSync(FCGI, ['--db', db, ...args], opts);
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(`meshscope-fcgi exited ${res.status} (signal ${res.signal}): ${res.stderr}`);
  }
  const raw = res.stdout;
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no header/body separator in ${JSON.stringify(raw.toString())}`);
  const headerLines = raw.subarray(0, split).toString('latin1').split('\r\n');
  const headers = {};
  let status = 0;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') status = Number(value.split(' ')[0]);
    else headers[name] = value;
  }
  const bodyBytes = raw.subarray(split + 4);
  return { status, headers, bodyBytes, body: bodyBytes.toString('utf8'), stderr: res.stderr.toString() };
}

// Parses a JSON body, insisting on valid UTF-8 and JSON.
export function json(res) {
  new TextDecoder('utf-8', { fatal: true }).decode(res.bodyBytes);
  return JSON.parse(res.body);
}
