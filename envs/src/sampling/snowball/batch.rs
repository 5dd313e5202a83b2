//! Many Snowball episodes stepped a round at a time over flat arrays: every
//! honest node's state in one `Vec<Node>` (episode-major), each episode's
//! counters and ChaCha stream beside it. Episodes step in parallel; each
//! draws from its own stream, so the bytes do not depend on the threads.

use super::adversary::{draw, Adversary, Round};
use super::SnowballSpec;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One honest node's Snowball state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Confidence counters: successful polls of each colour.
    pub d: [u32; 2],
    /// The streak: consecutive successful polls of colour `last`.
    pub cnt: u32,
    /// The colour it answers with.
    pub pref: u8,
    /// The colour of its last successful poll (the streak's).
    pub last: u8,
    pub decided: bool,
}

impl Node {
    fn new(colour: u8) -> Node {
        Node {
            pref: colour,
            last: colour,
            ..Node::default()
        }
    }

    /// One poll: `count` votes for `choice`, the larger colour
    /// (avalanchego's binary Snowball `RecordPoll`).
    #[inline]
    pub fn record(&mut self, spec: &SnowballSpec, count: u32, choice: u8) {
        if count < spec.alpha_preference {
            self.cnt = 0;
            return;
        }
        let c = choice as usize;
        self.d[c] += 1;
        if self.d[c] > self.d[1 - c] {
            self.pref = choice;
        }
        if count < spec.alpha_confidence {
            self.cnt = 0;
            return;
        }
        if self.last == choice {
            self.cnt += 1;
        } else {
            self.last = choice;
            self.cnt = 1;
        }
        if self.cnt >= spec.beta {
            self.decided = true;
            self.pref = choice;
        }
    }
}

/// How one episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The round its last honest node decided; `None`: stalled at the cap.
    pub finished: Option<u32>,
    /// The first round two honest nodes had decided different colours.
    pub violation: Option<u32>,
    /// Honest nodes decided on each colour at the end.
    pub decided: [u32; 2],
    /// Rounds played.
    pub rounds: u32,
    /// Polls made by honest nodes (each of `k` node-samples).
    pub polls: u64,
}

/// One episode's counters and stream.
#[derive(Clone, Debug)]
pub(super) struct Episode {
    pub(super) rng: ChaCha8Rng,
    /// Honest nodes preferring 1.
    pub(super) ones: u32,
    pub(super) decided: [u32; 2],
    pub(super) round: u32,
    pub(super) polls: u64,
    pub(super) finished: Option<u32>,
    pub(super) violation: Option<u32>,
    pub(super) over: bool,
}

/// The bytes of one episode beside its nodes (its stream and counters).
pub const EPISODE_BYTES: usize = std::mem::size_of::<Episode>();

/// A batch of episodes of one game.
pub struct Batch {
    pub(super) spec: SnowballSpec,
    pub(super) nodes: Vec<Node>,
    pub(super) eps: Vec<Episode>,
    /// The learned adversary's round in progress (`query`), empty until
    /// [`Batch::poll`] first runs.
    pub(super) polls: super::query::Polls,
}

impl Batch {
    /// Episodes `first..first + len`, episode `e` drawing from stream `e`
    /// of `seed`.
    pub fn new(spec: SnowballSpec, seed: u64, first: u64, len: usize) -> Batch {
        let h = spec.h as usize;
        let mut start = vec![Node::new(0); h];
        for node in &mut start[..spec.ones as usize] {
            *node = Node::new(1);
        }
        let eps = (0..len as u64)
            .map(|e| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(first + e);
                Episode {
                    rng,
                    ones: spec.ones,
                    decided: [0; 2],
                    round: 0,
                    polls: 0,
                    finished: None,
                    violation: None,
                    over: false,
                }
            })
            .collect();
        Batch {
            nodes: start.repeat(len),
            eps,
            spec,
            polls: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.eps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.eps.is_empty()
    }

    /// Whether every episode has ended (all decided, or the cap reached).
    pub fn over(&self) -> bool {
        self.eps.iter().all(|e| e.over)
    }

    /// Episode `e`'s honest nodes.
    pub fn nodes(&self, e: usize) -> &[Node] {
        let h = self.spec.h as usize;
        &self.nodes[e * h..(e + 1) * h]
    }

    /// One round of every episode not over, against `adversary`.
    pub fn step(&mut self, adversary: Adversary) {
        let spec = self.spec;
        let h = spec.h as usize;
        self.nodes
            .par_chunks_mut(h)
            .zip(self.eps.par_iter_mut())
            .filter(|(_, ep)| !ep.over)
            .for_each(|(nodes, ep)| round(&spec, adversary, nodes, ep));
    }

    /// Runs every episode to its end.
    pub fn run(&mut self, adversary: Adversary) {
        while !self.over() {
            self.step(adversary);
        }
    }

    /// How each episode ended (or stands).
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.eps
            .iter()
            .map(|e| Outcome {
                finished: e.finished,
                violation: e.violation,
                decided: e.decided,
                rounds: e.round,
                polls: e.polls,
            })
            .collect()
    }
}

/// One round of one episode: every undecided node polls the start-of-round
/// preferences, then the episode's counters and end.
fn round(spec: &SnowballSpec, adversary: Adversary, nodes: &mut [Node], ep: &mut Episode) {
    let ones = ep.ones;
    let zeros = spec.h - ones;
    let plan = adversary.plan(spec, ones, &mut ep.rng);
    let at = Round {
        played: ep.round,
        decided: ep.decided,
    };
    let mut now_ones = ones;
    for (i, node) in nodes.iter_mut().enumerate().filter(|(_, n)| !n.decided) {
        ep.polls += 1;
        let own = node.pref;
        let (z, o) = match own {
            0 => (zeros - 1, ones),
            _ => (zeros, ones - 1),
        };
        let got = draw(spec.k, z, o, spec.f, &mut ep.rng);
        let mut votes = [got[0], got[1]];
        if let Some(c) = adversary.answer(plan, spec, i, node, at) {
            votes[c as usize] += got[2];
        }
        decide(spec, node, votes, own, &mut now_ones, &mut ep.decided);
    }
    close(spec, ep, now_ones);
}

