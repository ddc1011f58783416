// The audience page: wires the pure modules (sync, poll, show, safety) to the network, the DOM
// and the screen. Works without storage, service worker or secure context (captive sheets).
import { ClockSync, Schedule, makeSample, burstGapMs, burstSettled, burstMin, resyncBurst, budgetFor } from './sync.js';
import { Poller, POLL_TIMEOUT_MS, LONG_POLL_TIMEOUT_MS, rideDelayMs } from './poll.js';
import { colourAt, validateShow, cueIndex, torchAt, usesTorch } from './show.js';
import { FlashLimiter } from './safety.js';

const $ = (id) => document.getElementById(id);
const now = () => performance.now();
// Jitter only needs to differ between phones.
const rand = Math.random;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Cross-fade (ms) when the scene changes (new cue, hold, blackout, stop): no hard cuts. */
const XFADE_MS = 300;
/** Idle colour (stopped, standby, before a cue starts): a calm, dark night blue. */
const IDLE = [8, 10, 28];
const BLACK = [0, 0, 0];

const sync = new ClockSync();
const poller = new Poller();
const q = new URLSearchParams(location.search);
let show = null;
let showUrl = null;
let zone = -1;
let joined = false;
let limiter = new FlashLimiter({ reducedMotion: reducedMotion() });
let shown = null;
let scene = '';
let fadeFrom = null;
let fadeStart = 0;
let lastFrameTs = NaN;
let frameMs = 16.7;
const frames = [];
const stats = { syncs: 0, polls: 0, longPolls: 0, parked: false, pollErrors: 0, showLoads: 0, transport: 'poll', wtPushes: 0, wtFailures: 0, returns: 0, lastAwayMs: 0, torch: 'off' };
/** The lighting desk's live layers (live.js `LiveLayers`), or null until the first /s answer
 *  that carries a layer: live.js is loaded then (and warmed after joining), not before the first
 *  frame, whose HTML + CSS + JS must fit one TCP initial window (14 KB gzipped). */
let live = null;
/** live.js `parseLive`, once loaded. */
let parseLive = null;
/** /s bodies with a layer that arrived while live.js was loading (newest few). */
const pendingLive = [];
let liveLoading = null;
/** When live.js is fetched after the join tap anyway, ms: after the join burst and first frame. */
const LIVE_WARM_MS = 5000;
/** The open WebTransport session (wt.js), or null: then state and time come over HTTP. */
let wt = null;

function reducedMotion() {
  return !!(window.matchMedia && matchMedia('(prefers-reduced-motion: reduce)').matches);
}

/** fetch with a timeout (AbortController where it exists; `ctl`: the caller's, to abort it). */
async function get(url, init = {}, timeoutMs = POLL_TIMEOUT_MS, ctl = typeof AbortController === 'function' ? new AbortController() : null) {
  const timer = ctl && setTimeout(() => ctl.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, signal: ctl?.signal });
  } finally {
    clearTimeout(timer);
  }
}

// ---- clock sync ---------------------------------------------------------------------------

async function sampleOnce(burst) {
  const t1 = now();
  try {
    let t;
    if (wt && wt.open) {
      t = await wt.time(3000);
    } else {
      const res = await get('/t', { cache: 'no-store' }, 3000);
      if (!res.ok) return;
      t = res;
    }
    const t4 = now();
    if (t instanceof Response) t = (await t.json()).t;
    if (sync.handleSample(makeSample(t1, Number(t), t4, burst))) stats.syncs++;
  } catch {
    // lost: the next sample or burst makes up for it
  }
}

/** An extra burst (page visible again, WebTransport opened): up to `n` samples, sent
 *  `burstGapMs` apart without waiting for answers, ending early once settled (sync.js). */
async function burst(n, id) {
  const pending = [];
  for (let i = 0; i < n && !burstSettled(sync.samples, id, burstMin(1)); i++) {
    pending.push(sampleOnce(id));
    await sleep(burstGapMs(rand));
  }
  await Promise.all(pending);
}

