// Reads wrk --latency output on stdin; prints one JSON line with the figures.
// usage: wrk ... | node wrk2json.mjs NAME URL
import { readFileSync } from 'node:fs';

const [name, url] = process.argv.slice(2);
const text = readFileSync(0, 'utf8');
const ms = (v, unit) => Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 }[unit] ?? NaN);
const pct = (p) => {
  const m = text.match(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'));
  return m ? ms(m[1], m[2]) : null;
};
const num = (re) => {
  const m = text.match(re);
  return m ? Number(m[1]) : null;
};
const out = {
  name,
  url,
  rps: num(/Requests\/sec:\s+([\d.]+)/),
  p50_ms: pct(50),
  p90_ms: pct(90),
  p99_ms: pct(99),
  requests: num(/(\d+) requests in/),
  non_2xx_3xx: num(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0,
  socket_errors: (() => {
    const m = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    return m ? m.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  })(),
};
console.log(JSON.stringify(out));
