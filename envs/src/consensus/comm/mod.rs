//! Communication modes: what the honest agents must decide, and how an
//! episode is scored. Each mode is one type implementing [`Mode`], in its
//! own file, and [`Comm::mode`] is the one place a config's `comm` name
//! turns into it. The rest of the game asks the mode (does an episode have
//! a designated sender, which properties must hold, how instances are
//! drawn) instead of matching on its name.
//!
//! A mode's properties are named predicates over a finished episode
//! ([`Property`]); the outcome, the violated names in a trace and the
//! exact win rates all come from that one list, so a new property is one
//! entry.

pub(crate) mod agreement;
mod atomic_commit;
mod broadcast;
mod interactive_consistency;

pub use agreement::Agreement;
pub use atomic_commit::AtomicCommit;
pub use broadcast::Broadcast;
pub use interactive_consistency::InteractiveConsistency;

use crate::consensus::inbox::Layout;
use crate::consensus::rules::{Episode, Instance, Outcome};
use crate::consensus::spec::{ConfigError, EnvConfig, EnvSpec, Switch};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What the honest agents must decide: the config's `comm` key.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Comm {
    /// Byzantine agreement: every honest agent has an input; agree, and keep a unanimous input.
    #[default]
    Agreement,
    /// Byzantine broadcast: one designated sender has the input.
    Broadcast,
    /// Interactive consistency: agree on the vector of all inputs.
    InteractiveConsistency,
    /// Atomic commit: inputs are votes (1 = yes), decisions commit (1) or
    /// abort (0); the properties P1-P5 of Hui et al. Needs crash or omission faults.
    AtomicCommit,
}

impl Comm {
    /// The mode's rules: the one place a name turns into behaviour.
    pub fn mode(self) -> &'static dyn Mode {
        match self {
            Comm::Agreement => &Agreement,
            Comm::Broadcast => &Broadcast,
            Comm::InteractiveConsistency => &InteractiveConsistency,
            Comm::AtomicCommit => &AtomicCommit,
        }
    }

    /// Whether each episode is one designated sender's broadcast.
    #[inline]
    pub fn broadcasts(self) -> bool {
        self.mode().designated_sender()
    }
}

impl Switch for Comm {
    const ALL: &'static [Comm] = &[
        Comm::Agreement,
        Comm::Broadcast,
        Comm::InteractiveConsistency,
        Comm::AtomicCommit,
    ];

    fn name(self) -> &'static str {
        self.mode().name()
    }
}

/// Which of the three verdicts of an [`Outcome`] a property belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Agreement,
    Validity,
    Termination,
}

/// A named property of a finished episode.
pub struct Property {
    /// As printed in traces ("agreement", "P3 commit only if all voted yes").
    pub name: &'static str,
    pub part: Part,
    pub holds: fn(&EnvSpec, &Episode) -> bool,
}

/// A communication mode.
pub trait Mode: Sync {
    /// The config's name for it (`comm = "..."`).
    fn name(&self) -> &'static str;

    /// Whether each episode is one designated sender's broadcast: the
    /// sender alone has an input, and messages carry forwarded values.
    fn designated_sender(&self) -> bool {
        false
    }

    /// How a round block lays out the messages an agent receives (with
    /// ids; anonymous channels always count): relays by default.
    fn layout(&self) -> Layout {
        if self.designated_sender() {
            Layout::Forwards
        } else {
            Layout::Relays
        }
    }

    /// Whether decisions are commit (1) or abort (0) on votes, not values.
    fn decides_commit_or_abort(&self) -> bool {
        false
    }

    /// Refuses the settings this mode is not built for, naming the key.
    fn validate(&self, _cfg: &EnvConfig) -> Result<(), ConfigError> {
        Ok(())
    }

    /// How many agents can be the designated sender of an instance: all of
    /// them in interactive consistency (one broadcast per entry), else one.
    fn senders(&self, _n: usize) -> usize {
        1
    }

    /// Adjusts a freshly drawn instance (the sender, who keeps an input).
    fn sample(&self, _spec: &EnvSpec, _inst: &mut Instance, _rng: &mut ChaCha8Rng) {}

    /// The named properties, in the order traces list their violations.
    fn properties(&self) -> &'static [Property];

    /// Scores a finished episode on [`Mode::properties`].
    fn score(&self, spec: &EnvSpec, ep: &Episode) -> Outcome {
        Outcome::of_list(spec.comm(), self.properties(), |_, p| (p.holds)(spec, ep))
    }

    /// The verifier's verdict per counted instance: the index of a broken
    /// searched instance, if one breaks it. By default every searched
    /// instance is counted on its own.
    fn verdicts(
        &self,
        _spec: &EnvSpec,
        searched: &[Instance],
        broken: &[bool],
    ) -> Vec<Option<usize>> {
        (0..searched.len())
            .map(|i| broken[i].then_some(i))
            .collect()
    }
}

/// Scores a finished episode on its mode's properties.
pub fn score(spec: &EnvSpec, ep: &Episode) -> Outcome {
    spec.comm().mode().score(spec, ep)
}
