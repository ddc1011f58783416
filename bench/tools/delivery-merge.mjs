// Merges the load generators' results of one delivery case into one JSON line.
// usage: node delivery-merge.mjs DESIGN CLIENTS T0_US IDLE_RSS_KIB FILE...
import { readFileSync } from 'node:fs';

const [design, n, t0, idleRss, ...files] = process.argv.slice(2);
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const sum = (f) => runs.reduce((a, r) => a + f(r), 0);
const clients = Number(n);
const windowS = runs[0].window_s;
const perClientMin = (bytes) => (bytes / clients / windowS) * 60;
const wb = (k) => sum((r) => r.window_bytes[k].rx + r.window_bytes[k].tx);
// ms from `beacon go` to each client's knowing the cue: when the load generator read the answer
// (`seen_us`), and when the answer reached the client's socket (`arrived_us`, the kernel's
// receive time: apart from the load generator's own delay on the two shared cores).
const since = (us) => us.map((s) => (s > 0 ? (s - Number(t0)) / 1000 : Infinity)).sort((a, b) => a - b);
const know = since(runs.flatMap((r) => r.seen_us));
const arrive = since(runs.flatMap((r) => r.arrived_us ?? []));
const pctOf = (xs, p) => {
  const v = xs[Math.min(xs.length, Math.ceil((p / 100) * xs.length)) - 1];
  return Number.isFinite(v) ? Math.round(v * 10) / 10 : null;
};
const pct = (p) => pctOf(know, p);
const within = (xs, ms) => (xs.length ? Math.round((xs.filter((x) => x <= ms).length / xs.length) * 1000) / 10 : null);
// Every server process (two relays above one process's open-file cap): RSS and CPU summed.
const procs = runs[0].server.procs;
const total = (k) => (procs.every((p) => p[k] != null) ? procs.reduce((a, p) => a + p[k], 0) : null);
const server = { rss_kib_end: total('rss_kib_end'), rss_kib_peak: total('rss_kib_peak'), cpu_s_per_min: total('cpu_s_per_min') };
const lo = runs[0].server.lo;
const errors = {};
for (const r of runs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
console.log(
  JSON.stringify({
    design,
    clients,
    server_processes: procs.length,
    connected: sum((r) => r.connected_at_window_end),
    errors,
    idle_rss_kib: Number(idleRss),
    rss_kib: server.rss_kib_end,
    rss_kib_peak: server.rss_kib_peak,
    cpu_s_per_min: server.cpu_s_per_min,
    state_bytes_per_client_min: Math.round(perClientMin(wb('state'))),
    time_bytes_per_client_min: Math.round(perClientMin(wb('time'))),
    setup_bytes_per_client: Math.round(sum((r) => r.total_bytes.setup.rx + r.total_bytes.setup.tx) / clients),
    lo_bytes_per_client_min: lo ? Math.round(perClientMin(lo.bytes)) : null,
    lo_packets_per_client_min: lo ? Math.round(((lo.packets / clients / windowS) * 60) * 10) / 10 : null,
    state_requests_per_s: Math.round(sum((r) => r.window_requests.state) / windowS),
    state_requests_per_client_min: Math.round((sum((r) => r.window_requests.state) / clients / windowS) * 60 * 100) / 100,
    time_requests_per_client_min: Math.round((sum((r) => r.window_requests.time) / clients / windowS) * 60 * 100) / 100,
    // Long-poll: /t that found no /s answer to ride and went on a connection of its own (whole run).
    time_on_own_connection: sum((r) => r.time_on_own_connection ?? 0),
    know_p50_ms: pct(50),
    know_p99_ms: pct(99),
    know_max_ms: pct(100),
    // Crowdlight's GO starts the cue 1.5 s after the command: clients that know by then start on time.
    knew_within_1500ms_pct: within(know, 1500),
    knew_within_200ms_pct: within(know, 200),
    arrived_p50_ms: pctOf(arrive, 50),
    arrived_p99_ms: pctOf(arrive, 99),
    arrived_within_200ms_pct: within(arrive, 200),
    arrived_within_1500ms_pct: within(arrive, 1500),
    unseen: know.filter((x) => !Number.isFinite(x)).length,
    window_s: windowS,
  }),
);
