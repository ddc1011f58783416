// The page's clock sync and the phone simulator's Rust port (sim/src/sync.rs) are one algorithm:
// both must reproduce the traces in sim/vectors/sync.json (written from the Rust port).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const checker = join(repo, 'sim', 'vectors', 'check-sync.mjs');

for (const file of ['src/sync.js', 'www/sync.js']) {
  test(`${file} matches the Rust port's sync vectors`, () => {
    // check-sync exits 1 (and execFileSync throws) on any difference.
    const out = execFileSync(process.execPath, [checker, join(repo, 'page', file)], { encoding: 'utf8' });
    assert.match(out, /match|ok/i);
  });
}
