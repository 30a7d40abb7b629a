// Fails the build when a page's first load grows past its budget (gzipped): the sidebar 150 KB, the console 400 KB.
// A page's first load is its HTML's scripts and styles and everything they import statically (not lazy chunks).
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const budgets = { 'sidebar/index.html': 150 * 1024, 'index.html': 400 * 1024 };

function gz(path) { return gzipSync(readFileSync(path)).length; }

function firstLoad(html) {
  const seen = new Set([html]);
  const queue = [html];
  let bytes = 0;
  while (queue.length) {
    const file = queue.shift();
    const text = readFileSync(file, 'utf8');
    bytes += gz(file);
    const refs = file.endsWith('.html')
      ? [...text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => join(dist, m[1]))
      : file.endsWith('.js')
        ? [...text.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w{},*\s$]+from\s*)?["'](\.\/[^"']+)["']/g)].map((m) => join(dirname(file), m[1]))
        : [];
    for (const ref of refs) if (!seen.has(ref)) { seen.add(ref); queue.push(ref); }
  }
  return bytes;
}

let failed = false;
const report = {};
for (const [page, budget] of Object.entries(budgets)) {
  const bytes = firstLoad(join(dist, page));
  report[page] = bytes;
  const ok = bytes <= budget;
  failed ||= !ok;
  console.log(`${ok ? 'ok  ' : 'OVER'} ${page}: ${(bytes / 1024).toFixed(1)} KB gzipped first load (budget ${budget / 1024} KB)`);
}
const total = readdirSync(join(dist, 'assets')).reduce((s, f) => s + gz(join(dist, 'assets', f)), 0);
console.log(`     all assets: ${(total / 1024).toFixed(1)} KB gzipped`);
if (process.argv.includes('--json')) console.log(JSON.stringify(report));
if (failed) process.exit(1);

