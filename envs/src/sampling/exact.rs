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

use crate::sampling::{SlushSpec, Trivial, COMMIT};
use std::collections::BTreeMap;

/// The honest rules the search knows, as next-state functions: the
/// scripted rules of `super`, and any rule of (round, own colour,
/// counts) given as a table (a learned policy played greedily has that
/// shape: its observation is exactly those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `slush::Slush`: adopt the other colour on `alpha` answers of it;
    /// commit in the last round.
    Slush,
    /// `slush::Snowflake`: Slush plus a counter of consecutive successful
    /// queries; commit on reaching `beta` while keeping the colour.
    Snowflake,
    /// A stateless rule, action by action.
    Table(Table),
    /// `slush::Trivial`: always one colour, one's own input, or the first
    /// sample's majority; the baselines a reader thinks of.
    Trivial(Trivial),
}

/// An honest action (`slush::HOLD0`, `HOLD1` or `COMMIT`) for every round,
/// own colour and counts `(0s, 1s)` with `0s + 1s <= k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub k: usize,
    pub rounds: u8,
    actions: Vec<u8>,
}

impl Table {
    /// Fills the table from `act(round, colour, [0s, 1s])`, rounds from 1.
    pub fn new(k: usize, rounds: u8, mut act: impl FnMut(u8, u8, [usize; 2]) -> u8) -> Table {
        let mut actions = vec![COMMIT; rounds as usize * 2 * (k + 1) * (k + 1)];
        for round in 1..=rounds {
            for colour in 0..2u8 {
                for z in 0..=k {
                    for o in 0..=k - z {
                        actions[Table::at(k, round, colour, [z, o])] = act(round, colour, [z, o]);
                    }
                }
            }
        }
        Table { k, rounds, actions }
    }

    fn at(k: usize, round: u8, colour: u8, [z, o]: [usize; 2]) -> usize {
        ((round as usize - 1) * 2 + colour as usize) * (k + 1) * (k + 1) + z * (k + 1) + o
    }

    pub fn action(&self, round: u8, colour: u8, c: [usize; 2]) -> u8 {
        self.actions[Table::at(self.k, round, colour, c)]
    }
}

impl Rule {
    pub fn parse(name: &str) -> Option<Rule> {
        match name {
            "slush" => Some(Rule::Slush),
            "snowflake" => Some(Rule::Snowflake),
            _ => Trivial::parse(name).map(Rule::Trivial),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Rule::Slush => "slush",
            Rule::Snowflake => "snowflake",
            Rule::Table(_) => "table",
            Rule::Trivial(t) => t.name(),
        }
    }

    /// Every scripted rule's name: Slush, Snowflake and the trivial ones.
    pub const NAMES: &'static [&'static str] = &[
        "slush",
        "snowflake",
        "always0",
        "always1",
        "own_input",
        "first_sample",
    ];
}

/// One honest node's state. The counter is Snowflake's (0 under Slush, and
/// 0 once decided: a decided node's counter is never read again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Node {
    pub colour: u8,
    pub decided: bool,
    pub counter: u8,
}

impl Node {
    pub fn start(colour: u8) -> Node {
        Node {
            colour,
            decided: false,
            counter: 0,
        }
    }
}

/// What the adversary wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Goal {
    /// Two honest nodes decide different colours (the engine's agreement
    /// fails; an honest node left undecided at the cap breaks termination,
    /// not agreement, so it does not count here).
    Disagreement,
    /// Not every honest node decides this colour (the initial majority):
    /// the complement of the runner's `majority` count.
    NotAll(u8),
    /// Not every honest node decides one common colour: agreement or
    /// termination fails. On split inputs this is correctness failing
    /// (either colour is some honest node's input, so validity holds).
    Unsettled,
}

/// What a figure counts, for one initial split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Agreement fails ([`Goal::Disagreement`]).
    Disagreement,
    /// Not every honest node decides the initial honest majority (1 on a
    /// tied split, which has none).
    Majority,
    /// Agreement, termination or validity fails: the complement of the
    /// engine's honest win. On a unanimous split validity binds, so it is
    /// [`Goal::NotAll`] of that colour; on a split one, [`Goal::Unsettled`].
    Correctness,
}

impl Score {
    pub const ALL: [Score; 3] = [Score::Disagreement, Score::Majority, Score::Correctness];

    pub fn name(&self) -> &'static str {
        match self {
            Score::Disagreement => "disagreement",
            Score::Majority => "majority",
            Score::Correctness => "correctness",
        }
    }
}

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

/// The exact figures for one initial split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Honest nodes starting on colour 1.
    pub ones: usize,
    /// Largest probability of disagreement (agreement fails).
    pub disagreement: f64,
    /// Largest probability that the initial honest majority is not what
    /// every honest node decides; 1 on a tied split, which has no majority
    /// (the runner never counts a tied episode as a majority decision).
    pub majority: f64,
}

/// Blind adversary, one undecided state: how many nodes hold it, and the
/// distinct distributions of their next state (state index, probability)
/// that the adversary's choices give.
type BlindGroup = (usize, Vec<Vec<(usize, f64)>>);

