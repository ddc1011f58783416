// Clock sync on synthetic traces: jitter, loss, asymmetric queueing, oscillator drift.
// Accuracy bounds (estimate vs. the simulated truth), never wall-clock timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClockSync, Schedule, makeSample, mulberry32, burstGapMs, resyncDelayMs, JOIN_BURST, JOIN_BURST_MIN, resyncBurst,
  fitDriftPpm, burstSettled, steadyDelayMs, BUDGET_MS,
} from '../www/sync.js';

const DAY_MS = 86400000;

/**
 * A simulated phone talking to the relay. Local clock τ (ms); true offset θ(τ) = s0 + ρτ.
 * One-way delays: floor 50 ms each way; uplink jitter uniform 0–100 ms, downlink jitter skewed
 * towards 0 (100·u²), plus 2 % bufferbloat spikes of up to 400 ms: mean RTT ≈ 235 ms with the
 * "100 ms ± 50 ms" per direction; 5 % of exchanges lost. Local stamps quantised like Chrome's
 * performance.now() (0.1 ms) unless `quantumMs` says otherwise; server stamps in whole µs.
 */
function makeWorld(seed, { driftMsPerDay = 150, loss = 0.05, quantumMs = 0.1, floorAsymMs = 0 } = {}) {
  const rand = mulberry32(seed);
  const rho = driftMsPerDay / DAY_MS;
  const s0 = 1.764e12 + rand() * 1e9; // beacon epoch ms, far from the local origin
  const truth = (tau) => s0 + rho * tau;
  const q = (x) => Math.round(x / quantumMs) * quantumMs;
  const spike = () => (rand() < 0.02 ? 400 * rand() : 0);
  /** One /t exchange started at local time t1; null when lost. */
  function exchange(t1, burst) {
    if (rand() < loss) return null;
    const up = 50 + floorAsymMs + 100 * rand() + spike();
    const down = 50 + 100 * rand() ** 2 + spike();
    const serverMs = truth(t1 + up) + (t1 + up); // server clock at arrival
    const tUs = Math.round(serverMs * 1000);
    const t4 = t1 + up + 0.05 + down;
    return makeSample(q(t1), tUs, q(t4), burst);
  }
  return { rand, truth, exchange };
}

/**
 * Runs a session with the page's schedule (`Schedule`, fed with the answers that have arrived
 * when each request leaves), until `endMs`; from the end of the join burst on, calls `probe(τ)`
 * every second. Returns the send times of the requests.
 */
function runSession(world, sync, { startMs = 1000, endMs = 30 * 60 * 1000, probe = () => {}, onlineUntilMs = Infinity }) {
  const { rand, exchange } = world;
  const schedule = new Schedule();
  const sent = [];
  const inFlight = [];
  let nextProbe = null;
  const deliver = (until) => {
    inFlight.sort((a, b) => a.t4 - b.t4);
    while (inFlight.length && inFlight[0].t4 <= until) {
      const a = inFlight.shift();
      // The page syncs before it renders: probing starts with the join burst's last answer.
      while (nextProbe !== null && nextProbe < a.t4) { probe(nextProbe); nextProbe += 1000; }
      sync.handleSample(a);
    }
  };
  let t = startMs;
  let joinLast = -Infinity;
  while (t < endMs) {
    deliver(t);
    const burst = schedule.burst;
    sent.push(t);
    const a = t < onlineUntilMs ? exchange(t, burst) : null;
    if (a) inFlight.push(a);
    if (a && burst === 0) joinLast = Math.max(joinLast, a.t4);
    t += schedule.handleSent(sync, rand);
    // The join burst is over: the page renders once its last answer is in.
    if (burst === 0 && schedule.burst > 0) nextProbe = joinLast;
  }
  deliver(endMs);
  while (nextProbe !== null && nextProbe <= endMs) { probe(nextProbe); nextProbe += 1000; }
  return sent;
}

const err = (world, sync, tau) => Math.abs(sync.offsetAt(tau) - (world.truth(tau)));

/** Error statistics of many simulated sessions; the 2 ms bound applies from `settleMs` after joining. */
function measure(seeds, options, settleMs = 2 * 60 * 1000) {
  let join = 0;
  let early = 0;
  let joinSamples = 0;
  let lateSends = 0;
  let maxBound = 0;
  const steady = [];
  for (const seed of seeds) {
    const world = makeWorld(seed, options);
    const sync = new ClockSync();
    let joinedAt = null;
    const sent = runSession(world, sync, {
      probe(tau) {
        const e = err(world, sync, tau);
        if (joinedAt === null) { joinedAt = tau; join = Math.max(join, e); }
        if (tau - joinedAt < settleMs) early = Math.max(early, e);
        else steady.push(e);
        if (sync.converged) maxBound = Math.max(maxBound, sync.errorBoundMs);
      },
    });
    joinSamples = Math.max(joinSamples, sent.filter((x, i) => i < JOIN_BURST && x < sent[0] + 5000).length);
    lateSends += sent.filter((x) => x >= 15 * 60 * 1000).length;
  }
  steady.sort((x, y) => x - y);
  const pct = (p) => steady[Math.min(steady.length - 1, Math.floor(steady.length * p))];
  // /t requests per minute from 15 to 30 min (the drift estimate converged at 10 min).
  const perMin = lateSends / seeds.length / 15;
  return { join, early, median: pct(0.5), p99: pct(0.99), max: steady[steady.length - 1], joinSamples, perMin, maxBound };
}

