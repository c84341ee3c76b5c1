//! What every chunk shares: the programs (Kediri-like), the merchants with their terminals,
//! the ATMs, and the ids. Built once from the seed, then read by all chunks.

use super::rng::{Purpose, Rng};
use super::text::{days_from_civil, Out, TZ_SECONDS};

/// A payment channel the generator uses (`transfer` is left out: no program here pays by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    Atm,
    Pos,
    Qr,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Channel::Atm => "atm",
            Channel::Pos => "pos",
            Channel::Qr => "qr",
        }
    }
}

/// One aid program as the generator knows it.
#[derive(Debug)]
pub struct ProgramSpec {
    /// The code in the rulebook.
    pub code: &'static str,
    /// The name in the rulebook.
    pub name: &'static str,
    /// The monthly grant per card, in rupiah.
    pub monthly_rupiah: u64,
    /// Cash withdrawals at ATMs allowed.
    pub atm: bool,
    /// Payments at merchants (EDC `pos`, QRIS `qr`) allowed.
    pub shop: bool,
    /// Allowed merchant categories, when the program restricts them.
    pub mcc: Option<&'static [u16]>,
    /// Largest single debit, in rupiah.
    pub max_debit_rupiah: Option<u64>,
    /// Only merchants registered for the program may be paid.
    pub registered_merchants_only: bool,
    /// Granted once per household (KK).
    pub per_household: bool,
}

/// The programs the generator can write, modelled on Kediri's Kartu Harmoni Sejahtera.
pub const PROGRAMS: [ProgramSpec; 5] = [
    ProgramSpec {
        code: "BPNTD",
        name: "Bantuan Pangan Non Tunai Daerah",
        monthly_rupiah: 200_000,
        atm: false,
        shop: true,
        mcc: Some(&[5411, 5499]),
        max_debit_rupiah: Some(300_000),
        registered_merchants_only: true,
        per_household: true,
    },
    ProgramSpec {
        code: "YATIM",
        name: "Bantuan Anak Yatim Piatu Terdampak Covid-19",
        monthly_rupiah: 300_000,
        atm: true,
        shop: true,
        mcc: None,
        max_debit_rupiah: Some(1_000_000),
        registered_merchants_only: false,
        per_household: false,
    },
    ProgramSpec {
        code: "ABH",
        name: "Bantuan Anak Berhadapan dengan Hukum",
        monthly_rupiah: 250_000,
        atm: false,
        shop: true,
        mcc: None,
        max_debit_rupiah: None,
        registered_merchants_only: true,
        per_household: false,
    },
    ProgramSpec {
        code: "ASLUT",
        name: "Asistensi Sosial Lanjut Usia",
        monthly_rupiah: 300_000,
        atm: true,
        shop: false,
        mcc: None,
        max_debit_rupiah: None,
        registered_merchants_only: false,
        per_household: false,
    },
    ProgramSpec {
        code: "DISABILITAS",
        name: "Bantuan Penyandang Disabilitas Berat",
        monthly_rupiah: 300_000,
        atm: true,
        shop: true,
        mcc: None,
        max_debit_rupiah: None,
        registered_merchants_only: false,
        per_household: false,
    },
];

/// The programs written when none are chosen.
pub const DEFAULT_PROGRAMS: [&str; 4] = ["BPNTD", "YATIM", "ASLUT", "DISABILITAS"];

/// The cycle: August 2022, in WIB.
pub(crate) const YEAR: i64 = 2022;
pub(crate) const MONTH: u32 = 8;
pub(crate) const MONTH_DAYS: i64 = 31;
/// Day number of the first day of the cycle.
pub(crate) const MONTH_FIRST_DAY: i64 = days_from_civil(YEAR, MONTH, 1);
/// A carried-over allocation of the previous month runs to this day of the cycle.
pub(crate) const CARRYOVER_LAST_DAY: i64 = MONTH_FIRST_DAY + 9;
/// The start of the cycle, in milliseconds since the Unix epoch.
pub(crate) const MONTH_START_MS: i64 = (MONTH_FIRST_DAY * 86_400 - TZ_SECONDS) * 1000;

/// The merchant id of the bank's ATMs.
pub(crate) const ATM_MERCHANT: &str = "BJTM-ATM";
pub(crate) const ATM_MCC: u16 = 6011;

const KECAMATAN: [&str; 3] = ["Mojoroto", "Kota", "Pesantren"];
const STREETS: [&str; 12] = [
    "Jl. Dhoho",
    "Jl. Brawijaya",
    "Jl. Hayam Wuruk",
    "Jl. Joyoboyo",
    "Jl. Semeru",
    "Jl. Mayor Bismo",
    "Jl. Veteran",
    "Jl. Penanggungan",
    "Jl. Sersan Harun",
    "Jl. Ahmad Yani",
    "Jl. Kilisuci",
    "Jl. Erlangga",
];
const OWNERS: [&str; 20] = [
    "Bu Sri",
    "Pak Slamet",
    "Bu Tini",
    "Pak Joko",
    "Bu Siti",
    "Pak Bambang",
    "Bu Ani",
    "Pak Agus",
    "Bu Yuli",
    "Pak Heru",
    "Bu Endang",
    "Pak Wahyu",
    "Makmur",
    "Barokah",
    "Sumber Rejeki",
    "Sejahtera",
    "Maju Jaya",
    "Berkah",
    "Lancar",
    "Sentosa",
];

