//! # Harmoni for JavaScript: the core compiled to WebAssembly
//!
//! The browser audit page (and any JS program) re-runs a cycle's reconciliation with the
//! very code the command line runs: `reconcile(rulebook, inputs, options)` takes the four
//! input files as strings or bytes and returns the report as plain JS objects, with the five
//! output files as text, byte-identical to what the command line writes. Nothing leaves the
//! machine: there is no I/O here at all.
//!
//! The binding stays thin: each export converts its JS arguments, calls one core function
//! (through [`run::run`], which holds everything testable without a JS engine), and converts
//! the result. Errors become JS `Error`s with a `code` (the core's `Error::code()`, or
//! `argument` for a JS value of the wrong kind) and, where they apply, `file`, `line` and
//! `column`. A panic becomes an `internal` error: caught by `catch_unwind` where the target
//! unwinds, and by a panic hook on wasm32 (which aborts on panic), after which the JS wrapper
//! `harmoni.js` resets the module so it keeps working.

use std::cell::RefCell;
use std::sync::Arc;

use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub mod run;

use run::{Failure, How, Output, Raw, Records};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A file's content: text (encoded as UTF-8) or its bytes. */
export type FileData = string | Uint8Array | ArrayBuffer;
/** The CSV files of one cycle (merchants.csv is optional). */
export interface Inputs { allocations: FileData; debits: FileData; merchants?: FileData | null; }
/** Told each stage as it starts, asked between stages whether to stop. */
export interface Observer {
  stage?(progress: { stage: string; index: number; count: number }): void;
  cancelled?(): boolean;
}
/** The record lists to return (default: all four); the summary and the files always come. */
export type RecordList = "findings" | "settlement" | "balances" | "rejects";
export interface Options { strict?: boolean; observer?: Observer; records?: RecordList[]; }
export interface ProgramSummary {
  program: string; allocated: string; settled: string; held: string; remaining: string;
  settledGross: string; heldGross: string; reversedSettled: string; reversedHeld: string;
  allocations: number; debits: number; debitsSettled: number; debitsHeld: number;
  reversalsApplied: number; findings: Record<string, number>;
}
export interface InputSummary { file: string; rowsRead: number; rowsRejected: number; sha256: string; }
export interface Summary {
  currencyScale: number; programs: ProgramSummary[]; totals: ProgramSummary;
  inputs: InputSummary[]; rulebookSha256: string;
}
export interface Finding {
  rule: string; action: "hold" | "review" | "drop"; subject: "debit" | "allocation";
  txnId: string; cardId: string; program: string; line: number; detail: string;
}
export interface Settlement { merchantId: string; program: string; amount: string; debits: number; reversals: number; }
export interface Balance {
  cardId: string; program: string; validFrom: string; validTo: string;
  allocated: string; spent: string; remaining: string;
}
export interface Reject { file: string; line: number; column: string; reason: string; }
export interface OutputFile { name: string; text: string; sha256: string; }
/** The record lists left out by `options.records` are absent. */
export interface Report {
  summary: Summary; findings: Finding[]; settlement: Settlement[]; balances: Balance[];
  rejects: Reject[]; files: OutputFile[];
}
"#;

