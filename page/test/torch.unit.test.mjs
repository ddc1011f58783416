// The torch's decision logic and switching (torch.js), without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torchPossible, trackHasTorch, torchConstraints, TorchDriver } from '../www/torch.js';

const media = { getUserMedia: async () => ({}) };

test('the page asks for the camera only for a torch show, in a secure context, without reduced motion', () => {
  const ok = { usesTorch: true, secure: true, mediaDevices: media, reducedMotion: false };
  assert.equal(torchPossible(ok), true);
  assert.equal(torchPossible({ ...ok, usesTorch: false }), false, 'no torch cue: never asked');
  assert.equal(torchPossible({ ...ok, secure: false }), false, 'plain HTTP (a captive sheet): never');
  assert.equal(torchPossible({ ...ok, mediaDevices: undefined }), false, 'no mediaDevices');
  assert.equal(torchPossible({ ...ok, mediaDevices: {} }), false, 'no getUserMedia');
  assert.equal(torchPossible({ ...ok, reducedMotion: true }), false, 'reduced motion: the screen alone');
  assert.equal(torchPossible(null), false);
});

test('a track can switch a torch only when its capabilities say so', () => {
  assert.equal(trackHasTorch({ getCapabilities: () => ({ torch: true }) }), true);
  assert.equal(trackHasTorch({ getCapabilities: () => ({ torch: [false, true] }) }), true);
  assert.equal(trackHasTorch({ getCapabilities: () => ({ torch: false }) }), false);
  assert.equal(trackHasTorch({ getCapabilities: () => ({ width: { max: 640 } }) }), false, 'a fake camera');
  assert.equal(trackHasTorch({}), false, 'no getCapabilities (Firefox)');
  assert.equal(trackHasTorch({ getCapabilities: () => { throw new Error('x'); } }), false);
  assert.deepEqual(torchConstraints(true), { advanced: [{ torch: true }] });
});

test('the driver switches on changes only, one call at a time', async () => {
  const calls = [];
  const d = new TorchDriver((on) => { calls.push(on); return Promise.resolve(); });
  d.handleFrame(0, false);
  assert.deepEqual(calls, [], 'off at start: nothing to do');
  d.handleFrame(16, true);
  d.handleFrame(32, true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [true]);
  d.handleFrame(600, false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [true, false]);
  d.handleFrame(1200, true);
  d.off();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [true, false, true], 'a switch while one is in flight waits');
  d.off();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [true, false, true, false]);
  const failing = new TorchDriver(() => Promise.reject(new Error('OverconstrainedError')));
  failing.handleFrame(0, true);
  await new Promise((r) => setImmediate(r));
  assert.equal(failing.failures, 1);
});

test('the flash limiter holds the torch to three flashes a second, whatever the show asks', async () => {
  const switches = [];
  const d = new TorchDriver((on) => { switches.push({ t: now, on }); return Promise.resolve(); });
  let now = 0;
  // A 10 Hz strobe asked for 5 s, one frame every 16 ms.
  for (; now < 5000; now += 16) {
    d.handleFrame(now, Math.floor(now / 50) % 2 === 0);
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(switches.length > 10, `${switches.length} switches`);
  for (const s of switches) {
    const inWindow = switches.filter((x) => x.t >= s.t && x.t < s.t + 1000).length;
    assert.ok(inWindow <= 7, `${inWindow} switches within a second from ${s.t} ms: more than 3 flashes`);
  }
});