const fmt = (r) => `after the join burst (≤ ${r.joinSamples} samples) ≤ ${r.join.toFixed(3)} ms, first 2 min ≤ ${r.early.toFixed(3)} ms; ` +
  `from 2 min on: median ${r.median.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, max ${r.max.toFixed(3)} ms; ` +
  `/t from 15 to 30 min: ${r.perMin.toFixed(2)} a minute`;

test('offset stays within 3.5 ms of truth (p99 1.5 ms) at under 4 /t a minute: 100±50 ms jitter, 5 % loss, asymmetric, 150 ms/day', () => {
  const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
  const r = measure(seeds, {});
  console.log(`# sync error, 40 seeds x 30 min probed every second: ${fmt(r)}`);
  // The session follows the schedule answer by answer (fed the answers that have arrived).
  // The schedule samples when its predicted error needs it: once the drift is known it settles
  // at ~3.5 /t a minute (the fixed schedule sent ~8); the worst second of 40 × 28 minutes is
  // 3.2 ms off (it was 2.5).
  assert.ok(r.max <= 3.5, `max sync error ${r.max} ms exceeds 3.5 ms`);
  assert.ok(r.p99 <= 1.5, `p99 sync error ${r.p99} ms`);
  assert.ok(r.perMin <= 4, `${r.perMin} /t a minute`);
  assert.ok(r.median <= 0.5, `median sync error ${r.median} ms`);
  assert.ok(r.join <= 10, `join-burst error ${r.join} ms`);
});

test('a quiet network (LAN-like 2 ± 1 ms): short join burst, error bound under 2 ms at 2 /t a minute', () => {
  const seeds = Array.from({ length: 20 }, (_, i) => i + 500);
  const quiet = (seed) => {
    const w = makeWorld(seed, { loss: 0.01 });
    const rand = mulberry32(seed + 7);
    // Floors 1 ms, exponential-ish jitter of ~1 ms each way.
    w.exchange = (t1, burst) => {
      if (rand() < 0.01) return null;
      const up = 1 - Math.log(1 - rand());
      const down = 1 - Math.log(1 - rand());
      const tUs = Math.round((w.truth(t1 + up) + t1 + up) * 1000);
      return makeSample(Math.round(t1 * 10) / 10, tUs, Math.round((t1 + up + down) * 10) / 10, burst);
    };
    return w;
  };
  let worstJoin = 0;
  let joinMax = 0;
  let perMin = 0;
  let bound = 0;
  let worst = 0;
  for (const seed of seeds) {
    const w = quiet(seed);
    const sync = new ClockSync();
    let first = true;
    const sent = runSession(w, sync, {
      probe(tau) {
        const e = err(w, sync, tau);
        if (first) { worstJoin = Math.max(worstJoin, e); first = false; }
        worst = Math.max(worst, e);
        if (sync.converged) bound = Math.max(bound, sync.errorBoundMs);
      },
    });
    joinMax = Math.max(joinMax, sent.filter((x) => x < sent[0] + 4000).length);
    perMin += sent.filter((x) => x >= 15 * 60 * 1000).length / 15 / seeds.length;
  }
  console.log(`# quiet network, 20 seeds x 30 min: join burst ≤ ${joinMax} samples, error after it ≤ ${worstJoin.toFixed(3)} ms, ` +
    `max error ${worst.toFixed(3)} ms; converged: error bound ≤ ${bound.toFixed(3)} ms at ${perMin.toFixed(2)} /t a minute`);
  assert.ok(joinMax < JOIN_BURST, `join burst of ${joinMax}`);
  assert.ok(joinMax >= JOIN_BURST_MIN);
  assert.ok(bound < 2, `error bound ${bound} ms`);
  assert.ok(perMin <= 2.2, `${perMin} /t a minute`);
  assert.ok(worst < 2, `max error ${worst} ms`);
});

