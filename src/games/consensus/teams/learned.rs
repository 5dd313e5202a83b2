//! Learned teams: a shared network acting for every agent of its team in one
//! batched forward pass per round, optionally recording what it did for its
//! learner; and a learned honest policy played greedily as a [`Protocol`],
//! which is how the verifier checks it.

use crate::games::consensus::teams::policy::{ByzantinePolicy, HonestPolicy};
use agents::buffer::Buffer;
use agents::learner::{pick, ActScratch, Actor};
use agents::mlp::Frozen;
use envs::consensus::rules::bits;
use envs::consensus::view::{byz_obs_size, encode, obs_size};
use envs::consensus::{Action, BatchEnv, EnvSpec, Protocol, Rewards, View};
use rand_chacha::ChaCha8Rng;

/// Per-round working arrays of a learned team.
#[derive(Default)]
struct Work {
    obs: Vec<f32>,
    masks: Vec<u8>,
    rows: Vec<usize>,
    actions: Vec<u32>,
    logp: Vec<f32>,
    values: Vec<f32>,
    scratch: ActScratch,
}

impl Work {
    /// One batched pass of `actor` over the first `rows` observations.
    fn act(
        &mut self,
        actor: &Actor,
        rows: usize,
        greedy: bool,
        with_values: bool,
        rng: &mut ChaCha8Rng,
    ) {
        let values = with_values.then_some(&mut self.values[..]);
        actor.act(
            &self.obs,
            &self.masks,
            rows,
            greedy,
            rng,
            &mut self.scratch,
            &mut self.actions,
            &mut self.logp,
            values,
        );
    }

    /// Room for `rows`. The arrays only grow: the rows acting shrink round
    /// by round and grow back each batch, every entry used is written
    /// first, and regrowing would clear megabytes for nothing.
    fn size(&mut self, rows: usize, obs_dim: usize, heads: usize) {
        fn grow<T: Clone>(v: &mut Vec<T>, n: usize, zero: T) {
            if v.len() < n {
                v.resize(n, zero);
            }
        }
        grow(&mut self.obs, rows * obs_dim, 0.0);
        grow(&mut self.masks, rows * heads, 0);
        grow(&mut self.actions, rows * heads, 0);
        grow(&mut self.logp, rows, 0.0);
        grow(&mut self.values, rows, 0.0);
    }
}

/// The honest team as a network: one head over `send`/`commit 0`/`commit 1`.
pub struct LearnedHonest {
    pub actor: Actor,
    /// Play the most likely action instead of sampling.
    pub greedy: bool,
    /// When set, every decision is recorded as a step of trajectory
    /// `traj_offset + e * n + i`.
    pub record: Option<Buffer>,
    /// Keeps the trajectories of several batches apart in one buffer.
    pub traj_offset: usize,
    /// Paid to every recorded step as it is taken ([`Rewards::per_step`]).
    pub step_reward: f32,
    work: Work,
}

impl LearnedHonest {
    pub fn new(actor: Actor, greedy: bool) -> LearnedHonest {
        LearnedHonest {
            actor,
            greedy,
            record: None,
            traj_offset: 0,
            step_reward: 0.0,
            work: Work::default(),
        }
    }

    /// Pays every agent that ran the protocol in a finished batch its reward
    /// (under crash and omission faults, the faulty agents too: the same
    /// policy acted for them, and the outcome is what it is paid for).
    pub fn reward(&mut self, env: &BatchEnv, rewards: &Rewards) {
        let Some(buf) = self.record.as_mut() else {
            return;
        };
        let spec = env.spec();
        for e in 0..env.len() {
            let (ep, out) = (env.episode(e), env.outcome(e));
            for i in bits(ep.followers & envs::consensus::rules::all(spec.n())) {
                buf.reward_last(
                    self.traj_offset + e * spec.n() + i,
                    rewards.honest_at_end(spec, ep, &out, i),
                );
            }
        }
    }
}

impl HonestPolicy for LearnedHonest {
    fn name(&self) -> String {
        "learned".into()
    }

