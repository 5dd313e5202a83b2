//! Output files. Everything is written to a temporary file and renamed into
//! place, so a run killed at any moment leaves the previous complete file.

use crate::games::consensus::teams::Tally;
use agents::Stats;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Writes `bytes` to `path` atomically ([`agents::checkpoint::write_atomic`]);
/// an error names the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    agents::checkpoint::write_atomic(path, bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Serialises `rows` as CSV with a header row.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(vec![]);
    for r in rows {
        w.serialize(r)?;
    }
    Ok(w.into_inner()?)
}

/// One row of `metrics.csv`: one evaluation, with the config columns repeated
/// so that files of different runs concatenate. Empty cells: not applicable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MetricsRow {
    pub run: String,
    pub seed: u64,
    pub n: usize,
    pub f: usize,
    pub rounds: u8,
    pub comm: String,
    pub synchrony: String,
    pub identity: String,
    pub faults: String,
    pub honest: String,
    pub byzantine: String,
    /// Training epoch (0: no training).
    pub epoch: u64,
    /// Training episodes so far (0: no training).
    pub episodes: u64,
    /// Sample size of the sampled rates below.
    pub eval_episodes: u64,
    pub honest_win_rate: f64,
    pub byzantine_win_rate: f64,
    pub agreement_rate: f64,
    pub validity_rate: f64,
    pub termination_rate: f64,
    /// Mean round in which the last honest agent decided.
    pub mean_decision_round: f64,
    /// Episodes where every honest agent decided the initial honest majority
    /// (the sampling game's aim; empty for the consensus game).
    pub majority_rate: Option<f64>,
    /// Honest team's win rate over every instance (deterministic teams only).
    pub exact_honest_win_rate: Option<f64>,
    /// The attacker's success over every instance (deterministic teams only).
    pub exact_attack_rate: Option<f64>,
    /// The verifier's optimal attack rate against this honest protocol.
    pub optimal_attack_rate: Option<f64>,
    pub verified: Option<bool>,
    /// Instances (placements x inputs; interactive consistency: x input vectors) behind the verifier's figures.
    pub instances: Option<u64>,
    pub broken_instances: Option<u64>,
    /// Learner statistics since the previous row (empty: the team does not learn).
    pub honest_policy_loss: Option<f64>,
    pub honest_value_loss: Option<f64>,
    pub honest_entropy: Option<f64>,
    pub honest_approx_kl: Option<f64>,
    pub honest_old_approx_kl: Option<f64>,
    pub honest_clipfrac: Option<f64>,
    /// The value head's explained variance (empty when the returns do not vary).
    pub honest_explained_variance: Option<f64>,
    /// The mean shaped return per trajectory of the team's training batches.
    pub honest_mean_return: Option<f64>,
    pub byzantine_policy_loss: Option<f64>,
    pub byzantine_value_loss: Option<f64>,
    pub byzantine_entropy: Option<f64>,
    pub byzantine_approx_kl: Option<f64>,
    pub byzantine_old_approx_kl: Option<f64>,
    pub byzantine_clipfrac: Option<f64>,
    /// The value head's explained variance (empty when the returns do not vary).
    pub byzantine_explained_variance: Option<f64>,
    /// The mean shaped return per trajectory of the team's training batches.
    pub byzantine_mean_return: Option<f64>,
}

/// What identifies a row: the run, its game, the teams and the training point.
pub struct RowKey {
    pub run: String,
    pub seed: u64,
    pub n: usize,
    pub f: usize,
    pub rounds: u8,
    pub comm: String,
    pub synchrony: String,
    pub identity: String,
    pub faults: String,
    pub honest: String,
    pub byzantine: String,
    pub epoch: u64,
    pub episodes: u64,
}

impl MetricsRow {
    /// A row of sampled figures and learner statistics; the exact and
    /// verifier columns (and `majority_rate`) start empty.
    pub fn new(
        key: RowKey,
        s: &Tally,
        honest: Option<Stats>,
        byzantine: Option<Stats>,
    ) -> MetricsRow {
        let (h, b) = (honest, byzantine);
        MetricsRow {
            run: key.run,
            seed: key.seed,
            n: key.n,
            f: key.f,
            rounds: key.rounds,
            comm: key.comm,
            synchrony: key.synchrony,
            identity: key.identity,
            faults: key.faults,
            honest: key.honest,
            byzantine: key.byzantine,
            epoch: key.epoch,
            episodes: key.episodes,
            eval_episodes: s.episodes,
            honest_win_rate: s.rate(s.honest_wins),
            byzantine_win_rate: s.rate(s.episodes - s.honest_wins),
            agreement_rate: s.rate(s.agreement),
            validity_rate: s.rate(s.validity),
            termination_rate: s.rate(s.termination),
            mean_decision_round: s.rate(s.decision_rounds),
            majority_rate: None,
            exact_honest_win_rate: None,
            exact_attack_rate: None,
            optimal_attack_rate: None,
            verified: None,
            instances: None,
            broken_instances: None,
            honest_policy_loss: h.map(|s| s.policy_loss),
            honest_value_loss: h.map(|s| s.value_loss),
            honest_entropy: h.map(|s| s.entropy),
            honest_approx_kl: h.map(|s| s.approx_kl),
            honest_old_approx_kl: h.map(|s| s.old_approx_kl),
            honest_clipfrac: h.map(|s| s.clipfrac),
            honest_explained_variance: h.map(|s| s.explained_variance).filter(|x| x.is_finite()),
            honest_mean_return: h.map(|s| s.mean_return),
            byzantine_policy_loss: b.map(|s| s.policy_loss),
            byzantine_value_loss: b.map(|s| s.value_loss),
            byzantine_entropy: b.map(|s| s.entropy),
            byzantine_approx_kl: b.map(|s| s.approx_kl),
            byzantine_old_approx_kl: b.map(|s| s.old_approx_kl),
            byzantine_clipfrac: b.map(|s| s.clipfrac),
            byzantine_explained_variance: b.map(|s| s.explained_variance).filter(|x| x.is_finite()),
            byzantine_mean_return: b.map(|s| s.mean_return),
        }
    }
}

/// One row of `timing.csv`: wall-clock figures, never in `metrics.csv`.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct TimingRow {
    pub run: String,
    pub stage: String,
    pub seconds: f64,
    pub episodes_per_second: Option<f64>,
    /// Episodes trained in this stage (training stages, segments, the total).
    #[serde(default)]
    pub episodes: Option<u64>,
}

/// Reads the rows of a `metrics.csv`.
pub fn read_metrics(path: &Path) -> anyhow::Result<Vec<MetricsRow>> {
    read_csv(path)
}

/// Reads the rows of a `metrics.csv` of any game's rows.
pub fn read_csv<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let shown = path.display();
    let mut r =
        csv::Reader::from_path(path).map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
    r.deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{shown}: not a metrics file of this version: {e}"))
}
