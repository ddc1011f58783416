// Markdown table of bench/sync-schedule's output: per path and variant, clock error p95 / p99
// at each snapshot and the requests per phone per minute between the last two snapshots.
// Usage: node bench/tools/sync-schedule-table.mjs [bench/results/sync-schedule.jsonl]
import fs from 'node:fs';

const file = process.argv[2] || new URL('../results/sync-schedule.jsonl', import.meta.url).pathname;
const rows = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const f = (x) => (x == null ? '–' : x.toFixed(2));
const snaps = rows[0]?.snapshots?.map((s) => s.at_s) ?? [];
console.log(`| path | variant | ${snaps.map((s) => `error p95 / p99 at ${s} s`).join(' | ')} | /t per phone per min, ${snaps.at(-2)}–${snaps.at(-1)} s | all requests per phone per min, ${snaps.at(-2)}–${snaps.at(-1)} s |`);
console.log(`| --- | --- | ${snaps.map(() => '---:').join(' | ')} | ---: | ---: |`);
for (const r of rows) {
  const last = r.snapshots?.at(-1)?.per_phone_min;
  const name = r.variant + (r.args ? ` (\`${r.args}\`)` : '');
  console.log(`| ${r.delay_ms} ± ${r.jitter_ms} ms, ${r.loss * 100} % loss | ${name} | ${(r.snapshots ?? []).map((s) => `${f(s.error_ms?.p95)} / ${f(s.error_ms?.p99)}`).join(' | ')} | ${f(last?.t)} | ${f(last?.all)} |`);
}
