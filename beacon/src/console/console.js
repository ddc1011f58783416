// Crowdlight operator console: polls /api/status (4 Hz) and /api/relays (1 Hz), sends commands
// to /api/command (the beacon's operator socket requests as JSON). An ES module: the show view
// (showview.js) shares its `api` and hears every status through `onStatus`.
const $ = (id) => document.getElementById(id);
// The console token `beacon console` printed in the URL fragment (never sent by the browser
// itself); every /api/ request carries it.
const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
export const api = (path, init = {}) =>
  fetch(path, { ...init, cache: 'no-store', headers: { ...(init.headers || {}), 'X-Console-Token': token } });
const statusListeners = [];
/** Calls `fn(status, at)` with every status; `at`: the `performance.now()` that matches the
 *  status's `now_us` (the middle of its request's round trip). */
export function onStatus(fn) { statusListeners.push(fn); }
const relayListeners = [];
/** Calls `fn(relays)` with every scrape of the relays' figures (`/api/relays`). */
export function onRelays(fn) { relayListeners.push(fn); }
let last = null; // { status, at: performance.now() when received }
let cuesKey = '';

async function post(body) {
  try {
    const r = await api('/api/command', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const reply = await r.json();
    say(reply.ok ? reply.message : reply.error, !reply.ok);
    if (reply.ok && reply.status) show(reply.status);
  } catch (e) {
    say(`console unreachable: ${e}`, true);
  }
}

function say(text, error) {
  const m = $('message');
  m.textContent = text || '';
  m.className = error ? 'error' : '';
}

function seconds(us) { return (us / 1e6).toFixed(1); }

function show(status, at = performance.now()) {
  last = { status, at };
  for (const fn of statusListeners) fn(status, at);
  const st = $('state');
  st.textContent = status.state;
  st.dataset.state = status.state;
  $('cue').textContent = status.cue ?? '–';
  $('next').textContent = status.next ?? '–';
  $('go-target').textContent = status.next ? `(${status.next})` : '';
  $('seq').textContent = status.seq;
  const info = status.show_info;
  $('show').textContent = info ? info.title : 'none loaded';
  const key = info ? info.id : '';
  if (key !== cuesKey) {
    cuesKey = key;
    const body = $('cues');
    body.replaceChildren();
    (info ? info.cues : []).forEach((name, i) => {
      const tr = document.createElement('tr');
      tr.dataset.cue = name;
      const len = info.durations_ms && info.durations_ms[i] !== undefined ? `${(info.durations_ms[i] / 1000).toFixed(1)} s` : '';
      const td = (text) => { const c = document.createElement('td'); c.textContent = text; return c; };
      const btn = (label, attr, cmd) => {
        const b = document.createElement('button');
        b.textContent = label;
        b.dataset[attr] = name;
        b.addEventListener('click', () => post(cmd));
        return b;
      };
      const actions = document.createElement('td');
      actions.append(btn('GO', 'go', { cmd: 'go', cue: name }), ' ', btn('Standby', 'standby', { cmd: 'standby', cue: name }));
      tr.append(td(name), td(len), actions);
      body.append(tr);
    });
  }
  for (const tr of $('cues').children) {
    tr.className = tr.dataset.cue === status.cue ? 'current' : tr.dataset.cue === status.next ? 'next' : '';
  }
  tickCountdown();
}

// Countdown to the cue start while GO is in its lead, then time into the cue (and left of it).
function tickCountdown() {
  const el = $('countdown');
  if (!last) return;
  const s = last.status;
  const now = s.now_us + (performance.now() - last.at) * 1000;
  if (s.state === 'running' && s.start_us != null) {
    if (s.start_us > now) {
      el.textContent = `T−${seconds(s.start_us - now)} s`;
      return;
    }
    const into = now - s.start_us;
    const info = s.show_info;
    const i = info ? info.cues.indexOf(s.cue) : -1;
    const dur = i >= 0 && info.durations_ms ? info.durations_ms[i] * 1000 : 0;
    el.textContent = dur > 0 && into < dur ? `+${seconds(into)} s (${seconds(dur - into)} s left)` : `+${seconds(into)} s`;
  } else if (s.state === 'hold' && s.offset_us != null) {
    el.textContent = `held at ${seconds(s.offset_us)} s`;
  } else {
    el.textContent = '–';
  }
}

async function pollStatus() {
  try {
    const sent = performance.now();
    const r = await api('/api/status');
    const reply = await r.json();
    if (reply.ok) { show(reply.status, (sent + performance.now()) / 2); showDesk(reply.desk); }
    else { $('state').textContent = 'no beacon'; $('state').dataset.state = 'unknown'; say(reply.error, true); }
  } catch (e) {
    say(`console unreachable: ${e}`, true);
  }
}

/** The lighting desk input (sACN / Art-Net): its sources and the zones it holds. */
function showDesk(desk) {
  $('desk-panel').hidden = !desk;
  if (!desk) return;
  const inputs = [desk.sacn != null ? `sACN universe ${desk.sacn}` : null, desk.artnet != null ? `Art-Net ${desk.artnet}` : null];
  $('desk-inputs').textContent = inputs.filter(Boolean).join(', ');
  const held = Object.entries(desk.held);
  $('desk-held').textContent = held.length ? held.map(([z, c]) => `${z} ${c}`).join(', ') : 'no zone';
  $('desk-refused').textContent = Object.entries(desk.refused).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || '0';
  const body = $('desk-sources');
  body.replaceChildren();
  for (const src of desk.sources) {
    const tr = document.createElement('tr');
    const state = src.winning ? 'winning' : src.live ? 'live' : 'gone';
    for (const text of [`${src.protocol} ${src.name} (${src.address})`, src.cid ?? '–', src.universe, src.priority, src.accepted, src.refused, `${(src.last_seen_ms / 1000).toFixed(1)} s ago`, state]) {
      const td = document.createElement('td');
      td.textContent = String(text);
      tr.append(td);
    }
    body.append(tr);
  }
}

async function pollRelays() {
  try {
    const relays = await (await api('/api/relays')).json();
    for (const fn of relayListeners) fn(relays);
    if (!relays.length) { $('relays-heard').textContent = 'no --relay given'; return; }
    const heard = relays.filter((r) => r.healthy).length;
    $('relays-heard').textContent = `${heard}/${relays.length}`;
    const rates = relays.map((r) => r.polls_per_s).filter((x) => x != null);
    $('polls').textContent = rates.length ? rates.reduce((a, b) => a + b, 0).toFixed(1) : '–';
    // Live audience: phones listening now (portal_listeners), summed over the relays that
    // export it; a relay without the gauge is shown by its poll rate instead.
    const counted = relays.filter((r) => r.listeners != null);
    $('audience').textContent = counted.length
      ? `${counted.reduce((a, r) => a + r.listeners, 0)} phones${counted.length < relays.length ? ` (${counted.length}/${relays.length} relays)` : ''}`
      : '–';
    const body = $('relays');
    body.replaceChildren();
    for (const r of relays) {
      const tr = document.createElement('tr');
      const verdict = !r.reachable ? `unreachable: ${r.error ?? ''}` : r.healthy ? 'hears the beacon' : 'NOT hearing the beacon';
      const audience = r.listeners != null ? `${r.listeners} phones` : '';
      const rate = r.polls_per_s != null ? `${r.polls_per_s.toFixed(1)} polls/s` : '';
      for (const text of [r.url, verdict, audience, rate]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      body.append(tr);
    }
  } catch (e) { /* status poll reports reachability */ }
}

for (const [id, cmd] of [['go', 'go'], ['hold', 'hold'], ['resume', 'resume'], ['blackout', 'blackout'], ['stop', 'stop']]) {
  $(id).addEventListener('click', () => post({ cmd }));
}
document.addEventListener('keydown', (e) => {
  if (e.code === 'Space' && e.target === document.body) { e.preventDefault(); post({ cmd: 'go' }); }
});
pollStatus();
pollRelays();
setInterval(pollStatus, 250);
setInterval(pollRelays, 1000);
setInterval(tickCountdown, 100);
