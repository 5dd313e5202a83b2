//! The scripted Byzantine teams of Snowball: what the Byzantine peers of a
//! query answer. Each plans once a round, from what it may know, and every
//! Byzantine peer drawn into a query that round answers the plan's colour
//! (or nothing).
//!
//! The two liveness attacks are the paper's rebalancing adversary, without
//! and with knowledge of the network's state: push the honest nodes back
//! towards an even split, so that polls rarely reach alpha and no streak
//! reaches beta.
//!
//! The safety attack (`Safety`) answers each querier on its own
//! ([`Adversary::answer`]), from the network's state and the querier's
//! index; see [`Adversary::Safety`] and docs/snowball.md for why it is
//! built so.

use super::batch::Node;
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
    /// Breaking safety with the network's state (our construction; the
    /// paper's own attack is not described in what we could read). At an
    /// even split no streak grows: a poll holds about 7.5 honest votes of
    /// the querier's colour and, at 25% Byzantine, 5 Byzantine ones, below
    /// alpha = 15. A colour's streaks grow only where about two thirds of
    /// the honest nodes prefer it, and a network tipped that far tips all
    /// the way (its majority pulls the rest), so the adversary splits the
    /// honest nodes by index into three groups and tips only the middle:
    ///
    /// 1. anchor (rounds 1 to [`ANCHOR_ROUNDS`]): the first [`POOL`] of the
    ///    honest nodes are answered 1 and the last [`POOL`] 0, the middle
    ///    nothing; each anchored group's confidence counter of its colour
    ///    grows (about one success in 5.5 polls at an even split), so
    ///    that later polls of the other colour do not turn it;
    /// 2. tip to 0: the middle nodes preferring 1 are answered 0 until they
    ///    switch (the anchored 1-group holds), so about 1 - POOL of the
    ///    honest nodes prefer 0, and the anchored 0-group, answered 0,
    ///    runs streaks until one of its nodes decides 0;
    /// 3. tip to 1 (after a first decision of colour c, the other colour):
    ///    every middle node is answered 1 - c, and so is the group anchored
    ///    on 1 - c; the middle swings over, and a node decides 1 - c.
    ///
    /// It draws nothing: the same episodes' streams as every other row.
    Safety,
}

/// The names `byzantine.adversary` and `eval.adversaries` take.
pub const ADVERSARIES: &[&str] = &["silent", "rebalance", "rebalance_informed", "safety"];

/// The share of the honest nodes in each group `Safety` anchors, by
/// default (`snowball.safety_pool`; the other 1 - 2 POOL swing): tipped,
/// 1 - POOL of the honest nodes prefer the colour of the streaks. At
/// n = 3,000, f = 750, groups of 0.25 broke safety in none of 20 episodes,
/// groups of 0.35 later and in fewer than 0.3 (docs/results.md, the
/// safety section).
pub const POOL: f64 = 0.3;
/// The rounds `Safety` spends anchoring its two groups before tipping, by
/// default (`snowball.safety_anchor_rounds`). The anchored groups'
/// counters must lead by a few successes, or the tipped majority turns
/// them: at n = 3,000, f = 750, 0 or 15 rounds broke safety in none of
/// 20 episodes, 30 rounds in most, 50 in all, 80 in all but later (the
/// same section).
pub const ANCHOR_ROUNDS: u32 = 50;

impl Adversary {
    pub fn parse(name: &str) -> Option<Adversary> {
        match name {
            "silent" => Some(Adversary::Silent),
            "rebalance" => Some(Adversary::Rebalance),
            "rebalance_informed" => Some(Adversary::RebalanceInformed),
            "safety" => Some(Adversary::Safety),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Adversary::Silent => "silent",
            Adversary::Rebalance => "rebalance",
            Adversary::RebalanceInformed => "rebalance_informed",
            Adversary::Safety => "safety",
        }
    }

    /// Whether it reads the network's state beyond its own polls.
    pub fn informed(self) -> bool {
        matches!(self, Adversary::RebalanceInformed | Adversary::Safety)
    }

    /// This round's answer of every Byzantine peer (`None`: no answer),
    /// given `ones` of the `h` honest nodes prefer 1.
    pub fn plan(self, spec: &SnowballSpec, ones: u32, rng: &mut ChaCha8Rng) -> Option<u8> {
        if spec.f == 0 {
            return None;
        }
        let zeros = spec.h - ones;
        match self {
            // Safety answers each querier on its own (`answer`).
            Adversary::Silent | Adversary::Safety => None,
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

/// The state of an episode at the start of a round, as [`Adversary::answer`]
/// reads it (the round is synchronous: it answers from the start).
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Rounds played before this one.
    pub played: u32,
    /// Honest nodes decided on each colour.
    pub decided: [u32; 2],
}

impl Adversary {
    /// What every Byzantine peer in the query of honest node `index` (in
    /// `node`'s state at the start of the round) answers, given this
    /// round's `plan`: the plan itself for the adversaries that answer
    /// every query alike.
    #[inline]
    pub fn answer(
        self,
        plan: Option<u8>,
        spec: &SnowballSpec,
        index: usize,
        node: &Node,
        at: Round,
    ) -> Option<u8> {
        if self != Adversary::Safety || spec.f == 0 {
            return plan;
        }
        let h = spec.h as usize;
        let pool = spec.safety_pool as usize;
        // The group anchored on 1 holds the first indices (an episode
        // starts with its first `ones` nodes preferring 1), on 0 the last.
        let group = if index < pool {
            Some(1u8)
        } else if index >= h - pool {
            Some(0u8)
        } else {
            None
        };
        if at.played < spec.safety_anchor_rounds {
            return group;
        }
        let tipped_to = match at.decided {
            [0, 0] => 0,
            [_, 0] => 1,
            [0, _] => 0,
            // Safety is broken; go on as after the first decision.
            _ => 1,
        };
        match group {
            // An anchored group is answered its colour throughout: the
            // streaks of the tipped colour, the hold of the other.
            Some(c) => Some(c),
            // Before any decision, only the middle nodes not yet tipped
            // are answered, so the rest of the middle gains no counter of
            // 0 to hold it there when the tip turns.
            None if at.decided == [0, 0] => (node.pref != 0).then_some(0),
            None => Some(tipped_to),
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
