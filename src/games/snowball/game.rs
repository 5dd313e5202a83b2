//! Running Snowball (`game = "snowball"`): an evaluation run, one row a
//! scripted adversary, each a sample of `eval.episodes` episodes with its
//! liveness and safety figures and their 95% Wilson intervals. Every row
//! plays the same episodes' streams (a paired comparison of the
//! adversaries): episode `e` draws from stream `e` of the seed drawn from
//! the run's stream 1000.

use crate::config::Experiment;
use crate::export::{csv_bytes, TimingRow};
use crate::memory::Part;
use crate::runner::{At, Game, Learned, Network, Played, Side};
use crate::stats::wilson;
use crate::streams::stream;
use crate::timing::Timing;
use agents::Learner;
use envs::consensus::ConfigError;
use envs::sampling::snowball::{self as sb, Adversary, SnowballSpec, Summary};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// A Snowball experiment, checked.
pub struct SnowballJob {
    pub exp: Experiment,
    pub spec: SnowballSpec,
    /// A row each: `eval.adversaries`, or `byzantine.adversary` alone.
    pub adversaries: Vec<Adversary>,
}

impl SnowballJob {
    pub fn new(exp: Experiment) -> Result<SnowballJob, ConfigError> {
        crate::config::check_values(&exp)?;
        let cfg = exp.snowball.clone().unwrap_or_default();
        let spec = SnowballSpec::new(exp.env.n, exp.env.f, &cfg)?;
        let adversaries = adversaries(&exp)?;
        let eval = &exp.eval;
        if eval.episodes == 0 {
            return Err(ConfigError::new(
                "eval.episodes",
                0,
                "needs at least 1 episode",
            ));
        }
        if eval.batch == 0 {
            return Err(ConfigError::new(
                "eval.batch",
                0,
                "needs at least 1 episode a batch",
            ));
        }
        let batch = (eval.batch as u64).min(eval.episodes) as usize;
        crate::memory::check(&[
            Part::new("eval.batch", eval.batch, spec.batch_bytes(batch)).with("env.n", exp.env.n)
        ])?;
        Ok(SnowballJob {
            exp,
            spec,
            adversaries,
        })
    }

    pub fn name(&self) -> &str {
        self.exp.name.as_deref().unwrap_or("snowball")
    }

    /// The seed of every row's episodes.
    pub fn episodes_seed(&self) -> u64 {
        episodes_seed(self.exp.seed)
    }
}

/// The seed a run's episodes draw from: the first number of its stream 1000.
pub fn episodes_seed(seed: u64) -> u64 {
    stream(seed, 1000).random::<u64>()
}

/// The adversaries an experiment names, checked against `sb::ADVERSARIES`.
fn adversaries(exp: &Experiment) -> Result<Vec<Adversary>, ConfigError> {
    let (key, names) = match exp.eval.adversaries.is_empty() {
        true => ("byzantine.adversary", vec![exp.byzantine.adversary.clone()]),
        false => ("eval.adversaries", exp.eval.adversaries.clone()),
    };
    names
        .iter()
        .map(|name| {
            Adversary::parse(name).ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!("\"{name}\""),
                    format!("Snowball's adversaries are {}", sb::ADVERSARIES.join(", ")),
                )
            })
        })
        .collect()
}

/// One row of `metrics.csv`: an adversary's sample, with the game's
/// parameters repeated so that files of different runs concatenate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SnowballRow {
    pub adversary: String,
    pub n: u32,
    pub f: u32,
    pub byzantine_share: f64,
    pub k: u32,
    pub alpha_preference: u32,
    pub alpha_confidence: u32,
    pub beta: u32,
    pub round_cap: u32,
    pub start_ones: u32,
    pub seed: u64,
    pub eval_episodes: u64,
    /// Episodes with an honest node undecided at the cap (liveness lost).
    pub stalled: u64,
    pub stalled_rate: f64,
    pub stalled_low: f64,
    pub stalled_high: f64,
    /// Rounds until every honest node decided, over the finished episodes.
    pub mean_rounds: Option<f64>,
    pub max_rounds: Option<u32>,
    /// Episodes where two honest nodes decided different colours.
    pub violations: u64,
    pub violation_rate: f64,
    pub violation_low: f64,
    pub violation_high: f64,
    pub mean_violation_round: Option<f64>,
    /// Node-samples drawn by honest polls (`k` per poll).
    pub node_samples: u64,
}

