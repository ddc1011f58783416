// WebTransport browser tests: Debian's Chromium (headless, QUIC on) against the REAL `beacon`
// and `portal` binaries on loopback, the portal serving HTTPS + WebTransport with a short-lived
// self-signed ECDSA P-256 certificate (openssl, 10 days) that the page pins through
// `serverCertificateHashes` (from `/wt`). The browser context ignores the certificate error of
// the page load itself (no CA); WebTransport verifies by hash.
//
// 1. The page connects over WebTransport, state arrives by push (no polling), a cue started by
//    `beacon go` renders exactly `shows eval`'s colours; hold and blackout follow.
// 2. With UDP blocked (the page is loaded through a TCP-only proxy, so the session's UDP port
//    has nothing behind it) the page falls back to HTTP polling and still renders the cue.
// 3. Plain HTTP redirects the page to HTTPS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { Harness, joinShow, beaconCtl, freePort, multicastPort, phonePage, prepare, sleep, waitFor } from './tools/harness.mjs';

let harness;
let socket;
let httpBase;
let httpsBase;
let proxyBase;
let proxy;
let browser;
let reference;

const beacon = (...args) => beaconCtl(socket, ...args);

async function getJson(path) {
  return (await fetch(httpBase + path)).json();
}

const same = (a, b) => a && b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

before(async () => {
  prepare(['beacon', 'portal', 'shows']);
  harness = new Harness('crowdlight-wt-');
  const tmp = harness.tmp;
  socket = join(tmp, 'beacon.sock');
  // Short-lived ECDSA P-256 certificate: what serverCertificateHashes accepts (≤ 14 days).
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '10', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem')], { stdio: 'ignore' });
  const mport = multicastPort();
  const http = await freePort();
  const https = await freePort();
  httpBase = `http://127.0.0.1:${http}`;
  httpsBase = `https://127.0.0.1:${https}`;
  const b = harness.start('beacon', ['run', '--dev', '--socket', socket, '--port', mport]);
  const p = harness.start('portal', ['run', '--dev', '--http', `127.0.0.1:${http}`, '--no-dns', '--port', mport,
    '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', join(tmp, 'key.pem'), '--https', `127.0.0.1:${https}`]);
  await harness.waitForRelay(httpBase, b, p);
  reference = await harness.servedShowReference(httpBase);
  // A TCP-only proxy to the HTTPS port: pages loaded through it get a /wt URL on the proxy's
  // port, where no UDP listens (as when a venue's WiFi blocks UDP).
  proxy = createServer((c) => {
    const up = connect(https, '127.0.0.1');
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyBase = `https://127.0.0.1:${proxy.address().port}`;
  // QUIC stays ON (no --disable-quic): WebTransport runs over it.
  browser = await harness.launch({ quic: true, render: true });
});

after(async () => {
  await harness?.browser?.close().catch(() => {});
  proxy?.close();
  await harness?.stop();
});

async function openAndJoin(base, query) {
  const page = await phonePage(browser, { ignoreHTTPSErrors: true });
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await joinShow(page, `${base}/${query}`);
  return page;
}

/** Logs how far the page's beacon clock is from the relay's stamp (tightest of 10 brackets). */
async function logSync(page, label) {
  const checks = await page.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 10; i++) {
      const a = crowdlight.beaconNowUs();
      const t = (await (await fetch('/t', { cache: 'no-store' })).json()).t;
      out.push({ a, t, b: crowdlight.beaconNowUs() });
    }
    return out;
  });
  const best = checks.reduce((x, y) => (y.b - y.a < x.b - x.a ? y : x));
  const info = await page.evaluate(() => crowdlight.syncInfo());
  console.log(`# ${label}: relay stamp ${((best.t - (best.a + best.b) / 2) / 1000).toFixed(3)} ms from the middle of a ` +
    `${((best.b - best.a) / 1000).toFixed(3)} ms bracket; page's bound ${info.errorBoundMs.toFixed(3)} ms from ${info.samples} samples`);
}

