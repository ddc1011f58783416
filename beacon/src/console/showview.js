// Crowdlight console — the show view: the hall plan and the cue timeline of the show file the
// console follows (GET /api/show, polled at 4 Hz: a save shows within a poll), every colour
// computed by the phones' own evaluator (/show.js is page/src/show.js). The playhead is
// dragged or stepped frame by frame, or follows the live show on the beacon clock.
import { colourAt, hex } from '/show.js';
import { api, onRelays, onStatus } from '/console.js';

const $ = (id) => document.getElementById(id);
/** One frame of a 60 Hz phone screen, ms. */
const FRAME_MS = 1000 / 60;
const GUTTER = 120; // zone names left of the lanes, CSS px
const RULER = 22;
const CUE_ROW = 22;
const LANE_MAX = 26;
const LANE_MIN = 10;

let version = null; // of the /api/show answer we hold
let view = null; // { file, id, show, layout, findings }
let blocks = []; // per cue: { start, len } on the show timeline, ms
let total = 1; // timeline length, ms
let span = [0, 1]; // visible part, ms
let playhead = { c: 0, t: 0 }; // cue and ms into it
let follow = true; // the playhead follows the live show
let live = null; // { status, at } of the last status reply
let dragging = false;
let strips = null; // offscreen canvas of the lanes for the current view, span and size
let drawnAt = 0; // epoch ms of the last redraw after a new view (save-to-screen)

/** Cues on the show timeline: at their `at`, else right after the previous one; each lasts up
 *  to the next cue (a hold keeps its last frame there, a loop repeats, an end is black). */
function place(show) {
  const out = [];
  let t = 0;
  for (const cue of show.cues) {
    const start = cue.at ?? t;
    out.push({ start, len: cue.dur });
    t = start + cue.dur;
  }
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i + 1].start > out[i].start) out[i].len = out[i + 1].start - out[i].start;
  }
  return out;
}

/** The cue and time into it at timeline ms `ms`. */
function at(ms) {
  let c = 0;
  while (c + 1 < blocks.length && blocks[c + 1].start <= ms) c++;
  return { c, t: Math.max(0, ms - blocks[c].start) };
}

/** Timeline ms of a playhead (past its block: the block's end). */
const msOf = (p) => blocks[p.c].start + Math.min(p.t, blocks[p.c].len);

function timelineWidth() {
  return $('timeline').clientWidth - GUTTER;
}

function xOf(ms) {
  return GUTTER + ((ms - span[0]) / (span[1] - span[0])) * timelineWidth();
}

function msAtX(x) {
  return span[0] + ((x - GUTTER) / timelineWidth()) * (span[1] - span[0]);
}

function laneHeight() {
  const n = view ? view.show.zones.length : 1;
  return Math.max(LANE_MIN, Math.min(LANE_MAX, Math.floor(360 / n)));
}

/** Sizes a canvas to its CSS box at the device pixel ratio; returns its 2D context in CSS px. */
function fit(canvas, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  if (cssHeight) canvas.style.height = `${cssHeight}px`;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return g;
}

