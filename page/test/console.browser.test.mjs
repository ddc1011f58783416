// Operator console in headless Chromium: the REAL `beacon run --dev` (temp socket, random
// multicast port), a REAL `portal` as its relay, and `beacon console` serving the page. Clicking
// the console's buttons drives the beacon through its operator socket; the state shown follows.
//
// Binaries: target/release/{beacon,portal} (scripts/test builds them); if missing they are
// built here. CROWDLIGHT_BIN_DIR overrides the directory (e.g. target/debug while developing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const results = join(here, '..', 'test-results');
const binDir = process.env.CROWDLIGHT_BIN_DIR ? join(repo, process.env.CROWDLIGHT_BIN_DIR) : join(repo, 'target', 'release');
const bin = (name) => join(binDir, name);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let tmp;
let socket;
let consoleUrl;
let consolePort;
let relay;
const children = [];
let browser;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function start(name, args) {
  const child = spawn(bin(name), args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  child.log = () => log;
  children.push(child);
  return child;
}

/** `beacon status --json` on our own socket. */
async function status() {
  const { stdout } = await run(bin('beacon'), ['--socket', socket, 'status', '--json'], { cwd: repo });
  return JSON.parse(stdout);
}

async function waitFor(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => false);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${children.map((c) => c.log()).join('\n')}`);
    await sleep(100);
  }
}

/** A raw HTTP request to the console (node's http lets us set Host and Origin freely). */
function raw(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: consolePort, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  for (const name of ['beacon', 'portal']) {
    if (!existsSync(bin(name))) {
      assert.ok(!process.env.CROWDLIGHT_BIN_DIR, `${bin(name)} is missing`);
      execFileSync('cargo', ['build', '--release', '-p', 'beacon', '-p', 'portal'], { cwd: repo, stdio: 'inherit' });
      break;
    }
  }
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup-page-deps`);
  mkdirSync(results, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'crowdlight-console-'));
  socket = join(tmp, 'run', 'beacon.sock');
  const mport = String(20000 + Math.floor(Math.random() * 40000));
  const http = await freePort();
  relay = `http://127.0.0.1:${http}`;
  consolePort = await freePort();
  consoleUrl = `http://127.0.0.1:${consolePort}/`;
  start('beacon', ['run', '--dev', '--socket', socket, '--port', mport, '--lead-ms', '1500']);
  start('portal', ['run', '--dev', '--http', `127.0.0.1:${http}`, '--no-dns', '--port', mport, '--canonical-url', `${relay}/`]);
  await waitFor('the beacon socket', async () => (await status()).state);
  start('beacon', ['--socket', socket, 'console', '--listen', `127.0.0.1:${consolePort}`, '--relay', relay]);
  await waitFor('the console', async () => (await fetch(consoleUrl)).ok);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
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
