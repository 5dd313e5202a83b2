//! The learned Byzantine team of Snowball (issue 30): one network answers
//! every query that reached a Byzantine peer, from a view whose size does
//! not grow with `n` (`envs::sampling::snowball::query`: the querier's
//! streak and counters, the drawn Byzantine peers, the honest nodes per
//! preference and per (streak colour, streak bucket) as fractions, the
//! round). Each round, every pending query of every episode of a batch is
//! answered by one call of the network ([`Answerer::answers`]).
//!
//! Training reuses the project's learners (`agents::Learner`, PPO or
//! REINFORCE): a trajectory is one honest node of one episode, a step each
//! round its query reaches a Byzantine peer, and only `snowball.tracked`
//! nodes per episode are recorded (every node is answered by the same
//! network; the recorded ones are an unbiased sample of its decisions).
//! The reward of a step, for the adversary, is the querier's part in what
//! stops liveness (a difference reward: the change of the network's state
//! that this one query's node made):
//!
//! ```text
//! r = (streak before - streak after) / beta - [the node decided]
//!     + w * (+1 if the node switched to the colour fewer honest nodes
//!               preferred at the start of the round, -1 if to the one
//!               more preferred)
//! ```
//!
//! so a broken streak pays, a grown one costs, a decision costs 1 more,
//! and a switch towards an even split pays `w` (`snowball.balance_weight`);
//! discounted by `byzantine.learn.gamma` along the node's trajectory.
//! Without the balance term (w = 0) the reward is the node's own liveness
//! alone, which a single query barely moves: measured, the network then
//! learns nothing (docs/snowball.md).

use agents::learner::{ActScratch, Actor};
use agents::{Buffer, Learner, Stats};
use envs::sampling::snowball::query::{polls_bytes, SILENT};
use envs::sampling::snowball::{Batch, SnowballSpec, Summary, Tally, VIEW};
use rand_chacha::ChaCha8Rng;

/// Every answer is allowed: mine, the other colour, silent.
const ALL: u8 = 0b111;

/// A network answering queries, with its reusable buffers.
pub struct Answerer<'a> {
    pub actor: &'a Actor,
    pub greedy: bool,
    scratch: ActScratch,
    views: Vec<f32>,
    masks: Vec<u8>,
    pub actions: Vec<u32>,
    pub logp: Vec<f32>,
}

impl<'a> Answerer<'a> {
    pub fn new(actor: &'a Actor, greedy: bool) -> Self {
        Answerer {
            actor,
            greedy,
            scratch: ActScratch::default(),
            views: vec![],
            masks: vec![],
            actions: vec![],
            logp: vec![],
        }
    }

    /// Answers every query of `batch`'s round in progress: one call of the
    /// network over all of them (`actions`, `logp` and the views are left
    /// in `self`). A greedy answerer draws nothing from `rng`.
    pub fn answers(&mut self, batch: &Batch, rng: &mut ChaCha8Rng) {
        batch.views(&mut self.views);
        let rows = batch.queries().len();
        self.masks.clear();
        self.masks.resize(rows, ALL);
        self.actions.clear();
        self.actions.resize(rows, SILENT);
        self.logp.clear();
        self.logp.resize(rows, 0.0);
        if rows == 0 {
            return;
        }
        self.actor.act(
            &self.views,
            &self.masks,
            rows,
            self.greedy,
            rng,
            &mut self.scratch,
            &mut self.actions,
            &mut self.logp,
            None,
        );
    }

    /// The view of query `q` of the last call.
    pub fn view(&self, q: usize) -> &[f32] {
        &self.views[q * VIEW..][..VIEW]
    }
}

/// `episodes` episodes against the network played greedily, `batch` at a
/// time, episode `e` drawing from stream `e` of `seed` (as the scripted
/// rows do, so a row of the learned team plays the same episodes' draws
/// before the answers differ).
pub fn sample(
    spec: &SnowballSpec,
    actor: &Actor,
    seed: u64,
    episodes: u64,
    batch: usize,
    rng: &mut ChaCha8Rng,
) -> Summary {
    let batch = batch.max(1) as u64;
    let mut answerer = Answerer::new(actor, true);
    let mut tally = Tally::default();
    let mut first = 0;
    while first < episodes {
        let len = batch.min(episodes - first);
        let mut b = Batch::new(*spec, seed, first, len as usize);
        while !b.over() {
            b.poll();
            answerer.answers(&b, rng);
            b.answer(&answerer.actions);
        }
        b.outcomes().iter().for_each(|o| tally.add(o));
        first += len;
    }
    tally.summary()
}

