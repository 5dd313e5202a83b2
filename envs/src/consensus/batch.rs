//! Many episodes at once over flat arrays: the environment learners and
//! evaluations step. All episodes advance in lockstep, one round per `step`.

use crate::consensus::comm::{outcome, Outcome};
use crate::consensus::rules::{self, all, empty_inbox, voters, Episode, Instance};
use crate::consensus::spec::{EnvSpec, Faults, NONE, SENDER};
use crate::consensus::view::{self, View};
use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A batch of episodes of one game.
pub struct BatchEnv {
    spec: Arc<EnvSpec>,
    round: u8,
    eps: Vec<Episode>,
    inbox: Vec<u8>,
}

impl BatchEnv {
    pub fn new(spec: Arc<EnvSpec>, len: usize) -> BatchEnv {
        let stride = spec.stride();
        BatchEnv {
            spec,
            round: 1,
            eps: vec![
                Episode::new(Instance {
                    byzantine: 0,
                    inputs: 0,
                    sender: 0,
                });
                len
            ],
            inbox: vec![NONE; len * stride],
        }
    }

    pub fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    pub fn len(&self) -> usize {
        self.eps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.eps.is_empty()
    }

    /// The round the next `step` plays, `1..=R`; `R + 1` once over.
    pub fn round(&self) -> u8 {
        self.round
    }

    /// Starts every episode afresh with a placement and inputs drawn from `rng`.
    pub fn reset(&mut self, rng: &mut ChaCha8Rng) {
        for e in 0..self.eps.len() {
            self.eps[e] = Episode::start(&self.spec, sample_instance(&self.spec, rng));
        }
        self.clear();
    }

    /// Starts one episode per instance (the batch takes their number).
    pub fn reset_to(&mut self, instances: &[Instance]) {
        self.eps.clear();
        self.eps.extend(
            instances
                .iter()
                .map(|&inst| Episode::start(&self.spec, inst)),
        );
        self.inbox
            .resize(instances.len() * self.spec.stride(), NONE);
        self.clear();
    }

    fn clear(&mut self) {
        self.round = 1;
        empty_inbox(&self.spec, &mut self.inbox);
    }

    pub fn episode(&self, e: usize) -> &Episode {
        &self.eps[e]
    }

    /// The whole inbox of episode `e` (every agent's blocks).
    pub fn inbox(&self, e: usize) -> &[u8] {
        &self.inbox[e * self.spec.stride()..][..self.spec.stride()]
    }

    /// Agents of episode `e` the honest protocol acts for this round.
    pub fn acting(&self, e: usize) -> u32 {
        if self.round > self.spec.rounds() {
            0
        } else {
            self.eps[e].undecided(&self.spec)
        }
    }

