// The audit page: file slots, the worker that runs the engine, and the views of the report.
// Everything shown comes from the engine's report; the page does no arithmetic on money
// (amounts are the engine's exact decimal strings; the chart alone turns them into numbers,
// for bar lengths).

const ROLES = ['rulebook', 'allocations', 'debits', 'merchants'];
const ROLE_FILES = {
  rulebook: 'rulebook.json',
  allocations: 'allocations.csv',
  debits: 'debits.csv',
  merchants: 'merchants.csv',
};
const PAGE_ROWS = 50;

const $ = (selector) => document.querySelector(selector);
const state = {
  files: {},
  worker: null,
  workerReady: null,
  running: false,
  report: null,
  programNames: {},
  urls: [],
  digests: [],
};

// ---------------------------------------------------------------- worker

function startWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  state.worker = worker;
  state.workerReady = new Promise((resolve, reject) => {
    worker.addEventListener('message', function first(event) {
      if (event.data.type === 'ready') {
        $('#engine-version').textContent = event.data.version;
        resolve();
      } else if (event.data.type === 'error') {
        reject(event.data.error);
      }
      worker.removeEventListener('message', first);
    });
  });
  state.workerReady.catch(() => {});
  worker.addEventListener('message', (event) => onWorkerMessage(worker, event.data));
  worker.addEventListener('error', (event) => {
    if (worker === state.worker) finish({ message: `the worker failed: ${event.message ?? 'unknown error'}`, code: 'internal' });
  });
}

function onWorkerMessage(worker, message) {
  if (worker !== state.worker || !state.running) return;
  if (message.type === 'stage') {
    showProgress(message);
  } else if (message.type === 'done') {
    finish(null, message.report, message.timings);
  } else if (message.type === 'error') {
    finish(message.error);
  }
}

// ---------------------------------------------------------------- inputs

function setFile(role, file) {
  if (!ROLES.includes(role) || state.running) return;
  if (file) state.files[role] = file;
  else delete state.files[role];
  const slot = document.querySelector(`.slot[data-role="${role}"]`);
  slot.classList.toggle('filled', Boolean(file));
  const size = file ? ` (${formatBytes(file.size)})` : '';
  slot.querySelector('.slot-file').textContent = file ? `${file.name}${size}` : 'no file';
  refreshButtons();
}

function refreshButtons() {
  $('#run').disabled = state.running || !(state.files.rulebook && state.files.allocations && state.files.debits);
  $('#sample').disabled = state.running;
  $('#clear').disabled = state.running;
  for (const input of document.querySelectorAll('.slot input[type=file]')) input.disabled = state.running;
}

/** The role a dropped file plays, from its name. */
function roleOf(name) {
  const lower = name.toLowerCase();
  if (lower.endsWith('.json') || lower.includes('rulebook')) return 'rulebook';
  if (lower.includes('alloc')) return 'allocations';
  if (lower.includes('merchant')) return 'merchants';
  if (lower.includes('debit') || lower.includes('txn') || lower.includes('transaction')) return 'debits';
  return null;
}

function wireInputs() {
  for (const slot of document.querySelectorAll('.slot')) {
    const role = slot.dataset.role;
    const input = slot.querySelector('input[type=file]');
    input.addEventListener('change', () => setFile(role, input.files[0] ?? null));
    slot.addEventListener('dragover', (event) => {
      event.preventDefault();
      slot.classList.add('over');
    });
    slot.addEventListener('dragleave', () => slot.classList.remove('over'));
    slot.addEventListener('drop', (event) => {
      event.preventDefault();
      event.stopPropagation();
      slot.classList.remove('over');
      $('#drop').classList.remove('dragging');
      const files = [...event.dataTransfer.files];
      if (files.length === 1) setFile(role, files[0]);
      else placeByName(files);
    });
  }
  const drop = $('#drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', (event) => {
    if (!drop.contains(event.relatedTarget)) drop.classList.remove('dragging');
  });
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('dragging');
    placeByName([...event.dataTransfer.files]);
  });
  // A file dropped outside the slots must not make the browser navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
}

