//! Playing reliable broadcast with networks: a batch of episodes to its
//! end, every pending honest decision of every episode in one forward pass
//! (two under `rb.per_value`: every value-0 row, then every value-1 row),
//! and the adversary's moves one choice level per forward pass; then each
//! team's pay. The rules and the batch live in `envs::broadcast::play`.
//!
//! Pay, zero-sum on the named properties (the message cost is the honest
//! team's alone: the whole pay is zero-sum only at no cost): at the end of an episode the
//! adversary earns 1 if some property is broken (`game::broken`), and every
//! agent running the honest protocol loses 1; each also pays
//! `rb.message_cost` per message it sent (so that, among protocols that
//! hold, the cheaper one is preferred). Nothing else is shaped.
//! With `rb.pay_per_property` the broken-property term counts the named
//! properties broken (the adversary earns, and every honest agent loses, 1
//! per broken property), still zero-sum on them and naming no message.
//!
//! Which instances a training batch starts from is [`starts`].

use crate::games::broadcast::score::Replay;
use agents::learner::{ActScratch, Actor};
use agents::Buffer;
use envs::broadcast::game::{Step, SENDER};
use envs::broadcast::play::{self, Batch, Choice, Reading, HONEST_HEADS};
use envs::broadcast::{Instance, RbProtocol, RbSpec};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The honest team as it plays.
pub enum Honest<'a> {
    /// The network: sampled while it learns, greedy when evaluated.
    Net {
        actor: &'a Actor,
        greedy: bool,
        record: Option<&'a mut Buffer>,
        /// `rb.value_symmetric` and `rb.one_value_per_kind`.
        reading: Reading,
    },
    /// A fixed protocol (scripted, for tests and baselines).
    Protocol(&'a dyn RbProtocol),
}

/// The adversary (Byzantine agents and scheduler) as it plays.
pub struct Adversary<'a> {
    pub actor: &'a Actor,
    pub greedy: bool,
    pub record: Option<&'a mut Buffer>,
}

/// An honest agent's trajectory id: (episode, agent).
pub fn honest_trajectory(n: usize, e: usize, a: usize) -> usize {
    e * n + a
}

/// Reusable arrays.
#[derive(Default)]
pub struct Scratch {
    obs: Vec<f32>,
    masks: Vec<u8>,
    acts: Vec<u32>,
    logp: Vec<f32>,
    values: Vec<f32>,
    /// Per honest row: whether its view was turned (values swapped).
    turned: Vec<bool>,
    /// One value's rows under `rb.per_value` ([`act_per_value`]).
    row: RowScratch,
    honest: ActScratch,
    adversary: ActScratch,
}

/// The rows of one value, gathered for a forward pass.
#[derive(Default)]
struct RowScratch {
    obs: Vec<f32>,
    masks: Vec<u8>,
    acts: Vec<u32>,
    logp: Vec<f32>,
    values: Vec<f32>,
}

/// Plays `batch` to its end.
pub fn play(
    batch: &mut Batch,
    honest: &mut Honest,
    adv: &mut Adversary,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
) {
    while !batch.done() {
        // Episodes waiting for the adversary now; the others have pending
        // honest agents. The two sets are disjoint, so the order is free.
        let turns = batch.adversary_turns();
        honest_turn(batch, honest, rng, s);
        adversary_turn(batch, &turns, adv, rng, s);
    }
}

