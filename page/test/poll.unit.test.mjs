// Polling schedule: server-directed interval with jitter, ETag, backoff, new show URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Poller, jitteredPollMs, backoffMs, parseState, rideDelayMs, BACKOFF_CAP_MS, LONG_POLL_TIMEOUT_MS, POLL_TIMEOUT_MS, REPARK_SPREAD_MS, RIDE_SPREAD_MS } from '../www/poll.js';
import { mulberry32 } from '../www/sync.js';

const body = (over = {}) => ({
  state: 'running', cue: 'wash', at: 1764000000000000, held: null, next: 'chase', poll: 1000,
  show: '/show/0123456789abcdef0123456789abcdef.json', ...over,
});

test('poll delay follows the server with ±20 % jitter, spread over the whole range', () => {
  const r = mulberry32(1);
  const xs = Array.from({ length: 2000 }, () => jitteredPollMs(1000, r));
  assert.ok(xs.every((x) => x >= 800 && x <= 1200));
  assert.ok(Math.min(...xs) < 820 && Math.max(...xs) > 1180, 'jitter covers the range');
  assert.ok(jitteredPollMs(3000, () => 0.5) === 3000);
  assert.equal(jitteredPollMs(undefined, () => 0.5), 1000, 'absent: default');
  assert.equal(jitteredPollMs(-5, () => 0.5), 1000, 'absurd: default');
  assert.equal(jitteredPollMs(1e9, () => 0.5), 30000, 'capped');
  assert.equal(jitteredPollMs(1, () => 0.5), 250, 'floored');
});

test('backoff is exponential with full jitter and capped', () => {
  const r = mulberry32(2);
  for (let n = 1; n <= 30; n++) {
    const ceiling = Math.min(BACKOFF_CAP_MS, 500 * 2 ** (n - 1));
    const xs = Array.from({ length: 300 }, () => backoffMs(n, r));
    assert.ok(xs.every((x) => x >= 50 && x <= ceiling), `n=${n}`);
    if (n >= 3) assert.ok(Math.min(...xs) < ceiling * 0.1, 'full jitter reaches near zero');
  }
  assert.equal(backoffMs(100, () => 0.999999), BACKOFF_CAP_MS * 0.999999);
});

test('poller: ETag, 304, errors then recovery', () => {
  const p = new Poller();
  const r = () => 0.5;
  assert.deepEqual(p.headers(), {});
  assert.ok(p.handleOk(0, body(), '"e1"'));
  assert.deepEqual(p.headers(), { 'If-None-Match': '"e1"' });
  assert.equal(p.nextDelayMs(r), 1000);
  p.handleNotModified(1000);
  assert.equal(p.state.cue, 'wash');
  p.handleError(2000);
  p.handleError(2500);
  assert.equal(p.failures, 2);
  assert.equal(p.nextDelayMs(() => 0.5), 500, 'second failure: half of 1000');
  assert.equal(p.state.cue, 'wash', 'the known state survives errors (keep rendering offline)');
  p.handleOk(4000, body({ state: 'hold', held: 5000, poll: 1000 }), '"e2"');
  assert.equal(p.failures, 0);
  assert.equal(p.state.state, 'hold');
});

test('poller: garbage counts as an error; 304 without a state too', () => {
  const p = new Poller();
  p.handleNotModified(0);
  assert.equal(p.failures, 1);
  assert.equal(p.handleOk(0, { state: 'dancing' }, '"x"'), false);
  assert.equal(p.failures, 2);
  assert.equal(p.etag, null);
});

test('poller: a new show URL is handed out once per change', () => {
  const p = new Poller();
  p.handleOk(0, body(), '"a"');
  assert.equal(p.takeNewShow(), '/show/0123456789abcdef0123456789abcdef.json');
  assert.equal(p.takeNewShow(), null);
  p.handleOk(1, body({ cue: 'chase' }), '"b"');
  assert.equal(p.takeNewShow(), null, 'same show');
  p.handleOk(2, body({ show: '/show/ffffffffffffffffffffffffffffffff.json' }), '"c"');
  assert.equal(p.takeNewShow(), '/show/ffffffffffffffffffffffffffffffff.json');
});

test('parseState normalises and rejects', () => {
  assert.equal(parseState(null), null);
  assert.equal(parseState({ state: 'x' }), null);
  const s = parseState({ state: 'stopped', cue: 3, at: 'soon', poll: 3000, show: null });
  assert.deepEqual(s, { state: 'stopped', cue: null, at: null, held: null, next: null, poll: 3000, show: null, v: null });
  for (const bad of [-1, 1.5, 2 ** 53, '7', null, NaN]) assert.equal(parseState({ state: 'stopped', v: bad }).v, null, `v ${bad}`);
  assert.equal(parseState({ state: 'stopped', v: 2 ** 53 - 1 }).v, 2 ** 53 - 1);
});