/** The /t schedule (sync.js `Schedule`): an adaptive join burst, then samples when the
 *  predicted error needs them (one every ~40 s in the steady state). Unsynced: retry every 2 s. */
const schedule = new Schedule();
let wakeSync = () => {};
async function syncLoop() {
  for (;;) {
    if (schedule.steady && !wt && poller.longPoll()) await rideOrSend(schedule.burst);
    else sampleOnce(schedule.burst);
    const delay = schedule.handleSent(sync, rand);
    await new Promise((r) => {
      const t = setTimeout(r, sync.synced ? delay : Math.min(delay, 2000));
      wakeSync = () => { clearTimeout(t); r(); };
    });
  }
}

/** A due steady-state sample waiting for the poll loop ({burst, timer, done}), or null. */
let ridingSample = null;

/** Hands a steady sample to the poll loop, which sends it on the long-poll connection right
 *  after the next /s answer (the browser reuses that idle keep-alive connection, so the sample
 *  costs no TCP handshake). Sends it itself when no answer came within LONG_POLL_TIMEOUT_MS. */
async function rideOrSend(burstId) {
  const rode = await new Promise((done) => {
    const timer = setTimeout(() => { ridingSample = null; done(false); }, LONG_POLL_TIMEOUT_MS);
    ridingSample = { burst: burstId, timer, done };
  });
  if (!rode) sampleOnce(burstId);
}

/** In the poll loop, between an /s answer and the next park: the riding sample, if one is due. */
async function sendRidingSample() {
  const ride = ridingSample;
  if (!ride) return;
  ridingSample = null;
  clearTimeout(ride.timer);
  const wait = rideDelayMs(poller.changed, rand);
  if (wait > 0) await sleep(wait);
  await sampleOnce(ride.burst);
  ride.done(true);
}

// ---- state polling and the show -----------------------------------------------------------

/** One /s request at a time: long-polled (`?after=v`) when the relay gives a version, else
 *  polled at the relay's pace (poll.js). While WebTransport pushes the state, a plain /s every
 *  WT_SAFETY_POLL_MS is the safety net. */
async function pollLoop() {
  for (;;) {
    // Back from being away: one plain /s, answered at once, says what is playing now.
    const plain = !!wt || !!(returning && !returning.fresh);
    const long = poller.longPoll(plain);
    stats.parked = long;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    pollCtl = ctl;
    const asked = returning;
    try {
      poller.handleSent(now());
      // Our own ETag handling: the browser cache stays out of it.
      const res = await get(poller.url(plain), { headers: poller.headers(), cache: 'no-store' }, poller.timeoutMs(plain), ctl);
      if (res.status === 304) poller.handleNotModified(now());
      else if (res.ok) {
        const body = await res.json();
        if (poller.handleOk(now(), body, res.headers.get('ETag'))) handleLive(body);
      }
      else poller.handleError(now());
      stats.polls++;
      if (long) stats.longPolls++;
      if (asked && asked === returning && plain && poller.failures === 0) returning.fresh = true;
    } catch {
      if (ctl && ctl.signal.aborted && ctl.aborted) {
        // We cut a request the page no longer trusts (it was away): ask again at once.
        pollCtl = null;
        continue;
      }
      poller.handleError(now());
      stats.pollErrors++;
    }
    pollCtl = null;
    stats.parked = false;
    takeShow();
    setBudget();
    if (!wt && poller.failures === 0) await sendRidingSample();
    // With WebTransport, state is pushed: poll only as a slow safety net.
    const delay = wt ? WT_SAFETY_POLL_MS : poller.nextDelayMs(rand);
    if (delay > 0) await pollSleep(delay);
  }
}

/** The clock error the /t schedule keeps within (sync.js `budgetFor`): a relaxed show's 16 ms,
 *  else what the playing, held or armed cue needs, else the tightest when no cue is known. When
 *  it tightens beyond what the clock can promise now (a chase after a wash), a re-sync burst
 *  starts at once. */