/// Every pending honest agent of every episode acts once on its view.
fn honest_turn(batch: &mut Batch, honest: &mut Honest, rng: &mut ChaCha8Rng, s: &mut Scratch) {
    let who = batch.pending();
    if who.is_empty() {
        return;
    }
    let (spec, n) = (batch.spec, batch.spec.n);
    match honest {
        Honest::Protocol(p) => {
            for (e, a) in who {
                let view = batch.view(e, a);
                batch.decide(e, a, p.act(&spec, &view));
            }
        }
        Honest::Net {
            actor,
            greedy,
            record,
            reading,
        } => {
            // One row per decision, or one per value (`rb.per_value`).
            let d = play::honest_obs_size(&spec, *reading);
            let r = play::honest_rows(*reading);
            let rows = who.len() * r;
            s.obs.resize(rows * d, 0.0);
            s.masks.resize(rows * HONEST_HEADS, 0);
            s.turned.clear();
            for (k, &(e, a)) in who.iter().enumerate() {
                let view = batch.view(e, a);
                s.turned.push(play::honest_inputs(
                    &spec,
                    &view,
                    *reading,
                    &mut s.obs[k * r * d..][..r * d],
                    &mut s.masks[k * r * HONEST_HEADS..][..r * HONEST_HEADS],
                ));
            }
            s.acts.resize(rows * HONEST_HEADS, 0);
            s.logp.resize(rows, 0.0);
            s.values.resize(rows, 0.0);
            if reading.per_value {
                act_per_value(actor, *reading, *greedy, record.is_some(), d, rng, s);
            } else {
                actor.act(
                    &s.obs,
                    &s.masks,
                    rows,
                    *greedy,
                    rng,
                    &mut s.honest,
                    &mut s.acts,
                    &mut s.logp,
                    record.is_some().then_some(&mut s.values[..]),
                );
            }
            for (k, &(e, a)) in who.iter().enumerate() {
                if let Some(buf) = record.as_deref_mut() {
                    for row in k * r..(k + 1) * r {
                        buf.push(
                            honest_trajectory(n, e, a),
                            &s.obs[row * d..][..d],
                            &s.masks[row * HONEST_HEADS..][..HONEST_HEADS],
                            &s.acts[row * HONEST_HEADS..][..HONEST_HEADS],
                            s.logp[row],
                            s.values[row],
                        );
                    }
                }
                let acts = &s.acts[k * r * HONEST_HEADS..][..r * HONEST_HEADS];
                batch.decide(e, a, play::decision_of(*reading, acts, s.turned[k]));
            }
        }
    }
}

/// Under `rb.per_value`: every decision's value-0 row in one forward pass,
/// then every value-1 row under the masks value 0's choice leaves it
/// (`play::second_row_masks`), so what each row is recorded as doing is
/// what the decision does and its log-probability is that of its own
/// choice (sampling both rows at once would credit value 1 with a delivery
/// or a kind that value 0 took). `s.obs` and `s.masks` hold the rows in
/// decision order, value 0 then value 1, and so do the answers.
fn act_per_value(
    actor: &Actor,
    reading: Reading,
    greedy: bool,
    values: bool,
    d: usize,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
) {
    let decisions = s.logp.len() / 2;
    let h = HONEST_HEADS;
    for v in 0..2 {
        let r = &mut s.row;
        r.obs.clear();
        r.masks.clear();
        for k in 0..decisions {
            let row = 2 * k + v;
            if v == 1 {
                let first = &s.acts[(row - 1) * h..][..h];
                play::second_row_masks(reading, first, &mut s.masks[row * h..][..h]);
            }
            r.obs.extend_from_slice(&s.obs[row * d..][..d]);
            r.masks.extend_from_slice(&s.masks[row * h..][..h]);
        }
        r.acts.resize(decisions * h, 0);
        r.logp.resize(decisions, 0.0);
        r.values.resize(decisions, 0.0);
        actor.act(
            &r.obs,
            &r.masks,
            decisions,
            greedy,
            rng,
            &mut s.honest,
            &mut r.acts,
            &mut r.logp,
            values.then_some(&mut r.values[..]),
        );
        for k in 0..decisions {
            let row = 2 * k + v;
            s.acts[row * h..][..h].copy_from_slice(&r.acts[k * h..][..h]);
            s.logp[row] = r.logp[k];
            s.values[row] = r.values[k];
        }
    }
}

/// The adversary moves once in each episode of `turns`: a forced move of a
/// replayed counterexample, the end when no move is left, or its network's
/// choice, one level per forward pass over every episode still choosing.
fn adversary_turn(
    batch: &mut Batch,
    turns: &[usize],
    adv: &mut Adversary,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
) {
    let mut choosing: Vec<(usize, Choice)> = vec![];
    for &e in turns {
        if batch.force(e) || batch.end_if_stuck(e) {
            continue;
        }
        choosing.push((e, Choice::default()));
    }
    let d = play::adversary_obs_size(&batch.spec);
    while !choosing.is_empty() {
        let rows = choosing.len();
        s.obs.resize(rows * d, 0.0);
        s.masks.resize(rows, 0);
        for (k, (e, c)) in choosing.iter().enumerate() {
            batch.encode_adversary(*e, c, &mut s.obs[k * d..][..d]);
            s.masks[k] = batch.adversary_mask(*e, c);
        }
        s.acts.resize(rows, 0);
        s.logp.resize(rows, 0.0);
        s.values.resize(rows, 0.0);
        adv.actor.act(
            &s.obs,
            &s.masks[..rows],
            rows,
            adv.greedy,
            rng,
            &mut s.adversary,
            &mut s.acts,
            &mut s.logp,
            adv.record.is_some().then_some(&mut s.values[..]),
        );
        let mut still = vec![];
        for (k, (e, mut c)) in choosing.drain(..).enumerate() {
            if let Some(buf) = adv.record.as_deref_mut() {
                buf.push(
                    e,
                    &s.obs[k * d..][..d],
                    &s.masks[k..k + 1],
                    &s.acts[k..k + 1],
                    s.logp[k],
                    s.values[k],
                );
            }
            c.classes.push(s.acts[k]);
            if !batch.chosen(&c) {
                still.push((e, c));
                continue;
            }
            match batch.adversary_step(e, &c) {
                Some(step) => batch.play(e, step),
                None => batch.stop(e),
            }
        }
        choosing = still;
    }
}

