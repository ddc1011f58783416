// Renders the results in $OUT (default bench/results) as Markdown tables, with ratios.
// usage: node summary.mjs [DIR]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? new URL('../results', import.meta.url).pathname;
const jsonl = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const json = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : null);
const f0 = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (x == null ? '–' : x.toFixed(1));
const f2 = (x) => (x == null ? '–' : x.toFixed(2));
const ratio = (a, b) => (a == null || b == null || b === 0 ? '–' : `${(a / b).toFixed(2)}×`);
const mib = (kib) => (kib == null ? '–' : (kib / 1024).toFixed(1));
const out = [];
const p = (s = '') => out.push(s);

const meta = existsSync(join(dir, 'machine.txt')) ? readFileSync(join(dir, 'machine.txt'), 'utf8').trim() : '';
if (meta) p(`Machine: ${meta}\n`);

// 1. Relay vs nginx
const w = jsonl('relay-vs-nginx.jsonl');
if (w.length) {
  // Several rounds per name: the median of req/s and of p99 (and the req/s range).
  const med = (v) => { const s = v.filter((x) => x != null).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; };
  const by = {};
  for (const name of [...new Set(w.map((r) => r.name))]) {
    const rs = w.filter((r) => r.name === name);
    by[name] = name === 'meta' ? rs[0] : {
      rps: med(rs.map((r) => r.rps)), p99_ms: med(rs.map((r) => r.p99_ms)),
      lo: Math.min(...rs.map((r) => r.rps)), hi: Math.max(...rs.map((r) => r.rps)), n: rs.length,
    };
  }
  const range = (x) => (x && x.n > 1 ? ` (${f0(x.lo)}–${f0(x.hi)})` : '');
  p(`### 1. Relay vs nginx (wrk ${by.meta?.wrk ?? ''})\n`);
  p('| request | relay req/s | nginx req/s | relay ÷ nginx | relay p99 ms | nginx p99 ms |');
  p('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [label, a, b] of [['`/s` 200', 'relay-s-200', 'nginx-s-200'], ['`/s` 304 (If-None-Match)', 'relay-s-304', 'nginx-s-304'], ['`/t` 200', 'relay-t', 'nginx-t']]) {
    p(`| ${label} | ${f0(by[a]?.rps)}${range(by[a])} | ${f0(by[b]?.rps)}${range(by[b])} | ${ratio(by[a]?.rps, by[b]?.rps)} | ${f2(by[a]?.p99_ms)} | ${f2(by[b]?.p99_ms)} |`);
  }
  p('');
  p('| nginx `proxy_cache` in front of the relay | req/s | p99 ms | ÷ relay direct |');
  p('| --- | ---: | ---: | ---: |');
  p(`| \`/s\` 200 | ${f0(by['cache-s-200']?.rps)}${range(by['cache-s-200'])} | ${f2(by['cache-s-200']?.p99_ms)} | ${ratio(by['cache-s-200']?.rps, by['relay-s-200']?.rps)} |`);
  p(`| \`/s\` 304 | ${f0(by['cache-s-304']?.rps)}${range(by['cache-s-304'])} | ${f2(by['cache-s-304']?.p99_ms)} | ${ratio(by['cache-s-304']?.rps, by['relay-s-304']?.rps)} |`);
  const bad = w.filter((r) => r.non_2xx_3xx || r.socket_errors);
  if (bad.length) p(`\nErrors: ${bad.map((r) => `${r.name}: ${r.non_2xx_3xx} non-2xx/3xx, ${r.socket_errors} socket errors`).join('; ')}`);
  if (by.meta) p(`\n/s body ${by.meta.s_bytes} B; response head relay ${by.meta.relay_s_headers} B, nginx ${by.meta.nginx_s_headers} B.`);
  p('');
}