test('burstSettled: two best bounds per direction within 0.5 ms, at least `min` samples', () => {
  const at = (t1, up, down, burst = 3) => makeSample(t1, (1e6 + t1 + up) * 1000, t1 + up + down, burst);
  const xs = [at(0, 1, 1), at(50, 1.3, 5), at(100, 6, 1.2), at(150, 9, 9, 4)];
  assert.equal(burstSettled(xs, 3, 3), true);
  assert.equal(burstSettled(xs, 3, 4), false, 'too few of burst 3');
  assert.equal(burstSettled(xs.slice(0, 2), 3, 2), false, 'second-best down 5 ms worse');
  assert.equal(burstSettled(xs, 4, 1), false, 'one sample has no second best');
});

test('schedule: samples when the predicted error needs them; a looser budget samples less', () => {
  const r = mulberry32(3);
  const sync = new ClockSync();
  const s = new Schedule();
  // No answers at all: the join burst runs to its maximum, then bursts back off from 5 s.
  const gaps = Array.from({ length: JOIN_BURST }, () => s.handleSent(sync, r));
  assert.ok(gaps.slice(0, -1).every((g) => g >= 30 && g < 70));
  assert.ok(gaps.at(-1) >= 3750 && gaps.at(-1) <= 6250);
  assert.equal(s.burst, 1);
  // A pinned level and a well-known drift: after the burst's fewest (4), one sample ~40 s.
  sync.baseOffset = 0;
  sync.levelErrMs = 0.3;
  sync.driftUncPpm = 2;
  for (let i = 0; i < 3; i++) assert.ok(s.handleSent(sync, r) < 70);
  let d = s.handleSent(sync, r);
  assert.equal(s.steady, true, 'pinned and predictable: the next request is a steady single sample');
  assert.ok(d >= 30000 && d <= 50000, `steady delay ${d}`);
  for (let i = 0; i < 100; i++) { const x = steadyDelayMs(r); assert.ok(x >= 30000 && x <= 50000); }
  // Pinned level, unknown drift: a burst when the prediction reaches the budget,
  // (2 − 0.5) ms / 50 ppm = 30 s ± 25 %, never sooner than the fixed schedule's burst 3 (20 s).
  sync.levelErrMs = 0.5;
  sync.driftUncPpm = 50;
  d = s.handleSent(sync, r);
  assert.equal(s.steady, false);
  assert.ok(d >= 22500 && d <= 50000, `budget delay ${d}`);
  // A looser budget (a slow cue): the same clock is good enough for the steady state.
  s.budgetMs = 8;
  for (let i = 0; i < 12; i++) s.handleSent(sync, r);
  assert.equal(s.steady, true);
  // A level that bursts cannot pin: the fixed schedule's re-sync bursts (by now every 60 s).
  s.budgetMs = BUDGET_MS;
  sync.levelErrMs = 40;
  d = s.handleSent(sync, r);
  assert.equal(s.steady, false);
  assert.ok(d >= 45000 && d <= 75000, `re-sync ${d}`);
  // Back after being away: a burst starts at once.
  s.handleWake(12);
  assert.equal(s.steady, false);
  d = s.handleSent(sync, r);
  assert.ok(d >= 30 && d < 70);
});

test('predicted error grows with the time since the last sample (a page away for minutes knows less)', () => {
  const sync = new ClockSync();
  sync.handleSample(makeSample(1000, 5_000_000_000, 1010));
  const at = sync.refLocal;
  assert.equal(sync.predictedErrorMs(at), sync.levelErrMs);
  // Before any drift measurement the prior holds: 50 ppm over 5 minutes is 15 ms.
  assert.ok(Math.abs(sync.predictedErrorMs(at + 300000) - (sync.levelErrMs + 15)) < 1e-9);
  assert.equal(new ClockSync().predictedErrorMs(0), Infinity);
});

test('with 1 ms local clock resolution (Safari, Firefox) the error stays within 3 ms', () => {
  const seeds = Array.from({ length: 20 }, (_, i) => i + 100);
  const r = measure(seeds, { quantumMs: 1 });
  console.log(`# sync error with 1 ms clock resolution, 20 seeds: ${fmt(r)}`);
  // The schedule samples when its predicted error (which assumes 0.1 ms of resolution at
  // least) says so; with a 1 ms clock one seed of 20 reaches 2.6 ms once.
  assert.ok(r.max <= 3, `max sync error ${r.max} ms`);
});

test('a constant path asymmetry shows up as half of it (the limit of any two-way method)', () => {
  // The uplink floor is 3 ms longer than the downlink's: no exchange can tell, so the offset is
  // 1.5 ms late. Real LAN/WiFi floors differ far less; this documents the limit.
  const seeds = Array.from({ length: 10 }, (_, i) => i + 300);
  const world = (seed) => makeWorld(seed, { floorAsymMs: 3 });
  const errs = [];
  for (const seed of seeds) {
    const w = world(seed);
    const sync = new ClockSync();
    runSession(w, sync, { endMs: 10 * 60 * 1000, probe(tau) { errs.push(sync.offsetAt(tau) - w.truth(tau)); } });
  }
  errs.sort((x, y) => x - y);
  const median = errs[Math.floor(errs.length / 2)];
  console.log(`# 3 ms floor asymmetry: median signed error ${median.toFixed(3)} ms`);
  assert.ok(Math.abs(median - 1.5) < 0.5, `median ${median}`);
});

