// Minify seam.js into seam.min.js and report the sizes (raw, minified, minified+gzip).
// Usage: npm install && npm run build   (run from src/seam/tracker/)
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const here = new URL('.', import.meta.url);
const source = readFileSync(new URL('seam.js', here), 'utf8');
const { code } = await minify(source, {
  ecma: 2018,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: /^!/ }, // keep the /*! banner */
});
writeFileSync(new URL('seam.min.js', here), code + '\n');

const gz = gzipSync(code, { level: 9 }).length;
console.log(`seam.js ${source.length} B -> seam.min.js ${code.length} B, gzip ${gz} B`);