function setBudget() {
  const s = poller.state;
  const c = show && s && s.cue && ['running', 'hold', 'standby'].includes(s.state) ? cueIndex(show, s.cue) : -1;
  const budget = budgetFor(show, c);
  const tighter = budget < schedule.budgetMs;
  schedule.budgetMs = budget;
  if (tighter && joined && sync.synced && sync.predictedErrorMs(now()) > budget && schedule.steady) resyncNow();
}

/** A re-sync burst now, whatever the schedule had planned (a riding sample goes on its own). */
function resyncNow() {
  schedule.handleWake(resyncBurst(1));
  if (ridingSample) {
    const ride = ridingSample;
    ridingSample = null;
    clearTimeout(ride.timer);
    ride.done(true);
  }
  wakeSync();
}

function takeShow() {
  const url = poller.takeNewShow();
  if (url) loadShow(url);
}

/** Poll interval while WebTransport pushes the state. */
const WT_SAFETY_POLL_MS = 15000;
let wakePoll = () => {};
function pollSleep(ms) {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    wakePoll = () => { clearTimeout(t); r(); };
  });
}

// ---- WebTransport (secure contexts only; any failure: HTTP polling) ------------------------

function handlePush(body) {
  stats.wtPushes++;
  if (poller.handleOk(now(), body, null)) {
    handleLive(body);
    takeShow();
  }
}

async function wtLoop() {
  if (location.protocol !== 'https:' || !window.isSecureContext || typeof WebTransport !== 'function') return;
  if (q.get('transport') === 'poll') return;
  let mod;
  try { mod = await import('./wt.js'); } catch { return; }
  for (let failures = 0; ; failures++) {
    try {
      wt = await mod.openSession(handlePush);
      stats.transport = 'wt';
      failures = 0;
      burst(resyncBurst(1), 2000 + stats.syncs); // datagram samples: better than /t ones
      const keepAlive = setInterval(() => sampleOnce(3000), 10000);
      await wt.closed;
      clearInterval(keepAlive);
    } catch { /* no UDP, no certificate, no relay support: poll */ }
    wt = null;
    stats.transport = 'poll';
    stats.wtFailures++;
    wakePoll();
    await sleep(Math.min(60000, 5000 * 2 ** Math.min(failures, 4)) * (0.75 + 0.5 * rand()));
  }
}

async function loadShow(url) {
  try {
    const res = await get(url, {}, 15000);
    const s = await res.json();
    const problem = validateShow(s);
    if (problem) throw new Error(problem);
    const oldZone = show && zone >= 0 ? show.zones[zone] : null;
    show = s;
    showUrl = url;
    stats.showLoads++;
    const keep = oldZone ? s.zones.indexOf(oldZone) : -1;
    zone = keep >= 0 ? keep : pickZone(s);
    setBudget();
    renderJoin();
  } catch {
    // Retry with the next poll.
    if (poller.showUrl === url) poller.pendingShow = url;
  }
}

/** Zone from `?zone=` (name or 1-based number), else the one already chosen, else the first. */
function pickZone(s) {
  const want = q.get('zone');
  if (want !== null) {
    const byName = s.zones.findIndex((z) => z.toLowerCase() === want.toLowerCase());
    if (byName >= 0) return byName;
    const n = Number(want);
    if (Number.isInteger(n) && n >= 1 && n <= s.zones.length) return n - 1;
  }
  return zone >= 0 && zone < s.zones.length ? zone : 0;
}

// ---- join screen --------------------------------------------------------------------------

function renderJoin() {
  if (!show) return;
  $('title').textContent = show.title;
  const box = $('zones');
  box.hidden = show.zones.length < 2;
  const list = $('zone-list');
  list.textContent = '';
  show.zones.forEach((name, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = name.replace(/[-_]/g, ' ');
    b.setAttribute('aria-pressed', String(i === zone));
    b.onclick = () => { zone = i; renderJoin(); };
    list.append(b);
  });
}

