// Minify seam.js into seam.min.js and report the sizes (raw, minified, minified+gzip).
// Usage: npm install && npm run build   (run from src/seam/tracker/)
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const here = new URL('.', import.meta.url);
const source = readFileSync(new URL('seam.js', here), 'utf8');
const version = source.match(/const VERSION = '([^']+)'/)[1];
const sha = createHash('sha256').update(source).digest('hex').slice(0, 16);
const { code } = await minify(source, {
  ecma: 2018,
  compress: { passes: 2 },
  mangle: true,
  format: {
    comments: false,
    // The source hash lets a test catch a seam.min.js that was not rebuilt after an edit.
    preamble: `/*! seam.js ${version} | Seam browser tracker | src sha256:${sha} */`,
  },
});
writeFileSync(new URL('seam.min.js', here), code + '\n');

const gz = gzipSync(code, { level: 9 }).length;
console.log(`seam.js ${source.length} B -> seam.min.js ${code.length} B, gzip ${gz} B`);
