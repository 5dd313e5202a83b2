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
//! entry; [`Outcome`] folds them into the three verdicts (`outcome.rs`).
//!
//! The layers of the game, each asking only those below it: `inbox` (the
//! message layout), then `spec` (the settings and the static [`EnvSpec`]),
//! then `rules` (one episode's moves), then the modes here, which score
//! what `rules` played and say what `spec` needs through its
//! [`ModeShape`] (a supertrait of [`Mode`]). So `spec` asks no mode and
//! `rules` scores nothing: [`EnvSpec::new`] and [`Comm::mode`] are defined
//! here, where the settings and the modes are both visible, and the engine
//! (`batch`), the verifier and the traces sit on top and ask a mode through
//! [`Comm::mode`].

pub(crate) mod agreement;
mod atomic_commit;
mod broadcast;
mod interactive_consistency;
mod outcome;

pub use agreement::Agreement;
pub use atomic_commit::AtomicCommit;
pub use broadcast::Broadcast;
pub use interactive_consistency::InteractiveConsistency;
pub use outcome::{outcome, outcome_for, Outcome};

use crate::consensus::rules::{Episode, Instance};
use crate::consensus::spec::{Comm, ConfigError, EnvConfig, EnvSpec, ModeShape};
use rand_chacha::ChaCha8Rng;

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

impl EnvSpec {
    /// Validates `cfg` with the number of rounds already resolved, under
    /// the rules of its communication mode.
    pub fn new(cfg: &EnvConfig, rounds: u8) -> Result<EnvSpec, ConfigError> {
        EnvSpec::for_mode(cfg, rounds, cfg.comm.mode())
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

/// A communication mode: its rules. What building an [`EnvSpec`] asks of
/// it (designated sender, layout, refused settings) is its [`ModeShape`].
pub trait Mode: ModeShape + Sync {
    /// Whether decisions are commit (1) or abort (0) on votes, not values.
    fn decides_commit_or_abort(&self) -> bool {
        false
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
