//! The exact optimal adversary of the sampling game (`super`, the rules in `mod.rs`).
//!
//! For an honest rule whose next state depends only on the node's own state
//! (colour, and Snowflake's counter of consecutive successful queries), the
//! counts of 0s and 1s its sample answered, and the round, this computes by
//! backward induction the largest probability with which the Byzantine
//! nodes can (a) make two honest nodes decide different colours, (b)
//! stop every honest node from deciding the initial honest majority, and
//! (c) break correctness as a user of Avalanche means it: agreement,
//! termination or validity (the decided colour is one some honest node
//! started with, so the unanimous input when there is one).
//!
//! The model is the engine's game, exactly:
//! - each undecided honest node samples `k` distinct nodes among the other
//!   `n - 1` (Byzantine and decided ones included), every `k`-subset equally
//!   likely, independently of the other nodes (`SlushEnv::draw`);
//! - an honest node answers its current colour, a decided one its decided
//!   colour; a Byzantine node answers 0, 1 or nothing, per querier;
//! - the Byzantine answers are chosen after every sample of the round is
//!   drawn, by an adversary that sees the whole state (the engine calls the
//!   answerers after `draw`, with every sample in view): so the adversary
//!   answers every query knowing every sample of the round, the strongest
//!   information the engine allows. It also knows every Snowflake counter: with
//!   perfect recall it has seen every sample and answer that set them;
//! - all undecided nodes then act at once; holding colour `c` makes it the
//!   node's colour for the next round, committing decides the current one.
//!
//! Byzantine placement does not matter: sampling is uniform over the other
//! nodes, so a node's sample depends only on how many of the others hold
//! each colour and how many are Byzantine. Honest nodes in the same state
//! are interchangeable, so a configuration is the number of honest nodes in
//! each state, and the search runs over those multisets, not over ids.
//!
//! Within a round, what the adversary can do to a node is the set of states
//! the node can be moved to by some answers of its sampled Byzantine peers
//! (its *options*): each Byzantine peer it sampled answers 0, 1 or nothing,
//! so its counts are `(h0 + b0, h1 + b1)` for every `b0 + b1 <= m`. Only the
//! node's next state matters to the future, so the adversary's best answer
//! is a best choice of one option per node, jointly, after seeing every
//! node's sample. The value of a configuration is the expectation, over the
//! samples, of that maximum.
//!
//! One job a file: `rule` holds the honest rules as next-state functions,
//! `key` packs a configuration into a key, `samples` is the search of the
//! adversary that sees the round's samples and `blind` of the one that
//! sees only who asks ([`Sight`]), `figures` the goals and the figures
//! asked of the search, and `play` the optimal adversary's move, for
//! playing it in the engine. This file holds the solver and the backward
//! induction both sights share.

mod blind;
mod figures;
mod key;
mod play;
mod rule;
mod samples;
#[cfg(test)]
mod tests;

pub use figures::{Figures, Goal, Score};
pub use rule::{Node, Rule, Table};

use crate::sampling::SlushSpec;
use key::Key;
use std::collections::BTreeMap;

/// What the adversary sees when it answers a round's queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sight {
    /// Everything, the round's samples included: the engine calls its
    /// answerers after `draw`, so this is the strongest it allows.
    Samples,
    /// Every colour, counter, decision, the round and who is asking, but
    /// not the samples: a policy over (state, querier), as a Byzantine
    /// network that reads no samples plays. For Slush this is exact for
    /// such a policy; for Snowflake it is an upper bound, since such a
    /// policy sees no counters either.
    Querier,
}

/// The exact search for one setting and rule. Values are memoised per
/// (goal, round, configuration), so every split and both goals share work.
pub struct Solver {
    /// The game: sizes, sample size, thresholds and rounds.
    pub spec: SlushSpec,
    pub rule: Rule,
    /// What the adversary sees: the round's samples by default.
    pub sight: Sight,
    /// Honest nodes.
    h: usize,
    /// Counter values an undecided node can hold.
    counters: usize,
    /// Bits per state in a key.
    w: u32,
    /// `binom[a][b]` = C(a, b), as f64 (exact: small integers).
    binom: Vec<Vec<f64>>,
    memo: BTreeMap<(Goal, u8, Key), f64>,
    /// Configurations valued (memo entries), for the record.
    pub evaluated: u64,
    /// Joint choices weighed (the search's unit of work), and the most
    /// allowed: past it the search stops and [`Solver::exceeded`] says so
    /// (its figures are then meaningless).
    pub work: u64,
    pub max_work: u64,
}

impl Solver {
    /// The search for a configured game; an error if its states do not fit
    /// the search's key (`(2 + 2 (beta + 1))` states of `n - f` nodes in 128 bits).
    pub fn new(spec: &SlushSpec, rule: Rule) -> Result<Solver, String> {
        let h = spec.n - spec.f;
        if let Rule::Table(t) = &rule {
            if (t.k, t.rounds) != (spec.k, spec.rounds) {
                return Err(format!(
                    "the rule's table is for k = {} and {} rounds, the game has k = {} and {}",
                    t.k, t.rounds, spec.k, spec.rounds
                ));
            }
        }
        let counters = match rule {
            Rule::Slush | Rule::Table(_) | Rule::Trivial(_) => 1,
            // 0..=beta: with beta = 1 a fresh adoption holds counter 1 undecided.
            Rule::Snowflake => spec.beta + 1,
        };
        let w = usize::BITS - h.leading_zeros();
        let states = 2 + 2 * counters;
        if states * w as usize > Key::BITS as usize || counters > 256 {
            return Err(format!(
                "{states} node states of {h} honest nodes are beyond the exact search (lower beta or n)"
            ));
        }
        let top = spec.n.max(spec.k) + 1;
        let mut binom = vec![vec![0.0; top + 1]; top + 1];
        for a in 0..=top {
            binom[a][0] = 1.0;
            for b in 1..=a {
                binom[a][b] = binom[a - 1][b - 1] + binom[a - 1][b];
            }
        }
        Ok(Solver {
            spec: spec.clone(),
            rule,
            sight: Sight::Samples,
            h,
            counters,
            w,
            binom,
            memo: BTreeMap::new(),
            evaluated: 0,
            work: 0,
            max_work: u64::MAX,
        })
    }