/** GO `cue` from standby; checks that `page` renders it like `shows eval` for ~1.5 s. */
async function goAndCheck(page, cue, zone) {
  await beacon('standby', cue);
  await waitFor('standby on the page', async () => (await page.evaluate(() => crowdlight.state().state)) === 'standby');
  await beacon('go', cue);
  const s = await waitFor('/s running', async () => { const x = await getJson('/s'); return x.state === 'running' && x.cue === cue && x; });
  await waitFor('the page to run the cue', async () => (await page.evaluate(() => crowdlight.state().state)) === 'running');
  const targets = Array.from({ length: 8 }, (_, k) => s.at + 1000e3 + k * 200e3);
  await waitFor('the last sample time', async () => (await page.evaluate(() => crowdlight.beaconNowUs())) > targets.at(-1) + 100e3, 20000);
  const frames = (await page.evaluate(() => crowdlight.frames())).filter((f) => Number.isFinite(f.us));
  for (const T of targets) {
    const f = frames.reduce((best, x) => (Math.abs(x.us - T) < Math.abs(best.us - T) ? x : best));
    if (process.env.DEBUG_FRAMES) console.log(`# T ${T} nearest ${f.us} ${f.scene} of ${frames.length} last ${frames.at(-1).us} ${JSON.stringify(await page.evaluate(() => crowdlight.state()))}`);
    assert.equal(f.scene, `run:${cue}:${s.at}`);
    const tMs = Math.floor((f.us - s.at) / 1000);
    let ok = same(f.rgb, await reference(cue, zone, tMs));
    for (let d = 1; !ok && d <= 17; d++) ok = same(f.rgb, await reference(cue, zone, tMs - d)) || same(f.rgb, await reference(cue, zone, tMs + d));
    assert.ok(ok, `${zone} at ${tMs} ms: page ${f.rgb}, eval ${await reference(cue, zone, tMs)}`);
  }
  return s;
}

test('over WebTransport: session opens, a cue pushed by `beacon go` renders like `shows eval`, hold and blackout follow', async () => {
  const page = await openAndJoin(httpsBase, '?zone=circle');
  await waitFor('the WebTransport session', async () => (await page.evaluate(() => crowdlight.state().transport)) === 'wt');
  assert.ok(await page.evaluate(() => window.isSecureContext));
  const pollsBefore = (await page.evaluate(() => crowdlight.state())).polls;
  const pushesBefore = (await page.evaluate(() => crowdlight.state())).wtPushes;
  const s = await goAndCheck(page, 'chase', 'circle');
  await logSync(page, 'WebTransport page clock vs relay');
  const st = await page.evaluate(() => crowdlight.state());
  assert.equal(st.transport, 'wt');
  assert.ok(st.wtPushes >= pushesBefore + 2, `standby and go were pushed (${pushesBefore} → ${st.wtPushes})`);
  // Polls continue only as the 15 s safety net: far fewer than the 500 ms standby / 1 s running cadence.
  assert.ok(st.polls - pollsBefore <= 2, `polled ${st.polls - pollsBefore} times while on WebTransport`);
  // Hold and blackout arrive by push too.
  await beacon('hold');
  const h = await waitFor('/s hold', async () => { const x = await getJson('/s'); return x.state === 'hold' && x; });
  await waitFor('the page to hold', async () => (await page.evaluate(() => crowdlight.state().state)) === 'hold');
  await sleep(500);
  const heldRef = await reference('chase', 'circle', Math.floor(h.held / 1000));
  for (const f of (await page.evaluate(() => crowdlight.frames())).slice(-10)) assert.deepEqual(f.rgb, heldRef);
  assert.equal(h.at, s.at);
  await beacon('blackout');
  await waitFor('the page to black out', async () => (await page.evaluate(() => crowdlight.state().state)) === 'blackout');
  await sleep(500);
  assert.deepEqual(await page.evaluate(() => crowdlight.colour()), [0, 0, 0]);
  // The relay counts the session and its datagrams.
  const m = await (await fetch(`${httpBase}/metrics`)).text();
  assert.match(m, /portal_wt_sessions_open [1-9]/);
  assert.match(m, /portal_wt_datagrams_total\{kind="time"\} [1-9]/);
  assert.deepEqual(page.errors, []);
  await beacon('stop');
  await page.close();
});

test('UDP blocked: the page falls back to HTTP polling and still renders the cue', async () => {
  const page = await openAndJoin(proxyBase, '?zone=stalls-left');
  await waitFor('a failed WebTransport attempt', async () => (await page.evaluate(() => crowdlight.state().wtFailures)) >= 1, 20000);
  const st0 = await page.evaluate(() => crowdlight.state());
  assert.equal(st0.transport, 'poll');
  assert.equal(st0.wtPushes, 0);
  await goAndCheck(page, 'chase', 'stalls-left');
  await logSync(page, 'polling page clock vs relay');
  const st = await page.evaluate(() => crowdlight.state());
  assert.equal(st.transport, 'poll');
  assert.ok(st.polls > st0.polls, 'state came by polling');
  assert.deepEqual(page.errors, []);
  await beacon('stop');
  await page.close();
});

test('plain HTTP sends the page to HTTPS', async () => {
  const res = await fetch(`${httpBase}/`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), `${httpsBase}/`);
});