function join() {
  if (joined) return;
  joined = true;
  // All of this must start inside the tap: full screen, wake lock, video.
  const el = document.documentElement;
  try {
    const fs = el.requestFullscreen || el.webkitRequestFullscreen;
    if (fs) Promise.resolve(fs.call(el, { navigationUI: 'hide' })).catch(() => {});
  } catch { /* not allowed here */ }
  keepAwake();
  startTorch();
  // A desk's first move is announced only LIVE_LEAD (400 ms) ahead: have live.js by then.
  setTimeout(loadLive, LIVE_WARM_MS);
  if (show && history.replaceState) {
    // A reload (or a shared link) keeps the zone.
    q.set('zone', show.zones[zone]);
    try { history.replaceState(null, '', `?${q}`); } catch { /* sandboxed */ }
  }
  document.body.classList.add('joined');
}

// ---- the torch (torch.js; FORMAT.md §3) -----------------------------------------------------

/** The torch driver once a camera track with a torch is live, else null. */
let torch = null;
let torchTrack = null;

/** At the join tap: asks for the back camera when the show plays the torch and the page may
 *  (torch.js `torchPossible`); keeps the track only when it can switch a torch. torch.js is
 *  loaded only for a show that uses the torch (the page stays as light for every other show). */
async function startTorch() {
  if (!usesTorch(show)) return;
  let mod;
  try { mod = await import('./torch.js'); } catch { stats.torch = 'not here'; return; }
  const { torchPossible, trackHasTorch, torchConstraints, TorchDriver } = mod;
  const possible = torchPossible({
    usesTorch: usesTorch(show),
    secure: window.isSecureContext === true,
    mediaDevices: navigator.mediaDevices,
    reducedMotion: limiter.reducedMotion,
  });
  if (!possible) {
    stats.torch = usesTorch(show) ? 'not here' : 'off';
    return;
  }
  stats.torch = 'asking';
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if (!track || !trackHasTorch(track)) {
      for (const t of stream.getTracks()) t.stop();
      stats.torch = 'none';
      return;
    }
    torchTrack = track;
    torch = new TorchDriver((on) => track.applyConstraints(torchConstraints(on)));
    track.addEventListener('ended', () => { torch = null; torchTrack = null; stats.torch = 'ended'; });
    stats.torch = 'ready';
  } catch {
    stats.torch = 'refused';
  }
}

let wakeLock = null;
async function keepAwake() {
  if (document.visibilityState === 'hidden') return;
  if (navigator.wakeLock && window.isSecureContext && q.get('keepawake') !== 'video') {
    try {
      wakeLock = await navigator.wakeLock.request('screen');
      return;
    } catch { /* fall back to the video */ }
  }
  startVideo();
}

function startVideo() {
  const v = $('keepawake');
  if (!v.getAttribute('src')) v.src = 'keepawake.mp4';
  v.muted = true;
  const p = v.play();
  if (p && p.catch) p.catch(() => {});
}

// ---- away and back (lock, app switch, captive sheet closed and reopened) --------------------
// A hidden page's timers are throttled (to once a minute in background tabs and captive
// sheets) or frozen altogether. Coming back, the page must not trust what it had: the clock
// estimate has aged (sync.js `predictedErrorMs` grows with the time since the last sample), a
// cue may have fired meanwhile, the parked /s may be long dead. So: the screen holds the colour
// it shows (no stale cue, no jump) until a plain /s has answered (at most RETURN_HOLD_MS), then
// cross-fades to what is playing now; a re-sync burst starts at once. The flash limiter keeps
// its history across the gap.

/** Longest the screen holds its colour after coming back while /s has not answered, ms. */
const RETURN_HOLD_MS = 800;
/** Frames further apart than this mean the page was away (hidden, frozen or throttled) even
 *  when no event said so, ms: long enough that a busy phone's slow frames never count. */
