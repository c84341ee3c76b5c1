// The reconciliation runs here, off the page's main thread, so the page stays responsive.
// Messages in: { rulebook, allocations, debits, merchants, strict } (File, Blob or bytes).
// Messages out: { type: 'ready', version } once, then per run { type: 'stage', stage, index,
// count } as the engine starts each stage, and { type: 'done', report, timings } or
// { type: 'error', error: { message, code, file, line, column } }.
// The report sent is the API's without `balances` (the page shows none, balances.csv is among
// the downloads, and converting 250,000 of them would cost a second on a large cycle), with
// each output file as a Blob rather than text: a Blob crosses to the page as a handle, so the
// page's thread does not copy tens of megabytes.
import { init, reconcile, reset, version, warmUp } from './harmoni.js';

const ready = init().then(warmUp);
ready.then(
  () => self.postMessage({ type: 'ready', version: version() }),
  (error) => self.postMessage({ type: 'error', error: plain(error) }),
);

function plain(error) {
  const { message, code, file, line, column } = error ?? {};
  return { message: String(message ?? error), code: code ?? 'internal', file, line, column };
}

async function bytes(data) {
  if (data == null) return null;
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(await data.arrayBuffer());
}

self.onmessage = async (event) => {
  const job = event.data;
  try {
    await ready;
    const started = performance.now();
    self.postMessage({ type: 'stage', stage: 'loading files', index: 0, count: 1 });
    const [rulebook, allocations, debits, merchants] = await Promise.all(
      [job.rulebook, job.allocations, job.debits, job.merchants].map(bytes),
    );
    const loaded = performance.now();
    const report = reconcile(rulebook, { allocations, debits, merchants }, {
      strict: Boolean(job.strict),
      records: ['findings', 'settlement', 'rejects'],
      observer: { stage: (progress) => self.postMessage({ type: 'stage', ...progress }) },
    });
    const reconciled = performance.now();
    const { summary, findings, settlement, rejects } = report;
    const files = report.files.map(({ name, text, sha256 }) => ({
      name,
      sha256,
      blob: new Blob([text], { type: `${name.endsWith('.json') ? 'application/json' : 'text/csv'};charset=utf-8` }),
    }));
    self.postMessage({
      type: 'done',
      report: { summary, findings, settlement, rejects, files },
      timings: { loadMs: loaded - started, reconcileMs: reconciled - loaded },
    });
    // The module's memory only grows: a fresh instance gives back what a large run took.
    reset();
  } catch (error) {
    self.postMessage({ type: 'error', error: plain(error) });
  }
};