// 2. Delivery
const d = jsonl('delivery.jsonl');
if (d.length) {
  p('### 2. Delivery designs\n');
  p('| clients | design | server processes | connected | errors | server RSS idle → loaded MiB | CPU s/min | `lo` packets/client/min | `lo` B/client/min | state B/client/min | + `/t` B/client/min | connect B/client | new cue at the phone socket p50 / p99 ms, within 200 ms | read by the load generator p50 / p99 ms |');
  p('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of d) {
    const errs = Object.values(r.errors).reduce((a, b) => a + b, 0);
    p(`| ${f0(r.clients)} | ${r.design} | ${r.server_processes ?? 1} | ${f0(r.connected)} | ${errs} | ${mib(r.idle_rss_kib)} → ${mib(r.rss_kib)} | ${f1(r.cpu_s_per_min)} | ${f1(r.lo_packets_per_client_min)} | ${f0(r.lo_bytes_per_client_min)} | ${f0(r.state_bytes_per_client_min)} | ${f0(r.time_bytes_per_client_min)} | ${f0(r.setup_bytes_per_client)} | ${f0(r.arrived_p50_ms)} / ${f0(r.arrived_p99_ms)}, ${r.arrived_within_200ms_pct ?? '–'} % | ${f0(r.know_p50_ms)} / ${r.know_p99_ms == null ? `> run (${r.unseen} never)` : f0(r.know_p99_ms)} |`);
  }
  p('');
  p('| clients | Crowdlight design | RSS ÷ ws-node | ÷ ws-rust | ÷ sse-node | CPU ÷ ws-node CPU |');
  p('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const n of [...new Set(d.map((r) => r.clients))]) {
    const get = (x) => d.find((r) => r.clients === n && r.design === x);
    for (const design of ['crowdlight-long-poll', 'crowdlight']) {
      const c = get(design);
      if (!c) continue;
      p(`| ${f0(n)} | ${design} | ${ratio(c?.rss_kib, get('ws-node')?.rss_kib)} | ${ratio(c?.rss_kib, get('ws-rust')?.rss_kib)} | ${ratio(c?.rss_kib, get('sse-node')?.rss_kib)} | ${ratio(c?.cpu_s_per_min, get('ws-node')?.cpu_s_per_min)} |`);
    }
  }
  p('');
  p('Loopback-interface counters over the same windows (include TCP/IP headers and ACKs, and any other traffic on `lo` at the time):');
  p(d.map((r) => `${r.design}@${r.clients}: ${f0(r.lo_bytes_per_client_min)} B, ${f1(r.lo_packets_per_client_min)} packets per client per min`).join('; ') + '.');
  p('');
}

// 3. Sync
const s = jsonl('sync.jsonl');
if (s.length) {
  p('### 3. Clock-sync accuracy (|error| ms)\n');
  p('| one-way delay ± jitter | loss | min-RTT + drift filter p50 / p95 / p99 (synced) | single sample p50 / p95 / p99 | single ÷ filter at p99 |');
  p('| --- | ---: | ---: | ---: | ---: |');
  for (const r of s) {
    const fl = r.filter ?? {}, sg = r.single ?? {};
    p(`| ${r.delay_ms} ± ${r.jitter_ms} ms | ${Math.round(r.loss * 100)} % | ${f2(fl.p50)} / ${f2(fl.p95)} / ${f2(fl.p99)} (${fl.synced ?? '–'}/${fl.phones ?? '–'}) | ${f2(sg.p50)} / ${f2(sg.p95)} / ${f2(sg.p99)} | ${ratio(sg.p99, fl.p99)} |`);
  }
  p('');
}

// 4. Storm
const st = jsonl('storm.jsonl');
if (st.length) {
  p('### 4. Join storm (arrivals spread over 10 s)\n');
  p('| phones | relays | got the page | first frame | phones with errors | errors (connect/io/timeout/status) | to first synced frame p50 / p99 / max ms | join burst done p99 ms | relay peak RSS MiB | relay CPU s |');
  p('| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const r of st) {
    const e = r.errors;
    p(`| ${f0(r.phones)} | ${r.relays} | ${f0(r.page_ok)} | ${f0(r.first_frame)} | ${f0(r.phones_with_errors)} | ${e.connect}/${e.io}/${e.timeout}/${e.status} | ${f0(r.first_frame_p50_ms)} / ${f0(r.first_frame_p99_ms)} / ${f0(r.first_frame_max_ms)} | ${f0(r.burst_done_p99_ms)} | ${mib(r.relay_rss_kib_peak)} | ${f1(r.relay_cpu_s)} |`);
  }
  p('');
}

// 5. DNS
const dn = jsonl('dns.jsonl');
if (dn.length) {
  const by = Object.fromEntries(dn.map((r) => [r.name, r]));
  p('### 5. DNS (dnsperf)\n');
  p('| transport | portal q/s | dnsmasq q/s | portal ÷ dnsmasq | portal avg latency ms | dnsmasq avg latency ms | lost (portal / dnsmasq) |');
  p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of ['udp', 'tcp']) {
    const a = by[`portal-${m}`], b = by[`dnsmasq-${m}`];
    p(`| ${m.toUpperCase()} | ${f0(a?.qps)} | ${f0(b?.qps)} | ${ratio(a?.qps, b?.qps)} | ${f2(a?.avg_latency_ms)} | ${f2(b?.avg_latency_ms)} | ${a?.lost ?? '–'} / ${b?.lost ?? '–'} |`);
  }
  p('');
}

