// The JS evaluator against the shared vectors (shows/vectors/*.json, made by the Rust
// reference evaluator): every case must match exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { colourAt, validateShow, cueIndex, zoneIndex, hex, torchAt, usesTorch } from '../www/show.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(repo, 'shows', 'vectors');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('there are vector files', () => {
  assert.ok(files.length >= 2, `vectors in ${dir}`);
});

for (const file of files) {
  test(`vectors ${file}: every case matches the Rust evaluator`, () => {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    assert.equal(validateShow(v.show), null, 'the compiled show validates');
    let bad = [];
    for (const k of v.cases) {
      assert.equal(cueIndex(v.show, k.cue), k.c);
      assert.equal(zoneIndex(v.show, k.zone), k.z);
      const got = colourAt(v.show, k.z, k.c, k.t);
      if (got.join() !== k.rgb.join()) bad.push(`${k.cue}/${k.zone} t=${k.t}: got ${got} want ${k.rgb}`);
      // Shows with a torch cue carry the torch too; every other show's torch is always off.
      const torch = torchAt(v.show, k.z, k.c, k.t);
      if (torch !== (k.torch ?? false)) bad.push(`${k.cue}/${k.zone} t=${k.t}: torch ${torch} want ${k.torch}`);
    }
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${v.cases.length} cases differ`);
    assert.ok(v.cases.length > 0);
  });
}

test('out-of-range cue or zone is black; fractional and negative times are floored/clamped', () => {
  const v = JSON.parse(readFileSync(join(dir, 'minimal.json'), 'utf8'));
  assert.deepEqual(colourAt(v.show, 5, 0, 100), [0, 0, 0]);
  assert.deepEqual(colourAt(v.show, 0, 9, 100), [0, 0, 0]);
  assert.deepEqual(colourAt(v.show, 0, 0, 1000.9), colourAt(v.show, 0, 0, 1000));
  assert.deepEqual(colourAt(v.show, 0, 0, -50), colourAt(v.show, 0, 0, 0));
  assert.equal(hex([255, 8, 0]), '#ff0800');
});

test('validateShow rejects broken shows', () => {
  assert.notEqual(validateShow(null), null);
  assert.notEqual(validateShow({ format: 2 }), null);
  const good = { format: 1, title: 'x', zones: ['a'], cues: [{ name: 'c', end: 'hold', dur: 10, segs: [{ k: 'solid', t: 0, d: 10, c: [1, 2, 3] }] }] };
  assert.equal(validateShow(good), null);
  const gap = structuredClone(good); gap.cues[0].segs[0].t = 1;
  assert.notEqual(validateShow(gap), null);
  const badWave = structuredClone(good);
  badWave.cues[0].segs[0] = { k: 'wave', t: 0, d: 10, a: [0, 0, 0], b: [1, 1, 1], p: 5, w: 6, shape: 'tri', off: 0, pos: [0] };
  assert.notEqual(validateShow(badWave), null);
  for (const sync of ['relaxed', null]) assert.equal(validateShow({ ...good, sync }), null, `sync ${sync}`);
  for (const sync of ['tight', 'loose', 16]) assert.notEqual(validateShow({ ...good, sync }), null, `sync ${sync}`);
});