/// A configuration: how many honest nodes are in each state, `w` bits per
/// state, state `t` at bits `t * w ..`.
type Key = u128;

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

    /// The state of undecided node `node` after a round in which its sample
    /// answered `c` (0s, 1s): the engine's rule and step, exactly
    /// (`Slush::act`, `Snowflake::act`, `SlushEnv::step`).
    pub fn next(&self, node: Node, c: [usize; 2], round: u8) -> Node {
        debug_assert!(!node.decided);
        let commit = Node {
            colour: node.colour,
            decided: true,
            counter: 0,
        };
        let stateless = match &self.rule {
            Rule::Table(t) => Some(t.action(round, node.colour, c)),
            Rule::Trivial(t) => Some(t.action(round, self.spec.rounds, node.colour, c)),
            Rule::Slush | Rule::Snowflake => None,
        };
        if let Some(action) = stateless {
            return match action {
                COMMIT => commit,
                a if round < self.spec.rounds => Node::start(a.min(1)),
                // Holding in the last round is no decision (the engine's step).
                _ => node,
            };
        }
        // Both scripted rules commit in the last round, whatever the answers.
        if round >= self.spec.rounds {
            return commit;
        }
        let own = node.colour as usize;
        let other = 1 - own;
        match &self.rule {
            Rule::Table(_) | Rule::Trivial(_) => unreachable!("handled above"),
            Rule::Slush => Node::start(if c[other] >= self.spec.alpha {
                other as u8
            } else {
                node.colour
            }),
            Rule::Snowflake => {
                // The other colour is checked first, as the engine does (it
                // matters only when k >= 2 alpha).
                let (colour, counter) = if c[other] >= self.spec.alpha {
                    (other as u8, 1)
                } else if c[own] >= self.spec.alpha {
                    (node.colour, node.counter + 1)
                } else {
                    (node.colour, 0)
                };
                if counter as usize >= self.spec.beta && colour == node.colour {
                    commit
                } else {
                    Node {
                        colour,
                        decided: false,
                        counter,
                    }
                }
            }
        }
    }

    fn index(&self, node: Node) -> usize {
        if node.decided {
            node.colour as usize
        } else {
            2 + node.colour as usize * self.counters + node.counter as usize
        }
    }

    fn node(&self, t: usize) -> Node {
        if t < 2 {
            Node {
                colour: t as u8,
                decided: true,
                counter: 0,
            }
        } else {
            let u = t - 2;
            Node {
                colour: (u / self.counters) as u8,
                decided: false,
                counter: (u % self.counters) as u8,
            }
        }
    }

    fn states(&self) -> usize {
        2 + 2 * self.counters
    }

    fn count(&self, key: Key, t: usize) -> usize {
        ((key >> (t as u32 * self.w)) & ((1 << self.w) - 1)) as usize
    }

    fn unit(&self, t: usize) -> Key {
        1 << (t as u32 * self.w)
    }

    fn key_of(&self, nodes: &[Node]) -> Key {
        nodes.iter().map(|&x| self.unit(self.index(x))).sum()
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

    /// The states node `node` can be moved to, as a bit set over state
    /// indices, when its sample holds `h0` honest 0s, `h1` honest 1s and `m`
    /// Byzantine nodes (each of which answers 0, 1 or nothing).
    fn options(&self, node: Node, (h0, h1, m): (usize, usize, usize), round: u8) -> u64 {
        let mut mask = 0u64;
        for b0 in 0..=m {
            for b1 in 0..=m - b0 {
                mask |= 1 << self.index(self.next(node, [h0 + b0, h1 + b1], round));
            }
        }
        mask
    }

    /// Answers that move `node` to `target`: (how many of its `m` sampled
    /// Byzantine peers answer 0, how many 1; the rest stay silent).
    pub fn answers_for(
        &self,
        node: Node,
        (h0, h1, m): (usize, usize, usize),
        round: u8,
        target: Node,
    ) -> Option<(usize, usize)> {
        (0..=m)
            .flat_map(|b0| (0..=m - b0).map(move |b1| (b0, b1)))
            .find(|&(b0, b1)| self.next(node, [h0 + b0, h1 + b1], round) == target)
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

    /// The value under [`Sight::Querier`]: the adversary fixes, per querier,
    /// how many Byzantine nodes answer it 0 and how many 1 (the rest stay
    /// silent) before the samples are drawn; which of them the querier
    /// samples is then hypergeometric. Nodes in one state may be told
    /// different things (the adversary sees who asks), so the maximum runs
    /// over multisets of choices per state, each choice a distribution of
    /// the node's next state; the value of a choice profile is the
    /// expectation over the product of those distributions.
    fn blind(&mut self, goal: Goal, round: u8, key: Key, hc: [usize; 2]) -> f64 {
        let f = self.spec.f;
        let choices: Vec<(usize, usize)> = (0..=f)
            .flat_map(|x0| (0..=f - x0).map(move |x1| (x0, x1)))
            .collect();
        // Per undecided state: its count, and the distinct next-state
        // distributions its choices give (sorted by state; summed in the
        // fixed order of compositions, then answers).
        let mut groups: Vec<BlindGroup> = vec![];
        for t in 2..self.states() {
            let c = self.count(key, t);
            if c == 0 {
                continue;
            }
            let node = self.node(t);
            let mut dists: Vec<Vec<(usize, f64)>> = vec![];
            for &(x0, x1) in &choices {
                let xn = f - x0 - x1;
                let mut dist: Vec<(usize, f64)> = vec![];
                for s in self.compositions() {
                    let p = self.sample_prob(node.colour, hc, s);
                    if p == 0.0 {
                        continue;
                    }
                    let (h0, h1, m) = s;
                    for b0 in 0..=m.min(x0) {
                        for b1 in 0..=(m - b0).min(x1) {
                            let bn = m - b0 - b1;
                            if bn > xn {
                                continue;
                            }
                            let q = self.binom[x0][b0] * self.binom[x1][b1] * self.binom[xn][bn]
                                / self.binom[f][m];
                            let next = self.index(self.next(node, [h0 + b0, h1 + b1], round));
                            match dist.iter_mut().find(|(u, _)| *u == next) {
                                Some(e) => e.1 += p * q,
                                None => dist.push((next, p * q)),
                            }
                        }
                    }
                }
                dist.sort_by_key(|&(u, _)| u);
                // Choices with the same effect are one choice.
                if !dists.contains(&dist) {
                    dists.push(dist);
                }
            }
            groups.push((c, dists));
        }
        let decided = key & ((1 << (2 * self.w)) - 1);
        let mut profile = vec![];
        let mut top = 0.0f64;
        self.profiles(
            goal,
            round,
            &groups,
            0,
            0,
            &mut vec![],
            &mut profile,
            decided,
            &mut top,
        );
        top
    }

    /// Every multiset of choices per state (group `g`, distribution `j` on,
    /// `left` nodes of the group still unassigned), keeping the best value.
    #[allow(clippy::too_many_arguments)]
    fn profiles(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        g: usize,
        j: usize,
        taken: &mut Vec<usize>,
        profile: &mut Vec<(usize, usize, usize)>,
        decided: Key,
        top: &mut f64,
    ) {
        if *top >= 1.0 {
            return;
        }
        if g == groups.len() {
            let v = self.mixed(goal, round, groups, profile, 0, 1.0, decided);
            *top = top.max(v);
            return;
        }
        let (c, dists) = &groups[g];
        let used: usize = taken.iter().sum();
        let left = c - used;
        if j + 1 == dists.len() {
            profile.push((g, j, left));
            self.profiles(
                goal,
                round,
                groups,
                g + 1,
                0,
                &mut vec![],
                profile,
                decided,
                top,
            );
            profile.pop();
            return;
        }
        for q in 0..=left {
            profile.push((g, j, q));
            taken.push(q);
            self.profiles(goal, round, groups, g, j + 1, taken, profile, decided, top);
            taken.pop();
            profile.pop();
        }
    }

    /// The expectation of the next round's value when `profile[i..]` nodes
    /// (group, distribution, how many) move at random by their distributions.
    #[allow(clippy::too_many_arguments)]
    fn mixed(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        profile: &[(usize, usize, usize)],
        i: usize,
        prob: f64,
        key: Key,
    ) -> f64 {
        if i == profile.len() {
            self.work += 1;
            return prob * self.value(goal, round + 1, key);
        }
        let (g, j, q) = profile[i];
        if q == 0 {
            return self.mixed(goal, round, groups, profile, i + 1, prob, key);
        }
        let dist = &groups[g].1[j];
        let mut parts = vec![0usize; dist.len()];
        let mut sum = 0.0;
        self.fall(
            goal, round, groups, profile, i, prob, key, dist, q, &mut parts, 0, &mut sum,
        );
        sum
    }

    /// Spreads `left` nodes of one profile entry over the next states of
    /// `dist` from `j` on, each spread weighted by its multinomial probability.
    #[allow(clippy::too_many_arguments)]
    fn fall(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        profile: &[(usize, usize, usize)],
        i: usize,
        prob: f64,
        key: Key,
        dist: &[(usize, f64)],
        left: usize,
        parts: &mut Vec<usize>,
        j: usize,
        sum: &mut f64,
    ) {
        if j + 1 == dist.len() {
            parts[j] = left;
            let total: usize = parts.iter().sum();
            let mut p = prob * self.multinomial(total, parts);
            let mut k = key;
            for (q, &(t, pt)) in parts.iter().zip(dist) {
                p *= pt.powi(*q as i32);
                k += *q as Key * self.unit(t);
            }
            *sum += self.mixed(goal, round, groups, profile, i + 1, p, k);
            return;
        }
        for q in 0..=left {
            parts[j] = q;
            self.fall(
                goal,
                round,
                groups,
                profile,
                i,
                prob,
                key,
                dist,
                left - q,
                parts,
                j + 1,
                sum,
            );
        }
    }

    /// The expectation over every node's option set (group by group: the
    /// multinomial over the option sets of the nodes sharing a state), of
    /// the best joint choice.
    #[allow(clippy::too_many_arguments)]
    fn expect(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[(usize, Vec<(u64, f64)>)],
        g: usize,
        prob: f64,
        choice: &mut Vec<(u64, usize)>,
        decided: Key,
    ) -> f64 {
        if g == groups.len() {
            return prob * self.best(goal, round + 1, choice, 0, decided);
        }
        let (c, dist) = &groups[g];
        let mut parts = vec![0usize; dist.len()];
        let mut sum = 0.0;
        self.split(
            goal, round, groups, g, prob, choice, decided, *c, dist, &mut parts, 0, &mut sum,
        );
        sum
    }

    /// Enumerates how the `left` remaining nodes of group `g` fall over its
    /// option sets from `j` on, weighting each split by its multinomial probability.
    #[allow(clippy::too_many_arguments)]
    fn split(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[(usize, Vec<(u64, f64)>)],
        g: usize,
        prob: f64,
        choice: &mut Vec<(u64, usize)>,
        decided: Key,
        left: usize,
        dist: &[(u64, f64)],
        parts: &mut Vec<usize>,
        j: usize,
        sum: &mut f64,
    ) {
        if j + 1 == dist.len() {
            parts[j] = left;
            // Multinomial coefficient and the probabilities, in a fixed order.
            let total: usize = parts.iter().sum();
            let mut p = prob * self.multinomial(total, parts);
            for (q, &(_, pq)) in parts.iter().zip(dist) {
                p *= pq.powi(*q as i32);
            }
            let before = choice.len();
            for (q, &(mask, _)) in parts.iter().zip(dist) {
                if *q > 0 {
                    choice.push((mask, *q));
                }
            }
            *sum += self.expect(goal, round, groups, g + 1, p, choice, decided);
            choice.truncate(before);
            return;
        }
        for q in 0..=left {
            parts[j] = q;
            self.split(
                goal,
                round,
                groups,
                g,
                prob,
                choice,
                decided,
                left - q,
                dist,
                parts,
                j + 1,
                sum,
            );
        }
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

    /// The adversary's best joint choice: every node of choice group `i`
    /// (an option set and how many nodes drew it) moved to one of its
    /// options, the best configuration reached.
    fn best(&mut self, goal: Goal, round: u8, choice: &[(u64, usize)], i: usize, key: Key) -> f64 {
        if i == choice.len() {
            self.work += 1;
            return self.value(goal, round, key);
        }
        let (mask, c) = choice[i];
        if mask.count_ones() == 1 {
            let t = mask.trailing_zeros() as usize;
            return self.best(goal, round, choice, i + 1, key + c as Key * self.unit(t));
        }
        let opts: Vec<usize> = crate::consensus::rules::bits(mask).collect();
        let mut top = 0.0f64;
        self.spread(goal, round, choice, i, key, &opts, 0, c, &mut top);
        top
    }

    /// Spreads `left` nodes over options `opts[j..]`, keeping the best value.
    #[allow(clippy::too_many_arguments)]
    fn spread(
        &mut self,
        goal: Goal,
        round: u8,
        choice: &[(u64, usize)],
        i: usize,
        key: Key,
        opts: &[usize],
        j: usize,
        left: usize,
        top: &mut f64,
    ) {
        // A probability cannot beat 1: the rest of the search is moot.
        if *top >= 1.0 {
            return;
        }
        if j + 1 == opts.len() {
            let v = self.best(
                goal,
                round,
                choice,
                i + 1,
                key + left as Key * self.unit(opts[j]),
            );
            *top = top.max(v);
            return;
        }
        for q in 0..=left {
            let k = key + q as Key * self.unit(opts[j]);
            self.spread(goal, round, choice, i, k, opts, j + 1, left - q, top);
        }
    }

    fn start_key(&self, ones: usize) -> Key {
        ones as Key * self.unit(self.index(Node::start(1)))
            + (self.h - ones) as Key * self.unit(self.index(Node::start(0)))
    }

    /// The largest probability of `goal` with `ones` honest nodes starting on 1.
    pub fn optimum(&mut self, goal: Goal, ones: usize) -> f64 {
        assert!(ones <= self.h, "{ones} ones among {} honest nodes", self.h);
        let key = self.start_key(ones);
        self.value(goal, 1, key)
    }

    /// Both figures for one initial split.
    pub fn figures(&mut self, ones: usize) -> Figures {
        let majority = self.score(Score::Majority, ones);
        Figures {
            ones,
            disagreement: self.score(Score::Disagreement, ones),
            majority,
        }
    }

    /// The largest probability of what `score` counts, with `ones` honest
    /// nodes starting on 1.
    pub fn score(&mut self, score: Score, ones: usize) -> f64 {
        match self.goal(score, ones) {
            Some(goal) => self.optimum(goal, ones),
            None => 1.0,
        }
    }

    /// The adversary's goal behind `score` with `ones` honest nodes starting
    /// on 1; `None` where the figure is 1 whatever is played (the majority
    /// of a tied split, which has none).
    pub fn goal(&self, score: Score, ones: usize) -> Option<Goal> {
        let zeros = self.h - ones;
        match score {
            Score::Disagreement => Some(Goal::Disagreement),
            Score::Majority if ones == zeros => None,
            Score::Majority => Some(Goal::NotAll((ones > zeros) as u8)),
            // Unanimous inputs: validity binds, so every node must decide them.
            Score::Correctness if ones == 0 => Some(Goal::NotAll(0)),
            Score::Correctness if zeros == 0 => Some(Goal::NotAll(1)),
            Score::Correctness => Some(Goal::Unsettled),
        }
    }

    /// [`Solver::score`] with the engine's default inputs (uniform and
    /// independent: each split in its binomial share, played at its best).
    pub fn uniform_score(&mut self, score: Score) -> f64 {
        let scale = 0.5f64.powi(self.h as i32);
        let mut sum = 0.0;
        for ones in 0..=self.h {
            sum += self.binom[self.h][ones] * scale * self.score(score, ones);
        }
        sum
    }

    /// Both figures for every initial split, `ones = 0..=n - f`.
    pub fn every_split(&mut self) -> Vec<Figures> {
        (0..=self.h).map(|ones| self.figures(ones)).collect()
    }

    /// Both figures with the engine's default inputs (no `env.ones`): every
    /// honest input uniform and independent, so `ones` is Binomial(n - f, 1/2)
    /// and the adversary, who sees the inputs, plays each split at its best.
    /// `ones` is reported as the number of honest nodes (every split).
    pub fn uniform(&mut self) -> Figures {
        let splits = self.every_split();
        let scale = 0.5f64.powi(self.h as i32);
        let (mut d, mut m) = (0.0, 0.0);
        for s in &splits {
            let w = self.binom[self.h][s.ones] * scale;
            d += w * s.disagreement;
            m += w * s.majority;
        }
        Figures {
            ones: self.h,
            disagreement: d,
            majority: m,
        }
    }

    /// The optimal adversary's move in a round, for playing it: given every
    /// undecided honest node's state and sample composition `(h0, h1, m)`,
    /// and the decided nodes, the state each undecided node should be moved
    /// to (realise it with [`Solver::answers_for`]). Ties go to the first
    /// best choice in a fixed order.
    pub fn best_move(
        &mut self,
        goal: Goal,
        round: u8,
        acting: &[(Node, (usize, usize, usize))],
        decided: &[Node],
    ) -> Vec<Node> {
        let base = self.key_of(decided);
        let opts: Vec<Vec<usize>> = acting
            .iter()
            .map(|&(node, s)| crate::consensus::rules::bits(self.options(node, s, round)).collect())
            .collect();
        let mut pick = vec![0usize; acting.len()];
        let mut best = (f64::NEG_INFINITY, pick.clone());
        loop {
            let key = base
                + pick
                    .iter()
                    .zip(&opts)
                    .map(|(&p, o)| self.unit(o[p]))
                    .sum::<Key>();
            let v = self.value(goal, round + 1, key);
            if v > best.0 {
                best = (v, pick.clone());
            }
            // Next choice, as a mixed-radix counter.
            let mut i = 0;
            while i < pick.len() {
                pick[i] += 1;
                if pick[i] < opts[i].len() {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
            if i == pick.len() {
                break;
            }
        }
        best.1
            .iter()
            .zip(&opts)
            .map(|(&p, o)| self.node(o[p]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::comm::outcome_for;
    use crate::consensus::rules::{all, bits, Episode, Instance};
    use crate::consensus::spec::{EnvConfig, NONE};
    use crate::sampling::{
        Slush, SlushConfig, SlushEnv, SlushRule, Snowflake, HOLD0, HOLD1, TRIVIAL,
    };
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn spec(n: usize, f: usize, k: usize, alpha: usize, beta: usize, rounds: u8) -> SlushSpec {
        spec_with(n, f, k, alpha, beta, rounds, None)
    }

    fn spec_with(
        n: usize,
        f: usize,
        k: usize,
        alpha: usize,
        beta: usize,
        rounds: u8,
        ones: Option<usize>,
    ) -> SlushSpec {
        let env = EnvConfig {
            n,
            f,
            ones,
            ..EnvConfig::default()
        };
        let cfg = SlushConfig {
            k,
            alpha,
            beta,
            rounds,
            ..SlushConfig::default()
        };
        SlushSpec::new(&env, &cfg).unwrap()
    }

    fn engine_rule(rule: &Rule) -> Box<dyn SlushRule> {
        match rule {
            Rule::Slush => Box::new(Slush),
            Rule::Snowflake => Box::<Snowflake>::default(),
            Rule::Table(t) => Box::new(TableRule(t.clone())),
            Rule::Trivial(t) => Box::new(*t),
        }
    }

    /// A table rule played by the engine, as a learned policy's greedy
    /// actions are: the action for (round, own colour, counts).
    struct TableRule(Table);

    impl SlushRule for TableRule {
        fn name(&self) -> String {
            "table".into()
        }
        fn reset(&mut self, _: usize, _: usize) {}
        fn act(&mut self, env: &SlushEnv, e: usize, i: usize) -> u8 {
            let [z, o] = env.counts(e, i);
            self.0
                .action(env.round(), env.colour(e, i), [z as usize, o as usize])
        }
    }

    /// A table of random actions, holding allowed in the last round too (a
    /// policy that breaks termination), from a fixed seed.
    fn random_table(k: usize, rounds: u8, seed: u64) -> Table {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Table::new(k, rounds, |_, _, _| rng.random_range(0..3u8))
    }

    /// Slush written out as a table: what a learned policy that found Slush
    /// would play.
    fn slush_table(k: usize, alpha: usize, rounds: u8) -> Table {
        Table::new(k, rounds, |round, colour, c| {
            if round >= rounds {
                COMMIT
            } else if c[1 - colour as usize] >= alpha {
                [HOLD0, HOLD1][1 - colour as usize]
            } else {
                colour
            }
        })
    }

    /// The node states of episode `e`, as the search names them, after the
    /// engine's step (counters carried from `before`, which the search computed).
    fn observed(env: &SlushEnv, e: usize, i: usize, counter: u8) -> Node {
        let ep = env.episode(e);
        let decided = ep.decided >> i & 1 == 1;
        Node {
            colour: env.colour(e, i),
            decided,
            counter: if decided { 0 } else { counter },
        }
    }

    /// `(h0, h1, m)`: what node `i` of episode `e` sampled this round.
    fn composition(env: &SlushEnv, e: usize, i: usize) -> (usize, usize, usize) {
        let ep = env.episode(e);
        let mut c = (0, 0, 0);
        for &j in env.sample(e, i) {
            let j = j as usize;
            if ep.is_byzantine(j) {
                c.2 += 1;
            } else if env.colour(e, j) == 0 {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        c
    }

    /// A Byzantine answerer for [`play`]: the engine, every node's state as
    /// the search names it, randomness, and the engine's answer array to fill.
    type Attack<'a> = dyn FnMut(&SlushEnv, &[Vec<Node>], &mut ChaCha8Rng, &mut [u8]) + 'a;

    /// Plays `episodes` engine episodes of `rule` against `attack` (which
    /// fills the engine's Byzantine answers each round), checking after
    /// every step that the search's `next` predicted every node's new state
    /// from the counts the engine showed it. Returns the episodes lost on
    /// each of [`Score::ALL`]: disagreements, runs where not every honest
    /// node decided the initial majority, runs the engine does not count as
    /// an honest win.
    fn play(
        solver: &Solver,
        spec: &SlushSpec,
        episodes: usize,
        seed: u64,
        attack: &mut Attack,
    ) -> [u64; 3] {
        let n = spec.n;
        let mut env = SlushEnv::new(spec.clone(), episodes);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rule = engine_rule(&solver.rule);
        rule.reset(episodes, n);
        env.reset(&mut rng);
        let mut nodes: Vec<Vec<Node>> = (0..episodes)
            .map(|e| (0..n).map(|i| Node::start(env.colour(e, i))).collect())
            .collect();
        let mut byz = vec![NONE; episodes * spec.byz_action_len()];
        let mut acts = vec![COMMIT; episodes * n];
        while !env.done() {
            env.draw(&mut rng);
            byz.fill(NONE);
            attack(&env, &nodes, &mut rng, &mut byz);
            env.answer(&byz);
            let round = env.round();
            let mut want = nodes.clone();
            for e in 0..episodes {
                for i in bits(env.acting(e)) {
                    acts[e * n + i] = rule.act(&env, e, i);
                    let [z, o] = env.counts(e, i);
                    want[e][i] = solver.next(nodes[e][i], [z as usize, o as usize], round);
                }
            }
            env.step(&acts);
            for (e, want) in want.iter().enumerate() {
                for i in bits(all(n) & !env.episode(e).byzantine) {
                    let got = observed(&env, e, i, want[i].counter);
                    assert_eq!(got, want[i], "episode {e} node {i} round {round}");
                }
            }
            nodes = want;
        }
        let mut bad = [0; 3];
        for e in 0..episodes {
            let ep = env.episode(e);
            bad[0] += !env.outcome(e).agreement as u64;
            bad[1] += !majority_decided(n, ep) as u64;
            bad[2] += !env.outcome(e).honest_wins() as u64;
        }
        bad
    }

    /// The runner's `majority` count, for one episode.
    fn majority_decided(n: usize, ep: &Episode) -> bool {
        let honest = all(n) & !ep.byzantine;
        let ones = (ep.inputs & honest).count_ones();
        let zeros = honest.count_ones() - ones;
        let want = if ones > zeros { honest } else { 0 };
        ones != zeros && ep.decided & honest == honest && ep.values & honest == want
    }

    /// A sampled rate agrees with an exact probability: within 5 standard
    /// errors (plus a hair for p = 0 or 1, where any miss is a failure).
    fn close(bad: u64, episodes: usize, p: f64) -> bool {
        let rate = bad as f64 / episodes as f64;
        (rate - p).abs() <= 5.0 * (p * (1.0 - p) / episodes as f64).sqrt() + 1e-12
    }

    #[test]
    fn the_search_steps_nodes_as_the_engine_does() {
        // k = 4 >= 2 alpha: both colours can reach alpha, so the order of
        // the engine's checks shows; beta = 1 lets a fresh adoption hold its counter.
        let trivial = TRIVIAL.iter().map(|t| Rule::parse(t).unwrap());
        let rules: Vec<Rule> = [Rule::Slush, Rule::Snowflake]
            .into_iter()
            .chain(trivial)
            .collect();
        for (n, f, k, alpha, beta) in [(5, 1, 3, 2, 2), (7, 2, 4, 2, 1), (6, 1, 2, 1, 3)] {
            for rule in rules.clone() {
                let spec = spec(n, f, k, alpha, beta, 6);
                let solver = Solver::new(&spec, rule.clone()).unwrap();
                let a = spec.byz_action_len();
                play(&solver, &spec, 400, 7, &mut |env, _, rng, byz| {
                    for e in 0..env.len() {
                        for (bo, _) in env.episode(e).byzantine_ids().enumerate() {
                            for i in 0..n {
                                byz[e * a + bo * n + i] = rng.random_range(0..3u8).min(NONE);
                            }
                        }
                    }
                });
            }
        }
    }

    /// Brute force over ids: every undecided honest node's every `k`-subset
    /// of the others, every Byzantine answer to every query it received (the
    /// engine's action, one per Byzantine node and querier), the engine's
    /// outcome scoring. The best answers after each round's samples, the
    /// average over samples: every adversary decision tree, with no
    /// symmetry and no option sets. Memoised on the full id-level state.
    struct Brute<'a> {
        s: &'a Solver,
        byz: u32,
        inputs: u32,
        score: Score,
        /// The adversary fixes its answer to every (querier, Byzantine
        /// node) pair before the draw ([`Sight::Querier`]).
        blind: bool,
        memo: BTreeMap<(u8, Vec<Node>), f64>,
    }

    impl Brute<'_> {
        fn loss(&self, nodes: &[Node]) -> f64 {
            let mut ep = Episode::new(Instance {
                byzantine: self.byz,
                inputs: self.inputs,
                sender: 0,
            });
            for i in bits(all(self.s.spec.n) & !self.byz) {
                if nodes[i].decided {
                    ep.decided |= 1 << i;
                    ep.values |= (nodes[i].colour as u32) << i;
                }
            }
            let outcome = outcome_for(self.s.spec.n, &ep);
            let lost = match self.score {
                Score::Majority => !majority_decided(self.s.spec.n, &ep),
                Score::Disagreement => !outcome.agreement,
                Score::Correctness => !outcome.honest_wins(),
            };
            lost as u8 as f64
        }

        fn value(&mut self, round: u8, nodes: Vec<Node>) -> f64 {
            let s = self.s;
            let acting: Vec<usize> = bits(all(s.spec.n) & !self.byz)
                .filter(|&i| !nodes[i].decided)
                .collect();
            if round > s.spec.rounds || acting.is_empty() {
                return self.loss(&nodes);
            }
            if let Some(&v) = self.memo.get(&(round, nodes.clone())) {
                return v;
            }
            let subsets: Vec<Vec<u32>> = acting
                .iter()
                .map(|&i| {
                    (0..1u32 << s.spec.n)
                        .filter(|m| m.count_ones() as usize == s.spec.k && m >> i & 1 == 0)
                        .collect()
                })
                .collect();
            let joint: usize = subsets.iter().map(|v| v.len()).product();
            let draw = |mut x: usize| -> Vec<u32> {
                let mut sample = vec![];
                for v in &subsets {
                    sample.push(v[x % v.len()]);
                    x /= v.len();
                }
                sample
            };
            // Every node's next state, as the engine counts the answers.
            let byz = self.byz;
            let step = |sample: &[u32], answer: &BTreeMap<(usize, usize), u8>| -> Vec<Node> {
                let mut next = nodes.clone();
                for (&i, &m) in acting.iter().zip(sample) {
                    let mut c = [0usize; 2];
                    for j in bits(m) {
                        let v = if byz >> j & 1 == 1 {
                            answer[&(i, j)]
                        } else {
                            nodes[j].colour
                        };
                        if v < NONE {
                            c[v as usize] += 1;
                        }
                    }
                    next[i] = s.next(nodes[i], c, round);
                }
                next
            };
            if self.blind {
                // A table of answers per (querier, Byzantine node), then the draw.
                let slots: Vec<(usize, usize)> = acting
                    .iter()
                    .flat_map(|&i| bits(self.byz).map(move |j| (i, j)))
                    .collect();
                let mut best = 0.0f64;
                for mut y in 0..3usize.pow(slots.len() as u32) {
                    let mut answer = BTreeMap::new();
                    for &slot in &slots {
                        answer.insert(slot, [0u8, 1, NONE][y % 3]);
                        y /= 3;
                    }
                    let nexts: Vec<Vec<Node>> =
                        (0..joint).map(|x| step(&draw(x), &answer)).collect();
                    let mut sum = 0.0;
                    for next in nexts {
                        sum += self.value(round + 1, next);
                    }
                    best = best.max(sum / joint as f64);
                }
                self.memo.insert((round, nodes), best);
                return best;
            }
            let mut sum = 0.0;
            for x in 0..joint {
                let sample = draw(x);
                // One answer per (querier, Byzantine node it sampled).
                let slots: Vec<(usize, usize)> = acting
                    .iter()
                    .zip(&sample)
                    .flat_map(|(&i, &m)| bits(m & self.byz).map(move |j| (i, j)))
                    .collect();
                let mut best = 0.0f64;
                for mut y in 0..3usize.pow(slots.len() as u32) {
                    let mut answer = BTreeMap::new();
                    for &slot in &slots {
                        answer.insert(slot, [0u8, 1, NONE][y % 3]);
                        y /= 3;
                    }
                    let next = step(&sample, &answer);
                    best = best.max(self.value(round + 1, next));
                }
                sum += best;
            }
            let v = sum / joint as f64;
            self.memo.insert((round, nodes), v);
            v
        }
    }

    /// The brute force's values for every placement and every assignment of
    /// `ones` inputs (each must be the same, by symmetry); from n = 5 on,
    /// for the first of each only, to keep the test quick.
    fn brute_all(s: &Solver, ones: usize, score: Score) -> Vec<f64> {
        brute_sight(s, ones, score, false)
    }

    fn brute_sight(s: &Solver, ones: usize, score: Score, blind: bool) -> Vec<f64> {
        let mut out = vec![];
        let few = if s.spec.n <= 4 { usize::MAX } else { 1 };
        for byz in (0..1u32 << s.spec.n)
            .filter(|m| m.count_ones() as usize == s.spec.f)
            .take(few)
        {
            let honest = all(s.spec.n) & !byz;
            for inputs in (0..1u32 << s.spec.n)
                .filter(|m| m & !honest == 0 && m.count_ones() as usize == ones)
                .take(few)
            {
                let nodes = (0..s.spec.n)
                    .map(|i| Node::start((inputs >> i & 1) as u8))
                    .collect();
                let mut b = Brute {
                    s,
                    byz,
                    inputs,
                    score,
                    blind,
                    memo: BTreeMap::new(),
                };
                out.push(b.value(1, nodes));
            }
        }
        out
    }

    #[test]
    fn the_search_equals_a_brute_force_over_every_adversary_decision_tree() {
        // (n, f, k, alpha, beta, rounds): tiny settings where ids are cheap.
        let settings = [
            (4, 1, 2, 1, 1, 3),
            (4, 1, 2, 2, 2, 3),
            (4, 1, 2, 1, 2, 4),
            (5, 2, 3, 2, 1, 3),
            (5, 1, 3, 2, 2, 3),
            (4, 2, 2, 1, 1, 3),
            (4, 0, 2, 1, 1, 4),
        ];
        for (n, f, k, alpha, beta, rounds) in settings {
            for rule in [Rule::Slush, Rule::Snowflake] {
                let mut s = Solver::new(&spec(n, f, k, alpha, beta, rounds), rule.clone()).unwrap();
                for fig in s.every_split() {
                    let what = format!(
                        "{rule:?} n={n} f={f} k={k} alpha={alpha} beta={beta} R={rounds} ones={}",
                        fig.ones
                    );
                    for v in brute_all(&s, fig.ones, Score::Disagreement) {
                        assert!(
                            (v - fig.disagreement).abs() < 1e-12,
                            "{what}: disagreement {} vs brute {v}",
                            fig.disagreement
                        );
                    }
                    for v in brute_all(&s, fig.ones, Score::Majority) {
                        assert!(
                            (v - fig.majority).abs() < 1e-12,
                            "{what}: majority {} vs brute {v}",
                            fig.majority
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_search_equals_the_best_of_every_explicit_strategy() {
        // n = 3, f = 1, k = 1, two rounds: in round 1 each honest node
        // queries one of the two others; a strategy names the Byzantine
        // answer to every query for each of the 4 joint samples: 3^4 = 81
        // strategies (round 2 commits whatever is answered). Each is scored
        // by enumerating the samples; the best must be the search's figure.
        for rule in [Rule::Slush, Rule::Snowflake] {
            let mut s = Solver::new(&spec(3, 1, 1, 1, 1, 2), rule.clone()).unwrap();
            let byz = 0b100u32;
            for ones in 0..=2usize {
                let inputs = [0b00u32, 0b01, 0b11][ones];
                let start: Vec<Node> = (0..3)
                    .map(|i| Node::start((inputs >> i & 1) as u8))
                    .collect();
                // Joint samples: node 0 asks 1 or 2, node 1 asks 0 or 2.
                let joint = [(1usize, 0usize), (2, 0), (1, 2), (2, 2)];
                let slots: Vec<usize> = joint
                    .iter()
                    .map(|&(a, b)| (a == 2) as usize + (b == 2) as usize)
                    .collect();
                let total: u32 = slots.iter().sum::<usize>() as u32;
                let (mut best_d, mut best_m) = (0.0f64, 0.0f64);
                for strategy in 0..3usize.pow(total) {
                    let mut y = strategy;
                    let (mut d, mut m) = (0.0, 0.0);
                    for &(a, b) in &joint {
                        let mut next = start.clone();
                        for (i, peer) in [(0usize, a), (1, b)] {
                            let v = if peer == 2 {
                                let v = [0u8, 1, NONE][y % 3];
                                y /= 3;
                                v
                            } else {
                                start[peer].colour
                            };
                            let mut c = [0usize; 2];
                            if v < NONE {
                                c[v as usize] += 1;
                            }
                            next[i] = s.next(start[i], c, 1);
                        }
                        // Round 2: every undecided node commits, whatever it hears.
                        for node in next.iter_mut().take(2) {
                            if !node.decided {
                                *node = s.next(*node, [0, 0], 2);
                            }
                        }
                        let brute = Brute {
                            s: &s,
                            byz,
                            inputs,
                            score: Score::Disagreement,
                            blind: false,
                            memo: BTreeMap::new(),
                        };
                        d += 0.25 * brute.loss(&next);
                        let brute = Brute {
                            s: &s,
                            byz,
                            inputs,
                            score: Score::Majority,
                            blind: false,
                            memo: BTreeMap::new(),
                        };
                        m += 0.25 * brute.loss(&next);
                    }
                    best_d = best_d.max(d);
                    best_m = best_m.max(m);
                }
                let fig = s.figures(ones);
                assert!(
                    (fig.disagreement - best_d).abs() < 1e-12,
                    "{rule:?} ones={ones}"
                );
                assert!(
                    (fig.majority - best_m).abs() < 1e-12,
                    "{rule:?} ones={ones}"
                );
            }
        }
    }

    #[test]
    fn without_byzantine_nodes_the_figures_are_the_protocols_own_failure_rates() {
        // n = 5, f = 0, 4 rounds: nothing to choose, so the search is a plain
        // expectation; the brute force enumerates every sample of every node,
        // and the engine plays it (no Byzantine answers at all).
        for rule in [Rule::Slush, Rule::Snowflake] {
            // (k, alpha, ones): a 3-2 split under the preprint's k and alpha
            // (a 4-1 split cannot fail there: the lone node flips at once,
            // and no other sees two answers against it); a 4-1 split
            // under k = 2, alpha = 1.
            for (k, alpha, ones) in [(3, 2, 2), (2, 1, 1)] {
                let spec = spec_with(5, 0, k, alpha, 2, 4, Some(ones));
                let mut s = Solver::new(&spec, rule.clone()).unwrap();
                let fig = s.figures(ones);
                let d = brute_all(&s, ones, Score::Disagreement)[0];
                let m = brute_all(&s, ones, Score::Majority)[0];
                assert!(
                    (d - fig.disagreement).abs() < 1e-12,
                    "{rule:?} {ones}: {d} vs {fig:?}"
                );
                assert!(
                    (m - fig.majority).abs() < 1e-12,
                    "{rule:?} {ones}: {m} vs {fig:?}"
                );
                // The figures are not trivial here: the test can tell.
                assert!(
                    fig.disagreement > 0.01 && fig.majority > fig.disagreement,
                    "{fig:?}"
                );
                let episodes = 20_000;
                let bad = play(&s, &spec, episodes, 11 + ones as u64, &mut |_, _, _, _| {});
                assert!(
                    close(bad[0], episodes, fig.disagreement),
                    "{rule:?} {ones}: engine {bad:?} vs {fig:?}"
                );
                assert!(
                    close(bad[1], episodes, fig.majority),
                    "{rule:?} {ones}: engine {bad:?} vs {fig:?}"
                );
            }
        }
    }

    #[test]
    fn the_optimal_adversary_played_in_the_engine_reaches_the_figure() {
        // The search's best moves, realised as Byzantine answers through the
        // engine's own interface (after `draw`, every sample in view): its
        // sampled rate must match the exact figure. This ties the model's
        // information structure to what the engine lets an answerer do.
        for (f, ones, rounds) in [(1, 1, 5), (2, 0, 4), (1, 2, 4)] {
            let first = Rule::Trivial(Trivial::FirstSample);
            for rule in [Rule::Slush, Rule::Snowflake, first] {
                for (k, score) in Score::ALL.into_iter().enumerate() {
                    let spec = spec_with(5, f, 3, 2, 2, rounds, Some(ones));
                    let mut s = Solver::new(&spec, rule.clone()).unwrap();
                    // A tied split has no majority: any play reaches 1.
                    let goal = s.goal(score, ones).unwrap_or(Goal::Disagreement);
                    let exact = s.score(score, ones);
                    let n = spec.n;
                    let a = spec.byz_action_len();
                    let episodes = 4000;
                    let stepper = Solver::new(&spec, rule.clone()).unwrap();
                    let bad = play(&stepper, &spec, episodes, 21, &mut |env, nodes, _, byz| {
                        let round = env.round();
                        for e in 0..env.len() {
                            let ep = env.episode(e);
                            let honest = all(n) & !ep.byzantine;
                            let acting: Vec<usize> = bits(env.acting(e)).collect();
                            let moves: Vec<(Node, (usize, usize, usize))> = acting
                                .iter()
                                .map(|&i| (nodes[e][i], composition(env, e, i)))
                                .collect();
                            let decided: Vec<Node> =
                                bits(honest & ep.decided).map(|i| nodes[e][i]).collect();
                            let targets = s.best_move(goal, round, &moves, &decided);
                            for ((&i, &(node, c)), &target) in
                                acting.iter().zip(&moves).zip(&targets)
                            {
                                let (b0, b1) = s.answers_for(node, c, round, target).unwrap();
                                let peers = env
                                    .sample(e, i)
                                    .iter()
                                    .map(|&j| j as usize)
                                    .filter(|&j| ep.is_byzantine(j));
                                for (t, j) in peers.enumerate() {
                                    let ordinal =
                                        (ep.byzantine & ((1u32 << j) - 1)).count_ones() as usize;
                                    byz[e * a + ordinal * n + i] = if t < b0 {
                                        0
                                    } else if t < b0 + b1 {
                                        1
                                    } else {
                                        NONE
                                    };
                                }
                            }
                        }
                    });
                    let got = bad[k];
                    assert!(
                        close(got, episodes, exact),
                        "{rule:?} f={f} ones={ones} {score:?}: engine {got}/{episodes} vs exact {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_preprint_settings_give_probabilities_and_two_byzantine_nodes_do_more_harm() {
        // n = 5, k = 3, alpha = 2, 8 rounds (the engine's defaults), 4 + 1 and 3 + 2.
        for rule in [Rule::Slush, Rule::Snowflake] {
            let one = Solver::new(&spec(5, 1, 3, 2, 3, 8), rule.clone())
                .unwrap()
                .uniform();
            let two = Solver::new(&spec(5, 2, 3, 2, 3, 8), rule.clone())
                .unwrap()
                .uniform();
            for x in [
                one.disagreement,
                one.majority,
                two.disagreement,
                two.majority,
            ] {
                assert!((0.0..=1.0).contains(&x), "{rule:?}: {one:?} {two:?}");
            }
            assert!(one.disagreement <= one.majority && two.disagreement <= two.majority);
            assert!(
                two.disagreement > one.disagreement + 0.2,
                "{rule:?}: {one:?} {two:?}"
            );
            // With one Byzantine node a unanimous start is safe: a node sees at
            // most one answer against its colour, below alpha.
            let mut s = Solver::new(&spec(5, 1, 3, 2, 3, 8), rule.clone()).unwrap();
            assert_eq!(s.figures(0).disagreement, 0.0);
            assert_eq!(s.figures(4).majority, 0.0);
        }
    }

    #[test]
    fn an_adversary_blind_to_the_samples_equals_its_brute_force_and_does_less() {
        // Sight::Querier against a brute force over every answer table per
        // (querier, Byzantine node), fixed before the draw.
        let settings = [
            (4, 1, 2, 1, 1, 3),
            (4, 1, 2, 2, 2, 3),
            (4, 2, 2, 1, 1, 3),
            (5, 2, 3, 2, 1, 3),
        ];
        let mut weaker = 0;
        for (n, f, k, alpha, beta, rounds) in settings {
            for rule in [Rule::Slush, Rule::Snowflake] {
                let spec = spec(n, f, k, alpha, beta, rounds);
                let mut full = Solver::new(&spec, rule.clone()).unwrap();
                let mut s = Solver::new(&spec, rule.clone()).unwrap();
                s.sight = Sight::Querier;
                for fig in s.every_split() {
                    let what = format!(
                        "{rule:?} n={n} f={f} k={k} alpha={alpha} beta={beta} R={rounds} ones={}",
                        fig.ones
                    );
                    for v in brute_sight(&s, fig.ones, Score::Disagreement, true) {
                        assert!(
                            (v - fig.disagreement).abs() < 1e-12,
                            "{what}: disagreement {} vs brute {v}",
                            fig.disagreement
                        );
                    }
                    for v in brute_sight(&s, fig.ones, Score::Majority, true) {
                        assert!(
                            (v - fig.majority).abs() < 1e-12,
                            "{what}: majority {} vs brute {v}",
                            fig.majority
                        );
                    }
                    let strong = full.figures(fig.ones);
                    assert!(fig.disagreement <= strong.disagreement + 1e-12, "{what}");
                    assert!(fig.majority <= strong.majority + 1e-12, "{what}");
                    weaker += (fig.disagreement < strong.disagreement - 1e-9) as usize;
                }
            }
        }
        // Seeing the samples matters somewhere: the two models differ.
        assert!(weaker > 0);
    }

    #[test]
    fn a_table_rule_is_searched_as_the_engine_plays_it() {
        // Slush written as a table has Slush's figures, under both sights.
        for f in [1, 2] {
            let spec = spec(5, f, 3, 2, 3, 8);
            for sight in [Sight::Samples, Sight::Querier] {
                let mut a = Solver::new(&spec, Rule::Slush).unwrap();
                let mut b = Solver::new(&spec, Rule::Table(slush_table(3, 2, 8))).unwrap();
                a.sight = sight;
                b.sight = sight;
                assert_eq!(a.every_split(), b.every_split(), "f={f} {sight:?}");
            }
        }
        // Random tables (holding in the last round leaves a node undecided):
        // the engine steps as `next` says, and the brute force agrees.
        for seed in 0..4 {
            let spec = spec(4, 1, 2, 1, 1, 3);
            let rule = Rule::Table(random_table(2, 3, seed));
            let mut s = Solver::new(&spec, rule.clone()).unwrap();
            let a = spec.byz_action_len();
            play(&s, &spec, 200, seed, &mut |env, _, rng, byz| {
                for e in 0..env.len() {
                    for (bo, _) in env.episode(e).byzantine_ids().enumerate() {
                        for i in 0..4 {
                            byz[e * a + bo * 4 + i] = rng.random_range(0..3u8);
                        }
                    }
                }
            });
            for fig in s.every_split() {
                for v in brute_all(&s, fig.ones, Score::Disagreement) {
                    assert!(
                        (v - fig.disagreement).abs() < 1e-12,
                        "seed {seed}: {fig:?} vs {v}"
                    );
                }
                for v in brute_all(&s, fig.ones, Score::Majority) {
                    assert!(
                        (v - fig.majority).abs() < 1e-12,
                        "seed {seed}: {fig:?} vs {v}"
                    );
                }
            }
        }
        let other = Solver::new(&spec(5, 1, 3, 2, 3, 8), Rule::Table(slush_table(2, 2, 8)));
        assert!(other.err().unwrap().contains("k = 2 and 8 rounds"));
    }

    #[test]
    fn the_correctness_figure_equals_its_brute_force_under_both_sights() {
        // Every rule kind, and random tables that hold in the last round
        // (termination fails there: the figure must count it).
        let settings = [(4, 1, 2, 1, 1, 3), (4, 2, 2, 1, 1, 3), (5, 1, 3, 2, 2, 3)];
        for (n, f, k, alpha, beta, rounds) in settings {
            let mut rules = vec![Rule::Slush, Rule::Snowflake];
            rules.extend(TRIVIAL.iter().map(|t| Rule::parse(t).unwrap()));
            rules.extend((0..3).map(|seed| Rule::Table(random_table(k, rounds, seed))));
            for rule in rules {
                for blind in [false, true] {
                    let spec = spec(n, f, k, alpha, beta, rounds);
                    let mut s = Solver::new(&spec, rule.clone()).unwrap();
                    if blind {
                        s.sight = Sight::Querier;
                    }
                    for ones in 0..=s.honest() {
                        let exact = s.score(Score::Correctness, ones);
                        for v in brute_sight(&s, ones, Score::Correctness, blind) {
                            assert!(
                                (v - exact).abs() < 1e-12,
                                "{rule:?} n={n} f={f} blind={blind} ones={ones}: {exact} vs brute {v}"
                            );
                        }
                        // Breaking correctness is at least breaking
                        // agreement, and at most stopping the majority.
                        let d = s.score(Score::Disagreement, ones);
                        let m = s.score(Score::Majority, ones);
                        assert!(d <= exact + 1e-12 && exact <= m + 1e-12, "{rule:?} {ones}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_trivial_protocols_have_their_textbook_figures() {
        // n = 5, k = 3, alpha = 2, 8 rounds, inputs uniform. Exact fractions:
        // each figure is a sum of binomial shares of the 2^h input splits.
        // "Always 0" never disagrees, fails validity only on unanimous 1s,
        // and decides the majority exactly when it is 0: 1/2 of the inputs
        // of 3 honest nodes, 5/16 of 4 (the tied 6/16 has no majority).
        // "Own input" disagrees on every split input.
        let want = [
            // (rule, f, disagreement, majority, correctness)
            ("always0", 2, 0.0, 1.0 / 2.0, 1.0 / 8.0),
            ("always0", 1, 0.0, 11.0 / 16.0, 1.0 / 16.0),
            ("always1", 2, 0.0, 1.0 / 2.0, 1.0 / 8.0),
            ("always1", 1, 0.0, 11.0 / 16.0, 1.0 / 16.0),
            ("own_input", 2, 3.0 / 4.0, 3.0 / 4.0, 3.0 / 4.0),
            ("own_input", 1, 7.0 / 8.0, 7.0 / 8.0, 7.0 / 8.0),
        ];
        for (name, f, d, m, c) in want {
            for sight in [Sight::Samples, Sight::Querier] {
                let mut s =
                    Solver::new(&spec(5, f, 3, 2, 3, 8), Rule::parse(name).unwrap()).unwrap();
                s.sight = sight;
                let got = Score::ALL.map(|x| s.uniform_score(x));
                assert_eq!(got, [d, m, c], "{name} f={f} {sight:?}");
            }
        }
        // Scripted Slush and Snowflake do worse than a constant colour on
        // both the majority goal and correctness, in 4 + 1 and in 3 + 2.
        for f in [1, 2] {
            let mut zero =
                Solver::new(&spec(5, f, 3, 2, 3, 8), Rule::parse("always0").unwrap()).unwrap();
            let (zm, zc) = (
                zero.uniform_score(Score::Majority),
                zero.uniform_score(Score::Correctness),
            );
            for rule in [Rule::Slush, Rule::Snowflake] {
                let mut s = Solver::new(&spec(5, f, 3, 2, 3, 8), rule.clone()).unwrap();
                assert!(s.uniform_score(Score::Majority) > zm, "{rule:?} f={f}");
                assert!(s.uniform_score(Score::Correctness) > zc, "{rule:?} f={f}");
            }
        }
    }
}
