//! Running Snowball (`game = "snowball"`): one row a scripted adversary,
//! each a sample of `eval.episodes` episodes with its liveness and safety
//! figures and their 95% Wilson intervals; with `byzantine.kind =
//! "learned"`, a training run whose rows are the learned adversary's every
//! `train.eval_every` episodes (`learned.rs`), and with `"frozen"`, a row
//! of the network of `byzantine.checkpoint`. Every row plays the same
//! episodes' streams (a paired comparison of the adversaries): episode `e`
//! draws from stream `e` of the seed drawn from the run's stream 1000.

use super::learned;
use crate::config::{Experiment, Kind};
use crate::export::{csv_bytes, TimingRow};
use crate::memory::Part;
use crate::runner::{At, Game, Learned, Network, Played, Side};
use crate::stats::{mean_interval, wilson};
use crate::streams::stream;
use crate::timing::Timing;
use agents::learner::Actor;
use agents::{Learner, Stats};
use envs::consensus::ConfigError;
use envs::sampling::snowball::{self as sb, Adversary, SnowballSpec, Summary, VIEW};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// A Snowball experiment, checked.
pub struct SnowballJob {
    pub exp: Experiment,
    pub spec: SnowballSpec,
    /// A row each: `eval.adversaries`, or `byzantine.adversary` alone (a
    /// scripted team), then the learned network's row.
    pub adversaries: Vec<Player>,
    /// The training episodes' game (`snowball.train_rounds` as its cap).
    pub train_spec: SnowballSpec,
}

/// Who answers the Byzantine peers' queries in a row.
#[derive(Clone)]
pub enum Player {
    Scripted(Adversary),
    /// A network, played greedily (`byzantine.checkpoint` when frozen).
    Network(Box<Actor>),
}

impl Player {
    pub fn name(&self) -> &'static str {
        match self {
            Player::Scripted(a) => a.name(),
            Player::Network(_) => "learned",
        }
    }

    /// `episodes` episodes of `spec` from `seed`'s streams, `batch` at a time.
    pub fn sample(&self, spec: &SnowballSpec, seed: u64, episodes: u64, batch: usize) -> Summary {
        match self {
            Player::Scripted(a) => sb::sample(spec, *a, seed, episodes, batch),
            Player::Network(actor) => {
                // Greedy: the stream is never drawn from.
                let mut rng = stream(seed, 0);
                learned::sample(spec, actor, seed, episodes, batch, &mut rng)
            }
        }
    }
}

