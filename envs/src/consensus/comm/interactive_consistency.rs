//! Interactive consistency: every honest agent has an input, and the honest
//! agents agree on the vector of all inputs. It is played as one broadcast
//! per entry: an episode is one entry's broadcast, its sender drawn
//! uniformly, and is scored on broadcast's properties.

use super::broadcast::{designated_sender_settings, PROPERTIES};
use super::{Mode, Property};
use crate::consensus::rules::{self, all as all_of, Instance};
use crate::consensus::spec::{ConfigError, EnvConfig, EnvSpec, ModeShape};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

pub struct InteractiveConsistency;

impl ModeShape for InteractiveConsistency {
    fn designated_sender(&self) -> bool {
        true
    }

    fn validate(&self, cfg: &EnvConfig) -> Result<(), ConfigError> {
        designated_sender_settings(cfg)
    }
}

impl Mode for InteractiveConsistency {
    fn senders(&self, n: usize) -> usize {
        n
    }

    /// The entry this episode broadcasts is drawn uniformly; every input is
    /// kept, since they are the vector's entries.
    fn sample(&self, spec: &EnvSpec, inst: &mut Instance, rng: &mut ChaCha8Rng) {
        inst.sender = rng.random_range(0..spec.n()) as u8;
    }

    fn properties(&self) -> &'static [Property] {
        PROPERTIES
    }

    /// Every entry's broadcast (`searched`) is searched on its own, and an
    /// instance (a placement and an input vector) is broken when some
    /// entry's broadcast is. That is exact for the protocols this game runs.
    /// An entry's decisions read only that entry's messages, and the
    /// adversary's choices in different entries are independent, so the
    /// attacks on the broken entries combine into one. Per vector, the first
    /// broken entry.
    fn verdicts(
        &self,
        spec: &EnvSpec,
        searched: &[Instance],
        broken: &[bool],
    ) -> Vec<Option<usize>> {
        let broken_entry = |byzantine: u32, inputs: u32, k: usize| {
            let at = searched.iter().position(|e| {
                e.byzantine == byzantine
                    && e.sender as usize == k
                    && e.inputs == inputs & !byzantine & 1 << k
            });
            let at = at.expect("every entry listed");
            broken[at].then_some(at)
        };
        let mut placements: Vec<u32> = searched.iter().map(|e| e.byzantine).collect();
        placements.dedup();
        let mut out = vec![];
        for byzantine in placements {
            let honest = all_of(spec.n()) & !byzantine;
            for x in 0..1u64 << honest.count_ones() {
                let inputs = rules::spread(x, honest);
                out.push((0..spec.n()).find_map(|k| broken_entry(byzantine, inputs, k)));
            }
        }
        out
    }
}