/// A node's poll on this round's `votes` (the larger colour, as
/// `Node::record` takes it), keeping the episode's count of honest ones
/// (`own`: its preference before) and of decided nodes per colour.
#[inline]
pub(super) fn decide(
    spec: &SnowballSpec,
    node: &mut Node,
    votes: [u32; 2],
    own: u8,
    now_ones: &mut u32,
    decided: &mut [u32; 2],
) {
    let choice = u8::from(votes[1] > votes[0]);
    node.record(spec, votes[choice as usize], choice);
    if node.pref != own {
        match node.pref {
            1 => *now_ones += 1,
            _ => *now_ones -= 1,
        }
    }
    if node.decided {
        decided[node.pref as usize] += 1;
    }
}

/// The end of an episode's round: its honest preferences now, the round
/// counted, a first safety violation, and its end.
pub(super) fn close(spec: &SnowballSpec, ep: &mut Episode, now_ones: u32) {
    ep.ones = now_ones;
    ep.round += 1;
    if ep.violation.is_none() && ep.decided[0] > 0 && ep.decided[1] > 0 {
        ep.violation = Some(ep.round);
    }
    if ep.decided[0] + ep.decided[1] == spec.h {
        ep.finished = Some(ep.round);
        ep.over = true;
    } else if ep.round >= spec.rounds {
        ep.over = true;
    }
}

/// `episodes` episodes against `adversary`, `batch` at a time, episode `e`
/// drawing from stream `e` of `seed`: the same outcomes for any `batch`
/// and any number of threads.
pub fn play(
    spec: &SnowballSpec,
    adversary: Adversary,
    seed: u64,
    episodes: u64,
    batch: usize,
) -> Vec<Outcome> {
    let batch = batch.max(1) as u64;
    let mut out = Vec::with_capacity(episodes as usize);
    let mut first = 0;
    while first < episodes {
        let len = batch.min(episodes - first);
        let mut b = Batch::new(*spec, seed, first, len as usize);
        b.run(adversary);
        out.extend(b.outcomes());
        first += len;
    }
    out
}

/// [`play`]'s episodes tallied batch by batch ([`Summary::of`] of them,
/// the same figures), without keeping every episode's outcome: what a run
/// of any number of episodes needs in memory is one batch.
pub fn sample(
    spec: &SnowballSpec,
    adversary: Adversary,
    seed: u64,
    episodes: u64,
    batch: usize,
) -> Summary {
    let batch = batch.max(1) as u64;
    let mut tally = Tally::default();
    let mut first = 0;
    while first < episodes {
        let len = batch.min(episodes - first);
        let mut b = Batch::new(*spec, seed, first, len as usize);
        b.run(adversary);
        b.outcomes().iter().for_each(|o| tally.add(o));
        first += len;
    }
    tally.summary()
}

/// The figures of a sample of episodes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub episodes: u64,
    /// Episodes with an honest node undecided at the cap (liveness lost).
    pub stalled: u64,
    /// Episodes where two honest nodes decided different colours.
    pub violations: u64,
    /// Mean rounds until every honest node decided, over the episodes that
    /// finished (`None`: none did).
    pub mean_rounds: Option<f64>,
    /// The most rounds a finished episode took.
    pub max_rounds: Option<u32>,
    /// Mean round of the first safety violation, over the episodes with one.
    pub mean_violation_round: Option<f64>,
    /// The sample standard deviation of that round (two episodes with one
    /// at least).
    pub sd_violation_round: Option<f64>,
    /// Polls made by honest nodes, in all.
    pub polls: u64,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut tally = Tally::default();
        outcomes.iter().for_each(|o| tally.add(o));
        tally.summary()
    }
}

/// Running sums of outcomes, in episode order (so the means are the same
/// bytes however the episodes were batched).
#[derive(Default)]
pub struct Tally {
    episodes: u64,
    finished: u64,
    rounds: f64,
    max_rounds: Option<u32>,
    violations: u64,
    violation_rounds: f64,
    violation_rounds_sq: f64,
    polls: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        self.episodes += 1;
        self.polls += o.polls;
        if let Some(r) = o.finished {
            self.finished += 1;
            self.rounds += r as f64;
            self.max_rounds = self.max_rounds.max(Some(r));
        }
        if let Some(r) = o.violation {
            self.violations += 1;
            self.violation_rounds += r as f64;
            self.violation_rounds_sq += r as f64 * r as f64;
        }
    }

    pub fn summary(&self) -> Summary {
        let mean = |sum: f64, k: u64| (k > 0).then(|| sum / k as f64);
        Summary {
            episodes: self.episodes,
            stalled: self.episodes - self.finished,
            violations: self.violations,
            mean_rounds: mean(self.rounds, self.finished),
            max_rounds: self.max_rounds,
            mean_violation_round: mean(self.violation_rounds, self.violations),
            sd_violation_round: (self.violations > 1).then(|| {
                let k = self.violations as f64;
                let m = self.violation_rounds / k;
                ((self.violation_rounds_sq - k * m * m).max(0.0) / (k - 1.0)).sqrt()
            }),
            polls: self.polls,
        }
    }
}
