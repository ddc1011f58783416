// Away and back (lock, app switch, captive sheet closed and reopened): headless Chromium against
// the REAL `beacon` and `portal`. The page is hidden and frozen through the DevTools protocol,
// a cue fires while it is away, and when it comes back it must show that cue within a second
// without a wrong colour on the way, with its CPU throttled 4× (a phone waking up).
//
// How the absence is made (this Chromium, headless, keeps every page "visible": neither
// `Page.setWebLifecycleState` nor a minimised window hides it): the page's JavaScript is frozen
// for real with `Debugger.pause` (no timer, no frame, no fetch callback runs: what a frozen
// page or a locked phone gets), and `document.visibilityState` is flipped and the lifecycle
// events (`visibilitychange`, `freeze`, `resume`) are dispatched by the test, before the pause
// and, while still paused, before the page runs again (`Debugger.evaluateOnCallFrame`), in the
// order a browser fires them. The absence lasts a few real seconds; what a longer one adds (the
// clock estimate's predicted error grows with the time away) is checked in sync.unit.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, beaconCtl, joinShow, phonePage, prepare, sleep, waitFor } from './tools/harness.mjs';

let harness;
let socket;
let base;
let browser;
let reference;

const beacon = (...args) => beaconCtl(socket, ...args);
const getJson = async (path) => (await fetch(base + path)).json();

before(async () => {
  prepare(['beacon', 'portal', 'shows']);
  harness = new Harness('crowdlight-return-');
  ({ base, socket } = await harness.startShow());
  reference = await harness.servedShowReference(base);
  browser = await harness.launch({ render: true });
});

after(async () => {
  await harness?.stop();
});

const same = (a, b) => a && b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

/** Sets what `document.visibilityState` says and fires the events a browser fires. */
const lifecycle = (visible) => `(() => {
  const v = ${visible ? "'visible'" : "'hidden'"};
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => v });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => v === 'hidden' });
  for (const e of ${visible ? "['resume', 'visibilitychange']" : "['visibilitychange', 'freeze']"}) document.dispatchEvent(new Event(e));
  return v;
})()`;

test('back after being away: the cue fired meanwhile plays within 1 s, no wrong colour on the way, a re-sync burst ran', async () => {
  await beacon('go', 'wash');
  const wash = await waitFor('/s running wash', async () => { const x = await getJson('/s'); return x.state === 'running' && x.cue === 'wash' && x; });
  const page = await phonePage(browser, { deviceScaleFactor: 1 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await joinShow(page, `${base}/?zone=circle`);
  await waitFor('the wash on the page', () => page.evaluate((at) => {
    const f = crowdlight.frames().at(-1);
    return f && f.scene === `run:wash:${at}` && !f.fading;
  }, wash.at));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const before = await page.evaluate(() => ({ ...crowdlight.syncInfo(), ...crowdlight.state(), last: crowdlight.frames().at(-1) }));

  // Away: hidden, then frozen.
  await page.evaluate(lifecycle(false));
  const leftUs = await page.evaluate(() => crowdlight.beaconNowUs());
  await cdp.send('Debugger.enable');
  const paused = new Promise((resolve) => cdp.once('Debugger.paused', resolve));
  await cdp.send('Debugger.pause');
  const { callFrames } = await paused;
  // Nothing of the page runs now. A cue fires while it is away.
  await beacon('go', 'chase');
  const chase = await waitFor('/s running chase', async () => { const x = await getJson('/s'); return x.state === 'running' && x.cue === 'chase' && x; });
  await sleep(3000);
  // Back: visible again and resumed (the events come before any timer or frame runs).
  await cdp.send('Debugger.evaluateOnCallFrame', { callFrameId: callFrames[0].callFrameId, expression: lifecycle(true) });
  await cdp.send('Debugger.resume');
  await cdp.send('Debugger.disable');

  // The chase is on screen, settled, within a second.
  await sleep(1500);
  const after = await page.evaluate(() => ({ ...crowdlight.syncInfo(), ...crowdlight.state(), frames: crowdlight.frames() }));
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  // Frames drawn after the absence (it lasted over 3 s; a frame callback the pause cut in two
  // still belongs to before).
  const back = after.frames.filter((f) => f.us > leftUs + 1000e3);
  const last = after.frames.filter((f) => f.us <= leftUs + 1000e3).at(-1);
  assert.ok(back.length > 10, `frames after coming back: ${back.length}`);
  const t0 = back[0].us;
  let firstRight = null;
  for (const f of back) {
    // Nothing of the old cue is rendered anew: the screen either holds what it showed when the
    // page left, or fades to the chase, or plays it.
    if (f.held) {
      assert.deepEqual(f.rgb, last.rgb, 'a held frame shows what the screen showed when the page left');
      continue;
    }
    assert.equal(f.scene, `run:chase:${chase.at}`, `frame at +${((f.us - t0) / 1000).toFixed(0)} ms: scene ${f.scene}`);
    if (!f.fading && firstRight === null) {
      const want = await reference('chase', 'circle', Math.floor((f.us - chase.at) / 1000));
      let ok = same(f.rgb, want);
      for (let d = 1; !ok && d <= 17; d++) {
        ok = same(f.rgb, await reference('chase', 'circle', Math.floor((f.us - chase.at) / 1000) - d))
          || same(f.rgb, await reference('chase', 'circle', Math.floor((f.us - chase.at) / 1000) + d));
      }
      assert.ok(ok, `first settled frame ${f.rgb}, shows eval ${want}`);
      firstRight = f;
    }
  }
  assert.ok(firstRight, 'the chase settled on screen');
  const ms = (firstRight.us - t0) / 1000;
  const held = back.filter((f) => f.held).length;
  console.log(`# back after ${after.lastAwayMs} ms away (frozen 3 s, CPU 4× slower): ${held} frames held, the cue fired while away settled ` +
    `${ms.toFixed(0)} ms after the first frame; /t samples ${before.samples} → ${after.samples}; predicted clock error ${after.predictedErrorMs.toFixed(2)} ms`);
  assert.ok(ms <= 1000, `the right colour came ${ms} ms after coming back`);
  assert.ok(after.returns >= 1, 'the page noticed it was away');
  assert.ok(after.lastAwayMs >= 2500, `away for ${after.lastAwayMs} ms`);
  assert.ok(after.samples > before.samples, 'a re-sync burst ran');
  assert.equal(after.suppressed, before.suppressed, 'no frame needed the flash limiter');
  assert.deepEqual(errors, []);
  await page.close();
});
