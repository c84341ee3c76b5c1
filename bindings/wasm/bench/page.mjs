// Times a large cycle in the page (headless Chromium) against the command line on one thread,
// on the same files, runs interleaved so that both see the same machine load:
//
//   harmoni generate --cards 200000 --debits 1000000 --out /tmp/big
//   node bench/page.mjs /tmp/big [runs]
//
// Prints per run: the native wall time (`harmoni reconcile --threads 1`, process start to
// report folder written), the page's time from the click on Reconcile to the views built
// (files read by the worker, engine, report sent to the page, tables drawn), the engine alone
// inside the worker, and the longest the page's main thread was unresponsive meanwhile.
// Also checks that the page's summary.json is the command line's, byte for byte (by digest).
// Environment: HARMONI_CLI (default target/release/harmoni), CHROMIUM (default /usr/bin/chromium).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const data = process.argv[2];
const runs = Number(process.argv[3] ?? 2);
if (!data) {
  console.error('usage: node bench/page.mjs DATA_DIR [RUNS]');
  process.exit(2);
}
const cli = process.env.HARMONI_CLI ?? join(here, '..', '..', '..', 'target', 'release', 'harmoni');
const ROLES = { rulebook: 'rulebook.json', allocations: 'allocations.csv', debits: 'debits.csv', merchants: 'merchants.csv' };
const work = mkdtempSync(join(tmpdir(), 'harmoni-bench-'));

function native() {
  const out = join(work, `out-${Date.now()}`);
  const args = ['reconcile', '--threads', '1', '--out', out];
  for (const [role, file] of Object.entries(ROLES)) args.push(`--${role}`, join(data, file));
  const started = process.hrtime.bigint();
  execFileSync(cli, args, { stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const digest = createHash('sha256').update(readFileSync(join(out, 'summary.json'))).digest('hex');
  rmSync(out, { recursive: true });
  return { ms, digest };
}

const server = await serve(join(here, '..', 'dist'), 0);
const context = await chromium.launchPersistentContext(join(work, 'profile'), {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});

async function inPage() {
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector('#engine-version').textContent !== '');
  for (const [role, file] of Object.entries(ROLES)) {
    await page.setInputFiles(`.slot[data-role="${role}"] input`, join(data, file));
  }
  // The main thread's longest stall while the run goes on: a 10 ms timer that fires late.
  await page.evaluate(() => {
    window.stall = 0;
    let last = performance.now();
    window.ticker = setInterval(() => {
      const now = performance.now();
      window.stall = Math.max(window.stall, now - last - 10);
      last = now;
    }, 10);
  });
  await page.click('#run');
  await page.waitForFunction(() => document.querySelector('#results').dataset.totalMs || !document.querySelector('#error').hidden,
    null, { timeout: 600_000, polling: 100 });
  const error = await page.locator('#error').isHidden() ? null : await page.locator('#error').textContent();
  if (error) throw new Error(`the page failed: ${error}`);
  const result = await page.evaluate(() => {
    clearInterval(window.ticker);
    const { totalMs, reconcileMs } = document.querySelector('#results').dataset;
    const row = [...document.querySelectorAll('#digests tbody tr')].find((tr) => tr.cells[0].textContent.startsWith('summary.json'));
    return { ms: Number(totalMs), engineMs: Number(reconcileMs), stallMs: window.stall, digest: row.cells[1].textContent };
  });
  await page.close();
  return result;
}

const rows = [];
try {
  for (let i = 0; i < runs; i++) {
    const n = native();
    const p = await inPage();
    if (p.digest !== n.digest) throw new Error(`summary.json differs: page ${p.digest}, command line ${n.digest}`);
    rows.push({ native: n.ms, page: p.ms, engine: p.engineMs, stall: p.stallMs });
    console.log(
      `run ${i + 1}: native 1 thread ${(n.ms / 1000).toFixed(2)} s | page ${(p.ms / 1000).toFixed(2)} s ` +
        `(engine in the worker ${(p.engineMs / 1000).toFixed(2)} s) | ratio ${(p.ms / n.ms).toFixed(2)} | ` +
        `longest main-thread stall ${p.stallMs.toFixed(0)} ms | summary.json identical`,
    );
  }
  const best = (key) => Math.min(...rows.map((r) => r[key]));
  console.log(`best: native ${(best('native') / 1000).toFixed(2)} s, page ${(best('page') / 1000).toFixed(2)} s, ratio ${(best('page') / best('native')).toFixed(2)}`);
} finally {
  await context.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