    fn act(&mut self, env: &BatchEnv, rng: &mut ChaCha8Rng, actions: &mut [u8]) {
        let spec = env.spec();
        let (n, d) = (spec.n(), obs_size(spec));
        let w = &mut self.work;
        w.rows.clear();
        for e in 0..env.len() {
            w.rows.extend(bits(env.acting(e)).map(|i| e * n + i));
        }
        let rows = w.rows.len();
        if rows == 0 {
            return;
        }
        w.size(rows, d, 1);
        let mask = env
            .honest_mask()
            .iter()
            .enumerate()
            .fold(0u8, |m, (c, &ok)| m | (ok as u8) << c);
        for (k, &ei) in w.rows.iter().enumerate() {
            env.encode_honest(ei / n, ei % n, &mut w.obs[k * d..][..d]);
            w.masks[k] = mask;
        }
        w.act(&self.actor, rows, self.greedy, self.record.is_some(), rng);
        for (k, &ei) in w.rows.iter().enumerate() {
            actions[ei] = w.actions[k] as u8;
            if let Some(buf) = self.record.as_mut() {
                // The same trajectory id `reward` pays: a replay batch recorded
                // after the main one must not chain onto its trajectories.
                buf.push(
                    self.traj_offset + ei,
                    &w.obs[k * d..][..d],
                    &w.masks[k..k + 1],
                    &w.actions[k..k + 1],
                    w.logp[k],
                    w.values[k],
                );
                if self.step_reward != 0.0 {
                    buf.reward_last(self.traj_offset + ei, self.step_reward);
                }
            }
        }
    }
}

/// The Byzantine team as a network: one head per factored action.
pub struct LearnedByzantine {
    pub actor: Actor,
    pub greedy: bool,
    /// When set, every team decision is recorded as a step of trajectory `e`.
    pub record: Option<Buffer>,
    work: Work,
}

impl LearnedByzantine {
    pub fn new(actor: Actor, greedy: bool) -> LearnedByzantine {
        LearnedByzantine {
            actor,
            greedy,
            record: None,
            work: Work::default(),
        }
    }

    /// Pays the team its reward for each episode of a finished batch.
    pub fn reward(&mut self, env: &BatchEnv, rewards: &Rewards) {
        let Some(buf) = self.record.as_mut() else {
            return;
        };
        for e in 0..env.len() {
            let (ep, out) = (env.episode(e), env.outcome(e));
            buf.reward_last(e, rewards.byzantine(env.spec(), ep, &out));
        }
    }
}

impl ByzantinePolicy for LearnedByzantine {
    fn name(&self) -> String {
        "learned".into()
    }

    fn act(&mut self, env: &BatchEnv, rng: &mut ChaCha8Rng, actions: &mut [u8]) {
        let spec = env.spec();
        // Messages of the last round are never seen: nothing to decide; but a
        // crash in the last round still stops a faulty agent's commit.
        let last =
            env.round() >= spec.rounds() && spec.faults() == envs::consensus::Faults::Byzantine;
        if last || env.round() > spec.rounds() || spec.f() == 0 {
            return;
        }
        let (d, a) = (byz_obs_size(spec), spec.byz_action_len());
        let w = &mut self.work;
        w.rows.clear();
        w.rows
            .extend((0..env.len()).filter(|&e| env.acting(e) != 0));
        let rows = w.rows.len();
        if rows == 0 {
            return;
        }
        w.size(rows, d, a);
        for (k, &e) in w.rows.iter().enumerate() {
            env.encode_byzantine(e, &mut w.obs[k * d..][..d]);
            env.byz_mask(e, &mut w.masks[k * a..][..a]);
        }
        w.act(&self.actor, rows, self.greedy, self.record.is_some(), rng);
        for (k, &e) in w.rows.iter().enumerate() {
            for h in 0..a {
                actions[e * a + h] = w.actions[k * a + h] as u8;
            }
            if let Some(buf) = self.record.as_mut() {
                buf.push(
                    e,
                    &w.obs[k * d..][..d],
                    &w.masks[k * a..][..a],
                    &w.actions[k * a..][..a],
                    w.logp[k],
                    w.values[k],
                );
            }
        }
    }
}