/// Reconciles one cycle: every rule of SPEC, settlement, and the report.
///
/// Throws an `Error` with `code` (`rulebook`, `file`, `bad_row`, `limit`, `cancelled`,
/// `internal`, `argument`) and, where they apply, `file`, `line` and `column`.
#[wasm_bindgen(js_name = reconcile, unchecked_return_type = "Report")]
pub fn reconcile_js(
    #[wasm_bindgen(unchecked_param_type = "FileData")] rulebook: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Inputs")] inputs: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Options | undefined")] options: JsValue,
) -> Result<JsValue, JsValue> {
    panic_hook::install();
    let raw = raw_inputs(&rulebook, &inputs).map_err(|f| error(&f))?;
    let records = records(&get(&options, "records")).map_err(|f| error(&f))?;
    let strict = get(&options, "strict").is_truthy();
    let observer = get(&options, "observer");
    let watching = !observer.is_undefined() && !observer.is_null();
    let previous = WATCH.with(|w| w.replace(watching.then(|| Watch { observer, thrown: None })));
    let observer: Option<Arc<dyn harmoni::Observer>> = if watching { Some(Arc::new(JsObserver)) } else { None };
    let result = run::run(raw, How { strict, observer, records });
    let watch = WATCH.with(|w| w.replace(previous));
    if let Some(thrown) = watch.and_then(|w| w.thrown) {
        return Err(thrown);
    }
    match result {
        Ok(output) => report(output),
        Err(failure) => Err(error(&failure)),
    }
}

/// SHA-256 of a file's content (a string is hashed as its UTF-8 bytes), lower-case hex: the
/// digest `summary.json` gives for each input and output.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex_js(#[wasm_bindgen(unchecked_param_type = "FileData")] data: JsValue) -> Result<String, JsValue> {
    let bytes = bytes(&data, "data").map_err(|f| error(&f))?;
    Ok(harmoni::sha256_hex(&bytes))
}

/// The engine's version (the one `summary.json` names).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The stages of a run, in order, as an observer is told them.
#[wasm_bindgen(unchecked_return_type = "string[]")]
pub fn stages() -> Array {
    harmoni::Stage::ALL.iter().map(|s| JsValue::from_str(s.as_str())).collect()
}

fn get(object: &JsValue, key: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a new property on a plain object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

fn bytes(value: &JsValue, what: &str) -> Result<Vec<u8>, Failure> {
    if let Some(text) = value.as_string() {
        Ok(text.into_bytes())
    } else if let Some(array) = value.dyn_ref::<Uint8Array>() {
        Ok(array.to_vec())
    } else if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        Ok(Uint8Array::new(buffer).to_vec())
    } else {
        Err(Failure::argument(format!("{what}: expected a string, a Uint8Array or an ArrayBuffer")))
    }
}

fn raw_inputs(rulebook: &JsValue, inputs: &JsValue) -> Result<Raw, Failure> {
    if !inputs.is_object() {
        return Err(Failure::argument("inputs: expected an object { allocations, debits, merchants? }"));
    }
    let merchants = get(inputs, "merchants");
    Ok(Raw {
        rulebook: bytes(rulebook, run::RULEBOOK)?,
        allocations: bytes(&get(inputs, "allocations"), run::ALLOCATIONS)?,
        debits: bytes(&get(inputs, "debits"), run::DEBITS)?,
        merchants: if merchants.is_undefined() || merchants.is_null() {
            None
        } else {
            Some(bytes(&merchants, run::MERCHANTS)?)
        },
    })
}

/// `options.records`: absent means every list.
fn records(value: &JsValue) -> Result<Records, Failure> {
    if value.is_undefined() || value.is_null() {
        return Ok(Records::ALL);
    }
    let wrong = || {
        Failure::argument(
            "options.records: expected an array of \"findings\", \"settlement\", \"balances\", \"rejects\"",
        )
    };
    let names = value.dyn_ref::<Array>().ok_or_else(wrong)?;
    let mut records = Records::NONE;
    for name in names.iter() {
        if !name.as_string().is_some_and(|name| records.add(&name)) {
            return Err(wrong());
        }
    }
    Ok(records)
}

fn report(output: Output) -> Result<JsValue, JsValue> {
    let object = Object::new();
    set(&object, "summary", &JSON::parse(&output.summary)?);
    let records = [
        ("findings", &output.findings),
        ("settlement", &output.settlement),
        ("balances", &output.balances),
        ("rejects", &output.rejects),
    ];
    for (key, json) in records {
        if let Some(json) = json {
            set(&object, key, &JSON::parse(json)?);
        }
    }
    let files: Array = output
        .files
        .into_iter()
        .map(|file| {
            let entry = Object::new();
            set(&entry, "name", &JsValue::from_str(file.name));
            set(&entry, "text", &JsValue::from(file.text));
            set(&entry, "sha256", &JsValue::from(file.sha256));
            JsValue::from(entry)
        })
        .collect();
    set(&object, "files", &files);
    Ok(object.into())
}

