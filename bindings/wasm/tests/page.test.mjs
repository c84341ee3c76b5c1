// The audit page end to end, in a real headless Chromium (Debian's, driven by playwright-core):
// served from 127.0.0.1, the demo data set fed through the file pickers, the result checked
// against what the command line writes for the same files, an output downloaded and compared
// byte for byte, the digest check, drag and drop, the built-in sample, and screenshots at
// desktop and phone widths.
//
// Run `./build.sh` first; then `node --test tests/page.test.mjs`. Environment:
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   HARMONI_CLI    the command line's binary (default: `cargo run --release -p harmoni-cli`)
//   SCREENSHOTS    where the screenshots go (default dist/; `.` updates the committed ones)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const crate = join(here, '..');
const root = join(crate, '..', '..');
const dist = join(crate, 'dist');
const demo = join(root, 'examples', 'data', 'demo');
const shots = resolve(crate, process.env.SCREENSHOTS ?? 'dist');
const ROLES = { rulebook: 'rulebook.json', allocations: 'allocations.csv', debits: 'debits.csv', merchants: 'merchants.csv' };
const OUTPUTS = ['balances.csv', 'findings.csv', 'rejects.csv', 'settlement.csv', 'summary.json'];
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let server;
let context;
let page;
let work;
let cli; // the command line's output files, by name
const requests = [];

/** The command line's report for the demo data set. */
function commandLine(out) {
  const args = ['reconcile', '--threads', '1', '--out', out];
  for (const [role, file] of Object.entries(ROLES)) args.push(`--${role}`, join(demo, file));
  if (process.env.HARMONI_CLI) execFileSync(process.env.HARMONI_CLI, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  else execFileSync('cargo', ['run', '--release', '-q', '-p', 'harmoni-cli', '--', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  return Object.fromEntries(OUTPUTS.map((name) => [name, readFileSync(join(out, name))]));
}

/** Fields of a CSV record (RFC 4180). */
function csvRows(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else field += c;
  }
  return rows;
}

const group = (decimal) => decimal.replace(/^(\d+)/, (whole) => whole.replace(/\B(?=(\d{3})+(?!\d))/g, ','));

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'harmoni-e2e-'));
  cli = commandLine(join(work, 'cli'));
  server = await serve(dist, 0);
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (request) => requests.push(request.url()));
  const problems = [];
  page.on('pageerror', (error) => problems.push(error));
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.problems = problems;
  await page.goto(server.url);
  await page.waitForFunction(() => document.querySelector('#engine-version').textContent !== '');
});

after(async () => {
  await context?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function pick(role, path) {
  // Through the file chooser, as a person clicking the box would.
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click(`.slot[data-role="${role}"]`)]);
  await chooser.setFiles(path);
}

async function runAndWait() {
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#results').hidden && document.querySelector('#progress').hidden);
  assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
}

test('files picked and reconciled: the summary and findings are the command line\'s', async () => {
  for (const [role, file] of Object.entries(ROLES)) await pick(role, join(demo, file));
  assert.equal(await page.locator('.slot.filled').count(), 4);
  await runAndWait();

  const summary = JSON.parse(cli['summary.json']);
  const totals = await page.locator('#summary tfoot td').allTextContents();
  assert.deepEqual(totals.slice(0, 5), ['Total', ...['allocated', 'settled', 'held', 'remaining'].map((k) => group(summary.totals[k]))]);
  const rows = await page.locator('#summary tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rows.map((r) => r[0]), Object.keys(summary.programs));
  for (const row of rows) {
    const p = summary.programs[row[0]];
    assert.deepEqual(row.slice(1, 5), [p.allocated, p.settled, p.held, p.remaining].map(group), row[0]);
  }
  assert.equal(await page.locator('#chart svg rect').count(), rows.length * 4);

  // A finding of the command line, found in the page with the filters.
  const findings = csvRows(cli['findings.csv'].toString('utf8')).slice(1);
  assert.ok(findings.length > 0, 'the demo data set has findings');
  assert.match(await page.locator('#findings-count').textContent(), new RegExp(`^${group(String(findings.length))} in all`));
  const [rule, action, subject, txnId, cardId, program, line, detail] = findings.find((f) => f[3] !== '') ?? findings[0];
  await page.selectOption('#filter-rule', rule);
  await page.selectOption('#filter-action', action);
  await page.fill('#filter-text', txnId || cardId);
  const first = await page.locator('#findings tbody tr').first().locator('td').allTextContents();
  assert.deepEqual(first, [rule, action, txnId || '\u2014', cardId, program, `${subject === 'debit' ? 'debits' : 'allocations'}.csv:${line}`, detail]);
  await page.fill('#filter-text', 'no-such-card');
  assert.equal(await page.locator('#findings tbody tr').count(), 0);
  await page.fill('#filter-text', '');
  await page.selectOption('#filter-rule', '');
  await page.selectOption('#filter-action', '');

  const settlement = csvRows(cli['settlement.csv'].toString('utf8')).slice(1);
  assert.match(await page.locator('#settlement-count').textContent(), new RegExp(`^${group(String(settlement.length))} in all`));
  const rejects = csvRows(cli['rejects.csv'].toString('utf8')).slice(1);
  assert.match(await page.locator('#rejects-count').textContent(), new RegExp(`^${group(String(rejects.length))} in all`));
  if (rejects.length) {
    const shown = await page.locator('#rejects tbody tr').first().locator('td').allTextContents();
    assert.deepEqual(shown, [rejects[0][0], rejects[0][1], rejects[0][2] || '(row)', rejects[0][3]]);
  }
});

test('every output file downloads byte-identical to the command line\'s', async () => {
  for (const name of OUTPUTS) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`a[data-file="${name}"]`)]);
    assert.equal(download.suggestedFilename(), name);
    const bytes = readFileSync(await download.path());
    assert.ok(bytes.equals(cli[name]), `${name}: the page's download differs from the command line's`);
  }
});

