// Flash limiter: whatever goes in, at most three flashes per second come out (checked with an
// independent port of the compile-time checker, shows/src/wcag.rs), and safe input passes
// unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlashLimiter, luminance, redValue } from '../www/safety.js';
import { mulberry32 } from '../www/sync.js';

/** Port of wcag.rs `legs`: returns the sample indices where each change is timed. */
function legTimes(s, thr, strict) {
  const meets = (d) => (strict ? d > thr : d >= thr - 1e-12);
  const out = [];
  if (!s.length) return out;
  let lo = 0, hi = 0, dir = 0, pivot = 0, ext = 0;
  for (let i = 1; i < s.length; i++) {
    const v = s[i];
    if (dir === 0) {
      if (v < s[lo]) lo = i;
      if (v > s[hi]) hi = i;
      if (i === hi && meets(v - s[lo])) { dir = 1; pivot = lo; ext = i; }
      else if (i === lo && meets(s[hi] - v)) { dir = -1; pivot = hi; ext = i; }
    } else if (dir === 1) {
      if (v > s[ext]) ext = i;
      else if (meets(s[ext] - v)) { out.push([pivot, ext]); dir = -1; pivot = ext; ext = i; }
    } else if (v < s[ext]) ext = i;
    else if (meets(v - s[ext])) { out.push([pivot, ext]); dir = 1; pivot = ext; ext = i; }
  }
  if (dir !== 0) out.push([pivot, ext]);
  return out;
}

/** Most flashes (⌊changes/2⌋) in any window [t, t + 1000) of a frame series. */
function worstFlashes(frames) {
  const lum = frames.map(([, c]) => luminance(c));
  const red = frames.map(([, c]) => redValue(c));
  const general = legTimes(lum, 0.1, false).filter(([a, b]) => Math.min(lum[a], lum[b]) < 0.8).map(([, b]) => frames[b][0]);
  const reds = legTimes(red, 20, true).map(([, b]) => frames[b][0]);
  let worst = 0;
  for (const times of [general, reds]) {
    let i = 0;
    for (let j = 0; j < times.length; j++) {
      while (times[j] - times[i] >= 1000) i++;
      worst = Math.max(worst, Math.floor((j - i + 1) / 2));
    }
  }
  return worst;
}

/** Feeds `colourAt(t)` through a limiter at `fps` for `seconds`; returns input and output frames. */
function run(colourAt, { fps = 60, seconds = 5, reducedMotion = false, jitter = 0, seed = 1 } = {}) {
  const lim = new FlashLimiter({ reducedMotion });
  const rand = mulberry32(seed);
  const input = [];
  const output = [];
  for (let k = 0, t = 0; t < seconds * 1000; k++) {
    const c = colourAt(t);
    input.push([t, c]);
    output.push([t, lim.handleFrame(t, c)]);
    t = (k + 1) * (1000 / fps) + (jitter ? (rand() - 0.5) * jitter : 0);
  }
  return { input, output, lim };
}

const square = (periodMs, on, off) => (t) => (Math.floor(t / (periodMs / 2)) % 2 === 0 ? on : off);
const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];
const RED = [255, 0, 0];

test('10 Hz black/white strobe: at most 3 flashes per second reach the screen', () => {
  for (const fps of [30, 60, 120]) {
    const { input, output, lim } = run(square(100, WHITE, BLACK), { fps, jitter: 4 });
    assert.ok(worstFlashes(input) >= 9, 'the input really strobes');
    const f = worstFlashes(output);
    console.log(`# ${fps} fps: input ${worstFlashes(input)} flashes/s, shown ${f}, frames held ${lim.suppressed}`);
    assert.ok(f <= 3, `${f} flashes in one second at ${fps} fps`);
  }
});

test('saturated red strobe (red flash rule) is limited too', () => {
  const { input, output } = run(square(120, RED, [40, 0, 0]));
  assert.ok(worstFlashes(input) >= 4);
  assert.ok(worstFlashes(output) <= 3);
});

test('random colours every frame: still at most 3 flashes per second', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const rand = mulberry32(seed);
    const pick = () => [Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256)];
    const { output } = run(() => pick(), { seed, jitter: 8, seconds: 4 });
    assert.ok(worstFlashes(output) <= 3, `seed ${seed}`);
  }
});

test('safe input (2 Hz strobe, slow fades) passes unchanged', () => {
  const fade = (t) => { const x = Math.floor(255 * ((t % 4000) / 4000)); return [x, x >> 1, 255 - x]; };
  for (const f of [square(500, WHITE, BLACK), fade, square(334, [255, 200, 69], [6, 10, 38])]) {
    const { input, output, lim } = run(f, { jitter: 2 });
    assert.deepEqual(output, input);
    assert.equal(lim.suppressed, 0);
  }
});

test('prefers-reduced-motion turns a 3 Hz flash into a gentle swell', () => {
  const f = square(334, WHITE, BLACK);
  const { output } = run(f, { reducedMotion: true, seconds: 6 });
  const lums = output.slice(120).map(([, c]) => luminance(c));
  const swing = Math.max(...lums) - Math.min(...lums);
  console.log(`# reduced motion: luminance swing of a 3 Hz black/white flash ${swing.toFixed(3)}`);
  assert.ok(worstFlashes(output) <= 1);
  assert.ok(swing < 0.25, `swing ${swing}`);
  // A slow change still arrives.
  const { output: o2 } = run((t) => (t < 1000 ? BLACK : WHITE), { reducedMotion: true, seconds: 4 });
  assert.deepEqual(o2[o2.length - 1][1], WHITE);
});

test('luminance and red value follow WCAG', () => {
  assert.equal(luminance(BLACK), 0);
  assert.ok(Math.abs(luminance(WHITE) - 1) < 1e-12);
  assert.ok(Math.abs(redValue(RED) - 320) < 1e-9);
  assert.equal(redValue([255, 150, 150]), 0, 'far from saturated');
  // Ramped in below saturation (R/(R+G+B) from 0.75 to 0.8; wcag.rs red_value): never below
  // WCAG's value, and one channel step never jumps by the red threshold.
  assert.ok(redValue([255, 100, 100]) > 0 && redValue([255, 100, 100]) < 320);
  let worst = 0;
  for (let r = 0; r < 255; r += 3) {
    for (let g = 0; g <= 80; g += 2) {
      for (let b = 0; b <= 80; b += 2) {
        const v = redValue([r, g, b]);
        for (const n of [[r + 1, g, b], [r, g + 1, b], [r, g, b + 1]]) worst = Math.max(worst, Math.abs(redValue(n) - v));
      }
    }
  }
  assert.ok(worst < 20, `one-step jump ${worst}`);
});

test('a fade across the saturated-red boundary passes the limiter unchanged', () => {
  // Black to #830c3d over 126 ms: WCAG's step in the red value made this 4 red flashes.
  const to = [0x83, 0x0c, 0x3d];
  const fade = (t) => (t >= 126 ? to : to.map((c) => Math.trunc((c * Math.trunc(t)) / 126)));
  const { input, output } = run(fade, { fps: 1000, seconds: 2 });
  assert.deepEqual(output, input);
});
