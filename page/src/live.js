// The lighting desk's live layer on the phone, pure and sans-IO. /s carries `live` (zone name →
// "#rrggbb" for every zone the desk holds), `live_at` (beacon µs when the change starts: every
// phone knows it by then) and `live_fade` (µs: a linear fade from the previous layer's colours;
// 0 is a cut). A zone left out of a layer returns to the cue (fading the same way). Each fade
// ends when the next layer starts, so a desk fading continuously becomes a continuous
// piecewise-linear fade here. Colours still go through the flash limiter (safety.js).

/** "#rrggbb" → [r, g, b], or null. */
export function parseHex(text) {
  if (typeof text !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(text)) return null;
  return [1, 3, 5].map((i) => parseInt(text.slice(i, i + 2), 16));
}

/** The layer of an /s body, or null when it carries none: {at, fade, zones: Map(name → rgb)}. */
export function parseLive(body) {
  if (!body || typeof body.live !== 'object' || body.live === null || !Number.isSafeInteger(body.live_at)) return null;
  const zones = new Map();
  for (const [name, hex] of Object.entries(body.live)) {
    const rgb = parseHex(hex);
    if (rgb) zones.set(name, rgb);
  }
  const fade = Number.isSafeInteger(body.live_fade) && body.live_fade > 0 ? body.live_fade : 0;
  return { at: body.live_at, fade, zones };
}

const mix = (a, b, k) => a.map((x, i) => Math.round(x + (b[i] - x) * k));

/** The layers heard (the newest few), and the colour they give a zone at a time. */
export class LiveLayers {
  constructor() {
    this.layers = [];
  }

  /** Feeds the layer of an /s answer (the same layer again changes nothing). */
  handleLayer(layer) {
    if (!layer) return;
    const last = this.layers[this.layers.length - 1];
    if (last && last.at === layer.at && last.fade === layer.fade) return;
    this.layers.push(layer);
    this.layers.sort((a, b) => a.at - b.at);
    if (this.layers.length > 4) this.layers.shift();
  }

  /** The colour of `zone` at beacon time `us` over the cue's colour `base`; null when the desk
   *  does not hold the zone (and is not fading it back). */
  colourAt(zone, us, base) {
    let i = -1;
    for (let j = 0; j < this.layers.length; j++) if (this.layers[j].at <= us) i = j;
    if (i < 0) return null;
    const layer = this.layers[i];
    const to = layer.zones.get(zone) || null;
    const prev = i > 0 ? this.layers[i - 1].zones.get(zone) || null : null;
    const k = layer.fade > 0 ? Math.min(1, (us - layer.at) / layer.fade) : 1;
    if (k >= 1) return to;
    if (!to && !prev) return null;
    return mix(prev || base, to || base, k);
  }
}