const clock = (ms) => {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(3).padStart(6, '0')}`;
};

/** Lanes: one device-pixel column at a time, each zone's colour at the column's middle. */
function drawStrips() {
  const canvas = $('timeline');
  const dpr = window.devicePixelRatio || 1;
  const lane = laneHeight();
  const n = view.show.zones.length;
  const w = Math.max(1, Math.round(timelineWidth() * dpr));
  const h = Math.max(1, Math.round(n * lane * dpr));
  const img = new ImageData(w, h);
  const perPx = (span[1] - span[0]) / w;
  for (let x = 0; x < w; x++) {
    const ms = span[0] + (x + 0.5) * perPx;
    const inside = ms >= 0 && ms < total;
    const p = inside ? at(ms) : null;
    for (let z = 0; z < n; z++) {
      const rgb = p ? colourAt(view.show, z, p.c, p.t) : [24, 24, 24];
      const y0 = Math.round(z * lane * dpr) + 1;
      const y1 = Math.round((z + 1) * lane * dpr) - 1;
      for (let y = y0; y < y1; y++) {
        const i = (y * w + x) * 4;
        img.data[i] = rgb[0];
        img.data[i + 1] = rgb[1];
        img.data[i + 2] = rgb[2];
        img.data[i + 3] = 255;
      }
    }
  }
  strips = document.createElement('canvas');
  strips.width = w;
  strips.height = h;
  strips.getContext('2d').putImageData(img, 0, 0);
  canvas.dataset.t0 = String(span[0]);
  canvas.dataset.t1 = String(span[1]);
  canvas.dataset.gutter = String(GUTTER);
  canvas.dataset.top = String(RULER + CUE_ROW);
  canvas.dataset.lane = String(lane);
}

function drawTimeline() {
  const canvas = $('timeline');
  if (!view) return;
  const lane = laneHeight();
  const n = view.show.zones.length;
  const height = RULER + CUE_ROW + n * lane + 4;
  const g = fit(canvas, height);
  const width = canvas.clientWidth;
  if (!strips || canvas.dataset.key !== `${version}/${span}/${canvas.width}`) {
    drawStrips();
    canvas.dataset.key = `${version}/${span}/${canvas.width}`;
    placeMarkers();
  }
  g.fillStyle = '#141414';
  g.fillRect(0, 0, width, height);
  // Ruler: a tick step at least 80 px apart.
  const perPx = (span[1] - span[0]) / timelineWidth();
  const step = [100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000]
    .find((s) => s / perPx >= 80) ?? 600000;
  g.font = '11px ui-monospace, monospace';
  g.textBaseline = 'middle';
  for (let t = Math.ceil(span[0] / step) * step; t <= span[1]; t += step) {
    const x = xOf(t);
    g.fillStyle = '#555';
    g.fillRect(Math.round(x), RULER - 6, 1, 6);
    g.fillStyle = '#999';
    g.fillText(clock(t).replace(/\.?0+$/, '').replace(/:$/, ''), x + 3, RULER / 2);
  }
  // Cue blocks.
  g.save();
  g.beginPath();
  g.rect(GUTTER, 0, width - GUTTER, height);
  g.clip();
  view.show.cues.forEach((cue, c) => {
    const x0 = xOf(blocks[c].start);
    const x1 = xOf(blocks[c].start + blocks[c].len);
    if (x1 < GUTTER || x0 > width) return;
    g.fillStyle = c === playhead.c ? '#2d3a4d' : c % 2 ? '#232323' : '#2b2b2b';
    g.fillRect(x0, RULER, x1 - x0, CUE_ROW - 1);
    g.fillStyle = '#ddd';
    g.fillText(cue.name, Math.max(x0, GUTTER) + 4, RULER + CUE_ROW / 2);
    g.fillStyle = '#666';
    g.fillRect(Math.round(x0), RULER, 1, height - RULER);
    if (cue.dur < blocks[c].len) {
      // Where one pass ends inside a longer block (hold, loop or end after it).
      g.fillStyle = '#c3c';
      g.fillRect(Math.round(xOf(blocks[c].start + cue.dur)), RULER + CUE_ROW, 1, n * lane);
    }
  });
  g.restore();
  g.imageSmoothingEnabled = false;
  g.drawImage(strips, GUTTER, RULER + CUE_ROW, timelineWidth(), n * lane);
  // Zone names.
  g.fillStyle = '#141414';
  g.fillRect(0, RULER, GUTTER, height - RULER);
  g.fillStyle = '#bbb';
  view.show.zones.forEach((z, i) => g.fillText(z, 8, RULER + CUE_ROW + i * lane + lane / 2, GUTTER - 12));
  // Playhead.
  const x = xOf(msOf(playhead));
  if (x >= GUTTER && x <= width) {
    g.fillStyle = follow && isLive() ? '#4f4' : '#fff';
    g.fillRect(Math.round(x) - 1, 0, 2, height);
    g.beginPath();
    g.moveTo(x - 6, 0);
    g.lineTo(x + 6, 0);
    g.lineTo(x, 8);
    g.fill();
  }
  canvas.dataset.playhead = String(msOf(playhead));
}

/** WCAG 2.3.1 findings of the checker, each on its zone's lane at its window's start. */
function placeMarkers() {
  const box = $('markers');
  box.replaceChildren();
  const list = $('findings');
  list.replaceChildren();
  if (!view) return;
  const lane = laneHeight();
  for (const f of view.findings) {
    if (f.cue == null || f.zone == null) continue;
    const b = blocks[f.cue];
    const ms = b.start + Math.min(f.time_ms ?? 0, b.len);
    const m = document.createElement('button');
    m.className = 'flash';
    m.title = f.text;
    m.setAttribute('aria-label', f.text);
    Object.assign(m.dataset, { cue: f.cue, zone: f.zone, ms });
    m.style.left = `${xOf(ms)}px`;
    m.style.top = `${RULER + CUE_ROW + f.zone * lane}px`;
    m.style.height = `${lane}px`;
    m.hidden = xOf(ms) < GUTTER || xOf(ms) > $('timeline').clientWidth;
    const jump = () => { follow = false; playhead = { c: f.cue, t: f.time_ms ?? 0 }; render(); };
    m.addEventListener('click', jump);
    box.append(m);
    const li = document.createElement('li');
    li.textContent = f.text;
    li.addEventListener('click', jump);
    list.append(li);
  }
  $('findings-head').hidden = list.children.length === 0;
}

/** Where the hall's zones are on the canvas: polygons in CSS px, seats, probe points. */
function hallGeometry(width, height) {
  const show = view.show;
  const n = show.zones.length;
  const layout = view.layout;
  if (!layout) {
    // No plan: a row of blocks in show order.
    const gap = 8;
    const w = (width - 2 * gap - (n - 1) * gap) / n;
    const h = Math.min(height - 32, 160);
    const top = (height - h) / 2;
    return show.zones.map((name, z) => {
      const x = gap + z * (w + gap);
      return { z, name, poly: [[x, top], [x + w, top], [x + w, top + h], [x, top + h]], seats: null, probe: [x + w / 2, top + h * 0.75], label: [x + w / 2, top + h * 0.25] };
    });
  }
  const margin = 12;
  const stage = 22;
  const scale = Math.min((width - 2 * margin) / layout.width, (height - stage - 2 * margin) / layout.depth);
  const ox = (width - layout.width * scale) / 2;
  const oy = stage + margin;
  const P = ([x, y]) => [ox + x * scale, oy + y * scale];
  return layout.zones.map((place) => {
    const poly = place.polygon.map(P);
    let seats = null;
    let probe;
    const xs = poly.map((p) => p[0]);
    const ys = poly.map((p) => p[1]);
    let label = interiorPoint(poly, [0.25, 0.3, 0.2, 0.35]);
    if (place.seats) {
      label = [(Math.min(...xs) + Math.max(...xs)) / 2, Math.min(...ys) - 8];
      const s = place.seats;
      seats = { s, P, scale };
      // The middle seat of the back row.
      probe = P([s.x + (Math.floor(s.per_row / 2) + 0.5) * s.pitch, s.y + (s.rows - 0.5) * s.row_pitch]);
    } else {
      probe = interiorPoint(poly, [0.75, 0.7, 0.8, 0.65, 0.6]);
    }
    return { z: place.zone, name: show.zones[place.zone], poly, seats, probe, label };
  });
}

/** A point well inside a polygon: the middle of its widest span on the first of the heights
 *  `fractions` (of its height, from the top) where a span is wide enough. Labels sit in the
 *  upper part, the probe the tests read in the lower part. */
function interiorPoint(poly, fractions) {
  const ys = poly.map((p) => p[1]);
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  let best = null;
  for (const f of fractions) {
    const y = lo + f * (hi - lo);
    const xs = [];
    for (let i = 0; i < poly.length; i++) {
      const a = poly[i];
      const b = poly[(i + 1) % poly.length];
      if ((a[1] > y) !== (b[1] > y)) xs.push(a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]));
    }
    xs.sort((p, q) => p - q);
    for (let i = 0; i + 1 < xs.length; i += 2) {
      if (!best || xs[i + 1] - xs[i] > best.w) best = { w: xs[i + 1] - xs[i], p: [(xs[i] + xs[i + 1]) / 2, y] };
    }
    if (best && best.w > 12) break;
  }
  return best ? best.p : poly[0];
}


let geometry = [];

function drawHall() {
  const canvas = $('hall');
  const g = fit(canvas);
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  g.fillStyle = '#0b0b0b';
  g.fillRect(0, 0, width, height);
  if (!view) return;
  geometry = hallGeometry(width, height);
  const black = follow && live?.status.state === 'blackout';
  if (view.layout) {
    g.fillStyle = '#2a2a2a';
    g.fillRect(width * 0.2, 4, width * 0.6, 18);
    g.fillStyle = '#aaa';
    g.font = '11px system-ui, sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText('STAGE', width / 2, 13);
    g.textAlign = 'left';
  }
  const readout = [];
  for (const zone of geometry) {
    const rgb = black ? [0, 0, 0] : colourAt(view.show, zone.z, playhead.c, playhead.t);
    readout.push({ name: zone.name, rgb });
    const css = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
    const path = new Path2D();
    zone.poly.forEach(([x, y], i) => (i ? path.lineTo(x, y) : path.moveTo(x, y)));
    path.closePath();
    const seats = zone.seats;
    // Seats drawn one by one while they are at least 2 px and not too many to redraw each frame.
    const seatPx = seats ? Math.min(seats.s.pitch, seats.s.row_pitch) * seats.scale : 0;
    if (seats && seatPx >= 2.5 && seats.s.rows * seats.s.per_row <= 5000) {
      const { s, P, scale } = seats;
      g.fillStyle = '#151515';
      g.fill(path);
      g.fillStyle = css;
      const sw = Math.max(1, s.pitch * scale * 0.78);
      const sh = Math.max(1, s.row_pitch * scale * 0.62);
      for (let r = 0; r < s.rows; r++) {
        for (let k = 0; k < s.per_row; k++) {
          const [x, y] = P([s.x + (k + 0.5) * s.pitch, s.y + (r + 0.5) * s.row_pitch]);
          g.fillRect(x - sw / 2, y - sh / 2, sw, sh);
        }
      }
    } else {
      g.fillStyle = css;
      g.fill(path);
    }
    g.strokeStyle = '#555';
    g.lineWidth = 1;
    g.stroke(path);
    // The name on a dark tag, so it reads over any colour.
    g.font = '600 11px system-ui, sans-serif';
    g.textBaseline = 'middle';
    g.textAlign = 'center';
    const [lx, ly] = zone.label;
    const tw = g.measureText(zone.name).width + 8;
    const xs = zone.poly.map((p) => p[0]);
    if (tw > Math.max(...xs) - Math.min(...xs) + 16) continue; // no room: the readout names it
    g.fillStyle = 'rgba(0,0,0,0.65)';
    g.fillRect(lx - tw / 2, ly - 8, tw, 16);
    g.fillStyle = '#eee';
    g.fillText(zone.name, lx, ly);
    g.textAlign = 'left';
  }
  if (black) {
    g.fillStyle = '#f55';
    g.font = '700 14px system-ui, sans-serif';
    g.fillText('BLACKOUT', 10, height - 12);
  }
  const list = $('zones-now');
  const key = readout.map(({ name, rgb }) => `${name}${hex(rgb)}`).join();
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...readout.map(({ name, rgb }) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = hex(rgb);
    li.append(sw, `${name} ${hex(rgb)}`);
    return li;
  }));
}

const isLive = () => !!live && ['running', 'hold'].includes(live.status.state) && cueOf(live.status.cue) >= 0;
const cueOf = (name) => (view ? view.show.cues.findIndex((c) => c.name === name) : -1);

/** Where the live show is now, on the beacon clock: `{ c, t, lead }` (lead: ms until a GO's
 *  cue starts), or null when nothing of this show runs. */
function livePosition() {
  if (!isLive()) return null;
  const s = live.status;
  const c = cueOf(s.cue);
  if (s.state === 'hold') return { c, t: (s.offset_us ?? 0) / 1000, lead: 0 };
  const nowUs = s.now_us + (performance.now() - live.at) * 1000;
  const into = (nowUs - s.start_us) / 1000;
  return { c, t: Math.max(0, into), lead: Math.max(0, -into) };
}

function drawReadout() {
  const pos = follow ? livePosition() : null;
  const cue = view ? view.show.cues[playhead.c] : null;
  $('ph-cue').textContent = cue ? cue.name : '–';
  $('ph-time').textContent = clock(playhead.t);
  $('ph-show').textContent = view ? clock(msOf(playhead)) : '–';
  $('live').classList.toggle('on', follow);
  $('live').textContent = follow ? (pos ? '● LIVE' : 'LIVE (nothing running)') : 'Follow live';
  const lead = $('ph-lead');
  lead.textContent = pos && pos.lead > 0 ? `GO in ${(pos.lead / 1000).toFixed(1)} s` : '';
  $('ph-next').textContent = live?.status.next ?? '–';
}

function render() {
  if (!view) return;
  if (follow) {
    const pos = livePosition();
    if (pos) playhead = { c: pos.c, t: pos.t };
  }
  drawTimeline();
  drawHall();
  drawReadout();
}

// Redraws every frame only while the playhead moves with the show; else on change (a status,
// a new view, an input), so an idle console costs nothing.
let dirty = true;
function frame() {
  if (dirty || (follow && isLive())) render();
  dirty = false;
  requestAnimationFrame(frame);
}

function describeFile(answer) {
  const el = $('view-file');
  if (!answer.file) {
    el.textContent = 'no show: load one with `beacon load FILE`, or start the console with --watch FILE';
    return;
  }
  let where = answer.watch ? 'watching' : 'the loaded show\'s file';
  if (view && live?.status.show && view.id !== live.status.show) {
    where += ' · not what the beacon runs (send it with `beacon load`)';
  } else if (view && live?.status.show) {
    where += ' · loaded';
  }
  el.textContent = `${answer.file} (${where})`;
}

let lastAnswer = null;

async function pollView() {
  try {
    const answer = await (await api(`/api/show${version == null ? '' : `?v=${version}`}`)).json();
    if (answer.v === version) {
      if (lastAnswer) describeFile(lastAnswer);
      return;
    }
    version = answer.v;
    lastAnswer = answer;
    const errors = $('view-errors');
    errors.replaceChildren(...(answer.errors || []).map((e) => {
      const li = document.createElement('li');
      li.textContent = e.text;
      return li;
    }));
    errors.hidden = !(answer.errors || []).length;
    if (answer.view) {
      const keepSpan = view && view.show.cues.length === answer.view.show.cues.length;
      view = answer.view;
      blocks = place(view.show);
      const last = blocks[blocks.length - 1];
      total = last.start + last.len;
      if (!keepSpan) span = [0, total];
      span = [Math.max(0, span[0]), Math.min(Math.max(span[1], 1), total)];
      if (playhead.c >= blocks.length) playhead = { c: 0, t: 0 };
      strips = null;
      $('timeline').dataset.key = '';
    } else if (!answer.view) {
      view = null;
    }
    // A relaxed show (FORMAT §1) is worth seeing at a glance: its phones keep a looser clock.
    $('view-title').textContent = view ? view.show.title + (view.show.sync === 'relaxed' ? ' · relaxed sync' : '') : '–';
    describeFile(answer);
    render();
    drawnAt = performance.timeOrigin + performance.now();
    $('view').dataset.version = String(version);
  } catch (e) {
    $('view-file').textContent = `show view unavailable: ${e}`;
  }
}

// Scrubbing: drag on the ruler, cue row or lanes.
const timeline = $('timeline');
function scrub(e) {
  const r = timeline.getBoundingClientRect();
  const ms = Math.min(Math.max(msAtX(e.clientX - r.left), 0), total - 1e-3);
  follow = false;
  playhead = at(ms);
  render();
}
timeline.addEventListener('pointerdown', (e) => {
  if (!view || e.offsetX < GUTTER) return;
  dragging = true;
  timeline.setPointerCapture(e.pointerId);
  scrub(e);
});
timeline.addEventListener('pointermove', (e) => { if (dragging) scrub(e); });
timeline.addEventListener('pointerup', () => { dragging = false; });
// Ctrl + wheel (or a pinch) zooms around the pointer, Shift + wheel or a sideways wheel pans;
// a plain wheel scrolls the page. Double click shows the whole show.
timeline.addEventListener('wheel', (e) => {
  if (!view) return;
  const sideways = e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY);
  if (!e.ctrlKey && !e.metaKey && !sideways) return;
  e.preventDefault();
  const r = timeline.getBoundingClientRect();
  let width = span[1] - span[0];
  let t0 = span[0];
  if (sideways) {
    t0 += ((e.shiftKey ? e.deltaY : e.deltaX) / timelineWidth()) * width;
  } else {
    const pivot = msAtX(e.clientX - r.left);
    width = Math.min(total, Math.max(200, width * Math.exp(e.deltaY * 0.002)));
    t0 = pivot - ((pivot - span[0]) / (span[1] - span[0])) * width;
  }
  t0 = Math.min(Math.max(0, t0), total - width);
  span = [t0, t0 + width];
  render();
}, { passive: false });
timeline.addEventListener('dblclick', () => { span = [0, total]; render(); });

/** Moves the playhead by `ms` on the show timeline (frames: `FRAME_MS`). */
function step(ms) {
  if (!view) return;
  follow = false;
  const into = playhead.t + ms;
  // Stepping stays inside the cue while it can (its end rule shows past one pass).
  if (into >= 0 && into < blocks[playhead.c].len) playhead = { c: playhead.c, t: into };
  else playhead = at(Math.min(Math.max(msOf(playhead) + ms, 0), total - 1e-3));
  render();
}
$('frame-back').addEventListener('click', () => step(-FRAME_MS));
$('frame-fwd').addEventListener('click', () => step(FRAME_MS));
$('live').addEventListener('click', () => { follow = !follow; render(); });
$('zoom-fit').addEventListener('click', () => { span = [0, total]; render(); });
$('zoom-cue').addEventListener('click', () => {
  if (!view) return;
  const b = blocks[playhead.c];
  span = [b.start, b.start + b.len];
  render();
});
document.addEventListener('keydown', (e) => {
  if (e.target !== document.body && e.target !== timeline) return;
  if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    e.preventDefault();
    const dir = e.key === 'ArrowLeft' ? -1 : 1;
    step(dir * (e.shiftKey ? 1000 : FRAME_MS));
  } else if (e.key === 'l' || e.key === 'L') {
    follow = true;
    dirty = true;
  }
});
// Any change of the canvases' size (the window, a scrollbar coming, the error list growing)
// redraws at the new size, markers included.
new ResizeObserver(() => { strips = null; timeline.dataset.key = ''; dirty = true; }).observe(timeline);
new ResizeObserver(() => { dirty = true; }).observe($('hall'));

onStatus((status, atMs) => { live = { status, at: atMs }; dirty = true; });
// The live audience per relay: phones with a long-poll parked right now (`portal_listeners`).
onRelays((relays) => {
  const counted = relays.filter((r) => r.listeners != null);
  const total = counted.reduce((a, r) => a + r.listeners, 0);
  $('ph-audience').textContent = counted.length
    ? `${total} phones (${counted.map((r) => `${new URL(r.url).host}: ${r.listeners}`).join(', ')})`
    : '–';
});

/** Read-only hooks for tests and the save-to-screen measurement. */
window.showView = {
  playhead: () => ({ ...playhead, ms: msOf(playhead), follow }),
  /** Canvas-pixel probe points of each zone of the hall: `{ name, x, y }` in CSS px. */
  probes: () => geometry.map((z) => ({ name: z.name, zone: z.z, x: z.probe[0], y: z.probe[1] })),
  version: () => version,
  drawnAt: () => drawnAt,
  blocks: () => blocks.map((b) => ({ ...b })),
};

pollView();
setInterval(pollView, 250);
requestAnimationFrame(frame);