    /// The view of agent `i` in episode `e` at the current round.
    pub fn view(&self, e: usize, i: usize) -> View<'_> {
        View::of(&self.spec, self.round, &self.eps[e], self.inbox(e), i)
    }

    /// Which honest actions are legal now: `send` is masked in the last round.
    pub fn honest_mask(&self) -> [bool; 3] {
        [self.round < self.spec.rounds(), true, true]
    }

    /// Per Byzantine head of episode `e`, the allowed values as a bit mask over
    /// `{0, 1, nothing}`; heads towards Byzantine or decided agents allow only nothing.
    pub fn byz_mask(&self, e: usize, out: &mut [u8]) {
        let spec = &*self.spec;
        let ep = &self.eps[e];
        out.fill(1 << NONE);
        let undecided = ep.undecided(spec);
        for (bo, b) in ep.byzantine_ids().enumerate() {
            for i in rules::bits(undecided & !(1 << b)) {
                let base = (bo * spec.n() + i) * spec.heads();
                for h in 0..spec.heads() {
                    out[base + h] = rules::allowed(spec, self.round, ep, b, i, h);
                }
            }
        }
        if spec.delays() {
            for j in 0..spec.n() {
                for i in 0..spec.n() {
                    out[spec.delay_head(j, i)] = rules::delay_allowed(spec, self.round, ep, j, i);
                }
            }
        }
    }

    /// One-hot observation of agent `i` in episode `e` (see [`view::obs_size`]).
    pub fn encode_honest(&self, e: usize, i: usize, out: &mut [f32]) {
        view::encode(&self.view(e, i), out);
    }

    /// The Byzantine team's observation of episode `e` (see [`view::byz_obs_size`]).
    pub fn encode_byzantine(&self, e: usize, out: &mut [f32]) {
        view::encode_byzantine(&self.spec, self.round, &self.eps[e], self.inbox(e), out);
    }

    /// Plays the current round in every episode. `honest[e * n + i]` is agent
    /// `i`'s [`Action`] index (ignored for Byzantine or decided agents);
    /// `byz[e * A..]` is the team's action (`A` = [`EnvSpec::byz_action_len`]).
    pub fn step(&mut self, honest: &[u8], byz: &[u8]) {
        let spec = &*self.spec;
        let (n, a, stride) = (spec.n(), spec.byz_action_len(), spec.stride());
        assert!(self.round <= spec.rounds(), "the episodes are over");
        assert_eq!(honest.len(), self.eps.len() * n);
        assert_eq!(byz.len(), self.eps.len() * a);
        for (e, ep) in self.eps.iter_mut().enumerate() {
            if ep.finished(spec) {
                continue;
            }
            let inbox = &mut self.inbox[e * stride..][..stride];
            rules::step(
                spec,
                self.round,
                ep,
                inbox,
                &honest[e * n..][..n],
                &byz[e * a..][..a],
            );
        }
        self.round += 1;
    }

    /// Whether every episode is over (all honest decided or the round cap reached).
    pub fn done(&self) -> bool {
        self.round > self.spec.rounds() || self.eps.iter().all(|ep| ep.finished(&self.spec))
    }

    pub fn outcome(&self, e: usize) -> Outcome {
        outcome(&self.spec, &self.eps[e])
    }
}

/// A placement and inputs drawn as docs/rules.md says: placements uniform over all
/// `C(n, f)` (unless fixed), inputs independent fair coins (unless a split is
/// fixed). Under crash and omission faults the faulty agents have inputs too.
/// In interactive consistency every honest agent has an input (its entry),
/// and the entry this episode broadcasts is drawn uniformly.
pub fn sample_instance(spec: &EnvSpec, rng: &mut ChaCha8Rng) -> Instance {
    let faulty_inputs = spec.faults() != Faults::Byzantine;
    let mut inst = instance_for(
        spec.n(),
        spec.f(),
        spec.byzantine_ids(),
        spec.ones(),
        faulty_inputs,
        rng,
    );
    spec.comm().mode().sample(spec, &mut inst, rng);
    inst
}

/// [`sample_instance`] for any game of `n` agents, `f` faulty; with
/// `faulty_inputs`, faulty agents get inputs too.
pub fn instance_for(
    n: usize,
    f: usize,
    byzantine_ids: Option<u32>,
    ones: Option<usize>,
    faulty_inputs: bool,
    rng: &mut ChaCha8Rng,
) -> Instance {
    let byzantine = byzantine_ids.unwrap_or_else(|| sample_subset(all(n), f, rng));
    let honest = if faulty_inputs {
        all(n)
    } else {
        all(n) & !byzantine
    };
    let inputs = match ones {
        Some(k) => sample_subset(honest, k, rng),
        None => (rng.next_u64() as u32) & honest,
    };
    Instance {
        byzantine,
        inputs,
        sender: 0,
    }
}

/// `k` distinct members of `set`, uniformly: a partial Fisher-Yates shuffle.
fn sample_subset(set: u32, k: usize, rng: &mut ChaCha8Rng) -> u32 {
    let mut ids: [u8; 32] = [0; 32];
    let mut len = 0;
    for i in rules::bits(set) {
        ids[len] = i as u8;
        len += 1;
    }
    let mut mask = 0;
    for t in 0..k {
        let j = rng.random_range(t..len);
        ids.swap(t, j);
        mask |= 1 << ids[t];
    }
    mask
}