// 6. Page weight
const pw = json('page-weight.json');
if (pw) {
  p('### 6. Page weight: bytes to the first frame\n');
  p('| encoding | requests | page + assets (bodies) | show (body) | all bodies | all headers (request + response) | total to first frame | 31 more `/t` (rest of join burst) |');
  p('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [enc, v] of Object.entries(pw.by_encoding)) {
    p(`| ${enc} | ${v.requests} | ${f0(v.page_and_assets_body)} | ${f0(v.show_body)} | ${f0(v.body)} | ${f0(v.headers)} | ${f0(v.total_to_first_frame)} | ${f0(v.join_burst_31_more_t)} |`);
  }
  p('');
}
// 7. WebTransport vs HTTP
const wt = jsonl('wt.jsonl');
const wl = wt.filter((r) => r.mode === 'latency');
if (wl.length) {
  p('### 7. WebTransport vs HTTP: delivery and clock sync\n');
  p('| one-way delay ± jitter | loss | transport | connected | changes seen | delivery p50 / p95 / p99 / max ms | p99 ÷ WebTransport p99 | sync \\|error\\| p50 / p95 / p99 ms |');
  p('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of wl) {
    const w = r.results.find((x) => x.transport === 'webtransport');
    for (const x of r.results) {
      const d = x.delivery_ms, sy = x.sync_abs_ms;
      p(`| ${r.delay_ms} ± ${r.jitter_ms} ms | ${Math.round(r.loss * 100)} % | ${x.transport} | ${x.connected}/${r.clients} | ${x.seen}/${x.expected} | ${f1(d.p50)} / ${f1(d.p95)} / ${f1(d.p99)} / ${f1(d.max)} | ${ratio(d.p99, w?.delivery_ms.p99)} | ${f2(sy.p50)} / ${f2(sy.p95)} / ${f2(sy.p99)} |`);
    }
  }
  p('');
}
const wm = wt.filter((r) => r.mode === 'memory');
if (wm.length) {
  p('### 7. WebTransport vs HTTP: portal memory per client\n');
  p('| clients | WebTransport sessions: RSS MiB | per session KiB | parked HTTP long-polls: RSS MiB | per connection KiB | WebTransport ÷ HTTP per client | connect s (WT / HTTP) |');
  p('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const target of [...new Set(wm.map((r) => r.target))]) {
    const w = wm.find((r) => r.target === target && r.transport === 'webtransport');
    const h = wm.find((r) => r.target === target && r.transport === 'http-long-poll');
    const n = (x) => (x && x.clients !== target ? ` (${f0(x.clients)} open)` : '');
    p(`| ${f0(target)} | ${mib(w?.rss_kib)}${n(w)} | ${f1(w?.per_client_kib)} | ${mib(h?.rss_kib)}${n(h)} | ${f1(h?.per_client_kib)} | ${ratio(w?.per_client_kib, h?.per_client_kib)} | ${f1(w?.connect_s)} / ${f1(h?.connect_s)} |`);
  }
  p('');
}
// 5. DNS flood
const fl = jsonl('dns-flood.jsonl');
if (fl.length) {
  p('### 5. DNS flood: /healthz while the DNS port is flooded\n');
  p('| phase | p50 ms | p99 ms | max ms | DNS answered / s | dropped by the per-address limit / s | p50 / p99 ÷ idle |');
  p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of fl) {
    const ratios = r.phase === 'flood' ? `${r.p50_ratio}× / ${r.p99_ratio}×` : '–';
    p(`| ${r.phase} | ${f2(r.p50_ms)} | ${f2(r.p99_ms)} | ${f2(r.max_ms)} | ${f0(r.dns_answered_per_s)} | ${f0(r.dns_limited_per_s)} | ${ratios} |`);
  }
  p('');
}

// 8. A relay killed mid-show
const fo = jsonl('failover.jsonl');
if (fo.length) {
  p('### 8. A relay killed mid-show\n');
  p('| phones | relays left | connected at the end | moved | failed requests | cue p50 / p99 ms | knew the cue within the 1.5 s lead |');
  p('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of fo) {
    const failed = Object.values(r.errors).reduce((a, b) => a + b, 0);
    p(`| ${f0(r.clients)} | ${r.server_processes} | ${f0(r.connected)} | ${f0(r.moved)} | ${f0(failed)} | ${f0(r.know_p50_ms)} / ${f0(r.know_p99_ms)} | ${r.knew_within_1500ms_pct} % |`);
  }
  p('');
}
console.log(out.join('\n'));
