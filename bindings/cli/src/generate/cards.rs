//! The cards of one chunk: beneficiaries (NIK), households (KK), their grants, and the
//! chunk's rows of allocations.csv with a few duplicate and bad rows.
//!
//! NIK and KK numbers follow the real layout (`3571` Kota Kediri, kecamatan, birth or issue
//! date with 40 added to the day for women, a 4-digit serial) and are unique by
//! construction: the serial is `index % 9999 + 1`, and the date is nudged so that its day
//! number is `index / 9999` modulo the number of such classes.

use super::rng::{Purpose, Rng};
use super::text::{civil_from_days, days_from_civil, Out};
use super::world::{World, CARRYOVER_LAST_DAY, MONTH_DAYS, MONTH_FIRST_DAY, YEAR};

/// Cards per chunk: the unit of parallel work and of anomaly planning. Fixed, so a data set
/// does not depend on the number of threads.
pub(crate) const CHUNK_CARDS: u64 = 4096;

/// A card's grant of one program.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub program: usize,
    /// This month's allocation, in rupiah.
    pub amount: u64,
    /// Left over from last month, valid to the 10th (0: none).
    pub carryover: u64,
}

/// One card and its holder.
#[derive(Clone, Debug)]
pub(crate) struct Card {
    pub index: u64,
    pub nik: u64,
    pub kk: Option<u64>,
    /// Unenrolled cards were issued but have no allocation: their debits are `NO_ALLOCATION`.
    pub enrolled: bool,
    pub grants: Vec<Grant>,
    /// How much the holder uses the card (1 to 4).
    pub activity: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    Head,
    Elderly,
    Orphan,
    Abh,
    Disabled,
}

