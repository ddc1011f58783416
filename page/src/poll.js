// Fetching /s, pure and sans-IO: the caller asks for `url()` / `headers()` / `timeoutMs()`, does
// the fetch and feeds the outcome in with `handleOk` / `handleNotModified` / `handleError`, then
// waits `nextDelayMs(rand)`.
//
// - Long-poll: /s carries `v`, a version of the state (same on every relay). The next request is
//   `/s?after=v`: the relay holds it until the state changes (answered within 50 ms) or for up to
//   30 s. One request is parked at a time; an answer re-parks at once (within REPARK_SPREAD_MS
//   after a change). The client gives up on a
//   parked request after LONG_POLL_TIMEOUT_MS (the relay's longest wait plus a margin). After an
//   error the retry is a plain /s (answered at once), then the page parks again.
// - A relay without `v` (older) is polled as before: the server says how long to wait (`poll`,
//   ms), plus ±20 % jitter so that a hall of phones that joined together does not poll in
//   lock-step. The same pace applies when an unchanged answer to `after=` comes back at once
//   (a cache in front serving a stored answer, a relay that does not hold): never a hot loop.
// - `If-None-Match` with the last ETag: an unchanged state costs a 304;
// - on errors or timeouts: exponential backoff with full jitter (AWS style), capped;
// - a new `show` URL in the state is reported once, so the page downloads the new show.

export const DEFAULT_POLL_MS = 1000;
export const MIN_POLL_MS = 250;
export const MAX_POLL_MS = 30000;
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 8000;
/** A plain poll that has not answered in this long is abandoned and counts as an error. */
export const POLL_TIMEOUT_MS = 4000;
/** A parked `?after=` request is abandoned after this long: the relay holds at most 30 s. */
export const LONG_POLL_TIMEOUT_MS = 35000;
/** An unchanged `?after=` answer faster than this was not held: pace like a plain poll. */
export const MIN_HOLD_MS = 1000;
/** After this many answers in a row that were not held (changed or not), pace like a plain poll
 *  too: a relay or cache that keeps answering at once must not make the page spin. */
export const MAX_QUICK_ANSWERS = 3;

/** After an answer that changed the state the page re-parks within this long (uniformly
 *  random), not at once: the whole hall got that answer in the same instant, and its re-parks
 *  would otherwise arrive together (on the air and at the relay) while the relay is still
 *  answering the rest of the hall. A change meanwhile is answered at once on re-parking. */
export const REPARK_SPREAD_MS = 500;

/** A due steady-state /t rides the long-poll connection: it goes out right after the next /s
 *  answer, before re-parking. After an answer that changed the state it waits up to this long
 *  (uniformly random), so that a cue does not bring every due phone's /t in the same instant. */
export const RIDE_SPREAD_MS = 1000;

/** Delay (ms) before a riding /t after an answer; `changed`: the answer brought a new state. */
export function rideDelayMs(changed, rand) {
  return changed ? RIDE_SPREAD_MS * rand() : 0;
}

/** Server-directed delay with ±20 % jitter; an absent or absurd `poll` falls back to 1 s. */
export function jitteredPollMs(pollMs, rand) {
  let p = Number(pollMs);
  if (!Number.isFinite(p) || p <= 0) p = DEFAULT_POLL_MS;
  p = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, p));
  return p * (0.8 + 0.4 * rand());
}

/** Backoff after `failures` consecutive failures (≥ 1): full jitter in [0, min(cap, base·2^(n−1))). */
export function backoffMs(failures, rand) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return Math.max(50, ceiling * rand());
}

const STATES = ['stopped', 'standby', 'running', 'hold', 'blackout'];

/** Checks and normalises an /s body; null when unusable. `v` is null unless a safe unsigned integer. */
export function parseState(body) {
  if (!body || typeof body !== 'object' || !STATES.includes(body.state)) return null;
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const str = (x) => (typeof x === 'string' ? x : null);
  return {
    state: body.state,
    cue: str(body.cue),
    at: num(body.at),
    held: num(body.held),
    next: str(body.next),
    poll: num(body.poll),
    show: str(body.show),
    v: Number.isSafeInteger(body.v) && body.v >= 0 ? body.v : null,
  };
}

