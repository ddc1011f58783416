// The console's show view in headless Chromium against the REAL beacon (`beacon run --dev`:
// the example show, whose file has a hall plan) and `beacon console`: the hall and timeline
// drawn with page/src/show.js, scrubbed by dragging the playhead and stepped by frames, with
// the hall's pixels compared to the Rust evaluator (`shows eval`); the WCAG 2.3.1 findings of
// `shows check` as markers where they occur (a second console, `--watch` on a flashing show);
// edit-and-see (save-to-screen printed, a broken save keeps the last good show and shows the
// error's line and column); the live playhead against the beacon clock.
//
// Screenshot: page/test-results/console-show-view.png (gitignored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, beaconCtl, freePort, prepare, referenceColours, repo, results, run, bin, sleep, waitFor as waitUntil } from './tools/harness.mjs';
import { Png } from './tools/png.mjs';

const EXAMPLE = 'shows/examples/intermission.toml';
let harness;
let socket;
let browser;
let loadedUrl; // console following the loaded show
let watchUrl; // console with --watch on `flashy`
let flashy;
let example; // a copy of the example show, watched by a third console
let exampleUrl;
let relayPort;

const waitFor = (what, fn, timeoutMs = 15000) =>
  waitUntil(what, () => fn().catch(() => false), timeoutMs, () => `\n${harness.logs()}`);

/** A show with a 5 Hz strobe (breaks WCAG 2.3.1) after a calm cue; `colour` varies per save. */
function flashySource(colour) {
  return `title = "Flashy"
zones = ["left", "right"]

[[cue]]
name = "calm"
[[cue.segment]]
kind = "solid"
colour = "${colour}"
dur = "4s"

[[cue]]
name = "strobe"
[[cue.segment]]
kind = "fade"
from = "black"
to = "#303030"
dur = "2s"
[[cue.segment]]
kind = "chase"
colour = "white"
period = 200
zones = ["right"]
dur = "3s"
`;
}

