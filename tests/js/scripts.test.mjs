// The developer scripts' own refusals: what scripts/test and scripts/build say
// when they cannot do what was asked, before they install or build anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('scripts/test with an unknown suite lists the real suite names and exits 2', () => {
  const r = spawnSync(path.join(TOP, 'scripts', 'test'), ['unit', 'foo'], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /unknown suite 'foo' \(known: unit nocmocka valgrind fuzz js integration browser bench packaging\)/);
  assert.doesNotMatch(r.stdout, /=== suite/, 'nothing ran');
});

test('scripts/build in a tree configured in place says exactly what to run', () => {
  // A stand-in tree: the real script, a configure newer than configure.ac (so
  // it does not regenerate), and the config.status an in-place ./configure leaves.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshscope-inplace-'));
  try {
    mkdirSync(path.join(dir, 'scripts'));
    copyFileSync(path.join(TOP, 'scripts', 'build'), path.join(dir, 'scripts', 'build'));
    writeFileSync(path.join(dir, 'configure.ac'), '');
    writeFileSync(path.join(dir, 'Makefile.am'), '');
    writeFileSync(path.join(dir, 'configure'), '#!/bin/sh\necho configure ran >&2; exit 99\n');
    chmodSync(path.join(dir, 'configure'), 0o755);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, 'configure.ac'), old, old);
    utimesSync(path.join(dir, 'Makefile.am'), old, old);
    writeFileSync(path.join(dir, 'config.status'), '');
    const r = spawnSync(path.join(dir, 'scripts', 'build'), ['--sanitize'], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /configured in place/);
    assert.match(r.stderr, /make distclean && scripts\/build --sanitize/);
    assert.match(r.stderr, /mkdir -p build\/manual && cd build\/manual && \.\.\/\.\.\/configure && make/);
    assert.doesNotMatch(r.stderr, /configure ran/, 'it stops before running configure');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
