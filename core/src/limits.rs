//! Every limit on what grows from input, in one place.
//!
//! A limit protects memory and time against damaged or hostile files: a value beyond one is
//! a rejected row (per-row limits) or an error for the whole run (per-file limits), never an
//! allocation proportional to what the file claims.
//!
//! Not a constant here: JSON nesting in the rulebook is bounded by `serde_json`'s own limit
//! (128 levels, well above the rulebook's 4) and every value has a fixed type, so deeper
//! input is an error, never a deep recursion. Memory as a whole is described in the README
//! ("Memory and limits"): the input, plus 16 bytes per rejected row (16 more and its text
//! when its reason quotes its own value), plus 40 bytes per finding and its texts.

/// Bytes in an id (`card_id`, `txn_id`, ...), from SPEC: 1 to 64 printable ASCII bytes.
pub const ID_BYTES_MAX: usize = 64;

/// Bytes in one record (all its fields, quotes and separators). A longer record is rejected.
pub const RECORD_BYTES_MAX: usize = 64 * 1024;

/// Fields in one record or header. A header with more is an error; a record with more is
/// rejected (it cannot match the header).
pub const COLUMNS_MAX: usize = 1024;

/// Bytes in the rulebook JSON.
pub const RULEBOOK_BYTES_MAX: usize = 1024 * 1024;

/// Programs in one rulebook.
pub const PROGRAMS_MAX: usize = 1024;

/// Kept allocations of one card (all programs). Keeps every per-card balance exactly
/// representable in 128 bits: 10^4 allocations of at most 10^33 minor units each.
pub const ALLOCATIONS_PER_CARD_MAX: usize = 10_000;

/// Rows in one input file. Row numbers are kept in 32 bits inside the engine.
pub const ROWS_MAX: usize = u32::MAX as usize - 1;

/// The largest `currency_scale` (SPEC: 0 to 18).
pub const CURRENCY_SCALE_MAX: u32 = 18;

/// The largest count or number of seconds in the rulebook (`max_debits`, `window_seconds`,
/// `near_duplicate_seconds`, `min_cards`): about 31,700 years of seconds.
pub const RULEBOOK_INTEGER_MAX: u64 = 1_000_000_000_000;

/// Bytes in one input CSV file read from a path.
pub const INPUT_BYTES_MAX: u64 = 64 << 30;
