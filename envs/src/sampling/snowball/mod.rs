//! Snowball at Avalanche's size (issue 30): `n` nodes up to the thousands,
//! `f` of them Byzantine, every undecided honest node sampling `k` of the
//! other `n - 1` each round, as Kniep, Laval, Sliwinski and Wattenhofer
//! simulate it ("Quantifying Liveness and Safety of Avalanche's Snowball",
//! ESORICS 2024, arXiv 2409.02217).
//!
//! The rule is avalanchego's binary Snowball (`RecordPoll`): a poll whose
//! larger colour `c` has at least `alpha_preference` votes adds one to the
//! confidence counter `d[c]`, and the node prefers `c` once `d[c]` passes the
//! other counter; if it also has `alpha_confidence` votes, the streak of
//! `c` grows by one (or restarts at 1 when the last successful colour was
//! the other); any weaker poll ends the streak. A node decides the streak's
//! colour when the streak reaches `beta`, then stops sampling and answers
//! with that colour.
//!
//! Rounds are synchronous: every answer of a round is the answerer's
//! preference at the start of the round. A query's `k` peers are drawn
//! uniformly without replacement from the other `n - 1` nodes; since honest
//! nodes answer their preference and the Byzantine nodes of one query
//! answer alike (`adversary`), the draw is of how many peers of each kind
//! (preferring 0, preferring 1, Byzantine) the sample holds: a
//! multivariate hypergeometric draw, the same law as drawing the nodes.
//!
//! Nodes are exchangeable, so an episode starts with its first `ones`
//! honest nodes preferring 1 and the rest 0. Every draw of an episode comes
//! from its own ChaCha stream, so a batch gives the same bytes on any
//! number of threads (`batch`).

pub mod adversary;
pub mod batch;
pub mod query;

pub use adversary::{Adversary, ADVERSARIES};
pub use batch::{play, sample, Batch, Node, Outcome, Summary, Tally};
pub use query::{Query, VIEW};

use crate::consensus::spec::ConfigError;
use serde::{Deserialize, Serialize};

/// The largest `env.n` the game takes (the issue asks for 3,000).
pub const MAX_N: usize = 100_000;
/// The largest round cap.
pub const MAX_ROUNDS: u32 = 1_000_000;

/// The `[snowball]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SnowballConfig {
    /// Peers sampled per query.
    pub k: usize,
    /// Votes of one colour that make a poll count for the node's confidence
    /// counters (and its preference); more than k / 2, so one colour at most.
    pub alpha_preference: usize,
    /// Votes of one colour that extend the streak (at least
    /// `alpha_preference`).
    pub alpha_confidence: usize,
    /// Consecutive successful polls of one colour that decide it.
    pub beta: usize,
    /// The round cap: an episode with an undecided honest node after it
    /// counts as stalled (liveness lost).
    pub rounds: u32,
    /// Honest nodes preferring 1 at the start; absent: half of them
    /// (rounded down), the split a liveness attack starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ones: Option<usize>,
    /// When the Byzantine team learns: honest nodes per training episode
    /// whose queries are recorded for the update (every query is answered
    /// by the network; these are a sample of its decisions).
    pub tracked: usize,
    /// When the Byzantine team learns: the round cap of training episodes
    /// (absent: `rounds`). Evaluation rows always play `rounds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_rounds: Option<u32>,
    /// When the Byzantine team learns: the reward for a recorded query
    /// whose node switched its preference to the colour fewer honest nodes
    /// preferred (minus it, to the colour more preferred): its part in the
    /// network's balance (`src/games/snowball/learned.rs`).
    pub balance_weight: f32,
    /// The safety attack (`eval.adversaries = ["safety"]`): the share of
    /// the honest nodes in each of its two anchored groups, at most 0.5
    /// (`adversary::Adversary::Safety`).
    pub safety_pool: f64,
    /// The safety attack: the rounds it anchors its groups before tipping.
    pub safety_anchor_rounds: u32,
}

impl Default for SnowballConfig {
    /// Avalanche's parameters (k = 20, alpha = 15, beta = 20).
    fn default() -> Self {
        SnowballConfig {
            k: 20,
            alpha_preference: 15,
            alpha_confidence: 15,
            beta: 20,
            rounds: 2000,
            ones: None,
            tracked: 32,
            train_rounds: None,
            balance_weight: 1.0,
            safety_pool: adversary::POOL,
            safety_anchor_rounds: adversary::ANCHOR_ROUNDS,
        }
    }
}

/// A checked game: sizes and thresholds as the engine reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnowballSpec {
    /// Nodes.
    pub n: u32,
    /// Byzantine nodes.
    pub f: u32,
    /// Honest nodes, `n - f`.
    pub h: u32,
    pub k: u32,
    pub alpha_preference: u32,
    pub alpha_confidence: u32,
    pub beta: u32,
    pub rounds: u32,
    /// Honest nodes preferring 1 at the start.
    pub ones: u32,
    /// The safety attack: honest nodes in each anchored group, and the
    /// rounds it anchors them.
    pub safety_pool: u32,
    pub safety_anchor_rounds: u32,
}

