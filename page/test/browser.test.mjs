// Browser tests: Debian's Chromium (headless, driven by playwright-core) against the REAL
// `beacon` and `portal` binaries on loopback, on non-default ports, with the page as the portal
// embeds it. Colours are checked against the Rust reference evaluator (`shows eval`).
//
// Processes, ports, Chromium and the binaries (target/release; CROWDLIGHT_BIN_DIR overrides):
// tools/harness.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Png } from './tools/png.mjs';
import { Harness, joinShow, PHONE, beaconCtl, phonePage, prepare, results, sleep, waitFor } from './tools/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));

let harness;
let socket;
let base;
let browser;
/** The Rust reference colour as [r, g, b] (`shows eval` on the show the portal serves). */
let reference;

/** Operator command on our own socket; returns stdout. */
const beacon = (...args) => beaconCtl(socket, ...args);

async function getJson(path) {
  const res = await fetch(base + path);
  return res.json();
}

before(async () => {
  prepare(['beacon', 'portal', 'shows'], { withResults: true });
  harness = new Harness('crowdlight-page-');
  ({ base, socket } = await harness.startShow());
  // Evaluate exactly the show the portal serves.
  reference = await harness.servedShowReference(base);
  browser = await harness.launch({ render: true });
});

after(async () => {
  await harness?.stop();
});

/** A new phone: its own context (no storage shared), phone viewport, touch. */
const phone = () => phonePage(browser, { deviceScaleFactor: 1 });

/** Opens the page (optionally in a zone), waits for the show, taps join, waits for sync. */
async function openAndJoin(query = '') {
  const page = await phone();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await joinShow(page, `${base}/${query}`);
  return page;
}

/** The stage's colour on the screen (centre pixel of a screenshot). */
async function screenPixel(page, file) {
  const png = await page.screenshot(file ? { path: join(results, file) } : {});
  const img = Png.decode(png);
  return img.pixel(Math.floor(img.width / 2), Math.floor(img.height / 2));
}

const same = (a, b) => a && b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

test('join screen on a phone: title, zones, one big join button, notices', async () => {
  const page = await phone();
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelectorAll('#zone-list button').length > 0);
  await page.screenshot({ path: join(results, 'join-screen.png') });
  assert.equal(await page.textContent('#title'), 'Intermission');
  assert.equal(await page.locator('#zone-list button').count(), 5);
  const box = await page.locator('#join').boundingBox();
  assert.ok(box.height >= 72 && box.width >= PHONE.width * 0.8, `join button ${JSON.stringify(box)}`);
  assert.ok(box.y + box.height <= PHONE.height, 'join button visible without scrolling');
  assert.match(await page.textContent('.notice'), /flash/i);
  assert.match(await page.textContent('.keep'), /keep this window open/i);
  // The portal embeds page/www at build time: it must serve exactly the checked-in files.
  for (const f of ['index.html', 'app.js', 'style.css', 'keepawake.mp4']) {
    const served = Buffer.from(await (await fetch(`${base}/${f}`)).arrayBuffer());
    assert.ok(served.equals(readFileSync(join(here, '..', 'www', f))), `the portal serves a stale ${f}: rebuild it`);
  }
  await page.close();
});

