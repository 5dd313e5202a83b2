//! Atomic commit (Hui et al., after Bernstein, Hadzilacos and Goodman):
//! inputs are votes (1 = yes), decisions commit (1) or abort (0). P2, "a
//! decision is never reversed", holds by construction: a decided agent never
//! acts again. Needs crash or omission faults: a Byzantine vote means nothing.

use super::{Mode, Part, Property};
use crate::consensus::rules::{all, Episode};
use crate::consensus::spec::{ConfigError, EnvConfig, EnvSpec, Faults, ModeShape};

pub struct AtomicCommit;

impl ModeShape for AtomicCommit {
    fn validate(&self, cfg: &EnvConfig) -> Result<(), ConfigError> {
        if cfg.faults == Faults::Byzantine {
            return Err(ConfigError::new(
                "env.faults",
                "\"byzantine\"",
                "atomic commit counts every process's vote, which means nothing from a \
                 Byzantine agent: use faults = \"crash\" or \"omission\"",
            ));
        }
        Ok(())
    }
}

impl Mode for AtomicCommit {
    fn decides_commit_or_abort(&self) -> bool {
        true
    }

    fn properties(&self) -> &'static [Property] {
        PROPERTIES
    }
}

const PROPERTIES: &[Property] = &[
    Property {
        name: "P1 agreement",
        part: Part::Agreement,
        holds: |s, ep| {
            let commits = commits(s, ep);
            commits == 0 || commits == decided(s, ep)
        },
    },
    Property {
        name: "P3 commit only if all voted yes",
        part: Part::Validity,
        holds: |s, ep| commits(s, ep) == 0 || all_yes(s, ep),
    },
    Property {
        name: "P4 commit if all voted yes and nothing failed",
        part: Part::Validity,
        holds: |s, ep| !all_yes(s, ep) || ep.failed() || commits(s, ep) == decided(s, ep),
    },
    Property {
        name: "P5 termination",
        part: Part::Termination,
        holds: |s, ep| ep.undecided_of(s.n()) == 0,
    },
];

/// Every process that decided, faulty or not (P1 binds them all).
fn decided(spec: &EnvSpec, ep: &Episode) -> u32 {
    ep.decided & all(spec.n())
}

fn commits(spec: &EnvSpec, ep: &Episode) -> u32 {
    ep.values & decided(spec, ep)
}

fn all_yes(spec: &EnvSpec, ep: &Episode) -> bool {
    let everyone = all(spec.n());
    ep.inputs & everyone == everyone
}
