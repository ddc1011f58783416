// The camera torch as one more light (shows/FORMAT.md §3), pure apart from the track it is
// handed: whether the page may ask for the camera at all, whether the track it got can switch a
// torch, and the switching itself behind the same WCAG flash limiter as the screen.
//
// The page asks only when every one of these holds: the show has a cue with `torch`, the page is
// a secure context (never plain HTTP: a captive sheet on the venue's http:// portal never asks),
// getUserMedia exists, the user did not ask for reduced motion, and it is the join tap (a user
// gesture). A track without the `torch` capability (a laptop camera, Firefox, a fake device) is
// stopped at once and the screen plays alone, silently. The track must stay live for the torch
// to stay on.
import { FlashLimiter } from './safety.js';

const ON = [255, 255, 255];
const OFF = [0, 0, 0];

/**
 * Whether the page may ask for the camera to play the torch. `o`: {usesTorch (the show has a
 * torch cue), secure (window.isSecureContext), mediaDevices (navigator.mediaDevices),
 * reducedMotion}.
 */
export function torchPossible(o) {
  return !!o && o.usesTorch === true && o.secure === true && !o.reducedMotion &&
    !!o.mediaDevices && typeof o.mediaDevices.getUserMedia === 'function';
}

/** Whether a video track can switch a torch: its capabilities list `torch` as true (a boolean,
 *  or a list of the values it can take). */
export function trackHasTorch(track) {
  let caps = null;
  try {
    caps = track && typeof track.getCapabilities === 'function' ? track.getCapabilities() : null;
  } catch {
    return false;
  }
  const t = caps ? caps.torch : undefined;
  return t === true || (Array.isArray(t) && t.includes(true));
}

/** The constraints that switch the torch (Media Capture Image: `torch` on a video track). */
export function torchConstraints(on) {
  return { advanced: [{ torch: !!on }] };
}

/**
 * Switches a torch through `apply(on)` (a promise: the track's applyConstraints), frame by
 * frame: `handleFrame(nowMs, want)` runs `want` through a FlashLimiter (on = white, off = black)
 * and calls `apply` when the limited state changes, one call at a time (a change while one is
 * in flight waits for the next frame). `off()` switches it off now (the page hides).
 */
export class TorchDriver {
  constructor(apply) {
    this.apply = apply;
    this.limiter = new FlashLimiter();
    /** The state last asked of the torch. */
    this.on = false;
    this.busy = false;
    /** Constraint calls made, and how many failed. */
    this.calls = 0;
    this.failures = 0;
  }

  handleFrame(nowMs, want) {
    // The torch starts off: the limiter must count its first switch on as a change.
    if (this.limiter.shown === null) this.limiter.handleFrame(nowMs, OFF);
    const shown = this.limiter.handleFrame(nowMs, want ? ON : OFF);
    this.set(shown[0] === 255);
  }

  off() {
    this.set(false);
  }

  set(on) {
    if (on === this.on || this.busy) return;
    this.on = on;
    this.busy = true;
    this.calls++;
    Promise.resolve()
      .then(() => this.apply(on))
      .catch(() => { this.failures++; })
      .finally(() => { this.busy = false; });
  }
}