impl SnowballRow {
    pub fn new(spec: &SnowballSpec, adversary: Adversary, seed: u64, s: &Summary) -> Self {
        let (stalled_low, stalled_high) = wilson(s.stalled, s.episodes);
        let (violation_low, violation_high) = wilson(s.violations, s.episodes);
        SnowballRow {
            adversary: adversary.name().into(),
            n: spec.n,
            f: spec.f,
            byzantine_share: spec.f as f64 / spec.n as f64,
            k: spec.k,
            alpha_preference: spec.alpha_preference,
            alpha_confidence: spec.alpha_confidence,
            beta: spec.beta,
            round_cap: spec.rounds,
            start_ones: spec.ones,
            seed,
            eval_episodes: s.episodes,
            stalled: s.stalled,
            stalled_rate: s.stalled as f64 / s.episodes.max(1) as f64,
            stalled_low,
            stalled_high,
            mean_rounds: s.mean_rounds,
            max_rounds: s.max_rounds,
            violations: s.violations,
            violation_rate: s.violations as f64 / s.episodes.max(1) as f64,
            violation_low,
            violation_high,
            mean_violation_round: s.mean_violation_round,
            node_samples: s.polls * spec.k as u64,
        }
    }

    /// The row in a line.
    pub fn line(&self) -> String {
        let rounds = self.mean_rounds.map_or("-".into(), |r| {
            format!("{r:.1} (max {})", self.max_rounds.unwrap_or(0))
        });
        format!(
            "{:<20} stalled {}/{} = {:.3} [{:.3}, {:.3}]  rounds to decide {rounds}  \
             safety violated {}/{} [{:.3}, {:.3}]",
            self.adversary,
            self.stalled,
            self.eval_episodes,
            self.stalled_rate,
            self.stalled_low,
            self.stalled_high,
            self.violations,
            self.eval_episodes,
            self.violation_low,
            self.violation_high
        )
    }
}

/// Reads a Snowball `metrics.csv`.
pub fn read(path: &Path) -> anyhow::Result<Vec<SnowballRow>> {
    crate::export::read_csv(path)
}

/// Snowball as the runner plays it: baselines only.
pub struct SnowballRun<'a> {
    job: &'a SnowballJob,
}

impl<'a> SnowballRun<'a> {
    pub fn new(job: &'a SnowballJob) -> Self {
        SnowballRun { job }
    }
}

impl Game for SnowballRun<'_> {
    type Row = SnowballRow;
    type Saved = ();

    fn exp(&self) -> &Experiment {
        &self.job.exp
    }

    fn name(&self) -> &str {
        self.job.name()
    }

    fn describe(&self) -> String {
        self.job.spec.describe()
    }

    fn trains(&self) -> bool {
        false
    }

    fn baselines(
        &mut self,
        _out: &Path,
        say: &dyn Fn(String),
        timing: &mut Timing,
    ) -> anyhow::Result<Vec<SnowballRow>> {
        let job = self.job;
        let seed = job.episodes_seed();
        let mut rows = vec![];
        for &adversary in &job.adversaries {
            let started = Instant::now();
            let episodes = job.exp.eval.episodes;
            let summary = sb::sample(&job.spec, adversary, seed, episodes, job.exp.eval.batch);
            let secs = started.elapsed().as_secs_f64();
            timing.push(TimingRow {
                run: job.name().into(),
                stage: format!("eval {}", adversary.name()),
                seconds: secs,
                episodes_per_second: Some(episodes as f64 / secs.max(1e-9)),
                episodes: Some(episodes),
            });
            let row = SnowballRow::new(&job.spec, adversary, seed, &summary);
            say(row.line());
            rows.push(row);
        }
        Ok(rows)
    }

    fn learner(&self, _side: Side) -> Option<&Learner> {
        None
    }

    fn learner_mut(&mut self, _side: Side) -> Option<&mut Learner> {
        None
    }

    fn network(&self, _side: Side) -> Network {
        Network {
            obs_dim: 0,
            heads: 0,
            rounds: 0,
        }
    }

    fn epoch(
        &mut self,
        _at: &At,
        _: &mut ChaCha8Rng,
        _: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        anyhow::bail!("snowball has no learning team yet")
    }

    fn evaluate(
        &mut self,
        _at: &At,
        _learned: &Learned,
        _out: &Path,
        _say: &dyn Fn(String),
        _timing: &mut Timing,
    ) -> anyhow::Result<SnowballRow> {
        anyhow::bail!("snowball has no learning team yet")
    }

    fn summary(&self, row: &SnowballRow) -> String {
        row.line()
    }

    fn optimum(&self, _row: &SnowballRow) -> Option<f64> {
        None
    }

    fn verified(&self, _row: &SnowballRow) -> bool {
        false
    }

    fn write_rows(&self, rows: &[SnowballRow]) -> anyhow::Result<Vec<u8>> {
        csv_bytes(rows)
    }

    fn read_rows(&self, path: &Path) -> anyhow::Result<Vec<SnowballRow>> {
        read(path)
    }

    fn saved(&self) {}

    fn restore(&mut self, _saved: ()) {}
}