/// Kinds of merchant: id prefix, name prefix, mcc, weight, and per program code the chance
/// (per mille) of being registered for it.
struct MerchantKind {
    prefix: &'static str,
    name: &'static str,
    mcc: u16,
    weight: u64,
    registered: &'static [(&'static str, u64)],
}

const KINDS: [MerchantKind; 6] = [
    MerchantKind {
        prefix: "EWR",
        name: "E-Warong",
        mcc: 5411,
        weight: 5,
        registered: &[("BPNTD", 1000), ("YATIM", 900), ("ABH", 900), ("DISABILITAS", 900)],
    },
    MerchantKind {
        prefix: "WRG",
        name: "Warung",
        mcc: 5411,
        weight: 40,
        registered: &[("BPNTD", 850), ("YATIM", 500), ("ABH", 400), ("DISABILITAS", 500)],
    },
    MerchantKind {
        prefix: "TKO",
        name: "Toko",
        mcc: 5499,
        weight: 20,
        registered: &[("BPNTD", 700), ("YATIM", 400), ("ABH", 300), ("DISABILITAS", 400)],
    },
    MerchantKind {
        prefix: "KIOS",
        name: "Kios Pupuk",
        mcc: 5261,
        weight: 10,
        registered: &[("BPNTD", 30), ("YATIM", 100), ("DISABILITAS", 100)],
    },
    MerchantKind {
        prefix: "APT",
        name: "Apotek",
        mcc: 5912,
        weight: 10,
        registered: &[("BPNTD", 30), ("YATIM", 400), ("DISABILITAS", 600)],
    },
    MerchantKind {
        prefix: "WMK",
        name: "Warung Makan",
        mcc: 5812,
        weight: 15,
        registered: &[("BPNTD", 30), ("YATIM", 300), ("ABH", 300)],
    },
];

/// A merchant and its terminals.
pub(crate) struct Merchant {
    pub id: String,
    pub mcc: u16,
    /// Bit `p` set: registered for enabled program `p`.
    pub registered: u32,
    /// EDC terminals (one or two).
    pub edc: Vec<String>,
    /// The QRIS id, when the merchant takes QR payments.
    pub qr: Option<String>,
    kind: usize,
    kecamatan: usize,
}

/// Everything chunks share.
pub(crate) struct World {
    pub seed: u64,
    pub cards: u64,
    pub debits: u64,
    /// The enabled programs; a program index `p` in the generator means `programs[p]`.
    pub programs: Vec<&'static ProgramSpec>,
    pub merchants: Vec<Merchant>,
    pub atms: Vec<String>,
    /// Per program: merchants where a payment is clean (mcc allowed, registered if needed).
    pub eligible: Vec<Vec<u32>>,
    /// Per program: merchants with an allowed mcc that are not registered for it.
    pub unregistered: Vec<Vec<u32>>,
    /// Per program: merchants whose mcc the program does not allow.
    pub wrong_mcc: Vec<Vec<u32>>,
    /// Number of distinct `index / 9999` values of card ids (keeps NIK and KK numbers unique).
    pub id_classes: u64,
}

impl World {
    pub(crate) fn new(seed: u64, cards: u64, debits: u64, programs: Vec<&'static ProgramSpec>) -> World {
        let mut rng = Rng::new(seed, Purpose::World, 0);
        let count = (cards / 40).max(24);
        let mut merchants = Vec::with_capacity(count as usize);
        let mut per_kind = [0u64; KINDS.len()];
        let weights: Vec<u64> = KINDS.iter().map(|k| k.weight).collect();
        for m in 0..count {
            // The first two are fixed so that every chunk finds a clean and an unregistered
            // grocery: an e-warong registered for everything, and a new warung registered
            // for nothing.
            let kind = match m {
                0 => 0,
                1 => 1,
                _ => rng.weighted(&weights),
            };
            per_kind[kind] += 1;
            let k = &KINDS[kind];
            let mut registered = 0u32;
            for (p, spec) in programs.iter().enumerate() {
                let chance = k.registered.iter().find(|(code, _)| *code == spec.code).map_or(0, |c| c.1);
                let yes = match m {
                    0 => spec.shop,
                    1 => false,
                    _ => rng.chance(chance),
                };
                if yes {
                    registered |= 1 << p;
                }
            }
            let edc = (0..1 + rng.chance(150) as u64).map(|e| format!("EDC{:08}", 30_000_000 + m * 2 + e)).collect();
            let qr = (m == 0 || rng.chance(600)).then(|| format!("ID1022{:09}", 100_000_000 + m));
            let id = format!("{}-{:05}", k.prefix, per_kind[kind]);
            let kecamatan = rng.below(3) as usize;
            merchants.push(Merchant { id, mcc: k.mcc, registered, edc, qr, kind, kecamatan });
        }
        let atms = (0..(cards / 300).max(3)).map(|a| format!("ATM-KDR-{:04}", a + 1)).collect();
        let mut world = World {
            seed,
            cards,
            debits,
            programs,
            merchants,
            atms,
            eligible: Vec::new(),
            unregistered: Vec::new(),
            wrong_mcc: Vec::new(),
            id_classes: cards.div_ceil(9999).max(1),
        };
        world.index_merchants();
        world
    }