    /// Honest nodes.
    pub fn honest(&self) -> usize {
        self.h
    }

    /// The search ran past `max_work` and stopped: its figures are void.
    pub fn exceeded(&self) -> bool {
        self.work > self.max_work
    }

    /// Probability that a node of colour `own`, among honest colour counts
    /// `hc` (itself included), samples `h0` honest 0s, `h1` honest 1s and `m`
    /// Byzantine nodes: its `k` of the other `n - 1`, uniformly.
    fn sample_prob(&self, own: u8, hc: [usize; 2], (h0, h1, m): (usize, usize, usize)) -> f64 {
        let a0 = hc[0] - (own == 0) as usize;
        let a1 = hc[1] - (own == 1) as usize;
        if h0 > a0 || h1 > a1 || m > self.spec.f {
            return 0.0;
        }
        self.binom[a0][h0] * self.binom[a1][h1] * self.binom[self.spec.f][m]
            / self.binom[self.spec.n - 1][self.spec.k]
    }

    /// Every sample composition `(h0, h1, m)` of `k` nodes, in a fixed order.
    fn compositions(&self) -> impl Iterator<Item = (usize, usize, usize)> {
        let k = self.spec.k;
        (0..=k).flat_map(move |h0| (0..=k - h0).map(move |h1| (h0, h1, k - h0 - h1)))
    }

    /// The adversary has already won (or can no longer lose): a value of 1
    /// whatever happens next. Decisions are final, so this is monotone.
    fn lost(&self, goal: Goal, key: Key) -> bool {
        match goal {
            Goal::Disagreement => self.count(key, 0) > 0 && self.count(key, 1) > 0,
            Goal::NotAll(v) => self.count(key, 1 - v as usize) > 0,
            Goal::Unsettled => self.count(key, 0) > 0 && self.count(key, 1) > 0,
        }
    }

    /// The value once the game is over (no undecided node, or past the cap).
    fn terminal(&self, goal: Goal, key: Key) -> f64 {
        match goal {
            Goal::Disagreement => 0.0,
            // Every honest node decided `v` (a node left undecided fails it).
            Goal::NotAll(v) => (self.count(key, v as usize) != self.h) as u8 as f64,
            // Some node left undecided at the cap (no two colours: `lost`).
            Goal::Unsettled => {
                (self.count(key, 0) != self.h && self.count(key, 1) != self.h) as u8 as f64
            }
        }
    }

    /// The largest probability of `goal` from configuration `key` at the
    /// start of round `round` (before its samples are drawn).
    fn value(&mut self, goal: Goal, round: u8, key: Key) -> f64 {
        if self.lost(goal, key) {
            return 1.0;
        }
        let undecided = key >> (2 * self.w);
        if round > self.spec.rounds || undecided == 0 {
            return self.terminal(goal, key);
        }
        if let Some(&v) = self.memo.get(&(goal, round, key)) {
            return v;
        }
        if self.exceeded() {
            return 0.0;
        }
        // Colour counts of every honest node: decided ones answer too.
        let mut hc = [0usize; 2];
        for t in 0..self.states() {
            hc[self.node(t).colour as usize] += self.count(key, t);
        }
        if self.sight == Sight::Querier {
            let v = self.blind(goal, round, key, hc);
            self.memo.insert((goal, round, key), v);
            self.evaluated += 1;
            return v;
        }
        // Per undecided state: how many nodes hold it, and the distribution
        // of their option sets (sorted by set, probabilities summed in the
        // fixed order of `compositions`).
        let mut groups: Vec<(usize, Vec<(u64, f64)>)> = vec![];
        for t in 2..self.states() {
            let c = self.count(key, t);
            if c == 0 {
                continue;
            }
            let node = self.node(t);
            let mut dist: Vec<(u64, f64)> = vec![];
            for s in self.compositions() {
                let p = self.sample_prob(node.colour, hc, s);
                if p == 0.0 {
                    continue;
                }
                let mask = self.options(node, s, round);
                match dist.iter_mut().find(|(m, _)| *m == mask) {
                    Some(e) => e.1 += p,
                    None => dist.push((mask, p)),
                }
            }
            dist.sort_by_key(|&(m, _)| m);
            groups.push((c, dist));
        }
        let decided = key & ((1 << (2 * self.w)) - 1);
        let mut choice = vec![];
        let v = self.expect(goal, round, &groups, 0, 1.0, &mut choice, decided);
        self.memo.insert((goal, round, key), v);
        self.evaluated += 1;
        v
    }

    fn multinomial(&self, total: usize, parts: &[usize]) -> f64 {
        let mut left = total;
        let mut m = 1.0;
        for &q in parts {
            m *= self.binom[left][q];
            left -= q;
        }
        m
    }
}