const AWAY_GAP_MS = 3000;
/** {since, fresh, awayMs} while coming back, else null. */
let returning = null;
let hiddenAt = NaN;
let pollCtl = null;

function handleAway() {
  if (!Number.isFinite(hiddenAt)) hiddenAt = now();
  torch?.off();
}

function handleBack() {
  if (document.visibilityState === 'hidden') return;
  const t = now();
  const awayMs = Number.isFinite(hiddenAt) ? t - hiddenAt : 0;
  hiddenAt = NaN;
  if (returning && !returning.fresh) return;
  returning = { since: t, fresh: false, awayMs };
  stats.returns++;
  stats.lastAwayMs = Math.round(awayMs);
  if (!joined) return;
  // Wake locks are released when the page hides; the video pauses. Take them again.
  keepAwake();
  resyncNow();
  // The parked /s may be dead or stale: cut it and ask plainly, now.
  if (pollCtl) { pollCtl.aborted = true; pollCtl.abort(); }
  wakePoll();
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') handleAway();
  else handleBack();
});
document.addEventListener('freeze', handleAway);
document.addEventListener('resume', handleBack);
window.addEventListener('pagehide', handleAway);
window.addEventListener('pageshow', (e) => { if (e.persisted) handleBack(); });

// ---- the lighting desk's live layer (live.js) -----------------------------------------------

/** Loads live.js once (a failed load is tried again at the next call). */
function loadLive() {
  liveLoading ??= import('./live.js').then((m) => {
    parseLive = m.parseLive;
    live = new m.LiveLayers();
    for (const body of pendingLive.splice(0)) live.handleLayer(parseLive(body));
  }).catch(() => { liveLoading = null; });
  return liveLoading;
}

/** Feeds the desk layer an /s answer carries, if any (loading live.js on the first one). */
function handleLive(body) {
  if (!body || !Number.isSafeInteger(body.live_at)) return;
  if (live) { live.handleLayer(parseLive(body)); return; }
  pendingLive.push(body);
  if (pendingLive.length > 4) pendingLive.shift();
  loadLive();
}

// ---- rendering ----------------------------------------------------------------------------

/** What the screen should show at beacon time `us`: {rgb, scene, live, torch}: the cue's target
 *  with the lighting desk's live colour over it where the desk holds this zone (never over a
 *  blackout; the desk holds the screen, not the torch, which stays off there). */
function target(us) {
  const t = cueTarget(us);
  if (!joined || !sync.synced || !show || poller.state?.state === 'blackout') return t;
  const rgb = live ? live.colourAt(show.zones[zone], us, t.rgb) : null;
  return rgb ? { rgb, scene: t.scene, live: true, desk: true, torch: false } : t;
}

/** What the show's cue gives at beacon time `us`: {rgb, scene, live}. */
function cueTarget(us) {
  const s = poller.state;
  if (!joined || !s || !sync.synced) return { rgb: IDLE, scene: 'idle', live: false };
  if (s.state === 'blackout') return { rgb: BLACK, scene: 'blackout', live: true };
  const c = show && s.cue ? cueIndex(show, s.cue) : -1;
  if (c >= 0 && s.state === 'hold' && s.held !== null) {
    const t = s.held / 1000;
    return { rgb: colourAt(show, zone, c, t), scene: `hold:${s.cue}:${s.at}`, live: true, torch: torchAt(show, zone, c, t) };
  }
  if (c >= 0 && s.state === 'running' && s.at !== null && us >= s.at) {
    const t = (us - s.at) / 1000;
    return { rgb: colourAt(show, zone, c, t), scene: `run:${s.cue}:${s.at}`, live: true, torch: torchAt(show, zone, c, t) };
  }
  return { rgb: IDLE, scene: s.state === 'standby' || s.state === 'running' ? 'ready' : 'idle', live: false };
}

