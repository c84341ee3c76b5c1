//! Synthetic data for Harmoni: a Kediri-like city's cards, allocations, merchants and a
//! month of debits, with every kind of anomaly the rules look for injected at small rates.
//!
//! The data set is a pure function of [`Config`] (cards, debits, seed, programs): cards are
//! worked in fixed chunks of 4,096, each from its own ChaCha8 streams, so the bytes do not
//! depend on the number of threads. Chunks are generated in parallel and written in order.
//!
//! What is in it:
//! - **programs** (rulebook.json): `BPNTD` food aid (EDC and QRIS at registered groceries,
//!   `max_debit`, per household), `YATIM` Covid-19 orphan aid, `ASLUT` elderly cash aid at
//!   ATMs, `DISABILITAS`, and on request `ABH`;
//! - **cards** (allocations.csv): `KHS` card ids, 16-digit NIK (beneficiary) and KK
//!   (household) numbers of Kota Kediri, this month's grant and sometimes last month's
//!   carry-over valid to the 10th;
//! - **merchants** (merchants.csv): warungs, e-warongs, shops, fertilizer kiosks, pharmacies
//!   and eateries with EDC terminals and QRIS ids, and the bank's ATMs;
//! - **debits** (debits.csv): exactly `--debits` rows over August 2022 in WIB (+07:00),
//!   ordinary spending that never overdraws, reversals (some partial), and the anomalies:
//!   resent copies, conflicting txn ids, ATC replays, debits with no allocation, outside the
//!   period, on a wrong channel or mcc, at unregistered merchants, over the limit, overdrafts,
//!   orphan and too-large reversals, reversals of held debits, near duplicates, velocity
//!   bursts, bulk-drain agents, duplicate beneficiaries and households, and a few bad rows.

mod anomalies;
mod cards;
mod debits;
mod rng;
mod rows;
mod text;
mod world;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use world::{ProgramSpec, DEFAULT_PROGRAMS, PROGRAMS};

/// The largest `cards`: NIK and KK numbers stay unique up to here.
pub const CARDS_MAX: u64 = 20_000_000;

/// The largest `debits / cards`.
pub const DEBITS_PER_CARD_MAX: u64 = 1000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Cards (1 to [`CARDS_MAX`]).
    pub cards: u64,
    /// Rows of debits.csv, exactly (at most [`DEBITS_PER_CARD_MAX`] per card).
    pub debits: u64,
    /// The seed: the same config gives the same bytes.
    pub seed: u64,
    /// Program codes from [`PROGRAMS`]; empty means [`DEFAULT_PROGRAMS`].
    pub programs: Vec<String>,
    /// Threads to use; 0 means every core. The output does not depend on it.
    pub threads: usize,
}

impl Config {
    /// `cards`, `debits` and `seed` with the default programs, on every core.
    pub fn new(cards: u64, debits: u64, seed: u64) -> Config {
        Config { cards, debits, seed, programs: Vec::new(), threads: 0 }
    }

    fn programs(&self) -> Result<Vec<&'static ProgramSpec>, Error> {
        let codes: Vec<&str> = if self.programs.is_empty() {
            DEFAULT_PROGRAMS.to_vec()
        } else {
            self.programs.iter().map(String::as_str).collect()
        };
        let mut specs = Vec::with_capacity(codes.len());
        for code in codes {
            let spec = PROGRAMS.iter().find(|p| p.code == code).ok_or_else(|| {
                let known: Vec<&str> = PROGRAMS.iter().map(|p| p.code).collect();
                Error::Invalid(format!("unknown program '{code}': choose from {}", known.join(", ")))
            })?;
            if specs.iter().any(|s: &&ProgramSpec| s.code == code) {
                return Err(Error::Invalid(format!("program '{code}' is named twice")));
            }
            specs.push(spec);
        }
        Ok(specs)
    }

    fn world(&self) -> Result<world::World, Error> {
        if self.cards == 0 || self.cards > CARDS_MAX {
            return Err(Error::Invalid(format!("--cards must be 1 to {CARDS_MAX}, not {}", self.cards)));
        }
        if self.debits / self.cards >= DEBITS_PER_CARD_MAX {
            return Err(Error::Invalid(format!(
                "--debits must be below {DEBITS_PER_CARD_MAX} per card ({} for {} cards)",
                self.cards.saturating_mul(DEBITS_PER_CARD_MAX),
                self.cards
            )));
        }
        Ok(world::World::new(self.seed, self.cards, self.debits, self.programs()?))
    }
}