/// A learned honest policy played greedily: a deterministic protocol the
/// verifier can check exactly like a scripted one.
pub struct GreedyHonest {
    pub name: String,
    pub policy: Frozen,
    /// The rounds it was trained for.
    pub rounds: u8,
}

impl Protocol for GreedyHonest {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn rounds(&self) -> u8 {
        self.rounds
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        if obs_size(spec) != self.policy.inputs() {
            return Err(format!(
                "{} takes observations of size {}, this game has {}: n, rounds and identity must match its training",
                self.name,
                self.policy.inputs(),
                obs_size(spec)
            ));
        }
        Ok(())
    }

    fn act(&self, view: &View) -> Action {
        let mut x = vec![0.0; self.policy.inputs()];
        encode(view, &mut x);
        let mut logits = vec![];
        self.policy
            .forward(&x, 1, &mut [vec![], vec![]], &mut logits);
        let mask = if view.is_last_round() { 0b110 } else { 0b111 };
        // Greedy picks use no randomness; the stream is never drawn from.
        let mut unused = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let (a, _) = pick(&logits, mask, true, &mut unused);
        Action::from_index(a as u8)
    }
}

/// Fixed Byzantine schedules, one per episode: `schedules[e][r - 1]` is the
/// team's action in round `r` of episode `e` (missing rounds: silence). This
/// is how the verifier's counterexamples are replayed in training.
pub struct ReplayByzantine {
    pub schedules: Vec<Vec<Vec<u8>>>,
}

impl ByzantinePolicy for ReplayByzantine {
    fn name(&self) -> String {
        "replay".into()
    }

