// Polling of /s, pure and sans-IO: the caller does the fetch and feeds the outcome in with
// `handleOk` / `handleNotModified` / `handleError`, then waits `nextDelayMs(rand)`.
//
// - the server says how long to wait (`poll`, ms); the page adds ±20 % jitter so that a hall of
//   phones that joined together does not poll in lock-step;
// - `If-None-Match` with the last ETag: an unchanged state costs a 304;
// - on errors or timeouts: exponential backoff with full jitter (AWS style), capped;
// - a new `show` URL in the state is reported once, so the page downloads the new show.

export const DEFAULT_POLL_MS = 1000;
export const MIN_POLL_MS = 250;
export const MAX_POLL_MS = 30000;
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 8000;
/** A poll that has not answered in this long is abandoned and counts as an error. */
export const POLL_TIMEOUT_MS = 4000;

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

/** Checks and normalises an /s body; null when unusable. */
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
  };
}

/** What the poller knows; feed it outcomes, ask it for the delay and the request headers. */
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
  }

  /** Headers for the next request. */
  headers() {
    return this.etag ? { 'If-None-Match': this.etag } : {};
  }

  /** A 200 with a body (parsed JSON) and its ETag. Returns whether the state was usable. */
  handleOk(nowMs, body, etag) {
    const s = parseState(body);
    if (!s) {
      this.handleError(nowMs);
      return false;
    }
    this.state = s;
    this.etag = etag || null;
    this.failures = 0;
    this.lastOkMs = nowMs;
    if (s.show && s.show !== this.showUrl) {
      this.showUrl = s.show;
      this.pendingShow = s.show;
    }
    return true;
  }

  /** A 304: nothing changed. */
  handleNotModified(nowMs) {
    if (!this.state) return this.handleError(nowMs);
    this.failures = 0;
    this.lastOkMs = nowMs;
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

  /** Milliseconds until the next poll. */
  nextDelayMs(rand) {
    if (this.failures > 0) return backoffMs(this.failures, rand);
    return jitteredPollMs(this.state?.poll, rand);
  }
}
