// Shared harness of the browser tests (browser, wt.browser, console.browser): the REAL `beacon`,
// `portal` and `shows` binaries on loopback, free ports, headless Chromium (playwright-core)
// and the cleanup after a test file.
//
// Binaries: target/release/{beacon,portal,shows} (scripts/test builds them); if missing they are
// built here. CROWDLIGHT_BIN_DIR overrides the directory (e.g. target/debug while developing).
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

/** `execFile` as a promise of `{ stdout, stderr }`. */
export const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const repo = join(here, '..', '..', '..');
/** Where tests put screenshots. */
export const results = join(here, '..', '..', 'test-results');
const binDir = process.env.CROWDLIGHT_BIN_DIR ? join(repo, process.env.CROWDLIGHT_BIN_DIR) : join(repo, 'target', 'release');
/** Path of one of our binaries. */
export const bin = (name) => join(binDir, name);
/** The Chromium executable. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** A phone's viewport. */
export const PHONE = { width: 390, height: 844 };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A random multicast port (the beacon's and relay's `--port`), as a string. */
export const multicastPort = () => String(20000 + Math.floor(Math.random() * 40000));

/** Polls `fn` every 100 ms until it returns a truthy value (returned); `detail()` is appended
 *  to the timeout error. */
export async function waitFor(what, fn, timeoutMs = 15000, detail = () => '') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail()}`);
    await sleep(100);
  }
}

/** Builds the binaries `names` (release) if one is missing, checks Chromium is there, and makes
 *  the results directory when `withResults`. */
export function prepare(names, { withResults = false } = {}) {
  for (const name of names) {
    if (!existsSync(bin(name))) {
      assert.ok(!process.env.CROWDLIGHT_BIN_DIR, `${bin(name)} is missing`);
      execFileSync('cargo', ['build', '--release', ...names.flatMap((n) => ['-p', n])], { cwd: repo, stdio: 'inherit' });
      break;
    }
  }
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup-page-deps`);
  if (withResults) mkdirSync(results, { recursive: true });
}

/** A test file's processes and temporary directory: `start` spawns a binary (its output is kept
 *  for error messages: `child.log()`), `stop` closes `browser` and ends everything. */
export class Harness {
  constructor(prefix) {
    this.tmp = mkdtempSync(join(tmpdir(), prefix));
    this.children = [];
    this.browser = undefined;
  }

