// The page's only build step: page/src/*.js (commented sources) → page/www/*.js with comments
// and whitespace removed (terser, no mangling, no rewriting), to fit the first-frame budget.
// Deterministic: pinned terser, sorted inputs, fixed options. `npm run build` writes the files;
// the unit test `build.unit.test.mjs` fails when www/ is not the build of src/.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SRC = join(root, 'src');
export const WWW = join(root, 'www');

/** Returns [[name, built text]] for every src/*.js. */
export async function build() {
  const out = [];
  for (const name of readdirSync(SRC).filter((f) => f.endsWith('.js')).sort()) {
    const code = readFileSync(join(SRC, name), 'utf8');
    const r = await minify(code, {
      module: true,
      ecma: 2020,
      compress: false,
      mangle: false,
      format: { comments: false, ascii_only: false, semicolons: false },
    });
    out.push([name, `// Built from page/src/${name} by page/test/tools/build.mjs: edit the source.\n${r.code}\n`]);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [name, text] of await build()) {
    writeFileSync(join(WWW, name), text);
    console.log(`www/${name}: ${text.length} B`);
  }
}
