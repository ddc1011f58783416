// www/*.js must be exactly the build of src/*.js (the portal embeds www/ as checked in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, WWW } from './tools/build.mjs';

test('www/*.js is the current build of src/*.js (run `npm run build` after editing src/)', async () => {
  const built = await build();
  assert.ok(built.length >= 5);
  for (const [name, text] of built) {
    assert.equal(readFileSync(join(WWW, name), 'utf8'), text, `www/${name} is stale`);
  }
  const names = new Set(built.map(([n]) => n));
  for (const f of readdirSync(WWW).filter((f) => f.endsWith('.js'))) {
    assert.ok(names.has(f), `www/${f} has no source in src/`);
  }
});
