// The man pages in man/ agree with the programs: every option a program's
// --help lists (its own and each subcommand's) is documented in its page, and
// every option the page documents is in a --help. Each page renders with
// `man` and groff without a warning, as lintian checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TOP, BINDIR } from '../lib/stack.mjs';
import { run } from './lib.mjs';

const MAN = path.join(TOP, 'man');
const pages = () => readdirSync(MAN).filter((f) => /\.[1-8]$/.test(f));

// The built program of a page, wherever its component puts it in the build tree.
function binary(name) {
  for (const sub of readdirSync(BINDIR, { withFileTypes: true })) {
    const candidate = path.join(BINDIR, sub.name, name);
    if (sub.isDirectory() && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function help(bin, args) {
  const r = run(bin, [...args, '--help']);
  assert.equal(r.status, 0, `${path.basename(bin)} ${args.join(' ')} --help: ${r.stderr}`);
  return r.stdout;
}

// Options in a --help text: those of the usage block (up to the first blank
// line) and of the lines that define one (indented, starting with --), taken
// from the part before the description column.
function helpOptions(text) {
  const options = new Set();
  const lines = text.split('\n');
  const blank = lines.findIndex((l) => !l.trim());
  const add = (s) => { for (const m of s.matchAll(/--[a-z0-9][a-z0-9-]*/g)) options.add(m[0]); };
  lines.slice(0, blank < 0 ? lines.length : blank).forEach(add);
  for (const line of lines) {
    if (/^\s+--/.test(line)) add(line.trim().split(/\s{2,}/)[0]);
  }
  return options;
}

// Subcommands: "Usage: PROG WORD ..." lines and the entries of a "Commands:" list.
function subcommands(text, prog) {
  const found = new Set();
  for (const m of text.matchAll(new RegExp(`^(?:Usage:)?\\s*${prog} ([a-z][a-z-]*)\\b`, 'gm'))) found.add(m[1]);
  const list = text.split(/^Commands:\s*$/m)[1];
  if (list) {
    for (const line of list.split('\n').slice(1)) {
      if (!line.trim()) break;
      const m = line.match(/^\s+([a-z][a-z-]*)\s{2,}/);
      if (m) found.add(m[1]);
    }
  }
  return [...found];
}

// Options a man page documents: in its SYNOPSIS and in the tags of its .TP
// paragraphs, with roff's \- read as a hyphen.
function manOptions(source) {
  const options = new Set();
  const add = (s) => {
    for (const m of s.replaceAll('\\-', '-').matchAll(/--[a-z0-9][a-z0-9-]*/g)) options.add(m[0]);
  };
  const lines = source.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const sh = lines[i].match(/^\.SH\s+"?([^"]+)"?/);
    if (sh) { section = sh[1].trim(); continue; }
    if (section === 'SYNOPSIS' && !lines[i].startsWith('.SH')) add(lines[i]);
    if (lines[i].startsWith('.TP') && lines[i + 1] !== undefined) add(lines[i + 1]);
  }
  return options;
}

function programOf(page) {
  return path.basename(page).replace(/\.[1-8]$/, '');
}

test('there is a man page for each program the package installs', () => {
  const programs = pages().map(programOf);
  for (const name of ['meshscope-worker', 'meshscope-fcgi', 'meshscope-ingest']) {
    assert.ok(programs.includes(name), `man/${name}.*`);
  }
  const mqtt = binary('meshscope-mqtt');
  if (mqtt) assert.ok(programs.includes('meshscope-mqtt'), 'man/meshscope-mqtt.8');
});

for (const page of pages()) {
  const prog = programOf(page);
  test(`${page}: the same options as ${prog} --help and its subcommands' --help`, () => {
    const bin = binary(prog);
    assert.ok(bin, `${prog} is not built in ${BINDIR}`);
    const text = help(bin, []);
    const texts = [text, ...subcommands(text, prog).map((sub) => help(bin, [sub]))];
    // Defined in --help: must be in the page. Documented in the page: must
    // appear somewhere in a --help (some, like --help itself, only in prose).
    const defined = new Set(texts.flatMap((t) => [...helpOptions(t)]));
    const mentioned = new Set(texts.flatMap((t) => t.match(/--[a-z0-9][a-z0-9-]*/g) ?? []));
    const fromMan = manOptions(readFileSync(path.join(MAN, page), 'utf8'));
    assert.deepEqual([...defined].filter((o) => !fromMan.has(o)).sort(), [],
      `in --help but not in ${page}`);
    assert.deepEqual([...fromMan].filter((o) => !mentioned.has(o)).sort(), [],
      `in ${page} but in no --help`);
  });

  test(`${page}: man and groff render it without a warning`, () => {
    const file = path.join(MAN, page);
    const env = { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8' };
    // lintian's own check (manpage-has-errors-from-man), then a plain render.
    const lint = run('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', file], { env });
    assert.equal(lint.status, 0, lint.stderr);
    assert.equal(lint.stderr, '', `man --warnings: ${lint.stderr}`);
    const text = run('man', ['--warnings', '-l', file], { env });
    assert.equal(text.stderr, '', text.stderr);
    assert.match(text.stdout, new RegExp(`^NAME\\s*\\n\\s+${prog}\\s+-\\s`, 'm'));
    const groff = run('groff', ['-ww', '-z', '-man', '-Tutf8', file], { env });
    assert.equal(groff.stderr, '', `groff -ww: ${groff.stderr}`);
  });
}
