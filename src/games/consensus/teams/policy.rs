//! The two team interfaces and the adapters for scripted teams.

use envs::consensus::rules::bits;
use envs::consensus::{Adversary, BatchEnv, Protocol};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The honest team: one policy shared by every honest agent.
pub trait HonestPolicy {
    fn name(&self) -> String;

    /// Writes `actions[e * n + i]` (an [`envs::consensus::Action`] index) for every agent
    /// `i` in `env.acting(e)`; other entries are ignored.
    fn act(&mut self, env: &BatchEnv, rng: &mut ChaCha8Rng, actions: &mut [u8]);
}

/// The Byzantine team: one omniscient policy for all Byzantine agents.
pub trait ByzantinePolicy {
    fn name(&self) -> String;

    /// Writes the team's factored action for every episode:
    /// `actions[e * A..][..A]`, `A` = [`envs::consensus::EnvSpec::byz_action_len`],
    /// which arrives filled with [`envs::consensus::NONE`].
    fn act(&mut self, env: &BatchEnv, rng: &mut ChaCha8Rng, actions: &mut [u8]);
}

/// A scripted protocol as the honest team.
pub struct ScriptedHonest {
    pub protocol: Arc<dyn Protocol>,
}

impl HonestPolicy for ScriptedHonest {
    fn name(&self) -> String {
        self.protocol.name()
    }

    fn act(&mut self, env: &BatchEnv, _rng: &mut ChaCha8Rng, actions: &mut [u8]) {
        let n = env.spec().n();
        for e in 0..env.len() {
            for i in bits(env.acting(e)) {
                actions[e * n + i] = self.protocol.act(&env.view(e, i)) as u8;
            }
        }
    }
}

/// A scripted adversary as the Byzantine team.
pub struct ScriptedByzantine {
    pub adversary: Box<dyn Adversary>,
}

impl ByzantinePolicy for ScriptedByzantine {
    fn name(&self) -> String {
        self.adversary.name()
    }

    fn act(&mut self, env: &BatchEnv, rng: &mut ChaCha8Rng, actions: &mut [u8]) {
        let spec = env.spec();
        let a = spec.byz_action_len();
        if a == 0 {
            return;
        }
        for e in 0..env.len() {
            if env.acting(e) == 0 {
                continue;
            }
            let out = &mut actions[e * a..][..a];
            self.adversary
                .act(spec, env.round(), env.episode(e), env.inbox(e), rng, out);
        }
    }
}
