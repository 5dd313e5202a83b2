//! The sampling game of Avalanche (Team Rocket et al.): every honest node
//! holds a colour; each round the environment samples `k` other nodes for
//! each undecided honest node and shows it how many answered 0 and how many
//! 1; the node then holds a colour (keeps sampling) or commits its current
//! one. Byzantine nodes answer each query as their policy chooses (or not at
//! all). Decided nodes still answer with their decided colour. The outcome is
//! the agreement game's: agreement, validity on the initial colours,
//! termination within the round cap.

pub mod exact;
pub mod snowball;
use crate::consensus::batch::instance_for;
use crate::consensus::comm::{outcome_for, Outcome};
use crate::consensus::rules::{bits, Episode};
use crate::consensus::spec::{ConfigError, EnvConfig, NONE};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The `[slush]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SlushConfig {
    /// Nodes sampled per query.
    pub k: usize,
    /// Answers of one colour that make Slush adopt it.
    pub alpha: usize,
    /// Snowflake: consecutive successful queries before it commits.
    pub beta: usize,
    /// Rounds: every node commits by the last.
    pub rounds: u8,
    /// Train on the evaluated split only (`env.ones`); by default training
    /// draws every split, so that validity binds: on one fixed split a
    /// constant colour never disagrees (though it still fails validity only
    /// on unanimous inputs of the other colour, 1 in 2^h of uniform inputs).
    pub train_split: bool,
    /// What a learned Byzantine team is paid for, and what its attack rate
    /// counts. Left out of a written config at its default, so that configs
    /// written before it existed keep their bytes.
    #[serde(skip_serializing_if = "AttackGoal::is_default")]
    pub attack_goal: AttackGoal,
}

/// What the Byzantine answerers of the sampling game try to cause: the two
/// figures of the exact optimal adversary (`exact::Goal`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AttackGoal {
    /// Two honest nodes decide different colours (agreement fails).
    #[default]
    Disagreement,
    /// Not every honest node decides the initial honest majority (the
    /// complement of the runner's majority count).
    Majority,
    /// Agreement, validity or termination fails: what a user of Avalanche
    /// calls incorrect (the complement of the engine's honest win).
    Correctness,
}

impl AttackGoal {
    fn is_default(&self) -> bool {
        *self == AttackGoal::default()
    }

    pub fn name(&self) -> &'static str {
        match self {
            AttackGoal::Disagreement => "disagreement",
            AttackGoal::Majority => "majority",
            AttackGoal::Correctness => "correctness",
        }
    }
}

impl Default for SlushConfig {
    fn default() -> Self {
        SlushConfig {
            k: 3,
            alpha: 2,
            beta: 3,
            rounds: 8,
            train_split: false,
            attack_goal: AttackGoal::Disagreement,
        }
    }
}

/// Honest actions: hold colour 0, hold colour 1 (both keep sampling), commit.
pub const HOLD0: u8 = 0;
pub const HOLD1: u8 = 1;
pub const COMMIT: u8 = 2;

/// A configured sampling game.
#[derive(Clone, Debug)]
pub struct SlushSpec {
    pub n: usize,
    pub f: usize,
    pub k: usize,
    pub alpha: usize,
    pub beta: usize,
    pub rounds: u8,
    pub byzantine_ids: Option<u32>,
    pub ones: Option<usize>,
    pub attack_goal: AttackGoal,
}

impl SlushSpec {
    pub fn new(env: &EnvConfig, cfg: &SlushConfig) -> Result<SlushSpec, ConfigError> {
        let n = env.n;
        if !(2..=32).contains(&n) {
            return Err(ConfigError::new(
                "env.n",
                n,
                "the sampling game needs 2 to 32 agents",
            ));
        }
        if env.f >= n {
            return Err(ConfigError::new(
                "env.f",
                env.f,
                format!("needs f < n = {n}: at least one agent must be honest"),
            ));
        }
        if cfg.k == 0 || cfg.k > n - 1 {
            return Err(ConfigError::new(
                "slush.k",
                cfg.k,
                format!(
                    "a node samples k of the other n - 1 = {} agents, at least 1",
                    n - 1
                ),
            ));
        }
        if cfg.alpha == 0 || cfg.alpha > cfg.k {
            return Err(ConfigError::new(
                "slush.alpha",
                cfg.alpha,
                format!("needs 1 <= alpha <= k = {}", cfg.k),
            ));
        }
        if cfg.beta == 0 {
            return Err(ConfigError::new(
                "slush.beta",
                0,
                "needs at least 1 successful query",
            ));
        }
        // Snowflake's counter gains at most one a round and a game has at
        // most 64: a larger beta is never reached, and its one-hot counter
        // in the Byzantine observation overflowed the sizes (issue 26).
        if cfg.beta > 64 {
            return Err(ConfigError::new(
                "slush.beta",
                cfg.beta,
                "needs 1 to 64 successful queries in a row (a game has at most 64 rounds)",
            ));
        }
        if cfg.rounds == 0 || cfg.rounds > 64 {
            return Err(ConfigError::new(
                "slush.rounds",
                cfg.rounds,
                "needs 1 to 64 rounds",
            ));
        }
        if let Some(ones) = env.ones {
            if ones > n - env.f {
                return Err(ConfigError::new(
                    "env.ones",
                    ones,
                    format!("there are only {} honest agents", n - env.f),
                ));
            }
        }
        let byzantine_ids = match &env.byzantine_ids {
            None => None,
            Some(ids) => {
                let mask = ids
                    .iter()
                    .filter(|&&i| i < n)
                    .fold(0u32, |m, &i| m | 1 << i);
                if ids.len() != env.f || mask.count_ones() as usize != env.f {
                    return Err(ConfigError::new(
                        "env.byzantine_ids",
                        format!("{ids:?}"),
                        format!("needs {} distinct ids below n = {n}", env.f),
                    ));
                }
                Some(mask)
            }
        };
        Ok(SlushSpec {
            n,
            f: env.f,
            k: cfg.k,
            alpha: cfg.alpha,
            beta: cfg.beta,
            rounds: cfg.rounds,
            byzantine_ids,
            ones: env.ones,
            attack_goal: cfg.attack_goal,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "slush n={} f={} k={} alpha={} beta={} rounds={}",
            self.n, self.f, self.k, self.alpha, self.beta, self.rounds
        )
    }

    /// Width of the honest observation: own colour (2), round (R), and this
    /// round's answers: how many 0s (`0..=k`) and how many 1s (`0..=k`), one-hot.
    pub fn obs_size(&self) -> usize {
        2 + self.rounds as usize + 2 * (self.k + 1)
    }

    /// The Byzantine team's action: per Byzantine ordinal and querier id, the
    /// colour it answers (0, 1, or [`NONE`]: no answer).
    pub fn byz_action_len(&self) -> usize {
        self.f * self.n
    }

    /// Width of what a Byzantine node sees when it answers one query: the
    /// round (R), every node's state by id (Byzantine, undecided on 0 or 1,
    /// decided 0 or 1: 5; and its Snowflake counter `0..=beta`, one-hot,
    /// zero for a rule that keeps none), who is asking (n), who answers (n).
    /// Not the samples: see [`SlushEnv::encode_query`].
    pub fn byz_obs_size(&self) -> usize {
        self.rounds as usize + self.n * (NODE_STATES + self.beta + 1) + 2 * self.n
    }
}

/// Per node in a Byzantine observation: Byzantine, undecided 0, undecided 1,
/// decided 0, decided 1.
const NODE_STATES: usize = 5;

/// A query a Byzantine node received this round: who answers, who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub episode: usize,
    /// The Byzantine node's ordinal among the episode's Byzantine nodes.
    pub ordinal: usize,
    pub byzantine: usize,
    pub querier: usize,
}

/// Many episodes of the sampling game, in lockstep.
pub struct SlushEnv {
    pub spec: SlushSpec,
    round: u8,
    eps: Vec<Episode>,
    /// Current colour of every agent (Byzantine: unused).
    colours: Vec<u8>,
    /// This round's sample: `k` peer ids per agent.
    samples: Vec<u8>,
    /// This round's answers seen: (0s, 1s) per agent.
    counts: Vec<[u8; 2]>,
}

impl SlushEnv {
    pub fn new(spec: SlushSpec, len: usize) -> SlushEnv {
        let n = spec.n;
        SlushEnv {
            round: 1,
            eps: vec![
                Episode::new(crate::consensus::rules::Instance {
                    byzantine: 0,
                    inputs: 0,
                    sender: 0,
                });
                len
            ],
            colours: vec![0; len * n],
            samples: vec![0; len * n * spec.k],
            counts: vec![[0; 2]; len * n],
            spec,
        }
    }

    pub fn len(&self) -> usize {
        self.eps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.eps.is_empty()
    }

    pub fn round(&self) -> u8 {
        self.round
    }

    pub fn episode(&self, e: usize) -> &Episode {
        &self.eps[e]
    }

    pub fn colour(&self, e: usize, i: usize) -> u8 {
        self.colours[e * self.spec.n + i]
    }

    /// The answers agent `i` saw this round: (0s, 1s).
    pub fn counts(&self, e: usize, i: usize) -> [u8; 2] {
        self.counts[e * self.spec.n + i]
    }

    /// The peers agent `i` sampled this round.
    pub fn sample(&self, e: usize, i: usize) -> &[u8] {
        &self.samples[(e * self.spec.n + i) * self.spec.k..][..self.spec.k]
    }

    /// Honest agents of episode `e` that act this round.
    pub fn acting(&self, e: usize) -> u32 {
        if self.round > self.spec.rounds {
            0
        } else {
            self.eps[e].undecided_of(self.spec.n)
        }
    }

    /// New episodes: placements and initial colours as the agreement game draws them.
    pub fn reset(&mut self, rng: &mut ChaCha8Rng) {
        let s = &self.spec;
        for e in 0..self.eps.len() {
            let inst = instance_for(s.n, s.f, s.byzantine_ids, s.ones, false, rng);
            self.eps[e] = Episode::new(inst);
            for i in 0..s.n {
                self.colours[e * s.n + i] = (inst.inputs >> i & 1) as u8;
            }
        }
        self.round = 1;
    }

    /// Draws this round's samples: `k` distinct other agents for each acting agent.
    pub fn draw(&mut self, rng: &mut ChaCha8Rng) {
        let (n, k) = (self.spec.n, self.spec.k);
        let mut ids = [0u8; 32];
        for e in 0..self.eps.len() {
            for i in bits(self.acting(e)) {
                let mut len = 0;
                for j in (0..n).filter(|&j| j != i) {
                    ids[len] = j as u8;
                    len += 1;
                }
                for t in 0..k {
                    let j = rng.random_range(t..len);
                    ids.swap(t, j);
                }
                self.samples[(e * n + i) * k..][..k].copy_from_slice(&ids[..k]);
            }
        }
    }

    /// Collects the answers to this round's samples: honest peers answer
    /// their colour, Byzantine peers what `byz[e * f * n + bo * n + i]` says.
    pub fn answer(&mut self, byz: &[u8]) {
        let s = &self.spec;
        let (n, k) = (s.n, s.k);
        let a = s.byz_action_len();
        for e in 0..self.eps.len() {
            let ep = self.eps[e];
            let ordinal: Vec<usize> = (0..n)
                .map(|j| (ep.byzantine & ((1u32 << j) - 1)).count_ones() as usize)
                .collect();
            for i in bits(self.acting(e)) {
                let mut c = [0u8; 2];
                for &j in &self.samples[(e * n + i) * k..][..k] {
                    let j = j as usize;
                    let v = if ep.is_byzantine(j) {
                        byz[e * a + ordinal[j] * n + i]
                    } else {
                        self.colours[e * n + j]
                    };
                    if v < NONE {
                        c[v as usize] += 1;
                    }
                }
                self.counts[e * n + i] = c;
            }
        }
    }

    /// Every query a Byzantine node received this round, in a fixed order
    /// (episode, querier, position in its sample): a node that did not sample
    /// a Byzantine node asked it nothing, and its answer would not count.
    pub fn queries(&self, out: &mut Vec<Query>) {
        out.clear();
        let (n, k) = (self.spec.n, self.spec.k);
        for e in 0..self.eps.len() {
            let ep = &self.eps[e];
            for i in bits(self.acting(e)) {
                for &j in &self.samples[(e * n + i) * k..][..k] {
                    let j = j as usize;
                    if ep.is_byzantine(j) {
                        let ordinal = (ep.byzantine & ((1u32 << j) - 1)).count_ones() as usize;
                        out.push(Query {
                            episode: e,
                            ordinal,
                            byzantine: j,
                            querier: i,
                        });
                    }
                }
            }
        }
    }

    /// What the Byzantine node of `q` sees when it answers (see
    /// [`SlushSpec::byz_obs_size`]): the whole state but the samples, so the
    /// exact optimum of an answerer with this sight is `exact`'s
    /// `Sight::Querier`. `counter(e, i)` is honest node `i`'s Snowflake
    /// counter (0 for a rule without one).
    pub fn encode_query(&self, q: Query, counter: &dyn Fn(usize, usize) -> u8, out: &mut [f32]) {
        let s = &self.spec;
        let (n, e) = (s.n, q.episode);
        out.fill(0.0);
        out[self.round.min(s.rounds) as usize - 1] = 1.0;
        let per = NODE_STATES + s.beta + 1;
        let ep = &self.eps[e];
        for j in 0..n {
            let base = s.rounds as usize + j * per;
            let state = if ep.is_byzantine(j) {
                0
            } else if ep.decided >> j & 1 == 1 {
                3 + (ep.values >> j & 1) as usize
            } else {
                1 + self.colour(e, j) as usize
            };
            out[base + state] = 1.0;
            if !ep.is_byzantine(j) {
                let c = (counter(e, j) as usize).min(s.beta);
                out[base + NODE_STATES + c] = 1.0;
            }
        }
        let base = s.rounds as usize + n * per;
        out[base + q.querier] = 1.0;
        out[base + n + q.byzantine] = 1.0;
    }

    /// Whether every honest node of episode `e` decided the initial honest
    /// majority (never on a tied split, which has none).
    pub fn decided_majority(&self, e: usize) -> bool {
        let n = self.spec.n;
        let ep = &self.eps[e];
        let honest = crate::consensus::rules::all(n) & !ep.byzantine;
        let ones = (ep.inputs & honest).count_ones();
        let zeros = honest.count_ones() - ones;
        let want = if ones > zeros { honest } else { 0 };
        ones != zeros && ep.decided & honest == honest && ep.values & honest == want
    }

    /// Whether the Byzantine team reached `goal` in episode `e`.
    pub fn attack_succeeded(&self, e: usize, goal: AttackGoal) -> bool {
        match goal {
            AttackGoal::Disagreement => !self.outcome(e).agreement,
            AttackGoal::Majority => !self.decided_majority(e),
            AttackGoal::Correctness => !self.outcome(e).honest_wins(),
        }
    }

    /// Which honest actions are legal now: holding is masked in the last round.
    pub fn honest_mask(&self) -> u8 {
        if self.round < self.spec.rounds {
            0b111
        } else {
            1 << COMMIT
        }
    }

    /// The honest observation of agent `i` (see [`SlushSpec::obs_size`]).
    pub fn encode(&self, e: usize, i: usize, out: &mut [f32]) {
        let s = &self.spec;
        out.fill(0.0);
        out[self.colour(e, i) as usize] = 1.0;
        out[2 + self.round as usize - 1] = 1.0;
        let base = 2 + s.rounds as usize;
        let [z, o] = self.counts(e, i);
        out[base + z as usize] = 1.0;
        out[base + s.k + 1 + o as usize] = 1.0;
    }

    /// Applies the honest actions (`honest[e * n + i]`) and ends the round.
    pub fn step(&mut self, honest: &[u8]) {
        let (n, r) = (self.spec.n, self.round);
        for e in 0..self.eps.len() {
            let acting = self.acting(e);
            let ep = &mut self.eps[e];
            for i in bits(acting) {
                match honest[e * n + i] {
                    COMMIT => {
                        ep.commit(i, self.colours[e * n + i], r);
                    }
                    c if r < self.spec.rounds => self.colours[e * n + i] = c.min(1),
                    // Holding in the last round is not a decision: no termination.
                    _ => {}
                }
            }
        }
        self.round += 1;
    }

    pub fn done(&self) -> bool {
        self.round > self.spec.rounds || (0..self.eps.len()).all(|e| self.acting(e) == 0)
    }

    pub fn outcome(&self, e: usize) -> Outcome {
        outcome_for(self.spec.n, &self.eps[e])
    }
}

/// A scripted honest rule of the sampling game. Rules may keep per-node
/// state, reset with the episodes.
pub trait SlushRule: Send {
    fn name(&self) -> String;
    fn reset(&mut self, len: usize, n: usize);
    /// The action of agent `i` of episode `e` this round.
    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8;
    /// Agent `i`'s counter of consecutive successful queries, as a Byzantine
    /// answerer that sees the whole state reads it; 0 for a rule with none.
    fn counter(&self, _e: usize, _i: usize) -> u8 {
        0
    }
}

/// Slush: adopt a colour that at least `alpha` of the `k` sampled answered;
/// commit in the last round.
pub struct Slush;

impl SlushRule for Slush {
    fn name(&self) -> String {
        "slush".into()
    }
    fn reset(&mut self, _: usize, _: usize) {}
    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
        if env.round() >= env.spec.rounds {
            return COMMIT;
        }
        let own = env.colour(e, i);
        let c = env.counts(e, i);
        let other = 1 - own;
        if c[other as usize] as usize >= env.spec.alpha {
            other
        } else {
            own
        }
    }
}

/// Snowflake: Slush with a counter of consecutive successful queries for the
/// current colour; commit once it reaches `beta` (or in the last round).
#[derive(Default)]
pub struct Snowflake {
    counter: Vec<u8>,
    n: usize,
}

impl SlushRule for Snowflake {
    fn name(&self) -> String {
        "snowflake".into()
    }
    fn reset(&mut self, len: usize, n: usize) {
        self.counter = vec![0; len * n];
        self.n = n;
    }
    fn counter(&self, e: usize, i: usize) -> u8 {
        self.counter[e * self.n + i]
    }
    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
        if env.round() >= env.spec.rounds {
            return COMMIT;
        }
        let own = env.colour(e, i);
        let c = env.counts(e, i);
        let alpha = env.spec.alpha;
        let cnt = &mut self.counter[e * self.n + i];
        let mut colour = own;
        if c[1 - own as usize] as usize >= alpha {
            colour = 1 - own;
            *cnt = 1;
        } else if c[own as usize] as usize >= alpha {
            *cnt += 1;
        } else {
            *cnt = 0;
        }
        // A commit fixes the colour held: a fresh adoption commits a round later.
        if *cnt as usize >= env.spec.beta && colour == own {
            COMMIT
        } else {
            colour
        }
    }
}

/// The protocols a reader thinks of before any sampling, as scripted
/// rules: baselines that every sampling protocol should be scored beside.
/// Each is stateless (its action depends on the round, the node's colour
/// and its counts only), and like Slush each commits in the last round
/// whatever it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trivial {
    /// Always decide this colour, whatever the inputs and answers: a node
    /// holding it commits in round 1, the others hold it in round 1 and
    /// commit in round 2.
    Always(u8),
    /// Commit one's own input in round 1, before hearing anyone.
    OwnInput,
    /// Sample once: hold the colour most of the round-1 answers gave (one's
    /// own on a tie, silence included), commit it in round 2.
    FirstSample,
}

/// Names of the trivial protocols ([`Trivial::parse`]).
pub const TRIVIAL: &[&str] = &["always0", "always1", "own_input", "first_sample"];

impl Trivial {
    pub fn parse(name: &str) -> Option<Trivial> {
        match name {
            "always0" => Some(Trivial::Always(0)),
            "always1" => Some(Trivial::Always(1)),
            "own_input" => Some(Trivial::OwnInput),
            "first_sample" => Some(Trivial::FirstSample),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Trivial::Always(0) => "always0",
            Trivial::Always(_) => "always1",
            Trivial::OwnInput => "own_input",
            Trivial::FirstSample => "first_sample",
        }
    }

    /// The action in `round` (of `rounds`) of a node holding `colour` whose
    /// sample answered `[0s, 1s]`.
    pub fn action(&self, round: u8, rounds: u8, colour: u8, [z, o]: [usize; 2]) -> u8 {
        if round >= rounds {
            return COMMIT;
        }
        match *self {
            Trivial::Always(c) if colour == c => COMMIT,
            Trivial::Always(c) => c,
            Trivial::OwnInput => COMMIT,
            Trivial::FirstSample if round > 1 => COMMIT,
            Trivial::FirstSample => match z.cmp(&o) {
                std::cmp::Ordering::Greater => HOLD0,
                std::cmp::Ordering::Less => HOLD1,
                std::cmp::Ordering::Equal => colour,
            },
        }
    }
}

impl SlushRule for Trivial {
    fn name(&self) -> String {
        Trivial::name(self).into()
    }
    fn reset(&mut self, _: usize, _: usize) {}
    fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
        let [z, o] = env.counts(e, i);
        self.action(
            env.round(),
            env.spec.rounds,
            env.colour(e, i),
            [z as usize, o as usize],
        )
    }
}

/// Scripted Byzantine answerers of the sampling game.
pub fn adversary_answers(name: &str, env: &SlushEnv, rng: &mut ChaCha8Rng, out: &mut [u8]) -> bool {
    let s = &env.spec;
    let a = s.byz_action_len();
    for e in 0..env.len() {
        let ep = env.episode(e);
        for (bo, _) in ep.byzantine_ids().enumerate() {
            for i in bits(env.acting(e)) {
                out[e * a + bo * s.n + i] = match name {
                    "silent" => NONE,
                    "random" => rng.random_range(0..2u8),
                    // Keep the split alive: tell every querier the colour it does not hold.
                    "contrarian" => 1 - env.colour(e, i),
                    _ => return false,
                };
            }
        }
    }
    true
}

/// Names of the scripted Byzantine answerers.
pub const ADVERSARIES: &[&str] = &["silent", "random", "contrarian"];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn env(f: usize, ones: Option<usize>, len: usize) -> SlushEnv {
        let cfg = EnvConfig {
            n: 5,
            f,
            ones,
            ..EnvConfig::default()
        };
        SlushEnv::new(SlushSpec::new(&cfg, &SlushConfig::default()).unwrap(), len)
    }

    #[test]
    fn samples_are_k_distinct_others() {
        let mut e = env(0, None, 64);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        e.reset(&mut rng);
        e.draw(&mut rng);
        for ep in 0..64 {
            for i in 0..5 {
                let s = e.sample(ep, i);
                assert_eq!(s.len(), 3);
                assert!(s.iter().all(|&j| j as usize != i && (j as usize) < 5));
                assert!(s[0] != s[1] && s[1] != s[2] && s[0] != s[2]);
            }
        }
    }

    #[test]
    fn answers_count_honest_colours_and_byzantine_choices() {
        let mut e = env(1, Some(2), 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        e.reset(&mut rng);
        e.draw(&mut rng);
        let ep = *e.episode(0);
        let mut byz = vec![NONE; e.spec.byz_action_len()];
        assert!(adversary_answers("contrarian", &e, &mut rng, &mut byz));
        e.answer(&byz);
        for i in bits(e.acting(0)) {
            let mut want = [0u8; 2];
            for &j in e.sample(0, i) {
                let c = if ep.is_byzantine(j as usize) {
                    1 - e.colour(0, i)
                } else {
                    e.colour(0, j as usize)
                };
                want[c as usize] += 1;
            }
            assert_eq!(e.counts(0, i), want);
        }
    }

    #[test]
    fn byzantine_nodes_answer_the_queries_they_received_seeing_all_but_samples() {
        let mut e = env(2, None, 32);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        e.reset(&mut rng);
        e.draw(&mut rng);
        let mut qs = vec![];
        e.queries(&mut qs);
        let mut want = 0;
        for ep in 0..32 {
            for i in bits(e.acting(ep)) {
                want += e
                    .sample(ep, i)
                    .iter()
                    .filter(|&&j| e.episode(ep).is_byzantine(j as usize))
                    .count();
            }
        }
        assert_eq!(qs.len(), want);
        let d = e.spec.byz_obs_size();
        let mut obs = vec![0.0; d];
        for q in &qs {
            let ep = e.episode(q.episode);
            assert!(ep.is_byzantine(q.byzantine) && !ep.is_byzantine(q.querier));
            assert!(e
                .sample(q.episode, q.querier)
                .contains(&(q.byzantine as u8)));
            let ids: Vec<usize> = ep.byzantine_ids().collect();
            assert_eq!(ids[q.ordinal], q.byzantine);
            e.encode_query(*q, &|_, _| 1, &mut obs);
            // Round, 5 nodes' states, 3 honest counters, querier, answerer.
            assert_eq!(obs.iter().sum::<f32>(), 1.0 + 5.0 + 3.0 + 2.0);
            let per = 5 + e.spec.beta + 1;
            let node = |j: usize| &obs[e.spec.rounds as usize + j * per..][..per];
            assert_eq!(node(q.byzantine)[0], 1.0);
            assert_eq!(
                node(q.querier)[1 + e.colour(q.episode, q.querier) as usize],
                1.0
            );
            assert_eq!(node(q.querier)[5 + 1], 1.0);
        }
    }

    #[test]
    fn slush_keeps_a_unanimous_colour_and_commits_in_the_last_round() {
        let mut e = env(0, Some(5), 16);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        e.reset(&mut rng);
        let mut rule = Slush;
        while !e.done() {
            e.draw(&mut rng);
            e.answer(&[]);
            let acts: Vec<u8> = (0..16 * 5).map(|k| rule.act(&e, k / 5, k % 5)).collect();
            e.step(&acts);
        }
        for ep in 0..16 {
            assert!(e.outcome(ep).honest_wins());
            assert_eq!(e.episode(ep).values, 0b11111);
            assert_eq!(
                e.episode(ep).decided_round[0],
                SlushConfig::default().rounds
            );
        }
    }

    #[test]
    fn impossible_settings_name_their_key() {
        let cfg = EnvConfig {
            n: 4,
            f: 0,
            ..EnvConfig::default()
        };
        let bad = |s: SlushConfig| SlushSpec::new(&cfg, &s).unwrap_err();
        let e = bad(SlushConfig {
            k: 4,
            ..SlushConfig::default()
        });
        assert_eq!(
            e.to_string(),
            "slush.k = 4: a node samples k of the other n - 1 = 3 agents, at least 1"
        );
        assert_eq!(
            bad(SlushConfig {
                alpha: 4,
                ..SlushConfig::default()
            })
            .key,
            "slush.alpha"
        );
        assert_eq!(
            bad(SlushConfig {
                rounds: 0,
                ..SlushConfig::default()
            })
            .key,
            "slush.rounds"
        );
        assert_eq!(
            bad(SlushConfig {
                beta: 0,
                ..SlushConfig::default()
            })
            .key,
            "slush.beta"
        );
    }
}