/// Which honest nodes of an episode are recorded: every `stride`-th, about
/// `tracked` of them (at least one).
pub fn stride(spec: &SnowballSpec, tracked: usize) -> usize {
    (spec.h as usize).div_ceil(tracked.max(1)).max(1)
}

/// One training batch: `len` episodes drawing from streams `0..len` of
/// `seed`, every query answered by the learner's policy (sampled), the
/// recorded nodes' steps in a buffer; then one update. Returns the update's
/// statistics and the batch's figures.
#[allow(clippy::too_many_arguments)]
pub fn train_batch(
    spec: &SnowballSpec,
    learner: &mut Learner,
    tracked: usize,
    balance_weight: f32,
    seed: u64,
    len: usize,
    play: &mut ChaCha8Rng,
    update: &mut ChaCha8Rng,
) -> anyhow::Result<(Stats, Summary)> {
    let actor = learner.actor()?;
    let h = spec.h as usize;
    let every = stride(spec, tracked);
    let mut buf = Buffer::new(VIEW, 1);
    let mut answerer = Answerer::new(&actor, false);
    let mut b = Batch::new(*spec, seed, 0, len);
    // Per recorded query: its index, trajectory, streak and preference before.
    let mut picked: Vec<(usize, usize, u32, u8)> = vec![];
    let (mut rows, mut values, mut hidden) = (vec![], vec![], [vec![], vec![]]);
    while !b.over() {
        b.poll();
        answerer.answers(&b, play);
        // The recorded queries: their views, values and streaks before.
        picked.clear();
        rows.clear();
        for (q, query) in b.queries().iter().enumerate() {
            let (e, i) = (query.episode as usize, query.node as usize);
            if i % every == 0 {
                let node = b.nodes(e)[i];
                picked.push((q, e * h + i, node.cnt, node.pref));
                rows.extend_from_slice(answerer.view(q));
            }
        }
        actor
            .critic
            .forward(&rows, picked.len(), &mut hidden, &mut values);
        b.answer(&answerer.actions);
        for (j, &(q, traj, before, pref)) in picked.iter().enumerate() {
            let (e, i) = (traj / h, traj % h);
            let node = b.nodes(e)[i];
            let after = if node.decided { spec.beta } else { node.cnt };
            // The view's split (the share of honest nodes preferring the
            // querier's colour at the start of the round, centred on one
            // half): above half, a switch away evens it.
            let mine = answerer.view(q)[4];
            let switched = if node.pref == pref {
                0.0
            } else if mine > 0.0 {
                1.0
            } else if mine < 0.0 {
                -1.0
            } else {
                0.0
            };
            let reward = (before as f32 - after as f32) / spec.beta as f32
                - f32::from(u8::from(node.decided))
                + balance_weight * switched;
            buf.push(
                traj,
                answerer.view(q),
                &[ALL],
                &answerer.actions[q..q + 1],
                answerer.logp[q],
                values[j],
            );
            buf.reward_last(traj, reward);
        }
    }
    let mut tally = Tally::default();
    b.outcomes().iter().for_each(|o| tally.add(o));
    let stats = learner.update(&buf, update)?;
    Ok((stats, tally.summary()))
}

/// The bytes a training or evaluation batch of `episodes` episodes needs
/// beyond the game's own: the round's drawn polls, and at most every
/// query's view and answer.
pub fn extra_bytes(spec: &SnowballSpec, episodes: usize) -> f64 {
    let per_query = (VIEW * 4 + 4 + 4 + 1) as f64;
    polls_bytes(spec, episodes) + episodes as f64 * spec.h as f64 * per_query
}

/// The bytes of a training buffer: about `tracked` nodes of each of
/// `episodes` episodes, a step a round at most.
pub fn buffer_bytes(spec: &SnowballSpec, tracked: usize, episodes: usize) -> f64 {
    let nodes = (spec.h as usize).div_ceil(stride(spec, tracked));
    let per_step = (VIEW * 4 + 1 + 4 + 4 * 4) as f64;
    // The learner's minibatch copies and advantages: about twice again.
    3.0 * episodes as f64 * nodes as f64 * spec.rounds as f64 * per_step
}
