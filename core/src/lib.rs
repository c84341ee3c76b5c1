//! # Harmoni: settlement and fraud checks for multi-program social-aid cards
//!
//! One card carries several aid programs (food aid, elderly aid, ...). Each cycle a bank
//! must reconcile every card debit against the card's per-program allocations, catch
//! double-spends, overdrafts and misuse with evidence, settle the clean amounts to merchants,
//! and publish a report anyone can re-compute. Harmoni does that as one batch:
//!
//! 1. **ingest** ([`Source`], [`Rulebook`]): the rulebook (JSON) and three CSV files, every
//!    bad row rejected with its file, line, column and reason;
//! 2. **identity**: resent copies dropped, conflicting transaction ids held;
//! 3. **checks**: debits the card's allocations, channel, merchant category, merchant
//!    registration, limits or EMV counter do not allow are held;
//! 4. **balance**: per card and program, in event order, debits draw from the allocations
//!    that expire first; overdrafts are held; reversals give back;
//! 5. **review**: near duplicates, velocity, bulk drains at a terminal, duplicate
//!    beneficiaries and households are reported for a person;
//! 6. **settle**: net amounts per merchant and program, with conservation checked;
//! 7. **report** ([`Report`]): five files, deterministic to the byte, with SHA-256 digests.
//!
//! The run is parallel (sharded by card, transaction id and terminal, no lock per row) and
//! its output is byte-identical whatever the number of threads or the order of input rows.
//!
//! ```
//! use harmoni::{reconcile, Inputs, Options, Rulebook, Source};
//!
//! let rulebook = Rulebook::from_json("rulebook.json", br#"{"programs": [{"code": "BPNTD"}]}"#)?;
//! let inputs = Inputs {
//!     allocations: Source::from_bytes("allocations.csv",
//!         "card_id,beneficiary_id,program,valid_from,valid_to,amount\n\
//!          C1,3571000000000001,BPNTD,2022-08-01,2022-08-31,200000\n"),
//!     debits: Source::from_bytes("debits.csv",
//!         "txn_id,card_id,program,amount,timestamp,merchant_id,terminal_id,channel\n\
//!          T1,C1,BPNTD,150000,2022-08-06T10:15:00Z,M1,EDC1,pos\n\
//!          T2,C1,BPNTD,100000,2022-08-07T10:15:00Z,M1,EDC1,pos\n"),
//!     merchants: None,
//! };
//! let report = reconcile(&rulebook, &inputs, &Options::default())?;
//! assert_eq!(report.summary.totals.settled.to_string(), "150000.00");
//! assert_eq!(report.findings.get(0).map(|f| f.rule.as_str()), Some("OVERDRAFT"));
//! assert_eq!(report.settlement[0].merchant_id, "M1");
//! # Ok::<(), harmoni::Error>(())
//! ```

#![forbid(unsafe_code)]

mod beneficiary;
mod cards;
mod csvread;
mod drain;
mod engine;
mod error;
mod finding;
mod identity;
mod ingest;
pub mod limits;
mod money;
mod names;
mod parallel;
mod rejects;
mod report;
mod row_ids;
mod rows;
mod rulebook;
mod settle;
mod shard;
mod source;
#[doc(hidden)]
pub mod stages;
mod summary;
mod table;
mod time;

pub use engine::{reconcile, Inputs, Observer, Options, Stage};
pub use error::{Error, Location, Result};
pub use finding::{Action, Finding, FindingIter, Findings, Rule, Subject};
pub use money::{Money, Ratio};
pub use rejects::{Reject, RejectIter, Rejects};
pub use report::{
    sha256_hex, write_folder, Balance, BalanceIter, Balances, InputSummary, OutputFile, ProgramSummary, Report,
    Settlement, Summary,
};
pub use rulebook::{Channel, Program, Rulebook};
pub use source::Source;
pub use time::Date;