/** Writes a file the way editors save: a temporary file renamed over it. */
function save(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function startConsole(extra) {
  const port = await freePort();
  const child = harness.start('beacon', ['--socket', socket, 'console', '--listen', `127.0.0.1:${port}`, ...extra]);
  await waitFor('the console URL', async () => /#token=[0-9a-f]+/.test(child.log()));
  return `http://127.0.0.1:${port}/#token=${child.log().match(/#token=([0-9a-f]+)/)[1]}`;
}

before(async () => {
  prepare(['beacon', 'portal', 'shows'], { withResults: true });
  harness = new Harness('crowdlight-showview-');
  socket = join(harness.tmp, 'run', 'beacon.sock');
  const { http } = await harness.startShow({ socket, beaconArgs: ['--lead-ms', '1500'] });
  relayPort = http;
  await waitFor('the beacon socket', async () => JSON.parse(await beaconCtl(socket, 'status', '--json')).state);
  flashy = join(harness.tmp, 'flashy.toml');
  save(flashy, flashySource('#2040ff'));
  loadedUrl = await startConsole(['--relay', `http://127.0.0.1:${http}`]);
  watchUrl = await startConsole(['--watch', flashy]);
  example = join(harness.tmp, 'intermission.toml');
  save(example, readFileSync(join(repo, EXAMPLE), 'utf8'));
  exampleUrl = await startConsole(['--watch', example]);
  browser = await harness.launch({ render: true });
});

after(async () => {
  await harness?.stop();
});

async function openView(url) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(url);
  await page.waitForFunction(() => window.showView?.version() != null && document.getElementById('view-title').textContent !== '–');
  // Two frames: a redraw after any size change the first drawing caused (a scrollbar, a list).
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page;
}

/** The compiled show, by `shows compile -o -`. */
async function compiled(file) {
  const { stdout } = await run(bin('shows'), ['compile', file, '-o', '-'], { cwd: repo });
  return JSON.parse(stdout);
}

/** FORMAT-independent restatement of the view's placement: cues at `at`, else after the
 *  previous; each lasts up to the next cue's start. */
function placement(show) {
  const out = [];
  let t = 0;
  for (const cue of show.cues) {
    const start = cue.at ?? t;
    out.push({ start, len: cue.dur });
    t = start + cue.dur;
  }
  for (let i = 0; i + 1 < out.length; i++) if (out[i + 1].start > out[i].start) out[i].len = out[i + 1].start - out[i].start;
  return out;
}

/** The timeline canvas's geometry: page x of timeline ms. `measured`: its rect, when the caller
 *  read it in one layout with what it compares it to. */
async function timelineMap(page, measured) {
  const box = measured ?? await page.locator('#timeline').boundingBox();
  const d = await page.$eval('#timeline', (c) => ({ ...c.dataset }));
  const gutter = Number(d.gutter);
  const t0 = Number(d.t0);
  const t1 = Number(d.t1);
  return {
    box,
    top: Number(d.top),
    lane: Number(d.lane),
    x: (ms) => box.x + gutter + ((ms - t0) / (t1 - t0)) * (box.width - gutter),
  };
}

/** Pixels of the hall canvas at each zone's probe point, from a real screenshot. */
async function hallPixels(page) {
  const shot = Png.decode(await page.locator('#hall').screenshot());
  const probes = await page.evaluate(() => window.showView.probes());
  return probes.map((p) => ({ ...p, rgb: shot.pixel(Math.round(p.x), Math.round(p.y)) }));
}

test('show view: the example hall and timeline; a dragged and stepped playhead shows what shows eval says', async () => {
  const page = await openView(loadedUrl);
  const show = await compiled(EXAMPLE);
  assert.equal(await page.textContent('#view-title'), 'Intermission');
  // The view evaluates with the phones' own file (no third copy of the evaluator).
  const origin = new URL(loadedUrl).origin;
  assert.equal(await (await fetch(`${origin}/show.js`)).text(), readFileSync(join(repo, 'page/src/show.js'), 'utf8'));
  assert.equal((await fetch(`${origin}/api/show`)).status, 401, 'the show view needs the token');
  assert.deepEqual(await page.evaluate(() => window.showView.blocks()), placement(show));
  const blocks = placement(show);
  const map = await timelineMap(page);
  const reference = referenceColours(EXAMPLE);
  // Drag the playhead from the start to instants inside several cues; then step frames.
  const laneY = map.box.y + map.top + map.lane / 2;
  let checked = 0;
  for (const [cue, frac] of [[0, 0.13], [0, 0.61], [1, 0.4], [2, 0.25], [3, 0.5], [4, 0.35], [5, 0.7]]) {
    const target = map.x(blocks[cue].start + frac * blocks[cue].len);
    await page.mouse.move(map.x(0) + 2, laneY);
    await page.mouse.down();
    await page.mouse.move((map.x(0) + target) / 2, laneY, { steps: 3 });
    await page.mouse.move(target, laneY, { steps: 3 });
    await page.mouse.up();
    for (let frame = 0; frame < 2; frame++) {
      if (frame) await page.keyboard.press('ArrowRight');
      const p = await page.evaluate(() => window.showView.playhead());
      assert.equal(p.follow, false, 'scrubbing leaves live follow');
      assert.equal(p.c, cue, `dragged into cue ${cue}`);
      const pixels = await hallPixels(page);
      assert.equal(pixels.length, show.zones.length);
      for (const { name, rgb } of pixels) {
        const want = await reference(show.cues[p.c].name, name, Math.floor(p.t));
        assert.deepEqual(rgb, want, `hall pixel of ${name} at cue ${show.cues[p.c].name} +${p.t} ms`);
        checked++;
      }
    }
  }
  // One frame step is one 60 Hz frame.
  const before = await page.evaluate(() => window.showView.playhead());
  await page.click('#frame-fwd');
  const stepped = await page.evaluate(() => window.showView.playhead());
  assert.ok(Math.abs(stepped.t - before.t - 1000 / 60) < 1e-6, `${before.t} → ${stepped.t}`);
  await page.click('#frame-back');
  assert.ok(Math.abs((await page.evaluate(() => window.showView.playhead())).t - before.t) < 1e-6);
  console.log(`# show view: ${checked} hall pixels equal to shows eval`);
  // The zone readout agrees with the hall.
  const readout = await page.$$eval('#zones-now li', (lis) => lis.map((l) => l.textContent));
  assert.equal(readout.length, show.zones.length);
  // The kept screenshot: the playhead inside the chase.
  const target = map.x(blocks[2].start + 0.43 * blocks[2].len);
  await page.mouse.click(target, laneY);
  await page.screenshot({ path: join(results, 'console-show-view.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('show view: WCAG 2.3.1 findings of shows check are marked where they occur, with its message', async () => {
  const page = await openView(watchUrl);
  const show = await compiled(flashy).catch(() => null);
  assert.equal(show, null, 'shows compile refuses the flashing show');
  const check = await run(bin('shows'), ['check', flashy]).catch((e) => e);
  assert.equal(check.code, 1);
  const lines = check.stderr.trim().split('\n');
  assert.ok(lines.length >= 1 && lines.every((l) => l.includes('flashes within one second')), check.stderr);
  // Markers and the timeline are measured in one layout: what sits above them (the status
  // line, the playhead readout) may still change height between two separate reads and move
  // both (CI once saw a marker off its lane by that).
  const { markers, box } = await page.evaluate(() => ({
    markers: [...document.querySelectorAll('#markers .flash')].map((m) => ({ title: m.title, ...m.dataset, r: m.getBoundingClientRect().toJSON() })),
    box: document.getElementById('timeline').getBoundingClientRect().toJSON(),
  }));
  assert.deepEqual(markers.map((m) => m.title).sort(), [...lines].sort(), 'one marker per finding, with the checker\'s line');
  const map = await timelineMap(page, box);
  const zones = ['left', 'right'];
  const blocks = [{ start: 0, len: 4000 }, { start: 4000, len: 5000 }];
  for (const m of markers) {
    const found = m.title.match(/cue '(\w+)' segment \d+ zone '(\w+)' at (\d+)\.(\d{3}) s/);
    assert.ok(found, m.title);
    const cue = found[1] === 'calm' ? 0 : 1;
    const zone = zones.indexOf(found[2]);
    const ms = Number(found[3]) * 1000 + Number(found[4]);
    const want = map.x(blocks[cue].start + ms);
    const centre = m.r.x + m.r.width / 2;
    assert.ok(Math.abs(centre - want) <= 1, `marker of ${m.title} at x ${centre}, want ${want}`);
    const laneTop = map.box.y + map.top + zone * map.lane;
    assert.ok(m.r.y >= laneTop - 1 && m.r.y + m.r.height <= laneTop + map.lane + 1, `marker on ${found[2]}'s lane`);
  }
  assert.equal(await page.$$eval('#findings li', (l) => l.length), lines.length);
  // No [layout]: the hall is a row of blocks in show order, here at \`calm\` (solid #2040ff).
  const pixels = await hallPixels(page);
  assert.deepEqual(pixels.map((p) => p.name), zones);
  assert.ok(pixels[0].x < pixels[1].x);
  assert.deepEqual(pixels.map((p) => p.rgb), [[0x20, 0x40, 0xff], [0x20, 0x40, 0xff]]);
  await page.screenshot({ path: join(results, 'console-show-view-wcag.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('show view: a save of the example shows within a poll; a broken save keeps the last good show and names line and column', async () => {
  const page = await openView(exampleUrl);
  const probe = async () => (await hallPixels(page)).map((p) => p.rgb);
  // The playhead near the start of `countdown`: a slow pulse from `ember`, which the saves change.
  const map = await timelineMap(page);
  await page.mouse.click(map.x(0) + 1, map.box.y + map.top + 4);
  const { c, t } = await page.evaluate(() => window.showView.playhead());
  assert.equal(c, 0);
  const source = readFileSync(join(repo, EXAMPLE), 'utf8');
  const figures = [];
  const colours = ['#ff2000', '#00c040', '#2040ff', '#c0c000', '#8000ff', '#00a0a0', '#ff8000', '#404040', '#26140a', '#102030'];
  let text = source;
  for (const colour of colours) {
    const seen = await page.evaluate(() => window.showView.version());
    await sleep(Math.random() * 300); // saves at every phase of the view's 4 Hz poll
    text = source.replace('ember = "#26140a"', `ember = "${colour}"`);
    const savedAt = Date.now();
    save(example, text);
    await page.waitForFunction((v) => window.showView.version() !== v, seen, { timeout: 10000 });
    figures.push((await page.evaluate(() => window.showView.drawnAt())) - savedAt);
  }
  const reference = referenceColours(example);
  const zones = ['stalls-left', 'stalls-centre', 'stalls-right', 'circle', 'balcony'];
  const want = await Promise.all(zones.map((z) => reference('countdown', z, Math.floor(t))));
  assert.notDeepEqual(want[0], [0x26, 0x14, 0x0a]);
  assert.deepEqual(await probe(), want, 'the last save is on screen');
  figures.sort((a, b) => a - b);
  console.log(`# save-to-screen, example show (${figures.length} saves): median ${figures[figures.length >> 1].toFixed(0)} ms, max ${figures.at(-1).toFixed(0)} ms`);

  // A broken save: the error as shows check prints it (file:line:col), the last good show kept.
  save(example, text.replace('title = "Intermission"', 'title = "Intermission"\nshade = 3'));
  await page.waitForSelector('#view-errors:not([hidden])');
  const check = await run(bin('shows'), ['check', example]).catch((e) => e);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /:\d+:\d+: .*shade/);
  assert.equal((await page.textContent('#view-errors')).trim(), check.stderr.trim());
  assert.equal(await page.textContent('#view-title'), 'Intermission');
  assert.deepEqual(await probe(), want, 'the last good show stays on screen');
  await page.screenshot({ path: join(results, 'console-show-view-error.png') });
  // A relaxed show says so beside its title (its phones keep a looser clock).
  save(example, text.replace('title = "Intermission"', 'title = "Intermission"\nsync = "relaxed"'));
  await page.waitForSelector('#view-errors', { state: 'hidden' });
  await page.waitForFunction(() => document.getElementById('view-title').textContent === 'Intermission · relaxed sync');
  // Fixed again: the error goes.
  save(example, source);
  await page.waitForFunction(() => document.getElementById('view-title').textContent === 'Intermission');
  await page.waitForSelector('#view-errors', { state: 'hidden' });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('show view: live, the playhead follows the beacon clock; GO lead counts down; hold freezes it', async () => {
  const page = await openView(loadedUrl);
  const show = await compiled(EXAMPLE);
  await beaconCtl(socket, 'go', 'wash');
  await page.waitForFunction(() => document.getElementById('ph-lead').textContent.startsWith('GO in'));
  assert.equal(await page.textContent('#ph-cue'), 'wash');
  await page.waitForFunction(() => document.getElementById('ph-lead').textContent === '' && window.showView.playhead().t > 0);
  const status = JSON.parse(await beaconCtl(socket, 'status', '--json'));
  assert.equal(status.cue, 'wash');
  // The beacon timebase is the wall clock read once at start and run on the monotonic clock;
  // Chromium's timeOrigin + now() is the same wall clock: compare both ends on it.
  let worst = 0;
  for (let i = 0; i < 20; i++) {
    const s = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve({ p: window.showView.playhead(), wall: performance.timeOrigin + performance.now() }))));
    assert.equal(s.p.c, show.cues.findIndex((c) => c.name === 'wash'));
    assert.equal(s.p.follow, true);
    const expected = s.wall - status.start_us / 1000;
    worst = Math.max(worst, Math.abs(s.p.t - expected));
    await sleep(50);
  }
  console.log(`# live playhead vs beacon clock: worst ${worst.toFixed(1)} ms over 20 frames (a frame: 16.7 ms)`);
  assert.ok(worst < 250, `the playhead follows the show (${worst} ms off)`);
  // The live audience per relay: three phones parked on the relay's long-poll.
  const relay = `http://127.0.0.1:${relayPort}`;
  const { v } = await (await fetch(`${relay}/s`)).json();
  const parked = Array.from({ length: 3 }, () => fetch(`${relay}/s?after=${v}`).then((r) => r.text()).catch(() => ''));
  await page.waitForFunction((host) => document.getElementById('ph-audience').textContent === `3 phones (${host}: 3)`, `127.0.0.1:${relayPort}`, { timeout: 10000 });
  await beaconCtl(socket, 'hold');
  await Promise.all(parked);
  const held = JSON.parse(await beaconCtl(socket, 'status', '--json'));
  await page.waitForFunction((t) => Math.abs(window.showView.playhead().t - t) < 1e-6, held.offset_us / 1000);
  await page.screenshot({ path: join(results, 'console-show-view-live.png') });
  await beaconCtl(socket, 'stop');
  assert.deepEqual(page.errors, []);
  await page.close();
});