/// Why generating failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The config cannot be generated (a usage error).
    Invalid(String),
    /// The output folder exists and is not empty.
    Exists(String),
    /// Writing failed.
    Io {
        /// The path written.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Stopped by the caller (Ctrl-C).
    Cancelled,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(reason) => f.write_str(reason),
            Error::Exists(path) => {
                write!(f, "output {path}: the folder exists and is not empty (choose another, or replace it)")
            }
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Cancelled => f.write_str("generating was cancelled"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A generated data set in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// rulebook.json
    pub rulebook: Vec<u8>,
    /// allocations.csv
    pub allocations: Vec<u8>,
    /// debits.csv
    pub debits: Vec<u8>,
    /// merchants.csv
    pub merchants: Vec<u8>,
}

/// The file names of a data set, in the order they are written.
pub const FILES: [&str; 4] = ["rulebook.json", "merchants.csv", "allocations.csv", "debits.csv"];

/// Generates a data set in memory (for tests and benches).
pub fn generate(config: &Config) -> Result<Dataset, Error> {
    let world = config.world()?;
    let mut allocations = ALLOCATIONS_HEADER.as_bytes().to_vec();
    let mut debits = rows::DEBITS_HEADER.as_bytes().to_vec();
    let never = AtomicBool::new(false);
    run_chunks(&world, config.threads, &never, |_, (a, d)| {
        allocations.extend_from_slice(&a);
        debits.extend_from_slice(&d);
        Ok(())
    })?;
    Ok(Dataset { rulebook: world.rulebook_json().into_bytes(), allocations, debits, merchants: world.merchants_csv() })
}

/// What [`write()`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Per file of [`FILES`]: its name and size in bytes.
    pub files: Vec<(&'static str, u64)>,
}

const ALLOCATIONS_HEADER: &str = "card_id,beneficiary_id,household_id,program,valid_from,valid_to,amount\n";

/// Writes the four files into a new folder `dir`, atomically: they are written to a
/// temporary sibling folder that is renamed into place at the end, so a failed or cancelled
/// run leaves no folder. An existing non-empty `dir` is an error unless `replace` is set.
/// `progress` is told (chunks done, chunks in all); `cancel` is read between chunks.
pub fn write(
    config: &Config,
    dir: &Path,
    replace: bool,
    cancel: &AtomicBool,
    progress: &dyn Fn(u64, u64),
) -> Result<Written, Error> {
    let world = config.world()?;
    let shown = dir.display().to_string();
    let exists = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !replace {
                return Err(Error::Exists(shown));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(source) => return Err(Error::Io { path: shown, source }),
    };
    let (parent, name) = split_dir(dir).ok_or_else(|| Error::Invalid(format!("{shown}: not a folder name")))?;
    let stamp = format!("{}-{}", std::process::id(), nanos());
    let temp = parent.join(format!(".{name}.tmp-{stamp}"));
    let result = write_into(&world, config.threads, &temp, cancel, progress).and_then(|written| {
        let io = |source| Error::Io { path: shown.clone(), source };
        if exists {
            let old = parent.join(format!(".{name}.old-{stamp}"));
            std::fs::rename(dir, &old).map_err(io)?;
            std::fs::rename(&temp, dir).map_err(io)?;
            std::fs::remove_dir_all(&old).map_err(io)?;
        } else {
            std::fs::rename(&temp, dir).map_err(io)?;
        }
        Ok(written)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}

fn split_dir(dir: &Path) -> Option<(PathBuf, String)> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((parent, name))
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn write_into(
    world: &world::World,
    threads: usize,
    temp: &Path,
    cancel: &AtomicBool,
    progress: &dyn Fn(u64, u64),
) -> Result<Written, Error> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir(temp).map_err(io(temp))?;
    let paths: Vec<PathBuf> = FILES.iter().map(|f| temp.join(f)).collect();
    std::fs::write(&paths[0], world.rulebook_json()).map_err(io(&paths[0]))?;
    std::fs::write(&paths[1], world.merchants_csv()).map_err(io(&paths[1]))?;
    let mut allocations = std::fs::File::create(&paths[2]).map_err(io(&paths[2]))?;
    let mut debits = std::fs::File::create(&paths[3]).map_err(io(&paths[3]))?;
    allocations.write_all(ALLOCATIONS_HEADER.as_bytes()).map_err(io(&paths[2]))?;
    debits.write_all(rows::DEBITS_HEADER.as_bytes()).map_err(io(&paths[3]))?;
    let chunks = world.cards.div_ceil(cards::CHUNK_CARDS);
    run_chunks(world, threads, cancel, |chunk, (a, d)| {
        allocations.write_all(&a).map_err(io(&paths[2]))?;
        debits.write_all(&d).map_err(io(&paths[3]))?;
        progress(chunk + 1, chunks);
        Ok(())
    })?;
    let mut files = Vec::with_capacity(FILES.len());
    for (name, path) in FILES.iter().zip(&paths) {
        files.push((*name, std::fs::metadata(path).map_err(io(path))?.len()));
    }
    Ok(Written { files })
}

/// Generates every chunk (allocation rows, debit rows) on up to `threads` threads and hands
/// them to `sink` in chunk order. Stops early when `cancel` is set or `sink` fails.
fn run_chunks(
    world: &world::World,
    threads: usize,
    cancel: &AtomicBool,
    mut sink: impl FnMut(u64, (Vec<u8>, Vec<u8>)) -> Result<(), Error>,
) -> Result<(), Error> {
    let chunks = world.cards.div_ceil(cards::CHUNK_CARDS);
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(chunks as usize)
    .max(1);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (send, receive) = std::sync::mpsc::sync_channel::<(u64, (Vec<u8>, Vec<u8>))>(threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let send = send.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                let chunk = next.fetch_add(1, Ordering::Relaxed);
                if chunk >= chunks || stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                    return;
                }
                if send.send((chunk, one_chunk(world, chunk))).is_err() {
                    return;
                }
            });
        }
        drop(send);
        let mut waiting: BTreeMap<u64, (Vec<u8>, Vec<u8>)> = BTreeMap::new();
        let mut due = 0;
        let mut outcome = Ok(());
        for (chunk, bytes) in receive.iter() {
            if outcome.is_err() {
                continue; // drain, so that no worker blocks on a full channel
            }
            waiting.insert(chunk, bytes);
            while let Some(bytes) = waiting.remove(&due) {
                if cancel.load(Ordering::Relaxed) {
                    outcome = Err(Error::Cancelled);
                } else {
                    outcome = sink(due, bytes);
                }
                if outcome.is_err() {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                due += 1;
            }
        }
        if outcome.is_ok() && due < chunks {
            outcome = Err(Error::Cancelled);
        }
        outcome
    })
}

fn one_chunk(world: &world::World, chunk: u64) -> (Vec<u8>, Vec<u8>) {
    let cards = cards::chunk_cards(world, chunk);
    let mut allocations = text::Out::with_capacity(cards.len() * 100);
    cards::allocations_csv(world, chunk, &cards, &mut allocations);
    let budget = debits::chunk_budget(world, chunk);
    let mut debits = text::Out::with_capacity(budget as usize * 120);
    debits::debits_csv(world, chunk, &cards, &mut debits);
    (allocations.0, debits.0)
}
