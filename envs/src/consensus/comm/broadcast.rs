//! Byzantine broadcast: one designated sender (agent 0) has the input; the
//! honest agents agree, and if the sender is honest they all decide its input.

use super::{Mode, Part, Property};
use crate::consensus::rules::{voters, Episode, Instance};
use crate::consensus::spec::{
    ConfigError, EnvConfig, EnvSpec, Faults, Identity, ModeShape, Switch, Synchrony,
};
use rand_chacha::ChaCha8Rng;

pub struct Broadcast;

impl ModeShape for Broadcast {
    fn designated_sender(&self) -> bool {
        true
    }

    fn validate(&self, cfg: &EnvConfig) -> Result<(), ConfigError> {
        designated_sender_settings(cfg)
    }
}

impl Mode for Broadcast {
    fn sample(&self, spec: &EnvSpec, inst: &mut Instance, _: &mut ChaCha8Rng) {
        inst.inputs &= voters(spec, inst.byzantine, inst.sender as usize);
    }

    fn properties(&self) -> &'static [Property] {
        PROPERTIES
    }
}

/// Broadcast's properties, which interactive consistency applies per entry.
pub const PROPERTIES: &[Property] = &[
    Property {
        name: "agreement",
        part: Part::Agreement,
        holds: agreement,
    },
    Property {
        name: "validity",
        part: Part::Validity,
        holds: validity,
    },
    Property {
        name: "termination",
        part: Part::Termination,
        holds: |s, ep| ep.undecided(s) == 0,
    },
];

/// The honest agents that decided, decided the same value.
fn agreement(spec: &EnvSpec, ep: &Episode) -> bool {
    let decided = ep.decided & ep.honest(spec);
    let ones = ep.values & decided;
    ones == 0 || ones == decided
}

/// With an honest sender, every honest decision is its input.
fn validity(spec: &EnvSpec, ep: &Episode) -> bool {
    let decided = ep.decided & ep.honest(spec);
    let ones = ep.values & decided;
    match ep.required_value(spec) {
        Some(1) => ones == decided,
        Some(_) => ones == 0,
        None => true,
    }
}

/// The settings every mode with a designated sender refuses.
pub fn designated_sender_settings(cfg: &EnvConfig) -> Result<(), ConfigError> {
    if cfg.identity == Identity::Anonymous {
        return Err(ConfigError::new(
            "env.identity",
            "\"anonymous\"",
            "a broadcast's recipients must recognise the designated sender, and \
             anonymous channels carry counts only: use \"pki\" or \"authenticated\"",
        ));
    }
    if cfg.faults != Faults::Byzantine {
        return Err(ConfigError::new(
            "env.faults",
            format!("\"{}\"", cfg.faults.name()),
            "broadcasts are built for Byzantine faults; for crash and omission \
             faults use comm = \"agreement\" (floodset)",
        ));
    }
    if let Some(ones) = cfg.ones {
        return Err(ConfigError::new(
            "env.ones",
            ones,
            "each broadcast has a single input, the designated sender's: leave ones unset",
        ));
    }
    if cfg.synchrony != Synchrony::Synchronous {
        return Err(ConfigError::new(
            "env.synchrony",
            format!("\"{}\"", cfg.synchrony.name()),
            "broadcasts are built for synchronous rounds (a Dolev-Strong chain \
             counts rounds): use comm = \"agreement\" or \"atomic_commit\" with delays",
        ));
    }
    if cfg.canonical_views {
        return Err(ConfigError::new(
            "env.canonical_views",
            true,
            "a broadcast's designated sender is not like the other peers: \
             canonical views are built for comm = \"agreement\" and \"atomic_commit\"",
        ));
    }
    Ok(())
}
