// The JS API (dist/harmoni.js, the very files the page loads) against the core's scenario
// folders: every output file byte for byte, every expected error with its code and place.
// Scenario folders are found at run time: core/testdata/<name>/ with rulebook.json,
// allocations.csv, debits.csv, optionally merchants.csv and options.json, and expected/
// holding the five output files or error.txt (code on line 1, message on line 2).
// Run `./build.sh` first; then `node --test tests/api.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const testdata = join(here, '..', '..', '..', 'core', 'testdata');
const OUTPUTS = ['balances.csv', 'findings.csv', 'rejects.csv', 'settlement.csv', 'summary.json'];

const harmoni = await import(join(dist, 'harmoni.js'));
await harmoni.init(readFileSync(join(dist, 'pkg', 'harmoni_wasm_bg.wasm')));

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

function scenarios() {
  return readdirSync(testdata, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(testdata, entry.name, 'rulebook.json')))
    .map((entry) => entry.name)
    .sort();
}

function load(name) {
  const dir = join(testdata, name);
  const file = (f) => (existsSync(join(dir, f)) ? new Uint8Array(readFileSync(join(dir, f))) : null);
  const options = existsSync(join(dir, 'options.json')) ? JSON.parse(readFileSync(join(dir, 'options.json'), 'utf8')) : {};
  return {
    dir,
    rulebook: file('rulebook.json'),
    inputs: { allocations: file('allocations.csv'), debits: file('debits.csv'), merchants: file('merchants.csv') },
    options,
  };
}

function run(name) {
  const { rulebook, inputs, options } = load(name);
  return harmoni.reconcile(rulebook, inputs, { strict: Boolean(options.strict) });
}

const found = scenarios();

test('scenario folders are found', () => {
  assert.ok(found.length >= 1, `no scenario folder under ${testdata}`);
});

for (const name of found) {
  test(`scenario ${name}`, () => {
    const { dir } = load(name);
    const expectedError = join(dir, 'expected', 'error.txt');
    if (existsSync(expectedError)) {
      const [code, message] = readFileSync(expectedError, 'utf8').split('\n');
      assert.throws(
        () => run(name),
        (error) => {
          assert.ok(error instanceof Error, 'an Error');
          assert.equal(error.code, code);
          assert.equal(error.message, message);
          if (error.file !== undefined) assert.ok(message.startsWith(error.file), `file ${error.file} in "${message}"`);
          if (error.line !== undefined) assert.ok(message.includes(`line ${error.line}`), `line ${error.line} in "${message}"`);
          if (error.column !== undefined) assert.ok(message.includes(`column ${error.column}`), `column ${error.column} in "${message}"`);
          return true;
        },
      );
      return;
    }
    const report = run(name);
    assert.deepEqual(report.files.map((f) => f.name).sort(), OUTPUTS);
    const expected = JSON.parse(readFileSync(join(dir, 'expected', 'summary.json'), 'utf8'));
    for (const file of report.files) {
      const want = readFileSync(join(dir, 'expected', file.name));
      const got = Buffer.from(file.text, 'utf8');
      assert.ok(got.equals(want), `${name}/${file.name} differs from expected/${file.name}:\n${file.text.slice(0, 2000)}`);
      assert.equal(file.sha256, sha256(want), `${file.name} digest`);
      if (file.name !== 'summary.json') assert.equal(expected.outputs[file.name], file.sha256);
    }
    // The records say what the files say.
    for (const p of report.summary.programs) {
      for (const key of ['allocated', 'settled', 'held', 'remaining']) {
        assert.equal(p[key], expected.programs[p.program][key], `${p.program}.${key}`);
      }
      assert.deepEqual(p.findings, expected.programs[p.program].findings);
    }
    assert.equal(report.summary.programs.length, Object.keys(expected.programs).length);
    const findings = Object.values(expected.totals.findings).reduce((a, b) => a + b, 0);
    assert.equal(report.findings.length, findings);
    for (const input of report.summary.inputs) {
      assert.equal(input.sha256, expected.inputs[input.file].sha256);
      assert.equal(input.rowsRejected, expected.inputs[input.file].rows_rejected);
    }
    assert.equal(report.summary.rulebookSha256, expected.rulebook.sha256);
    const rejected = Object.values(expected.inputs).reduce((n, i) => n + i.rows_rejected, 0);
    assert.equal(report.rejects.length, rejected);
    assert.equal(report.balances.length, expected.totals.allocations);
  });
}