    fn index_merchants(&mut self) {
        for (p, spec) in self.programs.iter().enumerate() {
            let mcc_ok = |m: &Merchant| spec.mcc.is_none_or(|list| list.contains(&m.mcc));
            let registered = |m: &Merchant| m.registered & (1 << p) != 0;
            let ids = |f: &dyn Fn(&Merchant) -> bool| -> Vec<u32> {
                (0..self.merchants.len() as u32).filter(|&m| f(&self.merchants[m as usize])).collect()
            };
            self.eligible.push(ids(&|m| mcc_ok(m) && (!spec.registered_merchants_only || registered(m))));
            self.unregistered.push(ids(&|m| mcc_ok(m) && !registered(m)));
            self.wrong_mcc.push(ids(&|m| !mcc_ok(m)));
        }
    }

    /// The card id of card `index`: `KHS` and 10 digits, a bijection of the index.
    pub(crate) fn card_id(out: &mut Out, index: u64) {
        // The multiplier is odd and not a multiple of 5, so coprime to 10^10: this permutes
        // 0..10^10 and no two cards share an id.
        const MODULUS: u64 = 10_000_000_000;
        let scrambled = (u128::from(index) * 1_234_567_891 % u128::from(MODULUS)) as u64;
        out.s("KHS").pad(scrambled, 10);
    }

    /// rulebook.json for the enabled programs.
    pub(crate) fn rulebook_json(&self) -> String {
        let mut json = String::from(
            "{\n  \"currency_scale\": 2,\n  \"timezone\": \"+07:00\",\n  \"near_duplicate_seconds\": 60,\n  \
             \"velocity\": { \"max_debits\": 10, \"window_seconds\": 3600 },\n  \
             \"bulk_drain\": { \"min_cards\": 5, \"window_seconds\": 1800, \"drain_ratio\": \"0.9\" },\n  \
             \"programs\": [\n",
        );
        for (i, p) in self.programs.iter().enumerate() {
            let mut fields = vec![format!("\"code\": \"{}\"", p.code), format!("\"name\": \"{}\"", p.name)];
            let mut channels = Vec::new();
            if p.atm {
                channels.push("\"atm\"");
            }
            if p.shop {
                channels.extend(["\"pos\"", "\"qr\""]);
            }
            fields.push(format!("\"channels\": [{}]", channels.join(", ")));
            if let Some(list) = p.mcc {
                let codes: Vec<String> = list.iter().map(|m| format!("\"{m:04}\"")).collect();
                fields.push(format!("\"mcc\": [{}]", codes.join(", ")));
            }
            if let Some(max) = p.max_debit_rupiah {
                fields.push(format!("\"max_debit\": \"{max}\""));
            }
            if p.registered_merchants_only {
                fields.push("\"registered_merchants_only\": true".into());
            }
            if p.per_household {
                fields.push("\"per_household\": true".into());
            }
            let comma = if i + 1 < self.programs.len() { "," } else { "" };
            json.push_str(&format!("    {{ {} }}{comma}\n", fields.join(", ")));
        }
        json.push_str("  ]\n}\n");
        json
    }

    /// merchants.csv: one row per registration (some merchants on two rows, some registered
    /// for nothing), an extra name and address column, and a few bad rows.
    pub(crate) fn merchants_csv(&self) -> Vec<u8> {
        let mut rng = Rng::new(self.seed, Purpose::World, 1);
        let mut out = Out::with_capacity(self.merchants.len() * 80);
        out.s("merchant_id,name,kecamatan,address,programs\n");
        let bad_every = (self.merchants.len() as u64 / 4).clamp(12, 5000);
        for (m, merchant) in self.merchants.iter().enumerate() {
            let codes: Vec<&str> = (0..self.programs.len())
                .filter(|p| merchant.registered & (1 << p) != 0)
                .map(|p| self.programs[p].code)
                .collect();
            let kind = &KINDS[merchant.kind];
            let name = format!("{} {}", kind.name, rng.pick(&OWNERS));
            let address = format!("{} No. {}, Kediri", rng.pick(&STREETS), rng.range(1, 240));
            let mut row = |programs: &str| {
                out.s(&merchant.id).comma().field(&name).comma().s(KECAMATAN[merchant.kecamatan]).comma();
                out.field(&address).comma().s(programs).nl();
            };
            if codes.is_empty() {
                if m == 1 || rng.chance(500) {
                    row("");
                }
            } else if codes.len() >= 2 && rng.chance(100) {
                row(codes[0]);
                row(&codes[1..].join(";"));
            } else {
                row(&codes.join(";"));
            }
            if m as u64 % bad_every == 2 {
                row(if rng.chance(500) { "SEMBAKO" } else { "BPNTD;" });
            }
        }
        out.0
    }
}
