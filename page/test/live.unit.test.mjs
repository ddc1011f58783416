import test from 'node:test';
import assert from 'node:assert/strict';
import { LiveLayers, parseLive, parseHex } from '../www/live.js';

test('parseLive reads /s and refuses junk', () => {
  assert.equal(parseLive({ state: 'stopped' }), null);
  assert.equal(parseLive({ live: {}, live_at: 'x' }), null);
  const l = parseLive({ live: { a: '#ff0010', b: 'red', c: 7 }, live_at: 100, live_fade: -3 });
  assert.deepEqual([...l.zones], [['a', [255, 0, 16]]]);
  assert.equal(l.fade, 0);
  assert.equal(parseHex('#GG0000'), null);
});

test('a cut, a fade back to the cue, and layers heard twice', () => {
  const live = new LiveLayers();
  const base = [0, 0, 100];
  assert.equal(live.colourAt('a', 0, base), null);
  live.handleLayer(parseLive({ live: { a: '#ff0000' }, live_at: 1000, live_fade: 0 }));
  live.handleLayer(parseLive({ live: { a: '#ff0000' }, live_at: 1000, live_fade: 0 }));
  assert.equal(live.layers.length, 1);
  assert.equal(live.colourAt('a', 999, base), null, 'not before live_at');
  assert.deepEqual(live.colourAt('a', 1000, base), [255, 0, 0]);
  assert.equal(live.colourAt('b', 1000, base), null, 'other zones keep the cue');
  // Released with a fade: back to the cue colour halfway, then the cue alone.
  live.handleLayer(parseLive({ live: {}, live_at: 5000, live_fade: 4000 }));
  assert.deepEqual(live.colourAt('a', 7000, base), [128, 0, 50]);
  assert.equal(live.colourAt('a', 9000, base), null);
});

test('a continuous desk fade is followed piecewise linearly', () => {
  const live = new LiveLayers();
  const base = [0, 0, 0];
  live.handleLayer(parseLive({ live: { a: '#000000' }, live_at: 0, live_fade: 0 }));
  live.handleLayer(parseLive({ live: { a: '#646464' }, live_at: 4000, live_fade: 4000 }));
  live.handleLayer(parseLive({ live: { a: '#c8c8c8' }, live_at: 8000, live_fade: 4000 }));
  assert.deepEqual(live.colourAt('a', 6000, base), [50, 50, 50]);
  assert.deepEqual(live.colourAt('a', 8000, base), [100, 100, 100]);
  assert.deepEqual(live.colourAt('a', 10000, base), [150, 150, 150]);
  assert.deepEqual(live.colourAt('a', 12000, base), [200, 200, 200]);
});