  start(name, args) {
    const child = spawn(bin(name), args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    child.log = () => log;
    this.children.push(child);
    return child;
  }

  /** Every child's output so far. */
  logs() {
    return this.children.map((c) => c.log()).join('\n');
  }

  /** Starts `beacon run --dev` and `portal run --dev --no-dns` on a fresh HTTP port and a
   *  multicast port of their own, then waits until the relay hears the beacon. `socket`: the
   *  beacon's operator socket (default: beacon.sock in the harness's directory); `beaconArgs`,
   *  `portalArgs`: more flags. Returns {base, http, socket, beacon, portal}. */
  async startShow({ socket = join(this.tmp, 'beacon.sock'), beaconArgs = [], portalArgs = [] } = {}) {
    const mport = multicastPort();
    const http = await freePort();
    const base = `http://127.0.0.1:${http}`;
    const beacon = this.start('beacon', ['run', '--dev', '--socket', socket, '--port', mport, ...beaconArgs]);
    const portal = this.start('portal', ['run', '--dev', '--http', `127.0.0.1:${http}`, '--no-dns', '--port', mport,
      ...portalArgs, '--canonical-url', `${base}/`]);
    await this.waitForRelay(base, beacon, portal);
    return { base, http, socket, beacon, portal };
  }

  /** `startShow` with a shows directory of its own (`shows` in the harness's directory) holding
   *  `files` ({file name: source path in the repository}): the beacon starts fresh (no state
   *  file carried over) playing the first file, the portal serves the directory. Returns
   *  startShow's answer and `shows`, the directory (for `beacon load`). */
  async startShowsDir(files, { socket, beaconArgs = [], portalArgs = [] } = {}) {
    const shows = join(this.tmp, 'shows');
    mkdirSync(shows);
    const names = Object.keys(files);
    for (const name of names) copyFileSync(join(repo, files[name]), join(shows, name));
    const started = await this.startShow({ socket, beaconArgs: ['--fresh', '--show', join(shows, names[0]), ...beaconArgs],
      portalArgs: ['--shows', shows, ...portalArgs] });
    return { ...started, shows };
  }

  /** The Rust reference colours (`referenceColours`) of exactly the show the portal at `base`
   *  serves (the one `/s` names), saved as show.json in the harness's directory. */
  async servedShowReference(base) {
    const { show } = await (await fetch(`${base}/s`)).json();
    assert.ok(show, '/s names a show');
    const showFile = join(this.tmp, 'show.json');
    writeFileSync(showFile, await (await fetch(base + show)).text());
    return referenceColours(showFile);
  }

  /** Waits until the portal at `base` is healthy (its relay hears the beacon) and serves the
   *  show `/s` names: the portal compiles its shows on a thread of its own, so on a slow machine
   *  `/s` can name a show a moment before `/show/<id>.json` stops answering 404 (a phone retries
   *  with its next poll; a test must not read the 404). The timeout error carries both logs. */
  async waitForRelay(base, beacon, portal) {
    await waitFor('the relay to hear the beacon and serve its show', async () => {
      try {
        if ((await fetch(`${base}/healthz`)).status !== 200) return false;
        const { show } = await (await fetch(`${base}/s`)).json();
        return !show || (await fetch(base + show)).status === 200;
      } catch { return false; }
    }, 30000).catch((e) => {
      throw new Error(`${e.message}\nbeacon: ${beacon.log()}\nportal: ${portal.log()}`);
    });
  }

  /** Headless Chromium; `quic`: leave QUIC on (WebTransport); `render`: the flags that keep
   *  colours and timers exact (sRGB, no background throttling); `args`: more flags. playwright
   *  gives it a fresh temporary user-data-dir. */
  async launch({ quic = false, render = false, args = [] } = {}) {
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', ...(quic ? [] : ['--disable-quic']), '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        ...(render ? ['--force-color-profile=srgb', '--disable-background-timer-throttling',
          '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] : []), ...args],
    });
    return this.browser;
  }

  async stop() {
    await this.browser?.close().catch(() => {});
    for (const c of this.children) c.kill('SIGTERM');
    const running = (c) => c.exitCode === null && c.signalCode === null;
    await Promise.all(this.children.map((c) => (running(c) ? new Promise((r) => c.once('exit', r)) : null)));
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Operator command on `socket`; returns stdout, trimmed. */
export async function beaconCtl(socket, ...args) {
  const { stdout } = await run(bin('beacon'), ['--socket', socket, ...args], { cwd: repo });
  return stdout.trim();
}

/** The Rust reference colour (`shows eval` on `showFile`) as [r, g, b], cached. */
export function referenceColours(showFile) {
  const cache = new Map();
  return async (cue, zone, tMs) => {
    const key = `${cue}/${zone}/${tMs}`;
    if (!cache.has(key)) {
      const { stdout } = await run(bin('shows'), ['eval', showFile, '--cue', cue, '--zone', zone, '--t', String(tMs)], { cwd: repo });
      const hex = stdout.trim();
      assert.match(hex, /^#[0-9a-f]{6}$/);
      cache.set(key, [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
    }
    return cache.get(key);
  };
}

/** A new phone page in its own context (no storage shared; its own window, so that no page is
 *  a hidden background tab): phone viewport, touch, plus `options`; closing it closes the
 *  context. */
export async function phonePage(browser, options = {}) {
  const ctx = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, ...options });
  const page = await ctx.newPage();
  const close = page.close.bind(page);
  page.close = async () => { await close(); await ctx.close(); };
  return page;
}

/** Loads the show page at `url` in `page`, waits for the show and the zone list, taps join and
 *  waits until the page's clock is synced. */
export async function joinShow(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.crowdlight?.state().show && document.querySelectorAll('#zone-list button').length > 0);
  await page.tap('#join');
  await page.waitForFunction(() => crowdlight.state().joined && crowdlight.syncInfo().synced);
}