/// Every instance with its probability equal: each placement (or the fixed
/// one) times each input vector of the agents that have inputs (or each with
/// the fixed number of 1s).
/// Placements in lexicographic order of their masks, inputs in counting order.
pub fn instances(spec: &EnvSpec) -> Vec<Instance> {
    let placements: Vec<u32> = match spec.byzantine_ids() {
        Some(m) => vec![m],
        None => (0..1u64 << spec.n())
            .map(|m| m as u32)
            .filter(|m| m.count_ones() as usize == spec.f())
            .collect(),
    };
    // Interactive consistency: one broadcast per entry, every sender.
    let senders = spec.comm().mode().senders(spec.n());
    let mut out = vec![];
    for (byzantine, sender) in placements
        .into_iter()
        .flat_map(|p| (0..senders).map(move |k| (p, k)))
    {
        let voters = voters(spec, byzantine, sender);
        for x in 0..1u64 << voters.count_ones() {
            if spec.ones().is_some_and(|k| x.count_ones() as usize != k) {
                continue;
            }
            out.push(Instance {
                byzantine,
                inputs: rules::spread(x, voters),
                sender: sender as u8,
            });
        }
    }
    out
}

/// Number of instances [`instances`] would list, without listing them.
pub fn instance_count(spec: &EnvSpec) -> f64 {
    let placements = if spec.byzantine_ids().is_some() {
        1.0
    } else {
        binomial(spec.n(), spec.f())
    };
    if spec.broadcasts() {
        // One instance per (placement, sender) pair, and one more when that
        // sender is honest (its input is 0 or 1). Either agent 0 is the only
        // sender (broadcast) or every agent is one (interactive consistency).
        let senders = spec.comm().mode().senders(spec.n());
        let honest_pairs = match spec.byzantine_ids() {
            _ if senders == spec.n() => placements * (spec.n() - spec.f()) as f64,
            Some(m) => (m >> SENDER & 1 == 0) as u8 as f64,
            None => binomial(spec.n() - 1, spec.f()),
        };
        return placements * senders as f64 + honest_pairs;
    }
    let inputs = match spec.ones() {
        Some(k) => binomial(spec.followers(), k),
        None => 2f64.powi(spec.followers() as i32),
    };
    placements * inputs
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, t| acc * (n - t) as f64 / (t + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::spec::{EnvConfig, Identity};
    use rand::SeedableRng;

    fn spec(cfg: EnvConfig, rounds: u8) -> Arc<EnvSpec> {
        Arc::new(EnvSpec::new(&cfg, rounds).unwrap())
    }

    #[test]
    fn instances_are_all_placements_times_inputs() {
        let s = spec(
            EnvConfig {
                n: 5,
                f: 2,
                ..EnvConfig::default()
            },
            2,
        );
        let all = instances(&s);
        assert_eq!(all.len(), 10 * 8);
        assert_eq!(all.len() as f64, instance_count(&s));
        let mut sorted = all.clone();
        sorted.sort_by_key(|i| (i.byzantine, i.inputs));
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert!(all.iter().all(|i| i.inputs & i.byzantine == 0));
        let split = spec(
            EnvConfig {
                n: 5,
                f: 0,
                ones: Some(2),
                ..EnvConfig::default()
            },
            2,
        );
        assert_eq!(instances(&split).len(), 10);
        assert_eq!(instance_count(&split), 10.0);
    }

    #[test]
    fn sampled_placements_and_inputs_are_uniform() {
        let s = spec(
            EnvConfig {
                n: 4,
                f: 2,
                ..EnvConfig::default()
            },
            2,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = std::collections::BTreeMap::new();
        let draws = 60_000;
        for _ in 0..draws {
            *counts.entry(sample_instance(&s, &mut rng)).or_insert(0) += 1;
        }
        // 6 placements x 4 input vectors, each expected 2500 times.
        assert_eq!(counts.len(), 24);
        for (&inst, &c) in &counts {
            assert!((c as f64 - 2500.0).abs() < 250.0, "{inst:?}: {c}");
        }
    }

    #[test]
    fn same_seed_same_trajectory() {
        let s = spec(
            EnvConfig {
                n: 5,
                f: 1,
                identity: Identity::Pki,
                ..EnvConfig::default()
            },
            3,
        );
        let run = |seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut env = BatchEnv::new(s.clone(), 64);
            env.reset(&mut rng);
            let mut trace = vec![];
            let mut mask = vec![0; s.byz_action_len()];
            while !env.done() {
                let honest: Vec<u8> = (0..64 * 5).map(|_| rng.random_range(0..3u8)).collect();
                let mut byz = vec![NONE; 64 * s.byz_action_len()];
                for e in 0..64 {
                    env.byz_mask(e, &mut mask);
                    for (h, m) in mask.iter().enumerate() {
                        let ok: Vec<usize> = rules::bits(*m as u32).collect();
                        byz[e * mask.len() + h] = ok[rng.random_range(0..ok.len())] as u8;
                    }
                }
                env.step(&honest, &byz);
                trace.push(env.inbox.clone());
            }
            let outs: Vec<Outcome> = (0..64).map(|e| env.outcome(e)).collect();
            (trace, outs)
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3).0, run(4).0);
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;
    use crate::consensus::spec::{EnvConfig, Identity};
    use crate::consensus::view::{byz_obs_size, obs_size};

    #[test]
    fn masks_and_observations_have_their_shapes() {
        let cfg = EnvConfig {
            n: 4,
            f: 1,
            identity: Identity::Pki,
            byzantine_ids: Some(vec![3]),
            ..EnvConfig::default()
        };
        let s = Arc::new(EnvSpec::new(&cfg, 3).unwrap());
        let mut env = BatchEnv::new(s.clone(), 2);
        env.reset_to(&[
            Instance {
                byzantine: 0b1000,
                inputs: 0b0001,
                sender: 0,
            },
            Instance {
                byzantine: 0b1000,
                inputs: 0b0110,
                sender: 0,
            },
        ]);
        assert_eq!(env.honest_mask(), [true, true, true]);
        let mut mask = vec![0; s.byz_action_len()];
        env.byz_mask(0, &mut mask);
        // Round 1: direct heads free towards honest agents, relays and self masked.
        for i in 0..4 {
            let expect = if i == 3 { 1 << NONE } else { 0b111 };
            assert_eq!(mask[i * s.heads()], expect, "direct to {i}");
            assert!(mask[i * s.heads() + 1..][..s.heads() - 1]
                .iter()
                .all(|&m| m == 1 << NONE));
        }
        let mut obs = vec![0.0; byz_obs_size(&s)];
        env.encode_byzantine(1, &mut obs);
        // Round one-hot + per agent (input or Byzantine flag, status), nothing received yet.
        assert_eq!(obs.iter().sum::<f32>(), 1.0 + 3.0 * 2.0 + 1.0);
        env.step(&[0; 8], &vec![NONE; 2 * s.byz_action_len()]);
        env.step(&[0; 8], &vec![NONE; 2 * s.byz_action_len()]);
        assert_eq!(
            env.honest_mask(),
            [false, true, true],
            "send masked in the last round"
        );
        env.byz_mask(1, &mut mask);
        // Round 3 (pki): agent 0's input 0 can be forwarded to agent 1, nothing forged.
        let (_, origin) = s.head(3, 1, 1);
        assert_eq!(origin, 0);
        assert_eq!(mask[s.heads() + 1], 1 << NONE | 1 << 0);
        let mut hobs = vec![0.0; obs_size(&s)];
        env.encode_honest(0, 1, &mut hobs);
        assert_eq!(hobs.iter().sum::<f32>(), 2.0 + 2.0 * s.slots() as f32);
    }
}
