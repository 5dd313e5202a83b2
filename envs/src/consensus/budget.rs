//! The verifier's allowance of protocol evaluations, shared by every thread
//! of one search. An a-priori bound on a search's work can be loose by
//! orders of magnitude (pruning depends on the protocol), so the limit is
//! also enforced while the search runs: once the evaluations spent pass it,
//! every search stops and the verification is refused.
//!
//! Whether a search is stopped does not depend on the thread count or the
//! order instances are searched in: each instance's evaluations are fixed,
//! so the total passes the limit exactly when the full search would need
//! more than the limit.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Evaluations a search counts locally before it reports them: keeps the
/// shared counter off the hot path.
const CHUNK: u64 = 1024;

pub struct Budget {
    limit: u64,
    spent: AtomicU64,
    /// Some search was cut short (not merely finished past the limit).
    cut: AtomicBool,
}

impl Budget {
    pub fn new(limit: f64) -> Budget {
        Budget {
            // Saturates for limits beyond u64: such a limit is never reached.
            limit: limit as u64,
            spent: AtomicU64::new(0),
            cut: AtomicBool::new(false),
        }
    }

    /// Whether more evaluations were spent than allowed.
    pub fn exhausted(&self) -> bool {
        self.spent.load(Ordering::Relaxed) > self.limit
    }

    /// Whether some search stopped before its end, so that the evaluations
    /// spent understate the work the full search needs.
    pub fn cut_short(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    pub fn spent(&self) -> u64 {
        self.spent.load(Ordering::Relaxed)
    }

    fn add(&self, n: u64) -> bool {
        self.spent.fetch_add(n, Ordering::Relaxed) + n <= self.limit
    }
}

/// One search's evaluation counter, drawing on a shared [`Budget`].
pub struct Meter<'a> {
    budget: &'a Budget,
    /// Evaluations this search made.
    pub evaluations: u64,
    unreported: u64,
    /// The budget ran out: the search's answer means nothing.
    pub stopped: bool,
}

impl<'a> Meter<'a> {
    pub fn new(budget: &'a Budget) -> Meter<'a> {
        Meter {
            budget,
            evaluations: 0,
            unreported: 0,
            stopped: false,
        }
    }

    /// Counts one evaluation; false once the shared budget is gone.
    pub fn spend(&mut self) -> bool {
        self.evaluations += 1;
        self.unreported += 1;
        if self.unreported == CHUNK {
            self.unreported = 0;
            if !self.budget.add(CHUNK) || self.budget.exhausted() {
                self.stopped = true;
                self.budget.cut.store(true, Ordering::Relaxed);
            }
        }
        !self.stopped
    }

    /// Reports what is left; call once the search ends.
    pub fn finish(&mut self) {
        if !self.budget.add(std::mem::take(&mut self.unreported)) {
            self.stopped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_passed_exactly_when_the_total_needs_more() {
        for (need, limit, over) in [(5000, 5000, false), (5001, 5000, true), (10, 0, true)] {
            let budget = Budget::new(limit as f64);
            // Two searches sharing it, in either order.
            for part in [need / 3, need - need / 3] {
                let mut m = Meter::new(&budget);
                for _ in 0..part {
                    if !m.spend() {
                        break;
                    }
                }
                m.finish();
            }
            assert_eq!(budget.exhausted(), over, "{need} of {limit}");
        }
    }
}
