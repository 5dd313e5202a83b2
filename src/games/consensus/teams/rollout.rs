//! Playing whole batches of episodes and counting what happened.

use crate::games::consensus::teams::policy::{ByzantinePolicy, HonestPolicy};
use envs::consensus::{BatchEnv, Episode, Outcome, NONE};
use rand_chacha::ChaCha8Rng;

/// Reusable action buffers for playing batches to the end.
#[derive(Default)]
pub struct Rollout {
    honest: Vec<u8>,
    byz: Vec<u8>,
}

impl Rollout {
    /// Plays every episode of `env` (freshly reset) to its end.
    pub fn play(
        &mut self,
        env: &mut BatchEnv,
        honest: &mut dyn HonestPolicy,
        byzantine: &mut dyn ByzantinePolicy,
        rng: &mut ChaCha8Rng,
    ) {
        let spec = env.spec();
        let (n, a) = (spec.n(), spec.byz_action_len());
        self.honest.resize(env.len() * n, 0);
        self.byz.resize(env.len() * a, NONE);
        while !env.done() {
            honest.act(env, rng, &mut self.honest);
            self.byz.fill(NONE);
            byzantine.act(env, rng, &mut self.byz);
            env.step(&self.honest, &self.byz);
        }
    }
}

/// Counts of finished episodes and their properties.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub episodes: u64,
    pub honest_wins: u64,
    pub agreement: u64,
    pub validity: u64,
    pub termination: u64,
    /// Sum over episodes of the round the last honest agent decided in.
    pub decision_rounds: u64,
}

impl Tally {
    /// Adds every episode of a finished batch.
    pub fn add(&mut self, env: &BatchEnv) {
        let spec = env.spec();
        for e in 0..env.len() {
            self.add_episode(spec.n(), spec.rounds(), env.episode(e), &env.outcome(e));
        }
    }

    /// Adds one finished episode of a game of `n` agents and `rounds` rounds.
    pub fn add_episode(&mut self, n: usize, rounds: u8, ep: &Episode, o: &Outcome) {
        self.episodes += 1;
        self.honest_wins += o.honest_wins() as u64;
        self.agreement += o.agreement as u64;
        self.validity += o.validity as u64;
        self.termination += o.termination as u64;
        let last = envs::consensus::rules::bits(envs::consensus::rules::all(n) & !ep.byzantine)
            .map(|i| match ep.decided_round[i] {
                0 => rounds,
                r => r,
            })
            .max()
            .unwrap_or(0);
        self.decision_rounds += last as u64;
    }

    /// Adds the counts of another tally.
    pub fn merge(&mut self, other: &Tally) {
        self.episodes += other.episodes;
        self.honest_wins += other.honest_wins;
        self.agreement += other.agreement;
        self.validity += other.validity;
        self.termination += other.termination;
        self.decision_rounds += other.decision_rounds;
    }

    pub fn rate(&self, count: u64) -> f64 {
        count as f64 / self.episodes.max(1) as f64
    }
}
