//! How far a search may go: states and memory, estimated before it starts.

use super::super::game::{self, RbSpec, Step, MAX_N};
use super::canon::Words;
use super::{records, words};

/// How far the search may go before it gives up, with an error.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most distinct states per instance (see [`bytes_per_state`] for
    /// what each costs).
    pub max_states: u64,
    /// The most memory one instance's search may hold, by the estimate of
    /// [`bytes_per_state`]: a search reaching it stops with an error that
    /// says so, whatever `max_states` allows.
    pub max_bytes: u64,
}

/// The default [`Limits::max_bytes`]: 6.5 GB of tables by an estimate that
/// errs high (a search at 20,000,000 states estimated at 5.5 GB measured
/// 3.8 GB resident), so that a whole `selfplay verify` stays under 8 GB.
/// (6 GB until n = 7: 20,000,000 states of seven records are 6.2 GB by
/// the estimate.)
pub const MAX_BYTES: u64 = 6_500_000_000;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            // 20,000,000 states fit [`MAX_BYTES`] at every n (6.2 GB by the
            // estimate with seven records, the most).
            max_states: 20_000_000,
            max_bytes: MAX_BYTES,
        }
    }
}

impl Limits {
    /// Whether a search of `spec` within `max_states` fits `max_bytes` by
    /// the estimate; if not, what it may need and the most states that fit.
    pub fn check(&self, spec: &RbSpec) -> Result<(), String> {
        let per = bytes_per_state(spec);
        // In floating point: u64::MAX states times the bytes overflow u64.
        let need = self.max_states as f64 * per as f64;
        if need <= self.max_bytes as f64 {
            return Ok(());
        }
        Err(format!(
            "a search of {} states may need about {} of memory ({per} bytes a state at n = {}), \
             more than the {} it may use: at most {} states",
            self.max_states,
            gigabytes(need),
            spec.n,
            gigabytes(self.max_bytes as f64),
            self.max_bytes / per
        ))
    }
}

/// `bytes` in GB, for messages.
fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// The memory a search keeps per distinct state, an estimate that errs
/// high, for the largest seen-set key among `spec`'s instances: see
/// [`bytes_per_state_keyed`].
pub fn bytes_per_state(spec: &RbSpec) -> u64 {
    let most = game::instances(spec)
        .iter()
        .map(|inst| records(spec, inst))
        .max()
        .unwrap_or(spec.n);
    match words(most) {
        3 => bytes_per_state_keyed::<3>(),
        4 => bytes_per_state_keyed::<4>(),
        5 => bytes_per_state_keyed::<5>(),
        6 => bytes_per_state_keyed::<6>(),
        _ => bytes_per_state_keyed::<MAX_N>(),
    }
}

/// The memory per distinct state of a search keyed in `W` words:
/// - the seen set's slot (key and id) and control byte, 24/7 times over: a
///   hash table is at most 7/8 full, and while it doubles the old table
///   and the new one, twice its size, are both held;
/// - the parent, sleep set and expanded flag, one each;
/// - a place in the queue (its length stays below the states in practice).
///
/// Measured (peak resident set) at n = 6, f = 1, echo, the sender
/// Byzantine (6-word keys): 3.77 GB at 20,000,000 states, 189 bytes a
/// state, against this estimate's 276.
pub fn bytes_per_state_keyed<const W: usize>() -> u64 {
    use std::mem::size_of;
    let slot = size_of::<(Words<W>, u32)>() as u64;
    let seen = (slot + 1) * 24 / 7;
    let per_state =
        (size_of::<(u32, Option<Step>)>() + size_of::<u128>() + size_of::<bool>()) as u64;
    seen + per_state + slot
}

/// Why a search did not give an answer.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig {
    /// The states it reached.
    pub limit: u64,
    pub instance: String,
    /// When it stopped on [`Limits::max_bytes`] (before `max_states`): the
    /// bytes it may use and the estimate per state.
    pub memory: Option<(u64, u64)>,
}

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.memory {
            None => write!(
                f,
                "the search passed the limit of {} states (--max-states) in instance {}: \
                 raise the limit or verify a smaller n",
                self.limit, self.instance
            ),
            Some((bytes, per)) => write!(
                f,
                "the search reached {} states in instance {}, the most that fit in {} of \
                 memory ({per} bytes a state), and would need more: verify a smaller n",
                self.limit,
                self.instance,
                gigabytes(bytes as f64)
            ),
        }
    }
}