    fn act(&mut self, env: &BatchEnv, _rng: &mut ChaCha8Rng, actions: &mut [u8]) {
        let a = env.spec().byz_action_len();
        for (e, sched) in self.schedules.iter().enumerate().take(env.len()) {
            if let Some(row) = sched.get(env.round() as usize - 1) {
                actions[e * a..][..a].copy_from_slice(row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::consensus::teams::rollout::Rollout;
    use agents::buffer::END;
    use agents::learner::{LearnConfig, Learner};
    use envs::consensus::{instances, EnvConfig};
    use rand::SeedableRng;
    use std::sync::Arc;

    /// With the round penalty paid per step, every recorded step carries it
    /// as it is taken and the end pays the rest: each trajectory's rewards
    /// add up to the agent's whole reward.
    #[test]
    fn a_per_step_round_penalty_is_paid_at_every_step() {
        let spec = Arc::new(EnvSpec::new(&EnvConfig::default(), 3).unwrap());
        let (n, d) = (spec.n(), obs_size(&spec));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let learner = Learner::new(d, 1, &LearnConfig::default(), &mut rng).unwrap();
        let rewards = Rewards {
            round_penalty: -0.25,
            round_penalty_at: envs::consensus::RoundPenaltyAt::EveryStep,
            ..Rewards::default()
        };
        let mut h = LearnedHonest::new(learner.actor().unwrap(), false);
        h.record = Some(Buffer::new(d, 1));
        h.step_reward = rewards.per_step();
        let mut env = BatchEnv::new(spec.clone(), 64);
        env.reset(&mut rng);
        let mut silent = ReplayByzantine {
            schedules: vec![vec![]; 64],
        };
        Rollout::default().play(&mut env, &mut h, &mut silent, &mut rng);
        h.reward(&env, &rewards);
        let buf = h.record.as_ref().unwrap();
        let steps_before_the_last = (0..buf.len()).filter(|&t| buf.next[t] != END);
        let mut waited = 0;
        for t in steps_before_the_last {
            assert_eq!(buf.rewards[t], -0.25, "step {t}");
            waited += 1;
        }
        assert!(waited > 0, "some agent sent before committing");
        let mut whole = 0.0f64;
        for e in 0..env.len() {
            let (ep, out) = (env.episode(e), env.outcome(e));
            for i in bits(ep.followers & envs::consensus::rules::all(n)) {
                whole += rewards.honest(&spec, ep, &out, i) as f64;
            }
        }
        let got: f64 = buf.rewards.iter().map(|&r| r as f64).sum();
        assert!((got - whole).abs() < 1e-3, "{got} vs {whole}");
    }

    /// A main batch and then a batch of replayed counterexamples, recorded
    /// into one buffer as training does: the replays' steps form
    /// trajectories of their own, and every trajectory is paid its reward.
    #[test]
    fn replayed_trajectories_stay_apart_from_the_main_batch_and_are_paid() {
        let spec = Arc::new(EnvSpec::new(&EnvConfig::default(), 2).unwrap());
        let (n, d) = (spec.n(), obs_size(&spec));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let learner = Learner::new(d, 1, &LearnConfig::default(), &mut rng).unwrap();
        let mut h = LearnedHonest::new(learner.actor().unwrap(), false);
        h.record = Some(Buffer::new(d, 1));
        // A fixed reward per outcome, so "paid" is checkable: every honest
        // agent's reward is nonzero whatever happens.
        let rewards = Rewards {
            correct_commit: 1.0,
            ..Rewards::default()
        };
        let mut rollout = Rollout::default();

        let mut main = BatchEnv::new(spec.clone(), 8);
        main.reset(&mut rng);
        let mut silent = ReplayByzantine {
            schedules: vec![vec![]; 8],
        };
        rollout.play(&mut main, &mut h, &mut silent, &mut rng);
        h.reward(&main, &rewards);
        let main_steps = h.record.as_ref().unwrap().len();

        let insts = instances(&spec);
        let mut replay_env = BatchEnv::new(spec.clone(), 0);
        replay_env.reset_to(&insts[..3]);
        let a = spec.byz_action_len();
        let mut replay = ReplayByzantine {
            schedules: vec![vec![vec![0u8; a]]; 3],
        };
        h.traj_offset = main.len() * n;
        rollout.play(&mut replay_env, &mut h, &mut replay, &mut rng);
        h.reward(&replay_env, &rewards);

        let buf = h.record.as_ref().unwrap();
        assert!(buf.len() > main_steps, "the replays were recorded");
        // No main-batch step continues into a replay step.
        for t in 0..main_steps {
            let s = buf.next[t];
            assert!(
                s == END || (s as usize) < main_steps,
                "step {t} chains to {s}"
            );
        }
        // Trajectories: one per (episode, honest agent) of either batch.
        let first = buf.starts();
        let starts = |r: std::ops::Range<usize>| r.filter(|&t| first[t]).count();
        let agents = |env: &BatchEnv| {
            (0..env.len())
                .map(|e| n - env.episode(e).byzantine.count_ones() as usize)
                .sum::<usize>()
        };
        assert_eq!(starts(0..main_steps), agents(&main));
        assert_eq!(starts(main_steps..buf.len()), agents(&replay_env));
        // Every trajectory's last step carries the reward of its episode.
        for t in main_steps..buf.len() {
            if buf.next[t] == END {
                assert_ne!(buf.rewards[t], 0.0, "replay step {t} was not paid");
            }
        }
        let paid = |env: &BatchEnv| {
            (0..env.len())
                .flat_map(|e| {
                    let (ep, out) = (env.episode(e), env.outcome(e));
                    bits(ep.followers & envs::consensus::rules::all(n))
                        .map(|i| rewards.honest(&spec, ep, &out, i))
                        .collect::<Vec<_>>()
                })
                .sum::<f32>()
        };
        let got: f32 = buf.rewards[main_steps..].iter().sum();
        assert_eq!(got, paid(&replay_env));
        let got: f32 = buf.rewards[..main_steps].iter().sum();
        assert_eq!(got, paid(&main));
    }
}