function placeByName(files) {
  const unknown = [];
  for (const file of files) {
    const role = roleOf(file.name);
    if (role) setFile(role, file);
    else unknown.push(file.name);
  }
  showError(unknown.length ? { message: `Not placed (drop it on its box): ${unknown.join(', ')}` } : null);
}

async function loadSample() {
  showError(null);
  try {
    const names = { ...ROLE_FILES };
    const fetched = await Promise.all(
      Object.entries(names).map(async ([role, name]) => {
        const response = await fetch(`sample/${name}`);
        if (!response.ok) throw new Error(`sample/${name}: ${response.status} ${response.statusText}`);
        return [role, new File([await response.blob()], name, { type: name.endsWith('.json') ? 'application/json' : 'text/csv' })];
      }),
    );
    for (const input of document.querySelectorAll('.slot input[type=file]')) input.value = '';
    for (const [role, file] of fetched) setFile(role, file);
    run();
  } catch (error) {
    showError({ message: `The sample could not be loaded: ${error.message}` });
  }
}

function clearInputs() {
  for (const input of document.querySelectorAll('.slot input[type=file]')) input.value = '';
  for (const role of ROLES) setFile(role, null);
  showError(null);
}

// ---------------------------------------------------------------- running

async function run() {
  if (state.running) return;
  const { rulebook, allocations, debits, merchants } = state.files;
  if (!(rulebook && allocations && debits)) return;
  state.running = true;
  refreshButtons();
  showError(null);
  $('#progress').hidden = false;
  state.started = performance.now();
  showProgress({ stage: 'starting the engine', index: 0, count: 1 });
  // The elapsed time keeps moving between the engine's stages.
  state.ticker = setInterval(() => showProgress(state.progress), 250);
  state.programNames = await programNames(rulebook);
  state.inputNames = Object.fromEntries(ROLES.filter((r) => state.files[r]).map((r) => [r, state.files[r].name]));
  try {
    await state.workerReady;
  } catch (error) {
    finish({ ...error, message: `The engine could not start: ${error.message}` });
    return;
  }
  state.worker.postMessage({ rulebook, allocations, debits, merchants: merchants ?? null, strict: $('#strict').checked });
}

function cancel() {
  if (!state.running) return;
  // The engine runs to completion once started: stopping it means replacing the worker.
  state.worker.terminate();
  startWorker();
  finish({ message: 'The run was cancelled.', code: 'cancelled' });
}

function showProgress(progress) {
  state.progress = progress;
  const { stage, index, count } = progress;
  const bar = $('#progress-bar');
  bar.max = count;
  bar.value = index;
  const seconds = ((performance.now() - (state.started ?? performance.now())) / 1000).toFixed(1);
  $('#progress-text').textContent = `${stage} (${index + 1}/${count}), ${seconds} s`;
}

function finish(error, report, timings) {
  state.running = false;
  clearInterval(state.ticker);
  $('#progress').hidden = true;
  refreshButtons();
  if (error) {
    showError(error);
    return;
  }
  state.report = report;
  render(report);
  // Measured once the views are built: what a person waits for.
  showRunInfo(report, performance.now() - state.started, timings.reconcileMs);
}

function showError(error) {
  const box = $('#error');
  if (!error) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  const where = [error.file, error.line && `line ${error.line}`, error.column && `column ${error.column}`].filter(Boolean).join(', ');
  box.textContent = error.message + (error.code ? ` [${error.code}]` : '') + (where && !error.message.includes(where) ? ` (${where})` : '');
  box.hidden = false;
}

