// Helpers for the packaging suites: where the packaged files live in the tree,
// reading YAML through python3-yaml, and running a tool to completion.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { TOP } from '../lib/stack.mjs';

export const RULES = path.join(TOP, 'packaging', 'prometheus', 'meshscope-rules.yml');
export const DASHBOARD = path.join(TOP, 'packaging', 'grafana', 'meshscope-dashboard.json');

// Runs a command; returns { status, stdout, stderr } and never throws on exit status.
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function readYaml(file) {
  const r = run('python3', ['-c',
    'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)', file]);
  if (r.status !== 0) throw new Error(`cannot parse ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// Every alerting rule of a rules file, by name.
export function alertRules(file = RULES) {
  const rules = {};
  for (const group of readYaml(file).groups) {
    for (const rule of group.rules) if (rule.alert) rules[rule.alert] = rule;
  }
  return rules;
}

// Metric names a PromQL expression uses (identifiers not followed by '(' that
// are not keywords, label names or durations).
export function metricNames(expr) {
  const stripped = expr.replace(/\{[^}]*\}/g, '{}').replace(/"[^"]*"/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const keywords = new Set(['and', 'or', 'unless', 'offset', 'bool', 'by', 'without', 'on',
    'ignoring', 'group_left', 'group_right']);
  const names = new Set();
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(?)/g)) {
    if (m[2] === '(' || keywords.has(m[1])) continue;
    if (/^\d/.test(m[1])) continue;
    names.add(m[1]);
  }
  // Durations like 5m, 30m lose their digits above: drop single-unit leftovers.
  for (const n of names) if (/^(ms|s|m|h|d|w|y)$/.test(n)) names.delete(n);
  return names;
}

// The sections of an ini-style file (systemd units, supervisord files):
// { 'Section': { Key: [values...] } }, comments and blank lines skipped.
export function parseIni(text, comment = /^\s*[#;]/) {
  const sections = {};
  let current;
  for (const line of text.split('\n')) {
    if (comment.test(line) || !line.trim()) continue;
    const head = line.match(/^\s*\[(.+)\]\s*$/);
    if (head) { current = sections[head[1]] ??= {}; continue; }
    const eq = line.indexOf('=');
    if (!current || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    (current[key] ??= []).push(line.slice(eq + 1).trim());
  }
  return sections;
}

// FastCGI (version 1) as nginx speaks it: one request, returns the responder's
// stdout (CGI-style headers and body) once END_REQUEST arrives.
export function fastcgiRequest(socketPath, params) {
  const record = (type, content) => {
    const head = Buffer.alloc(8);
    head.writeUInt8(1, 0); head.writeUInt8(type, 1); head.writeUInt16BE(1, 2);
    head.writeUInt16BE(content.length, 4);
    return Buffer.concat([head, content]);
  };
  const len = (n) => (n < 128 ? Buffer.from([n]) : Buffer.from([(n >>> 24) | 0x80, n >>> 16 & 255, n >>> 8 & 255, n & 255]));
  const pairs = Buffer.concat(Object.entries(params).flatMap(([k, v]) => {
    const kb = Buffer.from(k); const vb = Buffer.from(String(v));
    return [len(kb.length), len(vb.length), kb, vb];
  }));
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = Buffer.alloc(0);
    const out = [];
    sock.setTimeout(10000, () => sock.destroy(new Error('FastCGI request timed out')));
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(Buffer.concat([record(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])),
        record(4, pairs), record(4, Buffer.alloc(0)), record(5, Buffer.alloc(0))]));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 8) {
        const type = buf[1];
        const size = buf.readUInt16BE(4) + buf[6];
        if (buf.length < 8 + size) break;
        const content = buf.subarray(8, 8 + buf.readUInt16BE(4));
        buf = buf.subarray(8 + size);
        if (type === 6) out.push(content);
        if (type === 3) { sock.end(); resolve(Buffer.concat(out).toString('utf8')); }
      }
    });
  });
}
