import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
const url = process.argv[2];
const ctx = await chromium.launchPersistentContext(mkdtempSync('/tmp/clpw-'), {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--no-first-run','--disable-background-networking','--disable-component-update','--disable-sync','--force-color-profile=srgb'],
  viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
});
const page = ctx.pages()[0] ?? await ctx.newPage();
page.on('console', (m) => console.log('console:', m.text()));
page.on('pageerror', (e) => console.log('pageerror:', e.message));
await page.goto(url);
await page.waitForTimeout(2500);
await page.screenshot({ path: 'test-results/dev-join.png' });
console.log(JSON.stringify(await page.evaluate(() => ({ s: crowdlight.state(), sync: crowdlight.syncInfo(), off: crowdlight.offsetMs() }))));
const v = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.42C00A"'));
console.log('canPlay h264:', v);
await page.tap('#join');
await page.waitForTimeout(3000);
await page.screenshot({ path: 'test-results/dev-run.png' });
console.log(JSON.stringify(await page.evaluate(() => ({ s: crowdlight.state(), c: crowdlight.colour(), vid: (() => { const v = document.getElementById('keepawake'); return { src: v.src, paused: v.paused, t: v.currentTime, rs: v.readyState, err: v.error && v.error.code }; })() }))));
await ctx.close();