test('a published digest is checked at a glance', async () => {
  const { createHash } = await import('node:crypto');
  const published = createHash('sha256').update(cli['summary.json']).digest('hex');
  await page.fill('#published', published.toUpperCase());
  assert.equal(await page.locator('#verdict').getAttribute('class'), 'verdict match');
  assert.match(await page.locator('#verdict').textContent(), /summary\.json \(output\)/);
  assert.equal(await page.locator('#digests tr.hit td').first().textContent(), 'summary.jsonoutput');
  const inputDigest = createHash('sha256').update(readFileSync(join(demo, 'debits.csv'))).digest('hex');
  assert.equal(await page.locator('#digests tbody tr', { hasText: inputDigest }).count(), 1);
  await page.fill('#published', '0'.repeat(64));
  assert.equal(await page.locator('#verdict').getAttribute('class'), 'verdict mismatch');
  await page.fill('#published', 'not a digest');
  assert.match(await page.locator('#verdict').textContent(), /64 hexadecimal digits/);
  await page.fill('#published', published);
});

test('screenshots at desktop and phone widths, with nothing wider than the phone', async () => {
  // Desktop: the top of the page (inputs, the digest check, the summary and its chart).
  const summaryEnd = await page.evaluate(() => {
    const chart = document.querySelector('.chart').getBoundingClientRect();
    return Math.ceil(chart.bottom + window.scrollY + 24);
  });
  await page.screenshot({ path: join(shots, 'screenshot.png'), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: summaryEnd } });
  // Phone: the summary, as a person scrolls to it.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await page.evaluate(() => document.querySelector('#summary-title').scrollIntoView());
  await page.screenshot({ path: join(shots, 'screenshot-phone.png') });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('files dropped together are placed by name', async () => {
  await page.click('#clear');
  assert.equal(await page.locator('.slot.filled').count(), 0);
  assert.equal(await page.locator('#run').isDisabled(), true);
  await page.evaluate(async (names) => {
    const transfer = new DataTransfer();
    for (const name of names) {
      const blob = await (await fetch(`sample/${name}`)).blob();
      transfer.items.add(new File([blob], `august-${name}`));
    }
    document.querySelector('#drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, Object.values(ROLES));
  const placed = await page.locator('.slot').evaluateAll((slots) => slots.map((s) => [s.dataset.role, s.querySelector('.slot-file').textContent]));
  for (const [role, label] of placed) assert.match(label, new RegExp(`^august-${ROLES[role].replace('.', '\\.')} `));
  assert.equal(await page.locator('#run').isDisabled(), false);
});

test('the built-in sample runs in one click and gives the command line\'s report', async () => {
  await page.click('#clear');
  await page.fill('#published', '');
  await page.evaluate(() => { document.querySelector('#results').hidden = true; });
  await page.click('#sample');
  await page.waitForFunction(() => !document.querySelector('#results').hidden && document.querySelector('#progress').hidden);
  const digest = await page.locator('#digests tbody tr', { hasText: 'summary.json' }).locator('td').nth(1).textContent();
  const { createHash } = await import('node:crypto');
  assert.equal(digest, createHash('sha256').update(cli['summary.json']).digest('hex'));
});

test('strict mode stops at the first bad row, with its place', async () => {
  const rejects = csvRows(cli['rejects.csv'].toString('utf8')).slice(1);
  if (!rejects.length) return; // the demo data set has bad rows today; nothing to stop at otherwise
  const [file, line, column] = rejects[0];
  await page.check('#strict');
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  const text = await page.locator('#error').textContent();
  assert.ok(text.startsWith(`${file}, line ${line}${column ? `, column ${column}` : ''}: `), text);
  assert.match(text, /\[bad_row\]$/);
  await page.uncheck('#strict');
});

test('a bad rulebook is reported with its code and place', async () => {
  await page.setInputFiles('.slot[data-role="rulebook"] input', {
    name: 'rulebook.json', mimeType: 'application/json', buffer: Buffer.from('{"programs": [{"code": "BPNTD", "colour": 1}]}'),
  });
  await page.click('#run');
  await page.waitForFunction(() => !document.querySelector('#error').hidden);
  assert.match(await page.locator('#error').textContent(), /^rulebook rulebook\.json.*\[rulebook\]/);
});

test('nothing was requested from anywhere but the page\'s own server', () => {
  assert.ok(requests.length > 0);
  const elsewhere = requests.filter((url) => !url.startsWith(server.url) && !url.startsWith('blob:') && !url.startsWith('data:'));
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(page.problems, []);
});
