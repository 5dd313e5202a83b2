//! The scripted Byzantine teams of Snowball: what the Byzantine peers of a
//! query answer. Each plans once a round, from what it may know, and every
//! Byzantine peer drawn into a query that round answers the plan's colour
//! (or nothing).
//!
//! The two liveness attacks are the paper's rebalancing adversary, without
//! and with knowledge of the network's state: push the honest nodes back
//! towards an even split, so that polls rarely reach alpha and no streak
//! reaches beta.

use super::SnowballSpec;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// A scripted Byzantine team.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// Byzantine peers never answer (a poll counts the honest votes only).
    Silent,
    /// Rebalancing without the network's state: every Byzantine node polls
    /// `k` peers as an honest node would, the adversary pools the honest
    /// answers and answers every query of the round with the colour fewer
    /// of them held (a tie: a coin).
    Rebalance,
    /// Rebalancing with the network's state: it answers every query of the
    /// round with the colour fewer honest nodes prefer (a tie: a coin).
    RebalanceInformed,
}

/// The names `byzantine.adversary` and `eval.adversaries` take.
pub const ADVERSARIES: &[&str] = &["silent", "rebalance", "rebalance_informed"];

impl Adversary {
    pub fn parse(name: &str) -> Option<Adversary> {
        match name {
            "silent" => Some(Adversary::Silent),
            "rebalance" => Some(Adversary::Rebalance),
            "rebalance_informed" => Some(Adversary::RebalanceInformed),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Adversary::Silent => "silent",
            Adversary::Rebalance => "rebalance",
            Adversary::RebalanceInformed => "rebalance_informed",
        }
    }

    /// Whether it reads the network's state beyond its own polls.
    pub fn informed(self) -> bool {
        self == Adversary::RebalanceInformed
    }

    /// This round's answer of every Byzantine peer (`None`: no answer),
    /// given `ones` of the `h` honest nodes prefer 1.
    pub fn plan(self, spec: &SnowballSpec, ones: u32, rng: &mut ChaCha8Rng) -> Option<u8> {
        if spec.f == 0 {
            return None;
        }
        let zeros = spec.h - ones;
        match self {
            Adversary::Silent => None,
            Adversary::RebalanceInformed => Some(minority(zeros, ones, rng)),
            Adversary::Rebalance => {
                let mut seen = [0u32; 2];
                for _ in 0..spec.f {
                    // A Byzantine node's poll: k of the other n - 1 (f - 1
                    // Byzantine, whose answers it ignores).
                    let drawn = draw(spec.k, zeros, ones, spec.f - 1, rng);
                    seen[0] += drawn[0];
                    seen[1] += drawn[1];
                }
                Some(minority(seen[0], seen[1], rng))
            }
        }
    }
}

/// The colour with fewer votes; a tie, a coin.
fn minority(zeros: u32, ones: u32, rng: &mut ChaCha8Rng) -> u8 {
    match zeros.cmp(&ones) {
        std::cmp::Ordering::Less => 0,
        std::cmp::Ordering::Greater => 1,
        std::cmp::Ordering::Equal => rng.random_range(0..2u8),
    }
}

/// `k` peers drawn without replacement from `zeros` honest nodes
/// preferring 0, `ones` preferring 1 and `byz` Byzantine: how many of each
/// (a multivariate hypergeometric draw, one uniform number a peer).
#[inline]
pub fn draw(k: u32, zeros: u32, ones: u32, byz: u32, rng: &mut ChaCha8Rng) -> [u32; 3] {
    let (mut a0, mut a1, mut b) = (zeros, ones, byz);
    let mut got = [0u32; 3];
    for _ in 0..k {
        let r = rng.random_range(0..a0 + a1 + b);
        if r < a0 {
            a0 -= 1;
            got[0] += 1;
        } else if r < a0 + a1 {
            a1 -= 1;
            got[1] += 1;
        } else {
            b -= 1;
            got[2] += 1;
        }
    }
    got
}
