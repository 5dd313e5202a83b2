//! Playing the sampling game: both teams as they act (a scripted rule or a
//! network for the honest nodes; scripted answerers or a network for the
//! Byzantine ones), a batch of episodes to its end, and the teams' pay.
//!
//! A Byzantine network answers every query it received in a round from one
//! forward pass over all of them, in every episode of the batch. Its step
//! is one answer: the trajectory of (episode, Byzantine node, querier), paid
//! at the end for the team's goal.

use agents::learner::{ActScratch, Actor};
use agents::Buffer;
use envs::consensus::NONE;
use envs::sampling::{self as slush, Query, SlushEnv, SlushRule, COMMIT};
use rand_chacha::ChaCha8Rng;

/// The honest team of the sampling game as it plays.
pub enum Honest<'a> {
    Rule(&'a mut dyn SlushRule),
    Net {
        actor: &'a Actor,
        greedy: bool,
        record: Option<&'a mut Buffer>,
    },
}

/// The Byzantine team of the sampling game as it plays.
pub enum Answerers<'a> {
    /// A scripted answerer of `slush::ADVERSARIES` (or none: `f = 0`).
    Scripted(&'a str),
    Net {
        actor: &'a Actor,
        greedy: bool,
        record: Option<&'a mut Buffer>,
    },
}

/// Reusable arrays of a Byzantine network's round.
#[derive(Default)]
struct Scratch {
    queries: Vec<Query>,
    obs: Vec<f32>,
    acts: Vec<u32>,
    logp: Vec<f32>,
    values: Vec<f32>,
    act: ActScratch,
}

/// The trajectory of one Byzantine node's answers to one querier.
pub fn byzantine_trajectory(env: &SlushEnv, e: usize, ordinal: usize, querier: usize) -> usize {
    (e * env.spec.f + ordinal) * env.spec.n + querier
}

/// Plays one batch to its end; the env holds the outcome.
pub fn play(env: &mut SlushEnv, honest: &mut Honest, byz: &mut Answerers, rng: &mut ChaCha8Rng) {
    let n = env.spec.n;
    let d = env.spec.obs_size();
    let a = env.spec.byz_action_len();
    let mut answers = vec![NONE; env.len() * a];
    let mut actions = vec![COMMIT; env.len() * n];
    let mut obs = vec![];
    let mut who = vec![];
    let mut scratch = ActScratch::default();
    let mut byz_scratch = Scratch::default();
    if let Honest::Rule(r) = honest {
        r.reset(env.len(), n);
    }
    while !env.done() {
        env.draw(rng);
        if a > 0 {
            answers.fill(NONE);
            match byz {
                Answerers::Scripted(name) => {
                    slush::adversary_answers(name, env, rng, &mut answers);
                }
                Answerers::Net {
                    actor,
                    greedy,
                    record,
                } => {
                    // The answerers see every counter the honest rule keeps.
                    let rule: Option<&dyn SlushRule> = match honest {
                        Honest::Rule(r) => Some(&**r),
                        Honest::Net { .. } => None,
                    };
                    let counter = |e: usize, i: usize| rule.map_or(0, |r| r.counter(e, i));
                    answer(
                        env,
                        &counter,
                        actor,
                        *greedy,
                        record.as_deref_mut(),
                        rng,
                        &mut byz_scratch,
                        &mut answers,
                    );
                }
            }
        }
        env.answer(&answers);
        match honest {
            Honest::Rule(r) => {
                for e in 0..env.len() {
                    for i in envs::consensus::rules::bits(env.acting(e)) {
                        actions[e * n + i] = r.act(env, e, i);
                    }
                }
            }
            Honest::Net {
                actor,
                greedy,
                record,
            } => {
                who.clear();
                for e in 0..env.len() {
                    who.extend(envs::consensus::rules::bits(env.acting(e)).map(|i| e * n + i));
                }
                obs.resize(who.len() * d, 0.0);
                for (k, &ei) in who.iter().enumerate() {
                    env.encode(ei / n, ei % n, &mut obs[k * d..][..d]);
                }
                let masks = vec![env.honest_mask(); who.len()];
                let (mut acts, mut logp, mut values) = (
                    vec![0u32; who.len()],
                    vec![0.0; who.len()],
                    vec![0.0; who.len()],
                );
                let want_values = record.is_some();
                actor.act(
                    &obs,
                    &masks,
                    who.len(),
                    *greedy,
                    rng,
                    &mut scratch,
                    &mut acts,
                    &mut logp,
                    want_values.then_some(&mut values[..]),
                );
                for (k, &ei) in who.iter().enumerate() {
                    actions[ei] = acts[k] as u8;
                    if let Some(buf) = record.as_deref_mut() {
                        buf.push(
                            ei,
                            &obs[k * d..][..d],
                            &masks[k..k + 1],
                            &acts[k..k + 1],
                            logp[k],
                            values[k],
                        );
                    }
                }
            }
        }
        env.step(&actions);
    }
}

/// A Byzantine network's answers to this round's queries: one forward pass
/// over every query of every episode, each answer 0, 1 or silence ([`NONE`]).
#[allow(clippy::too_many_arguments)]
fn answer(
    env: &SlushEnv,
    counter: &dyn Fn(usize, usize) -> u8,
    actor: &Actor,
    greedy: bool,
    mut record: Option<&mut Buffer>,
    rng: &mut ChaCha8Rng,
    s: &mut Scratch,
    out: &mut [u8],
) {
    env.queries(&mut s.queries);
    let rows = s.queries.len();
    if rows == 0 {
        return;
    }
    let (d, n, a) = (
        env.spec.byz_obs_size(),
        env.spec.n,
        env.spec.byz_action_len(),
    );
    s.obs.resize(rows * d, 0.0);
    for (k, &q) in s.queries.iter().enumerate() {
        env.encode_query(q, counter, &mut s.obs[k * d..][..d]);
    }
    // Every answer is allowed: 0, 1, or none (class NONE = 2).
    let masks = vec![0b111u8; rows];
    s.acts.resize(rows, 0);
    s.logp.resize(rows, 0.0);
    s.values.resize(rows, 0.0);
    actor.act(
        &s.obs,
        &masks,
        rows,
        greedy,
        rng,
        &mut s.act,
        &mut s.acts,
        &mut s.logp,
        record.is_some().then_some(&mut s.values[..]),
    );
    for (k, q) in s.queries.iter().enumerate() {
        out[q.episode * a + q.ordinal * n + q.querier] = s.acts[k] as u8;
        if let Some(buf) = record.as_deref_mut() {
            buf.push(
                byzantine_trajectory(env, q.episode, q.ordinal, q.querier),
                &s.obs[k * d..][..d],
                &masks[k..k + 1],
                &s.acts[k..k + 1],
                s.logp[k],
                s.values[k],
            );
        }
    }
}

/// Pays the Byzantine team's recorded answers: 1 for each trajectory of an
/// episode where the team reached its goal (`slush.attack_goal`), else 0.
pub fn pay_byzantine(env: &SlushEnv, buf: &mut Buffer) {
    let (n, f, goal) = (env.spec.n, env.spec.f, env.spec.attack_goal);
    for e in 0..env.len() {
        if env.attack_succeeded(e, goal) {
            for t in 0..f * n {
                buf.reward_last(byzantine_trajectory(env, e, t / n, t % n), 1.0);
            }
        }
    }
}
