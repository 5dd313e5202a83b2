//! Scripted Byzantine teams: baselines a learned attacker is compared with.
//! Each writes the team's factored action (see [`EnvSpec::byz_action_len`]).

use crate::consensus::protocols::Protocol;
use crate::consensus::rules::{allowed, bits, delay_allowed, Action, Episode, DROP};
use crate::consensus::spec::{offset, EnvSpec, Faults, Switch, DIRECT, NONE};
use crate::consensus::view::View;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A scripted Byzantine team.
pub trait Adversary: Send + Sync {
    fn name(&self) -> String;

    /// Why this adversary cannot play in `spec`, if it cannot.
    fn check(&self, _spec: &EnvSpec) -> Result<(), String> {
        Ok(())
    }

    /// Whether the same state always gets the same action (exact evaluation applies).
    fn deterministic(&self) -> bool {
        true
    }

    /// Writes the team's round-`r` action for one episode into `out`, which
    /// arrives filled with [`NONE`]. `inbox` is the whole episode's inbox.
    fn act(
        &self,
        spec: &EnvSpec,
        r: u8,
        ep: &Episode,
        inbox: &[u8],
        rng: &mut ChaCha8Rng,
        out: &mut [u8],
    );
}

/// How a registered adversary is built, from the honest protocol in play.
pub type BuildAdversary = fn(Arc<dyn Protocol>) -> Box<dyn Adversary>;

/// Every scripted adversary: its name and how to build it (`twins` runs the
/// honest protocol it is given). The one place an adversary is registered.
pub const REGISTRY: &[(&str, BuildAdversary)] = &[
    ("silent", |_| Box::new(Silent)),
    ("random", |_| Box::new(Random)),
    ("equivocate", |_| Box::new(Equivocate)),
    ("twins", |honest| Box::new(Twins { honest })),
    ("hold", |_| Box::new(Hold)),
];

/// Names of the scripted adversaries, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(name, _)| *name).collect()
}

/// A scripted adversary by name; `twins` runs the given honest protocol.
pub fn scripted(name: &str, honest: Arc<dyn Protocol>) -> Option<Box<dyn Adversary>> {
    REGISTRY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, build)| build(honest))
}

/// Why an adversary that equivocates cannot play in `spec`, if it cannot.
fn needs_byzantine_faults(spec: &EnvSpec) -> Result<(), String> {
    if spec.faults() == Faults::Byzantine {
        return Ok(());
    }
    Err(format!(
        "equivocation needs Byzantine faults; with env.faults = \"{}\" the adversary only \
         drops messages: use silent or random, or a learned team",
        spec.faults().name()
    ))
}

/// The fixed split both equivocators use: the lower half of the honest ids
/// (by rank) is told 0, the rest 1.
fn split(spec: &EnvSpec, ep: &Episode, i: usize) -> u8 {
    let rank = (ep.honest(spec) & ((1u32 << i) - 1)).count_ones() as usize;
    (rank >= spec.honest() / 2) as u8
}

/// What `b` heard directly from `k` in round `r - 1`: the only honest
/// value it can forward under any identity model.
fn heard(spec: &EnvSpec, r: u8, inbox: &[u8], b: usize, k: usize) -> u8 {
    if r < 2 {
        NONE
    } else {
        inbox[spec.block(b, r - 1) + offset(spec.n(), b, k)]
    }
}

/// Writes, for every Byzantine sender `b`, undecided honest recipient `i`
/// and head `h`, the value `pick(b, i, h, origin)` returns (origin
/// [`DIRECT`] for the direct value).
fn fill(
    spec: &EnvSpec,
    ep: &Episode,
    out: &mut [u8],
    mut pick: impl FnMut(usize, usize, usize, u8) -> u8,
) {
    for (bo, b) in ep.byzantine_ids().enumerate() {
        for i in bits(ep.undecided(spec) & !(1 << b)) {
            let base = (bo * spec.n() + i) * spec.heads();
            for h in 0..spec.heads() {
                let (_, origin) = spec.head(b, i, h);
                out[base + h] = pick(b, i, h, origin);
            }
        }
    }
}

/// With delays, writes every scheduling head with `pick(j, i, mask)`, where
/// `mask` is what the rules allow for the message from `j` to `i`.
fn schedule(
    spec: &EnvSpec,
    r: u8,
    ep: &Episode,
    out: &mut [u8],
    mut pick: impl FnMut(usize, usize, u8) -> u8,
) {
    if !spec.may_delay(r) {
        return;
    }
    for j in 0..spec.n() {
        for i in 0..spec.n() {
            out[spec.delay_head(j, i)] = pick(j, i, delay_allowed(spec, r, ep, j, i));
        }
    }
}

/// The worst-case scheduler: holds every message as long as the rules
/// allow, and otherwise does nothing (no Byzantine message, no drop).
pub struct Hold;

impl Adversary for Hold {
    fn name(&self) -> String {
        "hold".into()
    }

