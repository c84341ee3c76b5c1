// Harmoni's JavaScript API: the core compiled to WebAssembly, as the command line runs it.
//
//   import { init, reconcile } from './harmoni.js';
//   await init();                       // in Node: await init(fs.readFileSync('pkg/harmoni_wasm_bg.wasm'))
//   const report = reconcile(rulebookText, { allocations, debits, merchants }, { strict: false });
//   report.summary.totals.settled       // '150000.00': amounts are exact decimal strings
//   report.files                        // [{ name: 'summary.json', text, sha256 }, ...]
//
// Inputs are strings, Uint8Arrays or ArrayBuffers. Errors are `Error`s with a `code` (the
// core's: rulebook, file, bad_row, limit, cancelled, internal; or argument) and, where they
// apply, `file`, `line` and `column`. Types: pkg/harmoni_wasm.d.ts.
//
// This module adds one thing to the generated glue: WebAssembly aborts on a Rust panic, which
// leaves the instance unusable; a call that panics (or traps) throws an `internal` error and
// the instance is replaced by a fresh one, so the next call works.

import initGlue, {
  __panicForTests as panicGlue,
  __wbg_reset_state as resetGlue,
  reconcile as reconcileGlue,
  sha256Hex as sha256HexGlue,
  stages as stagesGlue,
  version as versionGlue,
} from './pkg/harmoni_wasm.js';

/**
 * Loads the module: from next to this file by default, or from `source` (a URL, a
 * `Response`, the `.wasm` bytes, or a compiled `WebAssembly.Module`).
 */
export async function init(source) {
  await initGlue(source === undefined ? undefined : { module_or_path: source });
}

/**
 * Optional, for a page that can spare 10 ms before the user's run: gets SHA-256 compiled by
 * the optimizing tier. A browser first runs WebAssembly with a baseline compiler and swaps in
 * optimized code only for later calls of a function, never for the call already running; the
 * engine hashes each input file in one call, so the first (allocations.csv) would be hashed
 * by baseline code, about 8 times slower (1.2 s instead of 0.14 s for 21 MB, measured).
 */
export function warmUp() {
  sha256HexGlue(new Uint8Array(1 << 16));
}

/** Drops the instance and its memory (which never shrinks) for a fresh one. */
export function reset() {
  resetGlue();
}

function internal(error) {
  const wrapped = new Error(`internal error (please report it): the WebAssembly module stopped (${error})`);
  wrapped.name = 'HarmoniError';
  wrapped.code = 'internal';
  wrapped.cause = error;
  return wrapped;
}

function guarded(call) {
  return (...args) => {
    try {
      return call(...args);
    } catch (error) {
      // A panic (thrown by the panic hook, code 'internal') or a trap (out of memory, ...):
      // the instance's state cannot be trusted any more.
      if (error instanceof WebAssembly.RuntimeError) {
        resetGlue();
        throw internal(error);
      }
      if (error?.code === 'internal') resetGlue();
      throw error;
    }
  };
}

/**
 * Reconciles one cycle.
 * @param {string | Uint8Array | ArrayBuffer} rulebook rulebook.json
 * @param {{allocations: string | Uint8Array | ArrayBuffer, debits: string | Uint8Array | ArrayBuffer,
 *          merchants?: string | Uint8Array | ArrayBuffer | null}} inputs the CSV files
 * @param {{strict?: boolean, observer?: {stage?: (progress: {stage: string, index: number, count: number}) => void,
 *          cancelled?: () => boolean}}} [options]
 * @returns {import('./pkg/harmoni_wasm.js').Report}
 */
export const reconcile = guarded(reconcileGlue);

/** SHA-256 of a string (as UTF-8) or bytes, lower-case hex. */
export const sha256Hex = guarded(sha256HexGlue);

/** The stages an observer is told, in order. */
export const stages = guarded(stagesGlue);

/** The engine's version. */
export const version = guarded(versionGlue);

/** Panics inside the module on purpose: for the tests of recovery. */
export const __panicForTests = guarded(panicGlue);