// A scenario that succeeds, for the tests of the API itself.
const ok = found.find((name) => !existsSync(join(testdata, name, 'expected', 'error.txt')));

// A scenario that succeeds and whose files are all valid UTF-8 (text is passed as UTF-8).
const utf8 = found.find((name) => {
  if (existsSync(join(testdata, name, 'expected', 'error.txt'))) return false;
  const { rulebook, inputs } = load(name);
  try {
    for (const bytes of [rulebook, inputs.allocations, inputs.debits, inputs.merchants]) {
      if (bytes) new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    }
    return true;
  } catch {
    return false;
  }
});

test('text inputs give the same report as bytes', { skip: !utf8 }, () => {
  const { rulebook, inputs } = load(utf8);
  // ignoreBOM keeps a byte-order mark in the text, as it is in the bytes.
  const decode = (bytes) => (bytes ? new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes) : null);
  const asText = harmoni.reconcile(decode(rulebook), {
    allocations: decode(inputs.allocations),
    debits: decode(inputs.debits),
    merchants: decode(inputs.merchants),
  });
  const asBuffers = harmoni.reconcile(rulebook.buffer, {
    allocations: inputs.allocations.buffer,
    debits: inputs.debits.buffer,
    merchants: inputs.merchants?.buffer,
  });
  const asBytes = run(utf8);
  assert.deepEqual(asText, asBytes);
  assert.deepEqual(asBuffers, asBytes);
});

test('records are plain objects with camelCase keys and exact amounts', { skip: !ok }, () => {
  const report = run(ok);
  assert.equal(Object.getPrototypeOf(report), Object.prototype);
  assert.deepEqual(Object.keys(report), ['summary', 'findings', 'settlement', 'balances', 'rejects', 'files']);
  assert.deepEqual(Object.keys(report.summary), ['currencyScale', 'programs', 'totals', 'inputs', 'rulebookSha256']);
  assert.match(report.summary.totals.settled, /^\d+(\.\d+)?$/);
  for (const f of report.findings) {
    assert.deepEqual(Object.keys(f), ['rule', 'action', 'subject', 'txnId', 'cardId', 'program', 'line', 'detail']);
    assert.ok(['hold', 'review', 'drop'].includes(f.action));
  }
  for (const s of report.settlement) assert.deepEqual(Object.keys(s), ['merchantId', 'program', 'amount', 'debits', 'reversals']);
  for (const b of report.balances) {
    assert.deepEqual(Object.keys(b), ['cardId', 'program', 'validFrom', 'validTo', 'allocated', 'spent', 'remaining']);
  }
  for (const r of report.rejects) assert.deepEqual(Object.keys(r), ['file', 'line', 'column', 'reason']);
});

test('options.records picks the record lists to convert', { skip: !ok }, () => {
  const { rulebook, inputs } = load(ok);
  const all = run(ok);
  const some = harmoni.reconcile(rulebook, inputs, { records: ['findings', 'rejects'] });
  assert.deepEqual(Object.keys(some), ['summary', 'findings', 'rejects', 'files']);
  assert.deepEqual(some.findings, all.findings);
  assert.deepEqual(some.files, all.files);
  assert.deepEqual(Object.keys(harmoni.reconcile(rulebook, inputs, { records: [] })), ['summary', 'files']);
  assert.throws(() => harmoni.reconcile(rulebook, inputs, { records: ['summary'] }), (e) => e.code === 'argument');
  assert.throws(() => harmoni.reconcile(rulebook, inputs, { records: 'findings' }), (e) => e.code === 'argument');
});

test('the observer is told every stage, in order', { skip: !ok }, () => {
  const { rulebook, inputs } = load(ok);
  const seen = [];
  harmoni.reconcile(rulebook, inputs, { observer: { stage: (p) => seen.push(p) } });
  const stages = harmoni.stages();
  assert.deepEqual(seen.map((p) => p.stage), stages);
  assert.deepEqual(seen.map((p) => p.index), stages.map((_, i) => i));
  assert.ok(seen.every((p) => p.count === stages.length));
});