/// The JS `Error` a failure becomes.
fn error(failure: &Failure) -> JsValue {
    let error = js_sys::Error::new(&failure.message);
    error.set_name("HarmoniError");
    set(&error, "code", &JsValue::from_str(failure.code));
    if let Some(file) = &failure.file {
        set(&error, "file", &JsValue::from_str(file));
    }
    if let Some(line) = failure.line {
        set(&error, "line", &JsValue::from_f64(line as f64));
    }
    if let Some(column) = &failure.column {
        set(&error, "column", &JsValue::from_str(column));
    }
    error.into()
}

/// The JS observer of the run in progress. A `JsValue` cannot live in the core's
/// `Send + Sync` observer, so it waits here, on the one thread wasm32 has.
struct Watch {
    observer: JsValue,
    /// What the observer threw, if it did: the run is cancelled and this is rethrown.
    thrown: Option<JsValue>,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Forwards the core's observer calls to the JS observer in [`WATCH`].
struct JsObserver;

impl JsObserver {
    /// Calls `observer[method](argument)`, when there is such a function; a throw is kept.
    fn call(method: &str, argument: &JsValue) -> JsValue {
        let Some(observer) = WATCH.with(|w| w.borrow().as_ref().map(|w| w.observer.clone())) else {
            return JsValue::UNDEFINED;
        };
        let Ok(function) = get(&observer, method).dyn_into::<Function>() else {
            return JsValue::UNDEFINED;
        };
        match function.call1(&observer, argument) {
            Ok(value) => value,
            Err(thrown) => {
                WATCH.with(|w| {
                    if let Some(watch) = w.borrow_mut().as_mut() {
                        watch.thrown.get_or_insert(thrown);
                    }
                });
                JsValue::UNDEFINED
            }
        }
    }

    fn has_thrown() -> bool {
        WATCH.with(|w| w.borrow().as_ref().is_some_and(|w| w.thrown.is_some()))
    }
}

impl harmoni::Observer for JsObserver {
    fn stage(&self, stage: harmoni::Stage) {
        let progress = Object::new();
        let index = harmoni::Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
        set(&progress, "stage", &JsValue::from_str(stage.as_str()));
        set(&progress, "index", &JsValue::from_f64(index as f64));
        set(&progress, "count", &JsValue::from_f64(harmoni::Stage::ALL.len() as f64));
        JsObserver::call("stage", &progress);
    }

    fn cancelled(&self) -> bool {
        JsObserver::has_thrown()
            || JsObserver::call("cancelled", &JsValue::UNDEFINED).is_truthy()
            || JsObserver::has_thrown()
    }
}

/// wasm32 aborts on panic: `catch_unwind` never sees one. The hook turns the panic into the
/// same `internal` JS `Error` and throws it from where the panic happened; the module's state
/// is then unusable, and `harmoni.js` resets it before the next call.
mod panic_hook {
    #[cfg(target_arch = "wasm32")]
    pub fn install() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                let failure = super::Failure::panic(&info.to_string());
                wasm_bindgen::throw_val(super::error(&failure));
            }));
        });
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn install() {}
}

/// A deliberate panic, for the tests that check a panic does not leave the module unusable.
#[doc(hidden)]
#[wasm_bindgen(js_name = __panicForTests)]
pub fn panic_for_tests(message: &str) -> Result<(), JsValue> {
    panic_hook::install();
    let outcome = std::panic::catch_unwind(|| -> () { panic!("{message}") });
    outcome.map_err(|payload| error(&Failure::panic(&run::panic_message(payload.as_ref()))))
}
