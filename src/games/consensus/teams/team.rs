//! The two teams of a run, assembled in one place from the resolved
//! experiment: what each one is (fixed, learning or frozen), its name in
//! the CSV, and the batched policy it plays, greedy or sampling.

use super::{
    ByzantinePolicy, GreedyHonest, HonestPolicy, LearnedByzantine, LearnedHonest,
    ScriptedByzantine, ScriptedHonest,
};
use crate::games::consensus::config::{ByzantineTeam, HonestTeam, Resolved};
use agents::learner::Actor;
use agents::Learner;
use envs::consensus::view::{byz_obs_size, obs_size};
use envs::consensus::{adversaries, Protocol};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The honest team: a fixed protocol (scripted, or a frozen network played
/// greedily), or a network that learns.
pub enum Honest {
    Protocol(Arc<dyn Protocol>),
    Learning(Box<Learner>),
}

/// The Byzantine team: a scripted adversary, a network that learns, or a
/// saved network, which always plays greedily.
pub enum Byzantine {
    Scripted(String),
    Learning(Box<Learner>),
    Frozen(Actor),
}

impl Honest {
    /// The team `res` describes; a learning one is initialised from `init`
    /// (and from its checkpoint, if it has one).
    pub fn new(res: &Resolved, init: &mut ChaCha8Rng) -> anyhow::Result<Honest> {
        Ok(match &res.honest {
            HonestTeam::Protocol(p) => Honest::Protocol(p.clone()),
            HonestTeam::Learned(ckpt) => {
                let mut l = Learner::new(obs_size(&res.spec), 1, &res.exp.honest.learn, init)?;
                if let Some(c) = ckpt {
                    c.into_learner(&mut l).map_err(anyhow::Error::msg)?;
                }
                Honest::Learning(Box::new(l))
            }
        })
    }

    /// Its name in `metrics.csv`.
    pub fn name(&self) -> String {
        match self {
            Honest::Protocol(p) => p.name(),
            Honest::Learning(_) => "learned".into(),
        }
    }

    pub fn learner(&self) -> Option<&Learner> {
        match self {
            Honest::Learning(l) => Some(l),
            Honest::Protocol(_) => None,
        }
    }

    pub fn learner_mut(&mut self) -> Option<&mut Learner> {
        match self {
            Honest::Learning(l) => Some(l),
            Honest::Protocol(_) => None,
        }
    }

    /// The protocol it plays as it stands: the fixed one, or the network's
    /// greedy protocol (what the verifier checks and twins runs).
    pub fn protocol(&self, res: &Resolved) -> anyhow::Result<Arc<dyn Protocol>> {
        Ok(match self {
            Honest::Protocol(p) => p.clone(),
            Honest::Learning(l) => Arc::new(GreedyHonest {
                name: "learned".into(),
                policy: l.actor()?.policy,
                rounds: res.spec.rounds(),
            }),
        })
    }

    /// The batched policy: a network samples its actions unless `greedy`.
    pub fn policy(&self, greedy: bool) -> anyhow::Result<Box<dyn HonestPolicy>> {
        Ok(match self {
            Honest::Protocol(p) => Box::new(ScriptedHonest {
                protocol: p.clone(),
            }),
            Honest::Learning(l) => Box::new(LearnedHonest::new(l.actor()?, greedy)),
        })
    }
}

impl Byzantine {
    /// The team `res` describes; a learning one is initialised from `init`
    /// (and from its checkpoint, if it has one).
    pub fn new(res: &Resolved, init: &mut ChaCha8Rng) -> anyhow::Result<Byzantine> {
        Ok(match &res.byzantine {
            ByzantineTeam::Scripted(names) => Byzantine::Scripted(names[0].clone()),
            ByzantineTeam::Learned(ckpt) => {
                let (obs, heads) = (byz_obs_size(&res.spec), res.spec.byz_action_len());
                let mut l = Learner::new(obs, heads, &res.exp.byzantine.learn, init)?;
                if let Some(c) = ckpt {
                    c.into_learner(&mut l).map_err(anyhow::Error::msg)?;
                }
                Byzantine::Learning(Box::new(l))
            }
            ByzantineTeam::Frozen(c) => Byzantine::Frozen(frozen_actor(res, c)?),
        })
    }

    /// Its name in `metrics.csv`.
    pub fn name(&self) -> String {
        match self {
            Byzantine::Scripted(name) => name.clone(),
            Byzantine::Learning(_) => "learned".into(),
            Byzantine::Frozen(_) => "frozen".into(),
        }
    }

    pub fn learner(&self) -> Option<&Learner> {
        match self {
            Byzantine::Learning(l) => Some(l),
            _ => None,
        }
    }

    pub fn learner_mut(&mut self) -> Option<&mut Learner> {
        match self {
            Byzantine::Learning(l) => Some(l),
            _ => None,
        }
    }

    /// The batched policy against `protocol` (which twins runs), and whether
    /// it is deterministic (exact evaluation applies). A learning network
    /// samples unless `greedy`; a frozen one is always greedy.
    pub fn policy(
        &self,
        protocol: &Arc<dyn Protocol>,
        greedy: bool,
    ) -> anyhow::Result<(Box<dyn ByzantinePolicy>, bool)> {
        Ok(match self {
            Byzantine::Scripted(name) => adversary(name, protocol),
            Byzantine::Learning(l) => (Box::new(LearnedByzantine::new(l.actor()?, greedy)), true),
            Byzantine::Frozen(a) => (Box::new(LearnedByzantine::new(a.clone(), true)), true),
        })
    }
}

/// A scripted adversary by the runner's name, as a policy, and whether it
/// is deterministic. With no Byzantine agents the runner names it "none",
/// which plays as silent.
pub fn adversary(name: &str, protocol: &Arc<dyn Protocol>) -> (Box<dyn ByzantinePolicy>, bool) {
    let name = if name == "none" { "silent" } else { name };
    let adversary = adversaries::scripted(name, protocol.clone()).expect("validated");
    let deterministic = adversary.deterministic();
    (Box::new(ScriptedByzantine { adversary }), deterministic)
}

/// A frozen Byzantine checkpoint as an actor.
pub fn frozen_actor(res: &Resolved, c: &agents::checkpoint::Loaded) -> anyhow::Result<Actor> {
    Ok(Actor {
        policy: c.policy().map_err(anyhow::Error::msg)?,
        critic: c.critic().map_err(anyhow::Error::msg)?,
        heads: res.spec.byz_action_len(),
    })
}
