// A relaxed show (`sync = "relaxed"`, shows/FORMAT.md §1) in headless Chromium against the REAL
// `beacon` and `portal`: the page keeps a 16 ms clock budget for every cue, where a tight show's
// page keeps the cue's own (2 ms for a cut, 2 ms with no cue known). The budget is what the /t
// schedule keeps within (sync.js `budgetFor`, the same vectors as the Rust twin); what it costs
// and buys on a jittery path is measured by bench/paths and bench/sync-schedule.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Harness, beaconCtl, joinShow, phonePage, prepare, waitFor } from './tools/harness.mjs';

let harness;
let socket;
let base;
let browser;
let shows;

const beacon = (...args) => beaconCtl(socket, ...args);

before(async () => {
  prepare(['beacon', 'portal', 'shows']);
  harness = new Harness('crowdlight-relaxed-');
  ({ base, socket, shows } = await harness.startShowsDir({
    'relaxed.toml': 'shows/vectors/sync.toml',
    'minimal.toml': 'shows/examples/minimal.toml',
  }));
  browser = await harness.launch();
});

after(async () => {
  await harness?.stop();
});

const budget = (page) => page.evaluate(() => crowdlight.syncInfo().budgetMs);

test('a relaxed show keeps a 16 ms clock budget for every cue; a tight show the cue\'s own', async () => {
  const page = await phonePage(browser, { deviceScaleFactor: 1 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await joinShow(page, `${base}/`);
  assert.equal(await budget(page), 16, 'relaxed, no cue');
  await beacon('go', 'cut');
  await waitFor('the page to play the cut', async () => (await page.evaluate(() => crowdlight.state().cue)) === 'cut');
  assert.equal(await budget(page), 16, 'relaxed, a hard cut');
  // The operator loads a tight show: the page follows /s to it and tightens at once.
  const loads = await page.evaluate(() => crowdlight.state().showLoads);
  await beacon('load', join(shows, 'minimal.toml'));
  await waitFor('the page to load the tight show', async () => (await page.evaluate(() => crowdlight.state().showLoads)) > loads);
  await waitFor('the tight budget', async () => (await budget(page)) === 2);
  assert.deepEqual(errors, []);
  await page.close();
});
