// Helpers for the packaging suites: where the packaged files live in the tree,
// reading YAML through python3-yaml, and running a tool to completion.
import { spawnSync } from 'node:child_process';
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
