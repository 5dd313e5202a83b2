//! `selfplay liveness-threshold FILE`: the smallest Byzantine share at which
//! each adversary of a Snowball experiment (scripted, or the frozen network
//! of `byzantine.checkpoint`) stops liveness (an
//! honest node undecided at the round cap) in at least half of the
//! episodes, at each network size asked for: the paper's figure (Kniep et
//! al.: 5.2% at n = 2,000 without the network's state, 2.8% with it).
//!
//! A bisection over `f`, assuming the stalled share grows with `f`: `f = 0`
//! must not stall and the largest `f` searched must. Every `f` plays the
//! same episodes' streams (common random numbers), which keeps the
//! estimates of neighbouring `f` from crossing by noise alone.

use super::game::{Player, SnowballJob, SnowballRow};
use crate::games::Registry;
use envs::sampling::snowball::SnowballSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The flags of `selfplay liveness-threshold`.
#[derive(clap::Args, Debug, Clone)]
pub struct ThresholdArgs {
    /// Experiment file (TOML) of game = "snowball"; each of its adversaries
    /// (`eval.adversaries`, and the network of `byzantine.checkpoint` when
    /// `byzantine.kind = "frozen"`) is searched, with its `[snowball]`
    /// parameters and `eval.episodes` episodes at each f.
    pub file: PathBuf,
    /// Network sizes to search at, e.g. --n 500,1000,2000 (default: env.n).
    #[arg(long, value_delimiter = ',')]
    pub n: Vec<usize>,
    /// The largest Byzantine share searched.
    #[arg(long, default_value_t = 0.25)]
    pub max_share: f64,
    /// Overrides any key of the file, e.g. --set snowball.rounds=500 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Also writes every evaluated f as a row of metrics.csv's columns to this CSV file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// One adversary's threshold at one size.
pub struct Threshold {
    pub n: u32,
    pub adversary: &'static str,
    /// The smallest f that stalls half of the episodes (`None`: none up to
    /// the largest searched).
    pub f: Option<u32>,
    /// Every f evaluated, in order of f.
    pub rows: Vec<SnowballRow>,
}

impl Threshold {
    fn row(&self, f: u32) -> Option<&SnowballRow> {
        self.rows.iter().find(|r| r.f == f)
    }
}

/// Whether a row stalls at least half of its episodes.
fn stalls(r: &SnowballRow) -> bool {
    2 * r.stalled >= r.eval_episodes
}

/// Bisects over f in `0..=max_f` for `adversary` at size `n`, the other
/// parameters `job`'s.
pub fn search(job: &SnowballJob, n: usize, max_f: u32, adversary: &Player) -> Threshold {
    let cfg = job.exp.snowball.clone().unwrap_or_default();
    let seed = job.episodes_seed();
    let eval = &job.exp.eval;
    let mut seen: BTreeMap<u32, SnowballRow> = BTreeMap::new();
    let mut at = |f: u32| -> bool {
        let row = seen.entry(f).or_insert_with(|| {
            let spec = SnowballSpec::new(n, f as usize, &cfg).expect("checked at the largest f");
            let summary = adversary.sample(&spec, seed, eval.episodes, eval.batch);
            SnowballRow::new(&spec, adversary.name(), seed, &summary)
        });
        stalls(row)
    };
    let f = match (at(0), at(max_f)) {
        (true, _) => Some(0),
        (false, false) => None,
        (false, true) => {
            let (mut lo, mut hi) = (0, max_f);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                match at(mid) {
                    true => hi = mid,
                    false => lo = mid,
                }
            }
            Some(hi)
        }
    };
    Threshold {
        n: n as u32,
        adversary: adversary.name(),
        f,
        rows: seen.into_values().collect(),
    }
}

/// Runs `selfplay liveness-threshold`.
pub fn command(a: &ThresholdArgs) -> Result<(), String> {
    let registry = Registry::built_in();
    let (exp, entry) =
        crate::games::load_experiment(&registry, &a.file, &a.sets).map_err(|e| e.to_string())?;
    if entry.name() != "snowball" {
        return Err(format!(
            "{}: game = \"{}\"; liveness-threshold searches Snowball experiments",
            a.file.display(),
            entry.name()
        ));
    }
    if !(a.max_share > 0.0 && a.max_share < 1.0) {
        return Err(format!(
            "--max-share {}: needs a share in (0, 1)",
            a.max_share
        ));
    }
    let sizes = match a.n.is_empty() {
        true => vec![exp.env.n],
        false => a.n.clone(),
    };
    let mut jobs = vec![];
    for &n in &sizes {
        // Checked at the largest f searched, which holds the most nodes' states.
        let max_f = ((a.max_share * n as f64) as usize).min(n.saturating_sub(1));
        let mut at_n = exp.clone();
        (at_n.env.n, at_n.env.f) = (n, max_f);
        let job = SnowballJob::new(at_n).map_err(|e| format!("at --n {n}: {e}"))?;
        jobs.push((job, max_f as u32));
    }
    crate::outln!(
        "the smallest f stalling >= half of {} episodes ({} rounds cap), seed {}",
        exp.eval.episodes,
        jobs[0].0.spec.rounds,
        exp.seed
    );
    crate::outln!(
        "{:>6} {:<20} {:>6} {:>7}  {:<28} {:<28} {:>5}",
        "n",
        "adversary",
        "f",
        "share",
        "stalled at f [95% CI]",
        "stalled at f - 1 [95% CI]",
        "evals"
    );
    let mut all = vec![];
    for (job, max_f) in &jobs {
        for adversary in &job.adversaries {
            let t = search(job, job.spec.n as usize, *max_f, adversary);
            crate::outln!("{}", line(&t, *max_f));
            all.extend(t.rows);
        }
    }
    if let Some(path) = &a.csv {
        let bytes = crate::export::csv_bytes(&all).map_err(|e| e.to_string())?;
        crate::export::write_atomic(path, &bytes).map_err(|e| format!("{e:#}"))?;
        crate::outln!("wrote {}", path.display());
    }
    Ok(())
}

/// A threshold in a line of the table.
fn line(t: &Threshold, max_f: u32) -> String {
    let rate = |f: Option<u32>| match f.and_then(|f| t.row(f)) {
        Some(r) => format!(
            "{}/{} [{:.2}, {:.2}]",
            r.stalled, r.eval_episodes, r.stalled_low, r.stalled_high
        ),
        None => "-".into(),
    };
    let (f, share) = match t.f {
        Some(f) => (
            f.to_string(),
            format!("{:.2}%", 100.0 * f as f64 / t.n as f64),
        ),
        None => (format!("> {max_f}"), "-".into()),
    };
    format!(
        "{:>6} {:<20} {:>6} {:>7}  {:<28} {:<28} {:>5}",
        t.n,
        t.adversary,
        f,
        share,
        rate(t.f),
        rate(t.f.and_then(|f| f.checked_sub(1))),
        t.rows.len()
    )
}