test('long-poll: first plain /s, then one parked /s?after=v at a time, re-parked at once', () => {
  const p = new Poller();
  const r = () => 0.5;
  assert.equal(p.url(), '/s');
  assert.equal(p.timeoutMs(), POLL_TIMEOUT_MS);
  p.handleSent(0);
  p.handleOk(20, body({ v: 41 }), '"a"');
  assert.equal(p.url(), '/s?after=41');
  assert.equal(p.timeoutMs(), LONG_POLL_TIMEOUT_MS, 'the relay holds up to 30 s: wait longer');
  assert.ok(LONG_POLL_TIMEOUT_MS > 30000);
  assert.equal(p.nextDelayMs(r), REPARK_SPREAD_MS * 0.5, 'first answer (new): park within the spread');
  // Held 30 s, unchanged: 304, re-park at once.
  p.handleSent(20);
  p.handleNotModified(30020);
  assert.equal(p.nextDelayMs(r), 0);
  assert.equal(p.url(), '/s?after=41');
  // Held until the state changed: the new version, re-park within the spread (a standby then a GO).
  p.handleSent(30020);
  p.handleOk(42000, body({ state: 'standby', v: 42 }), '"b"');
  assert.equal(p.url(), '/s?after=42');
  assert.equal(p.nextDelayMs(r), REPARK_SPREAD_MS * 0.5);
  assert.ok(REPARK_SPREAD_MS <= 500, 'a change meanwhile is learnt at most this late');
  p.handleSent(42000);
  p.handleOk(42003, body({ v: 43 }), '"c"');
  assert.equal(p.nextDelayMs(r), REPARK_SPREAD_MS * 0.5, 'a change answered at once: still re-park');
  // WebTransport pushes the state: the safety poll is a plain /s.
  assert.equal(p.url(true), '/s');
  assert.equal(p.timeoutMs(true), POLL_TIMEOUT_MS);
});

test('long-poll: never spins on answers that are not held; errors back off; old relays poll', () => {
  const p = new Poller();
  const r = () => 0.5;
  p.handleSent(0);
  p.handleOk(5, body({ v: 7 }), '"a"');
  // A cache in front answers the stored, unchanged answer at once: pace like a plain poll.
  p.handleSent(5);
  p.handleOk(8, body({ v: 7 }), '"a"');
  assert.equal(p.nextDelayMs(r), 1000);
  p.handleSent(1000);
  p.handleNotModified(1002);
  assert.equal(p.nextDelayMs(r), 1000);
  // A relay that answers every request at once with a new version: paced after a few.
  let t = 2000;
  const delays = [];
  for (let v = 8; v < 14; v++) {
    p.handleSent(t);
    p.handleOk(t + 2, body({ v }), `"${v}"`);
    delays.push(p.nextDelayMs(r));
    t += 1100;
  }
  assert.ok(delays.slice(-3).every((d) => d === 1000), `delays ${delays}`);
  // Errors (timeouts, resets): full-jitter backoff, the version is kept for the next try.
  p.handleSent(t);
  p.handleError(t + 35000);
  p.handleError(t + 36000);
  assert.equal(p.nextDelayMs(r), 500);
  assert.equal(p.url(), '/s', 'the retry after an error is answered at once');
  assert.equal(p.timeoutMs(), POLL_TIMEOUT_MS);
  p.handleSent(t + 37000);
  p.handleOk(t + 37003, body({ v: 13 }), '"13"');
  assert.equal(p.url(), '/s?after=13', 'then parked again');
  assert.equal(p.nextDelayMs(r), 1000, 'an unchanged quick answer: parked at the plain pace');
  // A relay without `v` (older): plain polling at its pace.
  const old = new Poller();
  old.handleSent(0);
  old.handleOk(5, body({ poll: 500 }), '"x"');
  assert.equal(old.url(), '/s');
  assert.equal(old.nextDelayMs(r), 500);
  old.handleSent(500);
  old.handleNotModified(505);
  assert.equal(old.nextDelayMs(r), 500);
});

test('a riding /t goes at once after an unchanged answer, within RIDE_SPREAD_MS after a change', () => {
  const r = mulberry32(9);
  assert.equal(rideDelayMs(false, r), 0);
  for (let i = 0; i < 200; i++) {
    const d = rideDelayMs(true, r);
    assert.ok(d >= 0 && d < RIDE_SPREAD_MS, `delay ${d}`);
  }
});
