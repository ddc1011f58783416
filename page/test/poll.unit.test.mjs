// Polling schedule: server-directed interval with jitter, ETag, backoff, new show URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Poller, jitteredPollMs, backoffMs, parseState, BACKOFF_CAP_MS } from '../www/poll.js';
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
  assert.deepEqual(s, { state: 'stopped', cue: null, at: null, held: null, next: null, poll: 3000, show: null });
});