/// (holder, weight, youngest age, oldest age)
const HOLDERS: [(Holder, u64, i64, i64); 5] = [
    (Holder::Head, 45, 25, 59),
    (Holder::Elderly, 30, 60, 90),
    (Holder::Orphan, 12, 6, 17),
    (Holder::Abh, 3, 12, 17),
    (Holder::Disabled, 10, 18, 59),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Special {
    None,
    /// A replacement card for an earlier holder, the old card not blocked.
    Replacement,
    /// A second member of a household also granted a per-household program.
    SecondGrant,
    Unenrolled,
}

struct Household {
    kk: Option<u64>,
    kecamatan: u64,
    size: u32,
    /// Bit `p`: a member already holds per-household program `p`.
    taken: u32,
}

const NIK_ORIGIN_DAY: i64 = days_from_civil(1925, 1, 1);

/// The cards of chunk `chunk`.
pub(crate) fn chunk_cards(world: &World, chunk: u64) -> Vec<Card> {
    let start = chunk * CHUNK_CARDS;
    let n = CHUNK_CARDS.min(world.cards - start) as usize;
    let mut rng = Rng::new(world.seed, Purpose::Cards, chunk);
    let mut special = vec![Special::None; n];
    if n >= 50 {
        for (kind, per_mille) in [(Special::Replacement, 2), (Special::SecondGrant, 3), (Special::Unenrolled, 1)] {
            for _ in 0..(n as u64 * per_mille / 1000).max(1) {
                let at = rng.range(2, n as u64 - 1) as usize;
                if special[at] == Special::None {
                    special[at] = kind;
                }
            }
        }
    }
    let mut cards: Vec<Card> = Vec::with_capacity(n);
    let mut household = Household { kk: None, kecamatan: 1, size: 0, taken: 0 };
    for (j, &kind) in special.iter().enumerate() {
        let index = start + j as u64;
        let card = match kind {
            Special::Replacement => replacement(&cards, index, &mut rng),
            Special::SecondGrant => second_grant(world, &cards, index, &mut rng),
            _ => None,
        };
        let mut card = card.unwrap_or_else(|| ordinary(world, index, &mut household, &mut rng));
        card.enrolled = kind != Special::Unenrolled;
        cards.push(card);
    }
    cards
}

/// A day in `lo..=hi` congruent to `index / 9999` modulo the id classes (see the module doc).
fn unique_day(world: &World, index: u64, lo: i64, hi: i64, rng: &mut Rng) -> i64 {
    let classes = world.id_classes as i64;
    let q = (index / 9999) as i64;
    let mut day = lo + rng.below((hi - lo + 1) as u64) as i64;
    day -= (day - NIK_ORIGIN_DAY - q).rem_euclid(classes);
    if day < lo {
        day += classes;
    }
    day
}

/// A 16-digit NIK or KK number.
fn id_number(kecamatan: u64, day: i64, female: bool, serial: u64) -> u64 {
    let (y, m, d) = civil_from_days(day);
    let dd = u64::from(d) + if female { 40 } else { 0 };
    3571 * 10u64.pow(12)
        + kecamatan * 10u64.pow(10)
        + dd * 10u64.pow(8)
        + u64::from(m) * 10u64.pow(6)
        + (y as u64 % 100) * 10u64.pow(4)
        + serial
}

fn ordinary(world: &World, index: u64, household: &mut Household, rng: &mut Rng) -> Card {
    let joins = household.size > 0 && household.size < 4 && rng.chance(300);
    if !joins {
        *household = new_household(world, index, rng);
    }
    household.size += 1;
    let weights: Vec<u64> = HOLDERS.iter().map(|h| h.1).collect();
    let (holder, _, young, old) = HOLDERS[rng.weighted(&weights)];
    let lo = days_from_civil(YEAR - old - 1, 8, 2);
    let hi = days_from_civil(YEAR - young, 8, 1);
    let born = unique_day(world, index, lo, hi, rng);
    let nik = id_number(household.kecamatan, born, rng.chance(500), index % 9999 + 1);
    let mut codes: Vec<&str> = Vec::new();
    let food = |rng: &mut Rng, per_mille| if rng.chance(per_mille) { Some("BPNTD") } else { None };
    match holder {
        Holder::Head => codes.extend(food(rng, 1000)),
        Holder::Elderly => {
            codes.push("ASLUT");
            codes.extend(food(rng, 300));
        }
        Holder::Orphan => codes.push("YATIM"),
        Holder::Abh => codes.push("ABH"),
        Holder::Disabled => {
            codes.push("DISABILITAS");
            codes.extend(food(rng, 300));
        }
    }
    if matches!(holder, Holder::Head | Holder::Elderly) && rng.chance(80) {
        codes.push("DISABILITAS");
    }
    let mut programs: Vec<usize> = codes
        .iter()
        .filter_map(|code| world.programs.iter().position(|p| p.code == *code))
        .filter(|&p| !world.programs[p].per_household || household.taken & (1 << p) == 0)
        .collect();
    if programs.is_empty() {
        let open: Vec<usize> = (0..world.programs.len())
            .filter(|&p| !world.programs[p].per_household || household.taken & (1 << p) == 0)
            .collect();
        if open.is_empty() {
            // Every program is per household and taken here: the holder moves out, to a
            // household (KK) of their own.
            *household = new_household(world, index, rng);
            household.size = 1;
            programs.push(rng.below(world.programs.len() as u64) as usize);
        } else {
            programs.push(*rng.pick(&open));
        }
    }
    for &p in &programs {
        if world.programs[p].per_household {
            household.taken |= 1 << p;
        }
    }
    let grants = programs.into_iter().map(|p| grant(world, p, rng)).collect();
    Card { index, nik, kk: household.kk, enrolled: true, grants, activity: rng.range(1, 4) }
}

/// A household started by card `index`: its KK number is unique because the index is.
fn new_household(world: &World, index: u64, rng: &mut Rng) -> Household {
    let kecamatan = rng.range(1, 3);
    let issued = unique_day(world, index, days_from_civil(2005, 1, 1), days_from_civil(2022, 6, 30), rng);
    let kk = (!rng.chance(20)).then(|| id_number(kecamatan, issued, false, index % 9999 + 1));
    Household { kk, kecamatan, size: 0, taken: 0 }
}

fn grant(world: &World, program: usize, rng: &mut Rng) -> Grant {
    let amount = world.programs[program].monthly_rupiah;
    let carryover = if rng.chance(100) { 50_000 * rng.range(1, 2) } else { 0 };
    Grant { program, amount, carryover }
}

/// A new card for the holder of an earlier card (same NIK, KK and a grant of theirs).
fn replacement(cards: &[Card], index: u64, rng: &mut Rng) -> Option<Card> {
    let first = rng.below(cards.len().max(1) as u64) as usize;
    let old = (first..cards.len()).chain(0..first).map(|k| &cards[k]).find(|c| c.enrolled)?;
    let grant = old.grants.first()?.clone();
    Some(Card { index, nik: old.nik, kk: old.kk, enrolled: true, grants: vec![grant], activity: rng.range(1, 4) })
}

/// Another member of an earlier card's household, granted the same per-household program.
fn second_grant(world: &World, cards: &[Card], index: u64, rng: &mut Rng) -> Option<Card> {
    let per_household = |g: &Grant| world.programs[g.program].per_household;
    let first = rng.below(cards.len().max(1) as u64) as usize;
    let holder = (first..cards.len())
        .chain(0..first)
        .map(|k| &cards[k])
        .find(|c| c.enrolled && c.kk.is_some() && c.grants.iter().any(per_household))?;
    let program = holder.grants.iter().find(|g| per_household(g))?.program;
    let lo = days_from_civil(YEAR - 59, 8, 2);
    let born = unique_day(world, index, lo, days_from_civil(YEAR - 18, 8, 1), rng);
    let nik = id_number(holder.nik / 10u64.pow(10) % 100, born, rng.chance(500), index % 9999 + 1);
    let grants = vec![grant(world, program, rng)];
    Some(Card { index, nik, kk: holder.kk, enrolled: true, grants, activity: rng.range(1, 4) })
}

/// How a bad allocation row is wrong.
const BAD_ALLOCATIONS: usize = 5;

/// Appends the chunk's rows of allocations.csv.
pub(crate) fn allocations_csv(world: &World, chunk: u64, cards: &[Card], out: &mut Out) {
    let mut rng = Rng::new(world.seed, Purpose::Allocations, chunk);
    let n = cards.len() as u64;
    let mut duplicate = vec![false; cards.len()];
    let mut bad = vec![None; cards.len()];
    if n >= 50 {
        for _ in 0..(n * 2 / 1000).max(1) {
            duplicate[rng.below(n) as usize] = true;
        }
        for k in 0..(n / 2000).max(3) {
            bad[rng.below(n) as usize] = Some(((chunk + k) % BAD_ALLOCATIONS as u64) as usize);
        }
    }
    for (j, card) in cards.iter().enumerate().filter(|(_, c)| c.enrolled) {
        for (g, grant) in card.grants.iter().enumerate() {
            let cents = rng.chance(200);
            if grant.carryover > 0 {
                let from = days_from_civil(YEAR, 7, 1);
                allocation(world, out, card, grant.program, (from, CARRYOVER_LAST_DAY), grant.carryover, cents);
            }
            let period = (MONTH_FIRST_DAY, MONTH_FIRST_DAY + MONTH_DAYS - 1);
            allocation(world, out, card, grant.program, period, grant.amount, cents);
            if g == 0 && duplicate[j] {
                // Uploaded twice; the copy may write the amount differently (same value).
                allocation(world, out, card, grant.program, period, grant.amount, !cents);
            }
            if let (0, Some(kind)) = (g, bad[j]) {
                bad_allocation(world, out, card, grant, kind);
            }
        }
    }
}

fn allocation(world: &World, out: &mut Out, card: &Card, program: usize, days: (i64, i64), amount: u64, cents: bool) {
    World::card_id(out, card.index);
    out.comma().int(card.nik).comma();
    if let Some(kk) = card.kk {
        out.int(kk);
    }
    out.comma().s(world.programs[program].code).comma().date(days.0).comma().date(days.1).comma();
    out.rupiah(amount, cents).nl();
}

fn bad_allocation(world: &World, out: &mut Out, card: &Card, grant: &Grant, kind: usize) {
    World::card_id(out, card.index);
    out.comma();
    if kind != 4 {
        out.int(card.nik); // kind 4: the NIK is missing
    }
    out.comma();
    if let Some(kk) = card.kk {
        out.int(kk);
    }
    let code = if kind == 3 { "BPNT" } else { world.programs[grant.program].code };
    out.comma().s(code).comma();
    match kind {
        1 => out.s("2022-08-01,2022-09-31,"),
        2 => out.s("2022-08-31,2022-08-01,"),
        _ => out.s("2022-08-01,2022-08-31,"),
    };
    if kind == 0 {
        // Indonesian thousands separators: 200.000 reads as 200 with 3 decimals.
        out.int(grant.amount / 1000).s(".000").nl();
    } else {
        out.int(grant.amount).nl();
    }
}