test('the page joins, syncs to the beacon timebase and follows /s', async () => {
  const page = await openAndJoin('?zone=circle');
  const st = await page.evaluate(() => crowdlight.state());
  assert.equal(st.zoneName, 'circle');
  // The page's beacon clock brackets the relay's own stamp, fetched between two readings
  // (± 2 ms). The tightest of a few brackets bounds the page's sync error.
  const checks = await page.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 10; i++) {
      const a = crowdlight.beaconNowUs();
      const t = (await (await fetch('/t', { cache: 'no-store' })).json()).t;
      out.push({ a, t, b: crowdlight.beaconNowUs() });
    }
    return out;
  });
  for (const c of checks) assert.ok(c.a - 2000 <= c.t && c.t <= c.b + 2000, `relay ${c.t} not within [${c.a}, ${c.b}] ± 2 ms`);
  const best = checks.reduce((x, y) => (y.b - y.a < x.b - x.a ? y : x));
  const mid = (best.a + best.b) / 2;
  console.log(`# page clock vs relay (tightest of 10): relay stamp ${((best.t - mid) / 1000).toFixed(3)} ms from the ` +
    `middle of a ${((best.b - best.a) / 1000).toFixed(3)} ms bracket; page's own bound ${(await page.evaluate(() => crowdlight.syncInfo().errorBoundMs)).toFixed(3)} ms`);
  // A relay whose /s carries a version is long-polled (one parked /s?after=v); one without is polled.
  const s = await getJson('/s');
  if (Number.isSafeInteger(s.v)) {
    const st = await waitFor('a parked /s?after=v', () => page.evaluate(() => { const x = crowdlight.state(); return x.parked && x; }));
    assert.equal(st.v, s.v, 'the page knows the relay\'s version');
    console.log(`# long-poll: version ${st.v} parked; ${st.polls} /s answers so far, ${st.longPolls} of them long-polls`);
  } else {
    console.log('# the relay has no `v` in /s: the page polls');
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('running cue: colours at known beacon times match `shows eval`; chase offset between zones; hold; blackout; stop', async () => {
  const a = await openAndJoin('?zone=stalls-left');
  const b = await openAndJoin('?zone=circle');
  // As an operator would: arm the cue, then GO (parked long-polls hear both at once).
  await beacon('standby', 'chase');
  for (const p of [a, b]) await waitFor('standby on the page', async () => (await p.evaluate(() => crowdlight.state().state)) === 'standby');
  const out = await beacon('go', 'chase');
  const s = await waitFor('/s running chase', async () => { const x = await getJson('/s'); return x.state === 'running' && x.cue === 'chase' && x; });
  const at = s.at;
  assert.match(out, /chase/);
  // Sample times: 2.0 s .. 5.0 s into the cue (the first segment: a soft teal chase on night).
  const targets = Array.from({ length: 16 }, (_, k) => at + 2000e3 + k * 200e3);
  await waitFor('the pages to pass the last sample time', async () => (await a.evaluate(() => crowdlight.beaconNowUs())) > targets.at(-1) + 100e3, 20000);
  // Phone b loses the network for a while: it keeps rendering the known timeline.
  await b.context().setOffline(true);
  const offlineFrom = await b.evaluate(() => crowdlight.beaconNowUs());
  await sleep(1500);
  const offlineFrames = (await b.evaluate(() => crowdlight.frames())).filter((f) => f.us > offlineFrom + 500e3);
  await b.context().setOffline(false);
  assert.ok(offlineFrames.length > 30, 'frames keep coming while offline');
  for (const f of offlineFrames.filter((_, i) => i % 10 === 0)) {
    assert.equal(f.scene, `run:chase:${at}`);
    assert.deepEqual(f.rgb, await reference('chase', 'circle', Math.floor((f.us - at) / 1000)), 'offline frame');
  }
  // Screenshot at the crest of stalls-left's wave (soft chase, period 3 s: crest at 600 ms).
  await waitFor('a crest', async () => (await a.evaluate(() => crowdlight.beaconNowUs())) > at + 9600e3, 20000);
  const shotFrom = await a.evaluate(() => crowdlight.beaconNowUs());
  const shot = await screenPixel(a, 'running-cue.png');
  const shotTo = await a.evaluate(() => crowdlight.beaconNowUs());
  let checked = 0;
  for (const [page, zone] of [[a, 'stalls-left'], [b, 'circle']]) {
    const frames = await page.evaluate(() => crowdlight.frames());
    const intervals = frames.slice(1).map((f, i) => (f.us - frames[i].us) / 1000).filter((d) => d > 0).sort((x, y) => x - y);
    const frameMs = intervals[Math.floor(intervals.length / 2)];
    const gaps = intervals.filter((d) => d > 2 * frameMs).length;
    let near = 0;
    for (const T of targets) {
      const f = frames.reduce((best, x) => (Math.abs(x.us - T) < Math.abs(best.us - T) ? x : best));
      // A busy machine may skip frames; the frame nearest T is still checked at its own time.
      if (Math.abs(f.us - T) <= 1.5 * frameMs * 1000) near++;
      if (process.env.DEBUG_FRAMES) console.log(`# ${zone} T+${(T - at) / 1000} nearest ${((f.us - T) / 1000).toFixed(1)} ms`);
      assert.equal(f.scene, `run:chase:${at}`);
      assert.equal(f.fading, false);
      // The frame's colour must be the reference colour within one frame of the frame's time.
      const tMs = Math.floor((f.us - at) / 1000);
      const span = Math.ceil(frameMs);
      let ok = same(f.rgb, await reference('chase', zone, tMs));
      for (let d = 1; !ok && d <= span; d++) {
        ok = same(f.rgb, await reference('chase', zone, tMs - d)) || same(f.rgb, await reference('chase', zone, tMs + d));
      }
      assert.ok(ok, `${zone} at ${tMs} ms: page ${f.rgb}, eval ${await reference('chase', zone, tMs)}`);
      checked++;
    }
    console.log(`# ${zone}: median frame ${frameMs.toFixed(2)} ms, ${gaps} stalls > 2 frames in ${frames.length} frames; ${near}/${targets.length} sample times had a frame within 1.5 frames`);
    assert.ok(near >= targets.length * 0.75, `${zone}: only ${near} of ${targets.length} sample times had a frame`);
    if (zone === 'circle') {
      // Chase offset: circle (sweep position 3 of 5, period 3 s → 600 ms per position) shows what
      // stalls-left showed 1800 ms earlier, and the two differ at the same moment.
      let differ = 0;
      for (const T of targets) {
        const f = frames.reduce((best, x) => (Math.abs(x.us - T) < Math.abs(best.us - T) ? x : best));
        const t = Math.floor((f.us - at) / 1000);
        assert.deepEqual(f.rgb, await reference('chase', 'stalls-left', t - 1800), `circle at ${t} = stalls-left at ${t - 1800}`);
        if (!same(f.rgb, await reference('chase', 'stalls-left', t))) differ++;
      }
      assert.ok(differ >= targets.length / 2, `zones differ at ${differ} of ${targets.length} times`);
    }
  }
  console.log(`# ${checked} frames matched shows eval within one frame`);
  // The screen shows what the page rendered while the screenshot was taken.
  const onScreen = (await a.evaluate(() => crowdlight.frames()))
    .filter((f) => f.us >= shotFrom - 100e3 && f.us <= shotTo + 100e3).map((f) => f.rgb);
  assert.ok(onScreen.some((c) => same(c, shot)), `screen pixel ${shot} is a colour the page rendered (${onScreen.length} frames)`);

  // Hold: the colour freezes at the held offset.
  await beacon('hold');
  const h = await waitFor('/s hold', async () => { const x = await getJson('/s'); return x.state === 'hold' && x; });
  await waitFor('the page to hold', async () => (await a.evaluate(() => crowdlight.state().state)) === 'hold');
  await sleep(800);
  const heldRef = await reference('chase', 'stalls-left', Math.floor(h.held / 1000));
  const held = (await a.evaluate(() => crowdlight.frames())).slice(-20).map((f) => f.rgb);
  for (const c of held) assert.deepEqual(c, heldRef, 'held frames are frozen at eval(held)');
  assert.deepEqual(await screenPixel(a, 'hold.png'), heldRef, 'screen shows the held colour');

  // Blackout: black.
  await beacon('blackout');
  await waitFor('the page to black out', async () => (await a.evaluate(() => crowdlight.state().state)) === 'blackout');
  await sleep(600);
  assert.deepEqual(await a.evaluate(() => crowdlight.colour()), [0, 0, 0]);
  assert.deepEqual(await screenPixel(a, 'blackout.png'), [0, 0, 0]);

  // Stop: the calm idle screen.
  await beacon('stop');
  await waitFor('the page to stop', async () => (await a.evaluate(() => crowdlight.state().state)) === 'stopped', 10000);
  await sleep(600);
  assert.equal(await a.evaluate(() => document.body.dataset.mode), 'idle');
  assert.ok(await a.isVisible('#idle'));
  await a.screenshot({ path: join(results, 'idle.png') });
  assert.deepEqual([...a.errors, ...b.errors], []);
  await a.close();
  await b.close();
});

test('without a wake lock the join tap starts the muted inline keep-awake video', async () => {
  const page = await openAndJoin('?keepawake=video');
  assert.equal(await page.evaluate(() => crowdlight.state().reducedMotion), false);
  const v = await page.waitForFunction(() => {
    const v = document.getElementById('keepawake');
    return !v.paused && v.readyState >= 2 && v.currentTime > 0 && { muted: v.muted, inline: v.playsInline, loop: v.loop, src: v.currentSrc };
  }, null, { timeout: 10000 }).then((h) => h.jsonValue());
  assert.deepEqual([v.muted, v.inline, v.loop], [true, true, true]);
  assert.match(v.src, /keepawake\.mp4$/);
  await page.close();
});

test('prefers-reduced-motion reaches the flash limiter', async () => {
  const page = await phone();
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.crowdlight);
  assert.equal(await page.evaluate(() => crowdlight.state().reducedMotion), true);
  await page.close();
});