test('drift is estimated: offline for 20 minutes after 30 minutes of syncing, still within 2.5 ms', () => {
  let worst = 0;
  let worstNaive = 0;
  let worstPpmErr = 0;
  const truePpm = (150 / DAY_MS) * 1e6;
  for (let seed = 200; seed < 220; seed++) {
    const world = makeWorld(seed);
    const sync = new ClockSync();
    runSession(world, sync, {
      endMs: 50 * 60 * 1000,
      onlineUntilMs: 30 * 60 * 1000,
      probe(tau) {
        if (tau < 49 * 60 * 1000) return;
        worst = Math.max(worst, err(world, sync, tau));
        const naive = sync.baseOffset - world.truth(tau);
        worstNaive = Math.max(worstNaive, Math.abs(naive));
      },
    });
    worstPpmErr = Math.max(worstPpmErr, Math.abs(sync.driftPpm - truePpm));
  }
  console.log(`# offline 20 min: max error ${worst.toFixed(3)} ms with drift estimate ` +
    `(worst drift error ${worstPpmErr.toFixed(3)} ppm of ${truePpm.toFixed(3)}); ` +
    `without drift it would be ${worstNaive.toFixed(3)} ms`);
  assert.ok(worst <= 2.5, `offline error ${worst} ms exceeds 2.5 ms`);
  assert.ok(worstNaive > worst, 'the drift estimate should beat a constant offset');
});

test('a clock step (relay restart, device sleep) is followed within one re-sync burst', () => {
  const world = makeWorld(7);
  const sync = new ClockSync();
  const rand = mulberry32(99);
  let t = 1000;
  for (let i = 0; i < JOIN_BURST; i++) { sync.handleSample(world.exchange(t, 0)); t += burstGapMs(rand); }
  // The server timebase jumps by +250 ms: feed samples from a shifted world.
  const shifted = { exchange: (t1, b) => {
    const s = world.exchange(t1, b);
    return s && makeSample(s.t1, s.tMs * 1000 + 250000, s.t4, b);
  } };
  t += 20000;
  for (let i = 0; i < resyncBurst(1); i++) { sync.handleSample(shifted.exchange(t, 1)); t += burstGapMs(rand); }
  const e = Math.abs(sync.offsetAt(t) - (world.truth(t) + 250));
  assert.ok(e < 60, `after a step the estimate follows the new samples (error ${e} ms)`);
});

test('bad samples are refused', () => {
  assert.equal(makeSample(10, 1e15, 5), null, 'negative rtt');
  assert.equal(makeSample(0, 1e15, 10000), null, 'too slow');
  assert.equal(makeSample(0, NaN, 5), null, 'not a number');
  const sync = new ClockSync();
  assert.equal(sync.handleSample(null), false);
  assert.equal(sync.synced, false);
});

test('one sample gives the Cristian estimate t - (t1 + t4) / 2', () => {
  const sync = new ClockSync();
  sync.handleSample(makeSample(100, 5_000_000, 110));
  assert.equal(sync.offsetAt(105), 5000 - 105);
  assert.equal(sync.beaconUs(105), 5_000_000);
  assert.equal(sync.errorBoundMs, 5);
});

test('drift fit recovers a known slope from exact samples', () => {
  const pts = [];
  for (let i = 0; i < 10; i++) {
    const mid = i * 200000 + 5;
    const server = mid + 1000 + mid * 20e-6;
    pts.push(makeSample(mid - 1 + (i % 3) * 0.5, server * 1000, mid + 1 - (i % 2) * 0.5));
  }
  const ppm = fitDriftPpm(pts, pts[9].mid);
  assert.ok(Math.abs(ppm - 20) < 1, `fitted ${ppm} ppm`);
  // Wide intervals that a flat line fits: no drift is claimed.
  const loose = [makeSample(0, 1000e3 + 50e3, 100), makeSample(60000, 61000e3 + 50.3e3, 60100)];
  assert.equal(fitDriftPpm(loose, loose[1].mid), 0, 'loose samples do not prove any drift');
});

test('re-sync schedule: grows from 5 s to 60 s with ±25 % jitter', () => {
  const r = mulberry32(5);
  for (let i = 0; i < 200; i++) {
    const d1 = resyncDelayMs(1, r);
    assert.ok(d1 >= 3750 && d1 <= 6250);
    const d9 = resyncDelayMs(9, r);
    assert.ok(d9 >= 45000 && d9 <= 75000);
    const g = burstGapMs(r);
    assert.ok(g >= 30 && g < 70);
  }
});