/// Whether episode `e` ended with some property broken.
pub fn attacked(batch: &Batch, e: usize) -> bool {
    batch.broken(e) != 0
}

/// What the adversary earns in episode `e` (and each honest agent loses):
/// 1 if some property is broken; with `per_property`, 1 per broken one.
pub fn loss(batch: &Batch, e: usize, per_property: bool) -> f32 {
    match per_property {
        true => batch.broken(e).count_ones() as f32,
        false => attacked(batch, e) as u8 as f32,
    }
}

/// Pays both teams at the end of every episode (see the module's note).
pub fn pay(
    batch: &Batch,
    message_cost: f32,
    per_property: bool,
    honest: Option<&mut Buffer>,
    adv: Option<&mut Buffer>,
) {
    let n = batch.spec.n;
    if let Some(buf) = honest {
        for (e, ep) in batch.episodes.iter().enumerate() {
            let lost = loss(batch, e, per_property);
            for a in (0..n).filter(|&a| !ep.inst.is_byzantine(&batch.spec, a)) {
                let sent = ep.state[a].sent.count_ones() as f32;
                buf.reward_last(honest_trajectory(n, e, a), -lost - message_cost * sent);
            }
        }
    }
    if let Some(buf) = adv {
        for e in 0..batch.len() {
            buf.reward_last(e, loss(batch, e, per_property));
        }
    }
}

/// The starts of a training batch of `size` episodes: the first `replays`
/// replay the kept counterexamples `kept` (the newest first, then back in
/// time; none when nothing is kept), the others draw an instance from the
/// play stream: the first `faulty_sender_share` of them (rounded) uniformly
/// among the instances whose sender is faulty (if the game has any), the
/// rest uniformly among all (`rb.faulty_sender_share`; at 0 the draws are
/// those of uniform instances alone).
pub fn starts(
    spec: &RbSpec,
    kept: &[Replay],
    replays: usize,
    size: usize,
    faulty_sender_share: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<(Instance, Vec<Step>)> {
    let all = envs::broadcast::instances(spec);
    let faulty_sender: Vec<Instance> = all
        .iter()
        .copied()
        .filter(|i| i.is_faulty(SENDER))
        .collect();
    let replays = if kept.is_empty() {
        0
    } else {
        replays.min(size)
    };
    let leaning = match faulty_sender.is_empty() {
        true => 0,
        false => ((size - replays) as f64 * faulty_sender_share).round() as usize,
    };
    let mut out = Vec::with_capacity(size);
    for k in 0..size {
        if k < replays {
            let r = &kept[kept.len() - 1 - k % kept.len()];
            out.push((r.inst, r.moves.clone()));
        } else if k < replays + leaning {
            out.push((
                faulty_sender[rng.random_range(0..faulty_sender.len())],
                vec![],
            ));
        } else {
            out.push((all[rng.random_range(0..all.len())], vec![]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::stream;
    use envs::broadcast::RbFaults;

    #[test]
    fn starts_lean_on_faulty_senders_only_when_asked() {
        let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
        let all = envs::broadcast::instances(&spec);
        // Share 0: the draws of uniform instances alone.
        let mut a = stream(7, 1);
        let mut b = stream(7, 1);
        let uniform: Vec<Instance> = (0..64).map(|_| all[b.random_range(0..all.len())]).collect();
        let got: Vec<Instance> = starts(&spec, &[], 10, 64, 0.0, &mut a)
            .into_iter()
            .map(|(i, moves)| {
                assert!(moves.is_empty());
                i
            })
            .collect();
        assert_eq!(got, uniform);
        // A replay first, then half the fresh starts on a faulty sender.
        let kept = [Replay {
            inst: all[1],
            moves: vec![],
        }];
        let got = starts(&spec, &kept, 4, 64, 0.5, &mut a);
        assert!(got[..4].iter().all(|(i, _)| *i == all[1]));
        assert!(got[4..34].iter().all(|(i, _)| i.is_faulty(SENDER)));
        assert_eq!(got.len(), 64);
    }
}
