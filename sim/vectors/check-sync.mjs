// Checks a sync.js against sim/vectors/sync.json (written by the Rust port in sim/src/sync.rs).
// Usage: node sim/vectors/check-sync.mjs [path/to/sync.js]   (default: page/src/sync.js)
// Exits 1 and prints the first differences when any value is off by more than `tolerance`.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.resolve(process.argv[2] ?? path.join(here, '../../page/src/sync.js'));
const { ClockSync, Schedule, makeSample, burstSettled, budgetFor } = await import(pathToFileURL(target).href);
const v = JSON.parse(fs.readFileSync(path.join(here, 'sync.json'), 'utf8'));

let bad = 0;
let checked = 0;
const report = (...a) => { if (bad++ < 20) console.error(...a); };
for (const c of v.cases) {
  const s = new ClockSync();
  const schedule = new Schedule();
  c.steps.forEach((st, i) => {
    const accepted = s.handleSample(makeSample(st.t1, st.t_us, st.t4, st.burst));
    const nextMs = schedule.handleSent(s, () => 0.5);
    if (schedule.steady !== st.steady) report(c.name, i, 'steady', schedule.steady, st.steady);
    checked++;
    if (!(Math.abs(nextMs - st.next_ms) <= v.tolerance)) report(c.name, i, 'next_ms', nextMs, st.next_ms);
    if (accepted !== st.accepted) report(c.name, i, 'accepted', accepted, st.accepted);
    if (s.samples.length !== st.kept) report(c.name, i, 'kept', s.samples.length, st.kept);
    if (s.converged !== st.converged) report(c.name, i, 'converged', s.converged, st.converged);
    const settled = burstSettled(s.samples, st.burst, 2);
    if (settled !== st.settled) report(c.name, i, 'settled', settled, st.settled);
    const near = (name, got, want) => {
      checked++;
      if (want === null) { if (s.synced) report(c.name, i, name, 'should not be synced yet'); return; }
      if (!(Math.abs(got - want) <= v.tolerance)) report(c.name, i, name, got, want);
    };
    near('baseOffset', s.baseOffset, st.base_offset);
    near('driftPpm', s.driftPpm, st.drift_ppm);
    near('driftUncPpm', s.driftUncPpm, st.drift_unc_ppm);
    near('levelErrMs', s.levelErrMs, st.level_err_ms);
    near('predictedErrorMs(t4 + 10000)', s.predictedErrorMs(st.t4 + 10000), st.predicted_after_10s);
    near('refLocal', s.refLocal, st.ref_local);
    near('errorBoundMs', s.errorBoundMs, st.error_bound_ms);
    near('offsetAt(t4 + 1000)', s.offsetAt(st.t4 + 1000), st.offset_after_1s);
  });
}
for (const b of v.budgets) {
  const show = JSON.parse(fs.readFileSync(path.join(here, '../../shows/vectors', b.file), 'utf8')).show;
  const got = budgetFor(show, b.cue);
  checked++;
  if (!(Math.abs(got - b.budget_ms) <= v.tolerance)) report('budget', b.file, b.cue, got, b.budget_ms);
}
if (bad) {
  console.error(`${target}: ${bad} differences from sim/vectors/sync.json`);
  process.exit(1);
}
console.log(`${target}: ${checked} values match sim/vectors/sync.json`);
