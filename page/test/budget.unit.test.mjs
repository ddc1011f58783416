// Size budget: the HTML, CSS and JS needed for the first frame fit in one TCP initial window
// (14 KB gzipped). "Needed" = index.html, every stylesheet, script and modulepreload it links,
// and every module those import statically. Lazy things (the keep-awake video) do not count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const www = join(dirname(fileURLToPath(import.meta.url)), '..', 'www');
const BUDGET = 14 * 1024;

/** URLs (relative to www, as posix paths) that a file pulls in before first frame. */
function references(path, text) {
  const here = posix.dirname(path);
  const out = [];
  if (path.endsWith('.html')) {
    for (const m of text.matchAll(/<link\b[^>]*>/gi)) {
      const rel = /rel=["']?([^"'\s>]+)/i.exec(m[0])?.[1];
      const href = /href=["']?([^"'\s>]+)/i.exec(m[0])?.[1];
      if (href && (rel === 'stylesheet' || rel === 'modulepreload' || rel === 'preload')) out.push(href);
    }
    for (const m of text.matchAll(/<script\b[^>]*\bsrc=["']?([^"'\s>]+)/gi)) out.push(m[1]);
  } else if (path.endsWith('.js')) {
    for (const m of text.matchAll(/^\s*import\s[^'"]*?from\s*['"]([^'"]+)['"]/gm)) out.push(m[1]);
    for (const m of text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push(m[1]);
  } else if (path.endsWith('.css')) {
    for (const m of text.matchAll(/@import\s+(?:url\()?["']?([^"')\s;]+)/g)) out.push(m[1]);
  }
  return out
    .filter((u) => !/^(https?:)?\/\//.test(u) && !u.startsWith('data:'))
    .map((u) => posix.normalize(u.startsWith('/') ? u.slice(1) : posix.join(here, u)));
}

function firstFrameFiles() {
  const seen = new Map();
  const queue = ['index.html'];
  while (queue.length) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    const bytes = readFileSync(join(www, p));
    seen.set(p, bytes);
    queue.push(...references(p, bytes.toString('utf8')));
  }
  return seen;
}

test('first-frame HTML + CSS + JS is at most 14 KB gzipped', () => {
  const files = firstFrameFiles();
  let total = 0;
  const rows = [];
  for (const [p, bytes] of files) {
    const gz = gzipSync(bytes, { level: 9 }).length;
    total += gz;
    rows.push(`${p} ${bytes.length} B -> ${gz} B gz`);
  }
  console.log(`# first frame: ${rows.join(', ')}; total ${total} B gzipped of ${BUDGET}`);
  for (const must of ['index.html', 'style.css', 'app.js', 'sync.js', 'poll.js', 'show.js', 'safety.js']) {
    assert.ok(files.has(must), `${must} is counted`);
  }
  assert.ok(total <= BUDGET, `${total} B gzipped exceeds the ${BUDGET} B budget`);
});

test('www holds only served files, and every file index.html needs exists', () => {
  const allowed = /\.(html|js|css|mp4|webm|svg|png|ico|json|txt)$/;
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
  for (const f of walk(www)) {
    assert.match(f, allowed, `${f} does not belong in www/`);
    assert.doesNotMatch(f, /\.test\./, `${f} is a test`);
  }
  firstFrameFiles(); // throws on a missing file
});
