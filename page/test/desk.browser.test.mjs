// The lighting desk reaches the phones: a scripted sACN desk (E1.31 data packets over UDP on
// loopback, the same bytes a console sends) drives the REAL beacon (`--sacn`, `--patch`); the
// REAL portal relays the live layer in /s; headless Chromium phones in two zones show it. The
// real-OLA test is beacon/tests/desk_ola.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { Png } from './tools/png.mjs';
import { sacnPacket } from './tools/sacn.mjs';
import { Harness, joinShow, freePort, phonePage, prepare, results, sleep, waitFor } from './tools/harness.mjs';
import { ZigZag, luminance, GENERAL_THRESHOLD, MAX_CHANGES } from '../www/safety.js';

let harness;
let base;
let browser;
let sacnPort;
const udp = createSocket('udp4');
let seq = 0;

/** An E1.31 data packet from this test's desk (next sequence number). */
function deskPacket(slots, o = {}) {
  seq = (seq + 1) & 0xff;
  return sacnPacket(slots, { seq, name: 'browser test desk', ...o });
}

/** The desk: `levels` (address → value) sent at 44 Hz, as a console refreshes its output. */
const desk = { levels: new Map(), timer: null };
function deskSend() {
  const slots = new Array(32).fill(0);
  for (const [a, v] of desk.levels) slots[a - 1] = v;
  udp.send(deskPacket(slots), sacnPort, '127.0.0.1');
}

before(async () => {
  prepare(['beacon', 'portal', 'shows'], { withResults: true });
  harness = new Harness('crowdlight-desk-');
  sacnPort = await freePort();
  ({ base } = await harness.startShow({ beaconArgs: ['--sacn', '1', '--sacn-port', String(sacnPort),
    '--trigger-address', '1', '--patch', 'stalls-left=10', '--patch', 'balcony=13'] }));
  browser = await harness.launch({ render: true });
  desk.timer = setInterval(deskSend, 1000 / 44);
});

after(async () => {
  clearInterval(desk.timer);
  udp.close();
  await harness?.stop();
});

async function screenPixel(page, file) {
  const png = await page.screenshot(file ? { path: join(results, file) } : {});
  const img = Png.decode(png);
  return img.pixel(Math.floor(img.width / 2), Math.floor(img.height / 2));
}

const same = (a, b) => a && b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
const s = async () => (await fetch(`${base}/s`)).json();

test('a zone patched on the desk takes its colour on the phones; other zones keep the show', async () => {
  const left = await phonePage(browser, { deviceScaleFactor: 1 });
  const circle = await phonePage(browser, { deviceScaleFactor: 1 });
  await joinShow(left, `${base}/?zone=stalls-left`);
  await joinShow(circle, `${base}/?zone=circle`);
  const before = await screenPixel(circle);

  desk.levels = new Map([[10, 255], [11, 128], [12, 0]]);
  const live = await waitFor('/s live', async () => { const x = await s(); return x.live?.['stalls-left'] === '#ff8000' && x; });
  assert.deepEqual(Object.keys(live.live), ['stalls-left']);
  assert.ok(Number.isSafeInteger(live.live_at) && live.live_fade === 0, JSON.stringify(live));
  await waitFor('the stalls-left phone in the desk colour', async () => same(await screenPixel(left), [255, 128, 0]), 10000,
    () => ` (screen ${JSON.stringify(left.url())})`);
  await screenPixel(left, 'desk-live-stalls-left.png');
  assert.deepEqual(await screenPixel(circle), before, 'the circle phone keeps the show');
  const frames = await left.evaluate(() => crowdlight.frames());
  assert.ok(frames.some((f) => f.desk), 'frames mark the desk layer');

  // A 10 Hz strobe from the desk (white / black) for 6 s: ≤ 3 flashes in any second on the phone.
  const strobeStart = Date.now();
  const strobe = setInterval(() => {
    const on = Math.floor((Date.now() - strobeStart) / 50) % 2 === 0;
    desk.levels = new Map([[10, on ? 255 : 0], [11, on ? 255 : 0], [12, on ? 255 : 0]]);
  }, 10);
  await sleep(6000);
  clearInterval(strobe);
  const shown = await left.evaluate(() => crowdlight.frames());
  const zz = new ZigZag(GENERAL_THRESHOLD, false);
  let worst = 0;
  for (const f of shown.filter((f) => Number.isFinite(f.us))) {
    const ms = f.us / 1000;
    zz.push(ms, luminance(f.rgb));
    worst = Math.max(worst, zz.recent(ms));
  }
  assert.ok(worst <= MAX_CHANGES, `${worst} changes in one second (${Math.floor(worst / 2)} flashes)`);

  // The desk releases (all channels 0): the phone goes back to the show.
  desk.levels = new Map();
  await waitFor('/s released', async () => { const x = await s(); return x.live && Object.keys(x.live).length === 0; }, 10000);
  await waitFor('the phone back to the show', async () => same(await screenPixel(left), await screenPixel(circle)), 10000);
  await left.close();
  await circle.close();
});
