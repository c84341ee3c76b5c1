// Reconciles a cycle with the JS API, in Node, and prints the totals per program and the
// digest of summary.json: `node examples/reconcile.mjs [DIR]` (default: the demo data set).
// The same calls work in a browser (see web/worker.js). Run `./build.sh` first.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { init, reconcile } from '../dist/harmoni.js';

const dir = process.argv[2] ?? fileURLToPath(new URL('../../../examples/data/demo', import.meta.url));
await init(readFileSync(new URL('../dist/pkg/harmoni_wasm_bg.wasm', import.meta.url)));

const read = (name) => (existsSync(`${dir}/${name}`) ? readFileSync(`${dir}/${name}`) : null);
try {
  const report = reconcile(read('rulebook.json'), {
    allocations: read('allocations.csv'),
    debits: read('debits.csv'),
    merchants: read('merchants.csv'), // optional: null without the file
  });
  for (const p of [...report.summary.programs, report.summary.totals]) {
    console.log(`${(p.program || 'total').padEnd(12)} allocated ${p.allocated}  settled ${p.settled}  held ${p.held}  remaining ${p.remaining}`);
  }
  console.log(`${report.findings.length} findings, ${report.rejects.length} rejected rows`);
  console.log(`summary.json sha256 ${report.files.find((f) => f.name === 'summary.json').sha256}`);
} catch (error) {
  // error.code: rulebook, file, bad_row, limit, cancelled, internal or argument;
  // error.file, error.line, error.column where they apply.
  console.error(`harmoni: ${error.message} [${error.code}]`);
  process.exitCode = 1;
}