/** Program names from the rulebook, for display only (the engine reports codes). */
async function programNames(file) {
  try {
    const rulebook = JSON.parse((await file.text()).replace(/^\uFEFF/, ''));
    return Object.fromEntries((rulebook.programs ?? []).filter((p) => p.name).map((p) => [p.code, p.name]));
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------- views

function render(report) {
  $('#results').hidden = false;
  const { summary } = report;
  renderSummary(summary);
  renderChart(summary);
  renderDigests(report);
  renderFindingFilters(report);
  renderFindings();
  renderSettlement();
  renderRejects();
  renderDownloads(report.files);
}

function showRunInfo(report, totalMs, reconcileMs) {
  const { summary } = report;
  const rows = Object.fromEntries(summary.inputs.map((i) => [i.file, i]));
  const rejected = summary.inputs.reduce((n, i) => n + i.rowsRejected, 0);
  $('#run-info').textContent =
    `${count(rows['debits.csv']?.rowsRead ?? 0)} debit rows and ${count(rows['allocations.csv']?.rowsRead ?? 0)} allocation rows` +
    ` reconciled in ${(totalMs / 1000).toFixed(2)} s (engine ${(reconcileMs / 1000).toFixed(2)} s);` +
    ` ${count(rejected)} rows rejected, ${count(report.findings.length)} findings.` +
    ` Amounts have ${summary.currencyScale} decimals.`;
  // For the timing script (bench/page.mjs): from the click to the views, and in the engine.
  $('#results').dataset.totalMs = totalMs.toFixed(0);
  $('#results').dataset.reconcileMs = reconcileMs.toFixed(0);
}

function cell(row, text, className) {
  const td = document.createElement('td');
  if (text instanceof Node) td.append(text);
  else td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

/** Labels each cell with its column's header: a phone shows tables as cards of labelled lines. */
function labelCells(table) {
  const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const row of table.querySelectorAll('tbody tr, tfoot tr')) {
    [...row.cells].forEach((td, i) => {
      td.dataset.label = headers[i] ?? '';
    });
  }
}

function programCell(row, code) {
  const td = cell(row, code);
  if (state.programNames[code]) td.title = state.programNames[code];
  return td;
}

function totalFindings(program) {
  return Object.values(program.findings).reduce((a, b) => a + b, 0);
}

function renderSummary(summary) {
  const body = $('#summary tbody');
  body.replaceChildren();
  for (const p of summary.programs) {
    const tr = document.createElement('tr');
    programCell(tr, p.program);
    for (const key of ['allocated', 'settled', 'held', 'remaining']) cell(tr, money(p[key]));
    cell(tr, count(p.debits));
    cell(tr, count(totalFindings(p)));
    body.append(tr);
  }
  const t = summary.totals;
  const foot = document.createElement('tr');
  cell(foot, 'Total');
  for (const key of ['allocated', 'settled', 'held', 'remaining']) cell(foot, money(t[key]));
  cell(foot, count(t.debits));
  cell(foot, count(totalFindings(t)));
  $('#summary tfoot').replaceChildren(foot);
  labelCells($('#summary'));
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars: for each program, allocated, settled, held and remaining on one scale. */
function renderChart(summary) {
  const keys = ['allocated', 'settled', 'held', 'remaining'];
  const programs = summary.programs;
  const max = Math.max(1, ...programs.flatMap((p) => keys.map((k) => Number(p[k]))));
  // Drawn at the container's width in CSS pixels, so text keeps its size on a phone.
  const width = Math.max(300, Math.min(736, $('#chart').clientWidth || 640));
  const labelWidth = Math.min(110, Math.round(width * 0.24));
  const bar = 12;
  const group = keys.length * (bar + 3) + 18;
  const height = programs.length * group + 6;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'xMinYMin meet' });
  programs.forEach((p, i) => {
    const top = i * group + 4;
    chart.append(svg('text', { x: 0, y: top + 2 * (bar + 3), class: 'label', 'dominant-baseline': 'middle' }, p.program));
    keys.forEach((k, j) => {
      const y = top + j * (bar + 3);
      const length = Math.max(Number(p[k]) > 0 ? 1 : 0, (Number(p[k]) / max) * (width - labelWidth - 100));
      const rect = svg('rect', { x: labelWidth, y, width: length.toFixed(1), height: bar, rx: 2, class: `bar ${k}` });
      rect.append(svg('title', {}, `${p.program} ${k}: ${money(p[k])}`));
      chart.append(rect);
      chart.append(svg('text', { x: labelWidth + length + 4, y: y + bar / 2, class: 'value', 'dominant-baseline': 'middle' }, money(p[k])));
    });
    chart.append(svg('line', { x1: labelWidth, x2: labelWidth, y1: top - 2, y2: top + keys.length * (bar + 3), class: 'axis' }));
  });
  $('#chart').replaceChildren(chart);
}

function renderDigests(report) {
  const digests = [{ file: 'rulebook.json', role: 'input', sha256: report.summary.rulebookSha256 }];
  for (const input of report.summary.inputs) digests.push({ file: input.file, role: 'input', sha256: input.sha256 });
  for (const file of report.files) digests.push({ file: file.name, role: 'output', sha256: file.sha256 });
  state.digests = digests;
  const body = $('#digests tbody');
  body.replaceChildren();
  for (const d of digests) {
    const tr = document.createElement('tr');
    tr.dataset.sha256 = d.sha256;
    const role = d.file.replace(/\..*$/, '');
    const chosen = d.role === 'input' && state.inputNames[role] && state.inputNames[role] !== d.file ? ` (${state.inputNames[role]})` : '';
    const file = cell(tr, d.file + chosen);
    const badge = document.createElement('span');
    badge.className = `role ${d.role}`;
    badge.textContent = d.role;
    file.append(badge);
    cell(tr, d.sha256);
    body.append(tr);
  }
  checkPublished();
}

function checkPublished() {
  const verdict = $('#verdict');
  const text = $('#published').value.trim().toLowerCase().replace(/^sha-?256[:=\s]*/, '').replace(/\s+/g, '');
  for (const tr of document.querySelectorAll('#digests tbody tr')) tr.classList.toggle('hit', Boolean(text) && tr.dataset.sha256 === text);
  verdict.className = 'verdict';
  if (!text || !state.report) {
    verdict.textContent = '';
    return;
  }
  if (!/^[0-9a-f]{64}$/.test(text)) {
    verdict.classList.add('mismatch');
    verdict.textContent = 'Not a SHA-256 digest: expected 64 hexadecimal digits.';
    return;
  }
  const hits = state.digests.filter((d) => d.sha256 === text);
  if (hits.length) {
    verdict.classList.add('match');
    verdict.textContent = `Matches ${hits.map((d) => `${d.file} (${d.role})`).join(', ')}: this re-computation agrees with the published digest.`;
  } else {
    verdict.classList.add('mismatch');
    verdict.textContent = 'Matches no file of this re-computation: the published report and these inputs do not agree.';
  }
}

function renderFindingFilters(report) {
  const rules = [...new Set(report.findings.map((f) => f.rule))].sort();
  const select = $('#filter-rule');
  const chosen = select.value;
  select.replaceChildren(new Option('all rules', ''), ...rules.map((r) => new Option(r, r)));
  select.value = rules.includes(chosen) ? chosen : '';
}

const shown = { findings: PAGE_ROWS, settlement: PAGE_ROWS, rejects: PAGE_ROWS };

function fillTable(name, rows, total, build) {
  const body = $(`#${name} tbody`);
  body.replaceChildren();
  const fragment = document.createDocumentFragment();
  for (const row of rows.slice(0, shown[name])) {
    const tr = document.createElement('tr');
    build(tr, row);
    fragment.append(tr);
  }
  body.append(fragment);
  labelCells($(`#${name}`));
  const visible = Math.min(rows.length, shown[name]);
  $(`#${name}-count`).textContent =
    rows.length === total ? `${count(total)} in all, ${count(visible)} shown.` : `${count(rows.length)} of ${count(total)} match, ${count(visible)} shown.`;
  const more = $(`#${name}-more`);
  more.hidden = rows.length <= shown[name];
  more.textContent = `Show ${count(Math.min(PAGE_ROWS, rows.length - visible))} more`;
}

function tag(action) {
  const span = document.createElement('span');
  span.className = `tag ${action}`;
  span.textContent = action;
  return span;
}

function renderFindings() {
  const rule = $('#filter-rule').value;
  const action = $('#filter-action').value;
  const text = $('#filter-text').value.trim();
  const all = state.report.findings;
  const rows = all.filter(
    (f) => (!rule || f.rule === rule) && (!action || f.action === action) && (!text || f.cardId.includes(text) || f.txnId.includes(text)),
  );
  fillTable('findings', rows, all.length, (tr, f) => {
    cell(tr, f.rule);
    cell(tr, tag(f.action));
    cell(tr, f.txnId || '\u2014');
    cell(tr, f.cardId);
    programCell(tr, f.program);
    cell(tr, `${f.subject === 'debit' ? 'debits' : 'allocations'}.csv:${f.line}`);
    cell(tr, f.detail, 'long');
  });
}

function renderSettlement() {
  const text = $('#filter-merchant').value.trim();
  const all = state.report.settlement;
  const rows = text ? all.filter((s) => s.merchantId.includes(text)) : all;
  fillTable('settlement', rows, all.length, (tr, s) => {
    cell(tr, s.merchantId);
    programCell(tr, s.program);
    cell(tr, money(s.amount));
    cell(tr, count(s.debits));
    cell(tr, count(s.reversals));
  });
}

function renderRejects() {
  const all = state.report.rejects;
  fillTable('rejects', all, all.length, (tr, r) => {
    cell(tr, r.file);
    cell(tr, String(r.line));
    cell(tr, r.column || '(row)');
    cell(tr, r.reason, 'long');
  });
}

function renderDownloads(files) {
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  const list = $('#downloads');
  list.replaceChildren();
  for (const file of files) {
    const { blob } = file;
    const url = URL.createObjectURL(blob);
    state.urls.push(url);
    const a = document.createElement('a');
    a.href = url;
    a.download = file.name;
    a.dataset.file = file.name;
    const name = document.createElement('span');
    name.textContent = file.name;
    const size = document.createElement('span');
    size.className = 'size';
    size.textContent = formatBytes(blob.size);
    a.append(name, size);
    const li = document.createElement('li');
    li.append(a);
    list.append(li);
  }
}

// ---------------------------------------------------------------- formatting

/** Groups the digits of an exact decimal string (no float ever touches an amount). */
function money(decimal) {
  const [whole, fraction] = String(decimal).split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = sign ? whole.slice(1) : whole;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return sign + grouped + (fraction !== undefined ? `.${fraction}` : '');
}

function count(n) {
  return money(String(n));
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------- start

function more(name, render) {
  $(`#${name}-more`).addEventListener('click', () => {
    shown[name] += PAGE_ROWS;
    render();
  });
}

function resetPaging(name, render) {
  return () => {
    shown[name] = PAGE_ROWS;
    render();
  };
}

let resizing;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => state.report && renderChart(state.report.summary), 150);
});

wireInputs();
startWorker();
$('#run').addEventListener('click', run);
$('#sample').addEventListener('click', loadSample);
$('#clear').addEventListener('click', clearInputs);
$('#cancel').addEventListener('click', cancel);
$('#published').addEventListener('input', checkPublished);
$('#filter-rule').addEventListener('change', resetPaging('findings', renderFindings));
$('#filter-action').addEventListener('change', resetPaging('findings', renderFindings));
$('#filter-text').addEventListener('input', resetPaging('findings', renderFindings));
$('#filter-merchant').addEventListener('input', resetPaging('settlement', renderSettlement));
more('findings', renderFindings);
more('settlement', renderSettlement);
more('rejects', renderRejects);