function frame(ts) {
  requestAnimationFrame(frame);
  if (Number.isFinite(lastFrameTs)) {
    const d = ts - lastFrameTs;
    if (d > 4 && d < 50) frameMs += (d - frameMs) * 0.1;
    // No frames for seconds and no event said so (some sheets and old browsers): back all the same.
    if (d > AWAY_GAP_MS && !returning) { hiddenAt = now() - d; handleBack(); }
  }
  lastFrameTs = ts;
  if (returning && !returning.fresh && ts - returning.since < RETURN_HOLD_MS && shown) {
    // Back from being away: hold what the screen shows until /s says what plays now.
    const us = sync.synced ? Math.round(sync.beaconUs(ts + frameMs)) : NaN;
    frames.push({ us, rgb: shown, want: shown, scene: 'returning', fading: false, zone, held: true });
    if (frames.length > 600) frames.splice(0, frames.length - 600);
    return;
  }
  if (returning) {
    // What plays now may differ from what the screen held: cross-fade to it, never cut.
    returning = null;
    if (shown) { fadeFrom = shown; fadeStart = ts; }
  }
  // The colour is for the moment this frame reaches the screen: about one frame from now.
  const local = ts + frameMs;
  const us = sync.synced ? Math.round(sync.beaconUs(local)) : NaN;
  const t = target(us);
  if (t.scene !== scene) {
    fadeFrom = shown;
    fadeStart = ts;
    scene = t.scene;
  }
  let rgb = t.rgb;
  const k = (ts - fadeStart) / XFADE_MS;
  const fading = fadeFrom && k < 1;
  if (fading) rgb = rgb.map((x, i) => Math.round(fadeFrom[i] + (x - fadeFrom[i]) * k));
  const out = limiter.handleFrame(ts, rgb);
  // The torch follows the cue (not the cross-fade), through its own flash limiter.
  if (torch) torch.handleFrame(ts, !!t.torch && !fading);
  if (!shown || out[0] !== shown[0] || out[1] !== shown[1] || out[2] !== shown[2]) {
    $('stage').style.backgroundColor = `rgb(${out[0]},${out[1]},${out[2]})`;
  }
  shown = out;
  const mode = joined ? (t.live ? 'live' : t.scene) : 'join';
  if (document.body.dataset.mode !== mode) document.body.dataset.mode = mode;
  frames.push({ us, rgb: out, want: t.rgb, scene: t.scene, fading: !!fading, zone, desk: !!t.desk });
  if (frames.length > 600) frames.splice(0, frames.length - 600);
}

// ---- start --------------------------------------------------------------------------------

if (window.matchMedia) {
  const mq = matchMedia('(prefers-reduced-motion: reduce)');
  mq.addEventListener?.('change', () => { limiter = new FlashLimiter({ reducedMotion: mq.matches }); });
}
$('join').addEventListener('click', join);
syncLoop();
pollLoop();
wtLoop();
requestAnimationFrame(frame);

/** Read-only hook for tests and for curious people with a console. */
window.crowdlight = Object.freeze({
  offsetMs: () => (sync.synced ? sync.offsetAt(now()) : NaN),
  beaconNowUs: () => (sync.synced ? sync.beaconUs(now()) : NaN),
  syncInfo: () => ({ synced: sync.synced, errorBoundMs: sync.errorBoundMs, levelErrMs: sync.levelErrMs, driftPpm: sync.driftPpm, driftUncPpm: sync.driftUncPpm, predictedErrorMs: sync.predictedErrorMs(now()), samples: sync.samples.length, steady: schedule.steady, budgetMs: schedule.budgetMs }),
  state: () => ({ joined, zone, reducedMotion: limiter.reducedMotion, torchOn: !!torch?.on, torchCalls: torch ? torch.calls : 0, zoneName: show ? show.zones[zone] : null, show: showUrl, ...poller.state, failures: poller.failures, suppressed: limiter.suppressed, ...stats }),
  colour: () => shown && shown.slice(),
  frames: () => frames.map((f) => ({ ...f })),
});
