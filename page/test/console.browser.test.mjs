// Operator console in headless Chromium: the REAL `beacon run --dev` (temp socket, random
// multicast port), a REAL `portal` as its relay, and `beacon console` serving the page. Clicking
// the console's buttons drives the beacon through its operator socket; the state shown follows.
//
// Processes, ports, Chromium and the binaries (target/release; CROWDLIGHT_BIN_DIR overrides):
// tools/harness.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { Harness, beaconCtl, freePort, prepare, results, waitFor as waitUntil } from './tools/harness.mjs';

let harness;
let socket;
let consoleUrl;
let consolePort;
let token;
let relay;
let browser;

/** `beacon status --json` on our own socket. */
async function status() {
  return JSON.parse(await beaconCtl(socket, 'status', '--json'));
}

/** Waits for `fn` (a rejection counts as not yet); the timeout error carries every log. */
const waitFor = (what, fn, timeoutMs = 15000) =>
  waitUntil(what, () => fn().catch(() => false), timeoutMs, () => `\n${harness.logs()}`);

/** A raw HTTP request to the console (node's http lets us set Host and Origin freely). */
function raw(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: consolePort, method, path, headers: { 'X-Console-Token': token, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  prepare(['beacon', 'portal'], { withResults: true });
  harness = new Harness('crowdlight-console-');
  socket = join(harness.tmp, 'run', 'beacon.sock');
  ({ base: relay } = await harness.startShow({ socket, beaconArgs: ['--lead-ms', '1500'] }));
  consolePort = await freePort();
  consoleUrl = `http://127.0.0.1:${consolePort}/`;
  await waitFor('the beacon socket', async () => (await status()).state);
  harness.start('beacon', ['--socket', socket, 'console', '--listen', `127.0.0.1:${consolePort}`, '--relay', relay]);
  await waitFor('the console', async () => (await fetch(consoleUrl)).ok);
  // The console prints its URL with the token (asked over the operator socket) in the fragment.
  await waitFor('the console URL', async () => /#token=[0-9a-f]+/.test(harness.logs()));
  token = harness.logs().match(/#token=([0-9a-f]+)/)[1];
  consoleUrl = `${consoleUrl}#token=${token}`;
  browser = await harness.launch();
});

after(async () => {
  await harness?.stop();
});

const text = (page, sel) => page.textContent(sel).then((t) => t.trim());

test('console: cues listed; GO, Hold, Resume, Blackout, Stop and per-cue Standby drive the beacon', async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(consoleUrl);
  await page.waitForFunction(() => document.getElementById('state').textContent === 'stopped');
  const cues = (await status()).show_info.cues;
  assert.deepEqual(await page.$$eval('#cues tr', (rows) => rows.map((r) => r.dataset.cue)), cues);
  assert.equal(await text(page, '#show'), 'Intermission');
  const first = await text(page, '#next');
  assert.equal(first, cues[0]);

  // GO (the bare one: fires the next cue) → running, with a countdown to the start.
  await page.click('#go');
  await page.waitForFunction(() => document.getElementById('state').textContent === 'running');
  assert.equal(await text(page, '#cue'), first);
  assert.match(await text(page, '#countdown'), /^T−\d+\.\d s$/);
  await page.screenshot({ path: join(results, 'console-go.png') });
  let s = await status();
  assert.equal(s.state, 'running');
  assert.equal(s.cue, first);
  // After the lead the countdown turns into time into the cue.
  await page.waitForFunction(() => document.getElementById('countdown').textContent.startsWith('+'), null, { timeout: 5000 });

  await page.click('#hold');
  await page.waitForFunction(() => document.getElementById('state').textContent === 'hold');
  assert.equal((await status()).state, 'hold');
  await page.click('#resume');
  await page.waitForFunction(() => document.getElementById('state').textContent === 'running');

  // Standby on the last cue arms it (the state stays running); GO then fires it.
  const last = cues[cues.length - 1];
  await page.click(`button[data-standby="${last}"]`);
  await page.waitForFunction((c) => document.getElementById('next').textContent === c, last);
  await page.click('#go');
  await page.waitForFunction((c) => document.getElementById('cue').textContent === c, last);
  assert.equal((await status()).cue, last);

  await page.click('#blackout');
  await page.waitForFunction(() => document.getElementById('state').textContent === 'blackout');
  await page.click('#stop');
  await page.waitForFunction(() => document.getElementById('state').textContent === 'stopped');
  s = await status();
  assert.equal(s.state, 'stopped');

  // A refused command is shown, not swallowed: hold with nothing running.
  await page.click('#hold');
  await page.waitForFunction(() => document.getElementById('message').className === 'error');
  assert.match(await text(page, '#message'), /cannot hold/);

  // Per-cue GO.
  await page.click(`button[data-go="${cues[1]}"]`);
  await page.waitForFunction((c) => document.getElementById('cue').textContent === c, cues[1]);
  assert.deepEqual(errors, []);
  await page.close();
});

test('console: live relay figures (relays heard, polls/s)', async () => {
  const page = await browser.newPage();
  await page.goto(consoleUrl);
  await page.waitForFunction(() => document.getElementById('relays-heard').textContent === '1/1', null, { timeout: 15000 });
  // Phones polling /s show up as polls/s.
  await waitFor('polls/s above zero', async () => {
    await Promise.all(Array.from({ length: 10 }, () => fetch(`${relay}/s`).then((r) => r.text())));
    return Number(await text(page, '#polls')) > 0;
  });
  await page.close();
});

test('console: refuses foreign Host, cross-origin and non-JSON commands, and load', async () => {
  const json = { 'Content-Type': 'application/json' };
  const go = JSON.stringify({ cmd: 'stop' });
  let r = await raw('GET', '/', { Host: 'evil.example' });
  assert.equal(r.status, 403);
  r = await raw('POST', '/api/command', { ...json, Origin: 'http://evil.example' }, go);
  assert.equal(r.status, 403);
  r = await raw('POST', '/api/command', { 'Content-Type': 'text/plain' }, go);
  assert.equal(r.status, 415);
  r = await raw('POST', '/api/command', json, JSON.stringify({ cmd: 'load', path: '/etc/passwd' }));
  assert.equal(r.status, 403);
  r = await raw('POST', '/api/command', json, '{"cmd":"dance"}');
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).kind, 'malformed');
  r = await raw('POST', '/api/command', { ...json, Origin: `http://127.0.0.1:${consolePort}` }, go);
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).ok, true);
});