test('the observer can cancel a run', { skip: !ok }, () => {
  const { rulebook, inputs } = load(ok);
  let asked = 0;
  assert.throws(
    () => harmoni.reconcile(rulebook, inputs, { observer: { cancelled: () => ++asked >= 2 } }),
    (error) => error.code === 'cancelled' && error.message === 'the run was cancelled',
  );
  assert.equal(asked, 2);
});

test("an observer's exception stops the run and is rethrown", { skip: !ok }, () => {
  const { rulebook, inputs } = load(ok);
  const mine = new RangeError('observer failed');
  assert.throws(() => harmoni.reconcile(rulebook, inputs, { observer: { stage: () => { throw mine; } } }), (e) => e === mine);
  assert.ok(run(ok).summary, 'the module goes on working');
});

test('errors carry code, file, line and column', () => {
  const rulebook = '{"programs": [{"code": "BPNTD"}]}';
  const allocations = 'card_id,beneficiary_id,program,valid_from,valid_to,amount\nC1,N1,BPNTD,2022-08-01,2022-08-31,1.005\n';
  const debits = 'txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n';
  assert.throws(
    () => harmoni.reconcile(rulebook, { allocations, debits }, { strict: true }),
    (e) => e instanceof Error && e.name === 'HarmoniError' && e.code === 'bad_row' &&
      e.file === 'allocations.csv' && e.line === 2 && e.column === 'amount',
  );
  const lenient = harmoni.reconcile(rulebook, { allocations, debits });
  assert.deepEqual(lenient.rejects.map((r) => [r.file, r.line, r.column]), [['allocations.csv', 2, 'amount']]);
  assert.throws(
    () => harmoni.reconcile('{"programs": [{"code": "BPNTD", "colour": "red"}]}', { allocations, debits }),
    (e) => e.code === 'rulebook' && e.file === 'rulebook.json',
  );
  assert.throws(
    () => harmoni.reconcile(rulebook, { allocations: 'card_id\nC1\n', debits }),
    (e) => e.code === 'file' && e.file === 'allocations.csv',
  );
});

test('arguments of the wrong kind are `argument` errors', () => {
  assert.throws(() => harmoni.reconcile(42, { allocations: '', debits: '' }), (e) => e.code === 'argument');
  assert.throws(() => harmoni.reconcile('{}', null), (e) => e.code === 'argument');
  assert.throws(() => harmoni.reconcile('{}', { allocations: '' }), (e) => e.code === 'argument' && /debits/.test(e.message));
  assert.throws(() => harmoni.sha256Hex({}), (e) => e.code === 'argument');
});

test('a panic is an internal error and the module keeps working', { skip: !ok }, () => {
  const before = run(ok);
  for (let i = 0; i < 3; i++) {
    assert.throws(
      () => harmoni.__panicForTests(`boom ${i}`),
      (e) => e instanceof Error && e.code === 'internal' && e.message.includes(`boom ${i}`),
    );
    assert.deepEqual(run(ok), before);
  }
});

test('sha256Hex hashes text as UTF-8 and bytes as they are', () => {
  assert.equal(harmoni.sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const text = 'Kartu Harmoni Sejahtera \u2014 Rp 50.000\n';
  assert.equal(harmoni.sha256Hex(text), sha256(Buffer.from(text, 'utf8')));
  assert.equal(harmoni.sha256Hex(new TextEncoder().encode(text)), sha256(Buffer.from(text, 'utf8')));
});

test('reset gives a fresh instance', { skip: !ok }, () => {
  const before = run(ok);
  harmoni.reset();
  assert.deepEqual(run(ok), before);
  assert.match(harmoni.version(), /^\d+\.\d+\.\d+/);
});

test('the README example runs', () => {
  const demo = join(here, '..', '..', '..', 'examples', 'data', 'demo');
  const out = execFileSync(process.execPath, [join(here, '..', 'examples', 'reconcile.mjs'), demo], { encoding: 'utf8' });
  assert.match(out, /^total +allocated \d+(\.\d+)? +settled /m);
  assert.match(out, /summary\.json sha256 [0-9a-f]{64}$/m);
});