    fn act(
        &self,
        spec: &EnvSpec,
        r: u8,
        ep: &Episode,
        _: &[u8],
        _: &mut ChaCha8Rng,
        out: &mut [u8],
    ) {
        // The longest hold allowed is the highest value below NONE in the mask.
        schedule(spec, r, ep, out, |_, _, mask| {
            (0..NONE)
                .rev()
                .find(|&v| mask >> v & 1 == 1)
                .unwrap_or(NONE)
        });
    }
}

/// Sends nothing, ever: a crash at time zero. Under crash and omission
/// faults, every message of a faulty agent is dropped.
pub struct Silent;

impl Adversary for Silent {
    fn name(&self) -> String {
        "silent".into()
    }

    fn act(
        &self,
        spec: &EnvSpec,
        _: u8,
        ep: &Episode,
        _: &[u8],
        _: &mut ChaCha8Rng,
        out: &mut [u8],
    ) {
        if spec.faults() != Faults::Byzantine {
            fill(spec, ep, out, |_, _, _, _| DROP);
        }
    }
}

/// Every head uniform over the values the rules allow (delays included).
pub struct Random;

impl Adversary for Random {
    fn name(&self) -> String {
        "random".into()
    }

    fn deterministic(&self) -> bool {
        false
    }

    fn act(
        &self,
        spec: &EnvSpec,
        r: u8,
        ep: &Episode,
        _: &[u8],
        rng: &mut ChaCha8Rng,
        out: &mut [u8],
    ) {
        let mut uniform = |mask: u8| {
            let pick = rng.random_range(0..mask.count_ones());
            bits(mask as u32).nth(pick as usize).unwrap() as u8
        };
        fill(spec, ep, out, |b, i, h, _| {
            uniform(allowed(spec, r, ep, b, i, h))
        });
        schedule(spec, r, ep, out, |_, _, mask| uniform(mask));
    }
}

/// Tells the lower half of the honest agents 0 and the rest 1, directly and
/// in relays of Byzantine origins; forwards honest values truthfully.
pub struct Equivocate;

impl Adversary for Equivocate {
    fn name(&self) -> String {
        "equivocate".into()
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        needs_byzantine_faults(spec)
    }

    fn act(
        &self,
        spec: &EnvSpec,
        r: u8,
        ep: &Episode,
        inbox: &[u8],
        _: &mut ChaCha8Rng,
        out: &mut [u8],
    ) {
        if spec.broadcasts() {
            // Each half gets its own value (the channel drops what no chain can carry).
            fill(spec, ep, out, |_, i, h, _| {
                let v = split(spec, ep, i);
                if h as u8 == v {
                    v
                } else {
                    NONE
                }
            });
            return;
        }
        fill(spec, ep, out, |b, i, _, origin| {
            if origin == DIRECT || ep.is_byzantine(origin as usize) {
                split(spec, ep, i)
            } else {
                heard(spec, r, inbox, b, origin as usize)
            }
        });
    }
}

/// Twins: each Byzantine agent runs the honest protocol twice, once with
/// input 0 towards the lower half of the honest agents and once with input 1
/// towards the rest, each copy on the real traffic it receives.
pub struct Twins {
    pub honest: Arc<dyn Protocol>,
}

impl Twins {
    /// Whether the twin of `b` with input `c` still sends in round `r`.
    fn sends(&self, spec: &EnvSpec, r: u8, inbox: &[u8], b: usize, c: u8) -> bool {
        let len = spec.inbox_rounds() * spec.slots();
        let mine = &inbox[b * len..][..len];
        (1..=r).all(|s| self.honest.act(&View::new(spec, s, c, mine)) == Action::Send)
    }
}

impl Adversary for Twins {
    fn name(&self) -> String {
        "twins".into()
    }

    fn check(&self, spec: &EnvSpec) -> Result<(), String> {
        needs_byzantine_faults(spec)?;
        if spec.broadcasts() {
            return Err(
                "twins runs the honest protocol with an input of its own, and in a \
                 broadcast only the designated sender has one: use equivocate, random or a \
                 learned team"
                    .into(),
            );
        }
        Ok(())
    }

    fn act(
        &self,
        spec: &EnvSpec,
        r: u8,
        ep: &Episode,
        inbox: &[u8],
        _: &mut ChaCha8Rng,
        out: &mut [u8],
    ) {
        if r >= spec.rounds() {
            return;
        }
        let mut live = [[false; 2]; crate::consensus::spec::MAX_N];
        for b in ep.byzantine_ids() {
            live[b] = [0, 1].map(|c| self.sends(spec, r, inbox, b, c));
        }
        fill(spec, ep, out, |b, i, _, origin| {
            let c = split(spec, ep, i);
            if !live[b][c as usize] {
                NONE
            } else if origin == DIRECT || ep.is_byzantine(origin as usize) {
                c
            } else {
                heard(spec, r, inbox, b, origin as usize)
            }
        });
    }
}
