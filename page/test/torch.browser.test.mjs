// The torch in headless Chromium with a fake camera (`--use-fake-device-for-media-stream
// --use-fake-ui-for-media-stream`: getUserMedia succeeds without a prompt), against the REAL
// `beacon` and `portal`. The page is on http://127.0.0.1, which browsers treat as a secure
// context (a venue's plain-HTTP portal is not: torch.unit.test.mjs checks the page never asks
// there). The fake camera has no torch: the page must notice and stay silent. With a torch
// capability stubbed onto the track (and applyConstraints recorded), the constraint calls must
// follow the cue: on while the zone's colour is bright, never more than 3 flashes a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Harness, beaconCtl, joinShow, phonePage, prepare, sleep, waitFor } from './tools/harness.mjs';

let harness;
let socket;
let base;
let browser;
let shows;

const beacon = (...args) => beaconCtl(socket, ...args);
const getJson = async (path) => (await fetch(base + path)).json();

/** Counts getUserMedia calls; with `torch`, adds the torch capability to every video track and
 *  records applyConstraints calls ({t, on}) instead of passing them to the fake camera. */
const stubs = (torch) => `(() => {
  window.__gum = 0;
  window.__torchCalls = [];
  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = (c) => { window.__gum++; return gum(c); };
  }
  if (${torch}) {
    const caps = MediaStreamTrack.prototype.getCapabilities;
    MediaStreamTrack.prototype.getCapabilities = function () { return { ...caps.call(this), torch: true }; };
    MediaStreamTrack.prototype.applyConstraints = function (c) {
      const on = c && c.advanced && c.advanced[0] && c.advanced[0].torch;
      window.__torchCalls.push({ t: performance.now(), on });
      return Promise.resolve();
    };
  }
})()`;

before(async () => {
  prepare(['beacon', 'portal', 'shows']);
  harness = new Harness('crowdlight-torch-');
  ({ base, socket, shows } = await harness.startShowsDir({
    'intermission.toml': 'shows/examples/intermission.toml',
    'torch.toml': 'shows/vectors/torch.toml',
  }));
  browser = await harness.launch({ render: true, args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
});

after(async () => {
  await harness?.stop();
});

async function phone(torchStub) {
  const page = await phonePage(browser, { deviceScaleFactor: 1 });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.addInitScript(stubs(torchStub));
  return page;
}

test('torch: never asked without a torch show; a camera without a torch is let go; a torch follows the cue', async () => {
  // A show without a torch cue: the camera is never asked for.
  const plain = await phone(false);
  await joinShow(plain, `${base}/?zone=left`);
  await sleep(300);
  assert.equal(await plain.evaluate(() => window.__gum), 0, 'no getUserMedia for a show without the torch');
  assert.equal(await plain.evaluate(() => crowdlight.state().torch), 'off');
  await plain.close();

  // The torch show.
  await beacon('load', join(shows, 'torch.toml'));
  await waitFor('/s names the torch show', async () => { const s = await getJson('/s'); return s.show && (await getJson(s.show)).title === 'Torch'; });

  // The fake camera has no torch: asked once (at the join tap), then stopped; no constraint calls.
  const fake = await phone(false);
  await joinShow(fake, `${base}/?zone=left`);
  await waitFor('the torch decision', async () => ['none', 'refused'].includes(await fake.evaluate(() => crowdlight.state().torch)));
  assert.equal(await fake.evaluate(() => crowdlight.state().torch), 'none', 'the fake camera has no torch capability');
  assert.equal(await fake.evaluate(() => window.__gum), 1);

  // A camera with a torch (stubbed capability): the constraint calls follow the pulse cue.
  const lit = await phone(true);
  await joinShow(lit, `${base}/?zone=left`);
  await waitFor('the torch ready', async () => (await lit.evaluate(() => crowdlight.state().torch)) === 'ready');
  await beacon('go', 'pulse');
  await waitFor('the pulse on the page', async () => (await lit.evaluate(() => crowdlight.state().cue)) === 'pulse');
  await sleep(4500);
  const calls = await lit.evaluate(() => window.__torchCalls);
  const state = await lit.evaluate(() => crowdlight.state());
  // The pulse (2 s period, white at its crest) lights the torch once a period: on, off, on, ...
  assert.ok(calls.length >= 3, `${calls.length} torch calls`);
  calls.forEach((c, i) => assert.equal(c.on, i % 2 === 0, `call ${i} switches ${c.on ? 'on' : 'off'}`));
  for (const c of calls) {
    const n = calls.filter((x) => x.t >= c.t && x.t < c.t + 1000).length;
    assert.ok(n <= 7, `${n} switches within a second`);
  }
  // The fake camera (no torch) never got a constraint call.
  assert.equal(await fake.evaluate(() => window.__torchCalls.length), 0);
  console.log(`# torch: ${calls.length} constraint calls in 4.5 s of a 2 s pulse (${calls.map((c) => (c.on ? 'on' : 'off')).join(', ')}); ` +
    `fake camera: ${await fake.evaluate(() => crowdlight.state().torch)}; page counts ${state.torchCalls}`);
  assert.deepEqual([...fake.errors, ...lit.errors], []);
  await fake.close();
  await lit.close();
});