impl SnowballSpec {
    /// Checks `n`, `f` (keys `env.n`, `env.f`) and the `[snowball]` table.
    pub fn new(n: usize, f: usize, cfg: &SnowballConfig) -> Result<SnowballSpec, ConfigError> {
        if !(2..=MAX_N).contains(&n) {
            return Err(ConfigError::new(
                "env.n",
                n,
                format!("Snowball takes 2 to {MAX_N} nodes"),
            ));
        }
        if f >= n {
            return Err(ConfigError::new(
                "env.f",
                f,
                format!("needs f < n = {n}: at least one node must be honest"),
            ));
        }
        let k = cfg.k;
        if k == 0 || k > n - 1 {
            return Err(ConfigError::new(
                "snowball.k",
                k,
                format!(
                    "a node samples k of the other n - 1 = {} nodes, at least 1",
                    n - 1
                ),
            ));
        }
        let ap = cfg.alpha_preference;
        if 2 * ap <= k || ap > k {
            return Err(ConfigError::new(
                "snowball.alpha_preference",
                ap,
                format!(
                    "needs k / 2 < alpha_preference <= k = {k}, so one colour at most wins a poll"
                ),
            ));
        }
        let ac = cfg.alpha_confidence;
        if ac < ap || ac > k {
            return Err(ConfigError::new(
                "snowball.alpha_confidence",
                ac,
                format!("needs alpha_preference = {ap} <= alpha_confidence <= k = {k}"),
            ));
        }
        if cfg.rounds == 0 || cfg.rounds > MAX_ROUNDS {
            return Err(ConfigError::new(
                "snowball.rounds",
                cfg.rounds,
                format!("needs 1 to {MAX_ROUNDS} rounds"),
            ));
        }
        if cfg.beta == 0 || cfg.beta > cfg.rounds as usize {
            return Err(ConfigError::new(
                "snowball.beta",
                cfg.beta,
                format!("needs 1 <= beta <= snowball.rounds = {}", cfg.rounds),
            ));
        }
        if cfg.tracked == 0 {
            return Err(ConfigError::new(
                "snowball.tracked",
                0,
                "needs at least 1 recorded node per training episode",
            ));
        }
        if let Some(r) = cfg.train_rounds.filter(|&r| r == 0 || r > MAX_ROUNDS) {
            return Err(ConfigError::new(
                "snowball.train_rounds",
                r,
                format!("needs 1 to {MAX_ROUNDS} rounds"),
            ));
        }
        if !(0.0..=1e3).contains(&cfg.balance_weight) {
            return Err(ConfigError::new(
                "snowball.balance_weight",
                cfg.balance_weight,
                "needs a weight in [0, 1000]",
            ));
        }
        if !(0.0..=0.5).contains(&cfg.safety_pool) {
            return Err(ConfigError::new(
                "snowball.safety_pool",
                cfg.safety_pool,
                "needs a share in [0, 0.5]: two groups of it are anchored",
            ));
        }
        if cfg.safety_anchor_rounds > MAX_ROUNDS {
            return Err(ConfigError::new(
                "snowball.safety_anchor_rounds",
                cfg.safety_anchor_rounds,
                format!("needs at most {MAX_ROUNDS} rounds"),
            ));
        }
        let h = n - f;
        let ones = cfg.ones.unwrap_or(h / 2);
        if ones > h {
            return Err(ConfigError::new(
                "snowball.ones",
                ones,
                format!("needs ones <= the n - f = {h} honest nodes"),
            ));
        }
        Ok(SnowballSpec {
            n: n as u32,
            f: f as u32,
            h: h as u32,
            k: k as u32,
            alpha_preference: ap as u32,
            alpha_confidence: ac as u32,
            beta: cfg.beta as u32,
            rounds: cfg.rounds,
            ones: ones as u32,
            safety_pool: (cfg.safety_pool * h as f64) as u32,
            safety_anchor_rounds: cfg.safety_anchor_rounds,
        })
    }

    /// The bytes a batch of `episodes` episodes holds: every honest node's
    /// state and each episode's stream and counters.
    pub fn batch_bytes(&self, episodes: usize) -> f64 {
        let nodes = std::mem::size_of::<Node>() as f64 * self.h as f64;
        episodes as f64 * (nodes + batch::EPISODE_BYTES as f64)
    }

    /// The game in a line.
    pub fn describe(&self) -> String {
        format!(
            "Snowball n={} f={} ({:.1}%) k={} alpha={}/{} beta={} cap {} rounds, start {}:{}",
            self.n,
            self.f,
            100.0 * self.f as f64 / self.n as f64,
            self.k,
            self.alpha_preference,
            self.alpha_confidence,
            self.beta,
            self.rounds,
            self.h - self.ones,
            self.ones
        )
    }
}