/** What the poller knows; feed it outcomes, ask it for the URL, headers, timeout and delay. */
export class Poller {
  constructor() {
    this.etag = null;
    /** @type {ReturnType<typeof parseState>} */
    this.state = null;
    this.failures = 0;
    this.showUrl = null;
    /** Set when the state names a show URL not yet handed out by `takeNewShow`. */
    this.pendingShow = null;
    this.lastOkMs = NaN;
    /** When the request in flight was sent (local ms). */
    this.sentMs = NaN;
    /** The last answer changed the state (or was the first one). */
    this.changed = false;
    /** The last answer took this long (ms). */
    this.heldMs = 0;
    /** Answers in a row that came back faster than MIN_HOLD_MS. */
    this.quick = 0;
  }

  /** The relay's state version, or null (no long-poll: a relay without `v`). */
  get version() {
    return this.state ? this.state.v : null;
  }

  /** Whether the next request long-polls (`plain`: the caller wants a plain poll, e.g. while
   *  WebTransport pushes the state). After an error the next request is plain: it is answered
   *  at once, so the page knows at once that it is back (on this relay or another one). */
  longPoll(plain = false) {
    return !plain && this.failures === 0 && this.version !== null;
  }

  /** Path of the next request. */
  url(plain = false) {
    return this.longPoll(plain) ? `/s?after=${this.version}` : '/s';
  }

  /** Client-side timeout of the next request, ms. */
  timeoutMs(plain = false) {
    return this.longPoll(plain) ? LONG_POLL_TIMEOUT_MS : POLL_TIMEOUT_MS;
  }

  /** Headers for the next request. */
  headers() {
    return this.etag ? { 'If-None-Match': this.etag } : {};
  }

  /** The request is about to be sent at local `nowMs`. */
  handleSent(nowMs) {
    this.sentMs = nowMs;
  }

  /** A 200 with a body (parsed JSON) and its ETag. Returns whether the state was usable. */
  handleOk(nowMs, body, etag) {
    const s = parseState(body);
    if (!s) {
      this.handleError(nowMs);
      return false;
    }
    const old = this.state;
    this.changed = !old || old.v === null || s.v !== old.v || etag !== this.etag;
    this.state = s;
    this.etag = etag || null;
    this.answered(nowMs);
    if (s.show && s.show !== this.showUrl) {
      this.showUrl = s.show;
      this.pendingShow = s.show;
    }
    return true;
  }

  /** A 304: nothing changed. */
  handleNotModified(nowMs) {
    if (!this.state) return this.handleError(nowMs);
    this.changed = false;
    this.answered(nowMs);
  }

  answered(nowMs) {
    this.failures = 0;
    this.lastOkMs = nowMs;
    this.heldMs = Number.isFinite(this.sentMs) ? nowMs - this.sentMs : 0;
    this.quick = this.heldMs < MIN_HOLD_MS ? this.quick + 1 : 0;
  }

  /** A network error, timeout, 5xx or garbage. */
  handleError(_nowMs) {
    this.failures++;
    // A 304 is only meaningful for a state we still have.
    if (!this.state) this.etag = null;
  }

  /** The show URL to download, once per change (null when nothing new). */
  takeNewShow() {
    const u = this.pendingShow;
    this.pendingShow = null;
    return u;
  }

  /** Milliseconds until the next request. */
  nextDelayMs(rand) {
    if (this.failures > 0) return backoffMs(this.failures, rand);
    // Long-poll: re-park after a held answer, or after a change unless the relay has answered
    // at once too often in a row: at once when nothing changed, within REPARK_SPREAD_MS after a
    // change (every phone got that answer at the same moment).
    if (this.longPoll() && (this.heldMs >= MIN_HOLD_MS || (this.changed && this.quick < MAX_QUICK_ANSWERS))) {
      return this.changed ? REPARK_SPREAD_MS * rand() : 0;
    }
    return jitteredPollMs(this.state?.poll, rand);
  }
}
