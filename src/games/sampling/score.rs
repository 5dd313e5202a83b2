//! The sampling game's attack figures: the sampled attack rate with its
//! Wilson interval, next to the exact optimum of `envs::sampling::exact` for the
//! honest protocol that played; and `metrics.csv` for the sampling game,
//! whose rows are the consensus game's columns followed by these.

use crate::export::{csv_bytes, MetricsRow};
use crate::stats::wilson;
use agents::mlp::Frozen;
use envs::sampling::exact::{Rule, Score, Sight, Solver};
use envs::sampling::Trivial;
use envs::sampling::{AttackGoal, SlushSpec};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The sampling game's columns after the shared ones of [`MetricsRow`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AttackCols {
    /// What the attack counts (`slush.attack_goal`): `disagreement` or `majority`.
    pub attack_goal: String,
    /// Episodes (of `eval_episodes`) in which the Byzantine team reached its goal.
    pub attack_successes: u64,
    pub attack_rate: f64,
    /// The 95% Wilson score interval of `attack_rate`.
    pub attack_rate_low: f64,
    pub attack_rate_high: f64,
    /// The exact optimum of an adversary that also sees every sample of the
    /// round (the engine's strongest); `optimal_attack_rate` is the optimum
    /// of one that sees what the learned answerers see (no samples).
    pub optimal_attack_rate_seeing_samples: Option<f64>,
    /// `attack_rate / optimal_attack_rate` (empty when the optimum is 0 or unknown).
    pub attack_over_optimum: Option<f64>,
}

/// One row of the sampling game's `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SlushRow {
    pub metrics: MetricsRow,
    pub attack: AttackCols,
}

/// The attack columns of `successes` in `episodes`, beside the optimum.
pub fn attack_cols(
    goal: AttackGoal,
    successes: u64,
    episodes: u64,
    optimum: Option<Optimum>,
) -> (AttackCols, Option<f64>) {
    let rate = if episodes == 0 {
        0.0
    } else {
        successes as f64 / episodes as f64
    };
    let (low, high) = wilson(successes, episodes);
    let blind = optimum.map(|o| o.blind);
    (
        AttackCols {
            attack_goal: goal.name().into(),
            attack_successes: successes,
            attack_rate: rate,
            attack_rate_low: low,
            attack_rate_high: high,
            optimal_attack_rate_seeing_samples: optimum.map(|o| o.seeing_samples),
            attack_over_optimum: blind.filter(|&b| b > 0.0).map(|b| rate / b),
        },
        blind,
    )
}

/// The exact optimal attack rate against one honest protocol, for the
/// configured goal and inputs, under both sights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optimum {
    /// An adversary that sees every colour, counter, who asks and the round,
    /// but not the samples: what the learned answerers see, so their optimum.
    pub blind: f64,
    /// One that also sees every sample of the round.
    pub seeing_samples: f64,
}

/// The honest protocol as the exact search takes it.
pub enum HonestRule<'a> {
    Slush,
    Snowflake,
    /// A trivial baseline (`slush::Trivial`).
    Trivial(Trivial),
    /// A network's greedy play: its observation is (colour, round, counts)
    /// and nothing else, so it is a table over those by construction.
    Network(&'a Frozen),
}

/// The exact optimum against `honest` in the game `spec` (its `ones`: the
/// evaluated split, or uniform inputs), for `spec.attack_goal`; `None` if
/// the search would weigh more than `max_work` joint choices.
pub fn optimum(spec: &SlushSpec, honest: HonestRule, max_work: f64) -> Option<Optimum> {
    let rule = match honest {
        HonestRule::Slush => Rule::Slush,
        HonestRule::Snowflake => Rule::Snowflake,
        HonestRule::Trivial(t) => Rule::Trivial(t),
        HonestRule::Network(p) => Rule::Table(crate::games::sampling::verify::greedy_table(
            p,
            spec.k,
            spec.rounds,
        )),
    };
    let score = match spec.attack_goal {
        AttackGoal::Disagreement => Score::Disagreement,
        AttackGoal::Majority => Score::Majority,
        AttackGoal::Correctness => Score::Correctness,
    };
    let figure = |sight| {
        let mut s = Solver::new(spec, rule.clone()).ok()?;
        s.sight = sight;
        s.max_work = max_work.min(u64::MAX as f64) as u64;
        let f = match spec.ones {
            Some(ones) => s.score(score, ones),
            None => s.uniform_score(score),
        };
        (!s.exceeded()).then_some(f)
    };
    Some(Optimum {
        blind: figure(Sight::Querier)?,
        seeing_samples: figure(Sight::Samples)?,
    })
}

/// `metrics.csv` of the sampling game: each row's shared columns, then its
/// attack columns.
pub fn csv(rows: &[SlushRow]) -> anyhow::Result<Vec<u8>> {
    let metrics: Vec<&MetricsRow> = rows.iter().map(|r| &r.metrics).collect();
    let attack: Vec<&AttackCols> = rows.iter().map(|r| &r.attack).collect();
    let records = |bytes: Vec<u8>| -> anyhow::Result<Vec<csv::StringRecord>> {
        Ok(csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[..])
            .records()
            .collect::<Result<_, _>>()?)
    };
    // No rows, no header: as `csv_bytes` writes an empty list.
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let (m, a) = (
        records(csv_bytes(&metrics)?)?,
        records(csv_bytes(&attack)?)?,
    );
    let mut w = csv::Writer::from_writer(vec![]);
    for (m, a) in m.iter().zip(&a) {
        w.write_record(m.iter().chain(a.iter()))?;
    }
    Ok(w.into_inner()?)
}

/// Reads the rows back (for `--resume`): each part of a row by its columns.
pub fn read(path: &Path) -> anyhow::Result<Vec<SlushRow>> {
    let shown = path.display();
    let metrics = crate::export::read_metrics(path)?;
    let mut r =
        csv::Reader::from_path(path).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    let attack: Vec<AttackCols> = r
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{shown}: not a sampling-game metrics file: {e}"))?;
    Ok(metrics
        .into_iter()
        .zip(attack)
        .map(|(metrics, attack)| SlushRow { metrics, attack })
        .collect())
}