impl SnowballJob {
    pub fn new(exp: Experiment) -> Result<SnowballJob, ConfigError> {
        crate::config::check_values(&exp)?;
        let cfg = exp.snowball.clone().unwrap_or_default();
        let spec = SnowballSpec::new(exp.env.n, exp.env.f, &cfg)?;
        let train_spec = SnowballSpec {
            rounds: cfg.train_rounds.unwrap_or(spec.rounds),
            ..spec
        };
        let mut adversaries = adversaries(&exp)?;
        if exp.byzantine.kind == Kind::Frozen {
            adversaries.push(Player::Network(Box::new(frozen(&exp)?)));
        }
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
        let mut parts = vec![Part::new(
            "eval.batch",
            eval.batch,
            spec.batch_bytes(batch) + learned::extra_bytes(&spec, batch),
        )
        .with("env.n", exp.env.n)];
        if exp.byzantine.kind == Kind::Learned {
            let train = &exp.train;
            if train.batch == 0 {
                return Err(ConfigError::new(
                    "train.batch",
                    0,
                    "needs at least 1 episode an update",
                ));
            }
            if train.eval_every == 0 {
                return Err(ConfigError::new(
                    "train.eval_every",
                    0,
                    "needs at least 1 episode between rows",
                ));
            }
            let b = train.batch;
            parts.push(
                Part::new(
                    "train.batch",
                    b,
                    train_spec.batch_bytes(b)
                        + learned::extra_bytes(&train_spec, b)
                        + learned::buffer_bytes(&train_spec, cfg.tracked, b),
                )
                .with("env.n", exp.env.n)
                .with("snowball.tracked", cfg.tracked),
            );
            let steps = learned::buffer_bytes(&train_spec, cfg.tracked, b) / 3.0 / VIEW as f64;
            let learn = &exp.byzantine.learn;
            parts.push(Part::new(
                "byzantine.learn.hidden",
                &learn.hidden,
                crate::memory::network_bytes(learn, VIEW, agents::learner::CLASSES, steps),
            ));
        }
        crate::memory::check(&parts)?;
        Ok(SnowballJob {
            exp,
            spec,
            adversaries,
            train_spec,
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

/// The network of `byzantine.checkpoint`, which must answer Snowball's
/// queries (a view of `VIEW` numbers, one head).
fn frozen(exp: &Experiment) -> Result<Actor, ConfigError> {
    let key = "byzantine.checkpoint";
    let Some(path) = &exp.byzantine.checkpoint else {
        return Err(ConfigError::new(
            key,
            "(none)",
            "byzantine.kind = \"frozen\" plays a saved network: name its checkpoint",
        ));
    };
    let shown = path.display().to_string();
    let c = agents::checkpoint::load(path).map_err(|e| ConfigError::new(key, &shown, e))?;
    if c.meta.obs_dim != VIEW || c.meta.heads != 1 {
        return Err(ConfigError::new(
            key,
            &shown,
            format!(
                "a network with {} inputs and {} heads; Snowball's adversary reads {VIEW} \
                 and answers with 1 head (a checkpoint of another game?)",
                c.meta.obs_dim, c.meta.heads
            ),
        ));
    }
    let (policy, critic) = (c.policy(), c.critic());
    match (policy, critic) {
        (Ok(policy), Ok(critic)) => Ok(Actor {
            policy,
            critic,
            heads: 1,
        }),
        (Err(e), _) | (_, Err(e)) => Err(ConfigError::new(key, &shown, e)),
    }
}

/// The scripted adversaries an experiment names, checked against
/// `sb::ADVERSARIES`: `eval.adversaries`, or `byzantine.adversary` when
/// that list is empty and the team is scripted.
fn adversaries(exp: &Experiment) -> Result<Vec<Player>, ConfigError> {
    let (key, names) = match exp.eval.adversaries.is_empty() {
        true if exp.byzantine.kind != Kind::Scripted => return Ok(vec![]),
        true => ("byzantine.adversary", vec![exp.byzantine.adversary.clone()]),
        false => ("eval.adversaries", exp.eval.adversaries.clone()),
    };
    names
        .iter()
        .map(|name| {
            Adversary::parse(name).map(Player::Scripted).ok_or_else(|| {
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
    /// Its 95% normal-approximation interval (two violations at least;
    /// absent from files written before it: read empty).
    #[serde(default)]
    pub violation_round_low: Option<f64>,
    #[serde(default)]
    pub violation_round_high: Option<f64>,
    /// Node-samples drawn by honest polls (`k` per poll).
    pub node_samples: u64,
    /// The learned adversary's row: training episodes behind it, and its
    /// learner's mean statistics since the last row (empty for the others;
    /// absent from files written before the learned adversary: read empty).
    #[serde(default)]
    pub train_episodes: Option<u64>,
    #[serde(default)]
    pub mean_return: Option<f64>,
    #[serde(default)]
    pub entropy: Option<f64>,
    #[serde(default)]
    pub approx_kl: Option<f64>,
    #[serde(default)]
    pub explained_variance: Option<f64>,
}

impl SnowballRow {
    pub fn new(spec: &SnowballSpec, adversary: &str, seed: u64, s: &Summary) -> Self {
        let (stalled_low, stalled_high) = wilson(s.stalled, s.episodes);
        let (violation_low, violation_high) = wilson(s.violations, s.episodes);
        let interval = s
            .mean_violation_round
            .and_then(|m| mean_interval(m, s.sd_violation_round, s.violations));
        SnowballRow {
            adversary: adversary.into(),
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
            violation_round_low: interval.map(|i| i.0),
            violation_round_high: interval.map(|i| i.1),
            node_samples: s.polls * spec.k as u64,
            train_episodes: None,
            mean_return: None,
            entropy: None,
            approx_kl: None,
            explained_variance: None,
        }
    }

    /// The learned adversary's row, `episodes` trained, `stats` its
    /// learner's mean since the last row.
    pub fn trained(mut self, episodes: u64, stats: Option<Stats>) -> Self {
        self.train_episodes = Some(episodes);
        if let Some(st) = stats {
            self.mean_return = Some(st.mean_return);
            self.entropy = Some(st.entropy);
            self.approx_kl = Some(st.approx_kl);
            self.explained_variance = Some(st.explained_variance).filter(|x| x.is_finite());
        }
        self
    }

    /// The row in a line.
    pub fn line(&self) -> String {
        let rounds = self.mean_rounds.map_or("-".into(), |r| {
            format!("{r:.1} (max {})", self.max_rounds.unwrap_or(0))
        });
        let name = match self.train_episodes {
            Some(e) => format!("{} @{e}", self.adversary),
            None => self.adversary.clone(),
        };
        format!(
            "{:<20} stalled {}/{} = {:.3} [{:.3}, {:.3}]  rounds to decide {rounds}  \
             safety violated {}/{} [{:.3}, {:.3}]",
            name,
            self.stalled,
            self.eval_episodes,
            self.stalled_rate,
            self.stalled_low,
            self.stalled_high,
            self.violations,
            self.eval_episodes,
            self.violation_low,
            self.violation_high
        ) + &match (self.mean_violation_round, self.violation_round_low) {
            (Some(m), Some(lo)) => format!(
                " at round {m:.1} [{lo:.1}, {:.1}]",
                self.violation_round_high.unwrap_or(m)
            ),
            (Some(m), None) => format!(" at round {m:.1}"),
            _ => String::new(),
        }
    }
}

/// Reads a Snowball `metrics.csv`.
pub fn read(path: &Path) -> anyhow::Result<Vec<SnowballRow>> {
    crate::export::read_csv(path)
}

/// Snowball as the runner plays it: the scripted (and frozen) rows, and a
/// learning Byzantine team's training.
pub struct SnowballRun<'a> {
    job: &'a SnowballJob,
    learner: Option<Learner>,
}

impl<'a> SnowballRun<'a> {
    pub fn new(job: &'a SnowballJob) -> anyhow::Result<Self> {
        let exp = &job.exp;
        let learner = match exp.byzantine.kind {
            Kind::Learned => {
                // The network's first weights: the run's stream 3.
                let mut init = stream(exp.seed, 3);
                let mut l = Learner::new(VIEW, 1, &exp.byzantine.learn, &mut init)?;
                if let Some(path) = &exp.byzantine.checkpoint {
                    let c = agents::checkpoint::load(path).map_err(anyhow::Error::msg)?;
                    c.into_learner(&mut l).map_err(|e| {
                        anyhow::anyhow!("byzantine.checkpoint = {}: {e}", path.display())
                    })?;
                }
                Some(l)
            }
            _ => None,
        };
        Ok(SnowballRun { job, learner })
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
        self.learner.is_some()
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
        for player in &job.adversaries {
            let started = Instant::now();
            let episodes = job.exp.eval.episodes;
            let summary = player.sample(&job.spec, seed, episodes, job.exp.eval.batch);
            let secs = started.elapsed().as_secs_f64();
            timing.push(TimingRow {
                run: job.name().into(),
                stage: format!("eval {}", player.name()),
                seconds: secs,
                episodes_per_second: Some(episodes as f64 / secs.max(1e-9)),
                episodes: Some(episodes),
            });
            let row = SnowballRow::new(&job.spec, player.name(), seed, &summary);
            say(row.line());
            rows.push(row);
        }
        Ok(rows)
    }

    fn learner(&self, side: Side) -> Option<&Learner> {
        self.learner.as_ref().filter(|_| side == Side::Byzantine)
    }

    fn learner_mut(&mut self, side: Side) -> Option<&mut Learner> {
        self.learner.as_mut().filter(|_| side == Side::Byzantine)
    }

    fn network(&self, _side: Side) -> Network {
        Network {
            obs_dim: VIEW,
            heads: 1,
            rounds: 0,
        }
    }

    fn epoch(
        &mut self,
        _at: &At,
        play: &mut ChaCha8Rng,
        update: &mut ChaCha8Rng,
    ) -> anyhow::Result<Played> {
        let job = self.job;
        let learner = self.learner.as_mut().expect("a learning team");
        let len = job.exp.train.batch;
        let seed = play.random::<u64>();
        let cfg = job.exp.snowball.clone().unwrap_or_default();
        let (stats, _) = learned::train_batch(
            &job.train_spec,
            learner,
            cfg.tracked,
            cfg.balance_weight,
            seed,
            len,
            play,
            update,
        )?;
        Ok(Played {
            episodes: len as u64,
            honest: None,
            byzantine: Some(stats),
        })
    }

    fn evaluate(
        &mut self,
        at: &At,
        learned: &Learned,
        _out: &Path,
        _say: &dyn Fn(String),
        timing: &mut Timing,
    ) -> anyhow::Result<SnowballRow> {
        let job = self.job;
        let learner = self.learner.as_ref().expect("a learning team");
        let player = Player::Network(Box::new(learner.actor()?));
        let seed = job.episodes_seed();
        let episodes = job.exp.eval.episodes;
        let started = Instant::now();
        let summary = player.sample(&job.spec, seed, episodes, job.exp.eval.batch);
        let secs = started.elapsed().as_secs_f64();
        timing.push(TimingRow {
            run: job.name().into(),
            stage: format!("eval learned @{}", at.episodes),
            seconds: secs,
            episodes_per_second: Some(episodes as f64 / secs.max(1e-9)),
            episodes: Some(episodes),
        });
        let row = SnowballRow::new(&job.spec, player.name(), seed, &summary);
        Ok(row.trained(at.episodes, learned.byzantine.mean()))
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
