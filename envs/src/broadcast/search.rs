//! The verifier's answers over every instance: [`verify`] (every state of
//! every instance) and [`refute`] (each instance up to its first
//! violation), with readable counterexamples (`trace`). The search of one
//! instance, its reductions and its limits are `explore`'s, re-exported
//! here: this module and `trace` sit on top of it, and it imports
//! neither.

pub use super::explore::{
    bytes_per_state, bytes_per_state_keyed, canonical, describe, quiescent_once_retired, search,
    search_with, Found, Frame, Fx, Limits, Options, TooBig, MAX_BYTES,
};

use super::explore::{at_once, batch_before, search_instance};
use super::game::{self, Instance, Msg, RbSpec, Semantics, Source, Step, PROPERTIES};
use super::protocols::RbProtocol;
use super::trace::{self, Trace};
use serde::Serialize;
use std::collections::BTreeMap;

/// One instance's answer.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceVerdict {
    pub faulty: Vec<usize>,
    pub input: Option<u8>,
    /// The properties some adversary breaks here, in [`PROPERTIES`] order.
    pub broken: Vec<&'static str>,
    /// Distinct states searched (0 when answered by `same_as`).
    pub states: u64,
    /// The instance, alike up to renaming non-sender agents (and swapping
    /// the values, when the protocol treats them alike), whose search
    /// answered this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<usize>,
}

/// The answer for a protocol over every instance.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub game: &'static str,
    pub protocol: String,
    pub n: usize,
    pub f: usize,
    pub faults: &'static str,
    /// Fraction of the (uniformly weighted) instances in which some
    /// adversary breaks some property.
    pub optimal_attack_rate: f64,
    pub verified: bool,
    pub instances: usize,
    pub broken_instances: usize,
    /// Every property broken in some instance, in [`PROPERTIES`] order.
    pub broken: Vec<&'static str>,
    pub states: u64,
    pub per_instance: Vec<InstanceVerdict>,
    /// A shortest run that breaks the first broken property of the first
    /// broken instance.
    pub counterexample: Option<Trace>,
    /// Each instance's search stopped at its first violation
    /// (`Options::first_violation`): which instances are broken is exact,
    /// `broken` names only the properties broken there.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub first_violations_only: bool,
}

/// Verifies `p` over every instance of `spec`, with every reduction.
pub fn verify(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Result<Report, TooBig> {
    verify_with(spec, p, limits, &Options::default())
}

/// Verifies `p` over every instance of `spec` with the reductions and the
/// stopping rule `options` names.
pub fn verify_with(
    spec: &RbSpec,
    p: &dyn RbProtocol,
    limits: &Limits,
    options: &Options,
) -> Result<Report, TooBig> {
    if options.values_apart && spec.semantics == Semantics::PerMessage && spec.values == 3 {
        let a = verify_with(&spec.one_value(0), p, limits, options)?;
        let b = verify_with(&spec.one_value(1), p, limits, options)?;
        return Ok(merge_values(a, b));
    }
    let instances = game::instances(spec);
    let mut per_instance = vec![];
    let mut counterexample = None;
    let mut union = 0u8;
    // Instances alike up to renaming the non-sender agents (the same
    // sender's fault and input) have the same answer: searched once each.
    // With the values swapped too, when the protocol treats them alike:
    // the input-1 class is answered by the input-0 one.
    let mut searched: BTreeMap<(bool, Option<u8>), (usize, u8)> = BTreeMap::new();
    for (k, inst) in instances.iter().enumerate() {
        let class = (inst.is_faulty(game::SENDER), inst.input);
        if let Some(&(first, broken)) = searched.get(&class) {
            per_instance.push(InstanceVerdict {
                faulty: (0..spec.n).filter(|&i| inst.is_faulty(i)).collect(),
                input: inst.input,
                broken: names(broken),
                states: 0,
                same_as: Some(first),
            });
            continue;
        }
        let (found, alike, merged) = search_instance(spec, inst, p, limits, options)?;
        searched.insert(class, (k, found.broken));
        if inst.input == Some(0) && alike {
            searched.insert((class.0, Some(1)), (k, found.broken));
        }
        union |= found.broken;
        if counterexample.is_none() {
            if let Some((i, Some(path))) = found.paths.iter().enumerate().find(|x| x.1.is_some()) {
                // The replay follows the search's frames: mirrored or not.
                let used = Options {
                    values: merged,
                    ..*options
                };
                counterexample = Some(trace::replay(spec, inst, p, &used, path, i));
            }
        }
        per_instance.push(InstanceVerdict {
            faulty: (0..spec.n).filter(|&i| inst.is_faulty(i)).collect(),
            input: inst.input,
            broken: names(found.broken),
            states: found.states,
            same_as: None,
        });
    }
    let broken_instances = per_instance.iter().filter(|v| !v.broken.is_empty()).count();
    Ok(Report {
        game: "reliable_broadcast",
        protocol: p.name(),
        n: spec.n,
        f: spec.f,
        faults: spec.faults.name(),
        optimal_attack_rate: broken_instances as f64 / instances.len() as f64,
        verified: broken_instances == 0,
        instances: instances.len(),
        broken_instances,
        broken: names(union),
        states: per_instance.iter().map(|v| v.states).sum(),
        per_instance,
        counterexample,
        first_violations_only: options.first_violation,
    })
}

/// One report from the reports of each value searched alone: an instance
/// breaks what either value breaks.
fn merge_values(mut r: Report, other: Report) -> Report {
    let union = |a: &[&'static str], b: &[&'static str]| -> Vec<&'static str> {
        PROPERTIES
            .iter()
            .map(|p| p.name)
            .filter(|n| a.contains(n) || b.contains(n))
            .collect()
    };
    for (x, y) in r.per_instance.iter_mut().zip(&other.per_instance) {
        x.broken = union(&x.broken, &y.broken);
        x.states += y.states;
    }
    r.broken = union(&r.broken, &other.broken);
    r.states += other.states;
    r.broken_instances = r
        .per_instance
        .iter()
        .filter(|v| !v.broken.is_empty())
        .count();
    r.optimal_attack_rate = r.broken_instances as f64 / r.instances as f64;
    r.verified = r.broken_instances == 0;
    r.counterexample = r.counterexample.or(other.counterexample);
    r
}

/// The properties of `bits`, a bit per [`PROPERTIES`] entry.
pub(super) fn names(bits: u8) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits >> i & 1 == 1)
        .map(|(_, p)| p.name)
        .collect()
}

/// A search's path (in representatives' labels, as the search with `options`
/// labels them; `merged`: the search
/// merged states with their mirrors) as moves of the game itself: real
/// agent ids, ending quiescent when the path ends quiescent once retired
/// agents have read what is owed to them. For replaying a counterexample
/// move by move (learning teams are trained on them).
fn real_moves(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    options: &Options,
    merged: bool,
    path: &[Step],
) -> Vec<Step> {
    let used = Options {
        values: merged,
        ..*options
    };
    let (mut state, _) = game::start(spec, inst, p);
    let mut moves = at_once(spec, inst, p, &used, &mut state);
    for step in path {
        let (_, frame) = canonical(spec, inst, p, &used, state);
        let real = frame.step_back(step);
        for early in batch_before(spec, inst, p, &used, &state, real) {
            game::apply(spec, inst, p, &mut state, early);
            moves.push(early);
        }
        game::apply(spec, inst, p, &mut state, real);
        moves.push(real);
        moves.extend(at_once(spec, inst, p, &used, &mut state));
    }
    // What is still owed goes to retired agents, to no effect: delivered,
    // so the run ends where a fair run may stop.
    if !game::quiescent(spec, inst, &state) && quiescent_once_retired(spec, inst, p, &state) {
        for r in inst.correct(spec) {
            for m in Msg::all() {
                for _ in 0..state[r].from_correct[m.index()] {
                    let step = Step {
                        to: r as u8,
                        msg: m,
                        from: Source::Correct,
                    };
                    game::apply(spec, inst, p, &mut state, step);
                    moves.push(step);
                }
            }
        }
    }
    moves
}

/// A learning row's question: in which instances does some adversary
/// break some property, and how? Each instance's search stops at its
/// first violation, so a broken protocol is answered in the few states
/// before it, where [`verify`] would go on to find every other property
/// broken (and a protocol that sends every message passes any limit on
/// the way). Whether an instance is broken is exact; which properties,
/// only those broken at the first violation.
#[derive(Clone, Debug)]
pub struct Refutation {
    /// Per instance of [`game::instances`]: the properties broken at the
    /// first violation (a bit per entry of [`PROPERTIES`]; 0 when the
    /// whole search found none), or `None` when the search passed the
    /// limit before either.
    pub per_instance: Vec<Option<u8>>,
    /// Distinct states searched, a search that passed the limit counted
    /// at the limit.
    pub states: u64,
    /// Per broken instance searched itself (not answered by an alike one),
    /// in instance order: its index and a shortest run that breaks it (the
    /// first property broken there, in [`PROPERTIES`] order), as moves of
    /// the game itself (`real_moves`).
    pub counterexamples: Vec<(usize, Vec<Step>)>,
}

impl Refutation {
    /// The share of instances some adversary breaks, when every instance
    /// has an answer.
    pub fn optimal_attack_rate(&self) -> Option<f64> {
        let known: Option<Vec<u8>> = self.per_instance.iter().copied().collect();
        known.map(|b| b.iter().filter(|&&x| x != 0).count() as f64 / self.per_instance.len() as f64)
    }

    /// Instances broken (every broken one is certain, an unknown one
    /// counts as not broken).
    pub fn broken_instances(&self) -> usize {
        self.per_instance
            .iter()
            .filter(|b| b.is_some_and(|x| x != 0))
            .count()
    }

    /// Verified (every instance searched whole, none broken), refuted
    /// (some instance broken), or unknown.
    pub fn verified(&self) -> Option<bool> {
        match (self.broken_instances(), self.optimal_attack_rate()) {
            (0, None) => None,
            (0, Some(_)) => Some(true),
            _ => Some(false),
        }
    }

    /// Every property broken at some instance's first violation, in
    /// [`PROPERTIES`] order.
    pub fn broken(&self) -> Vec<&'static str> {
        names(self.per_instance.iter().flatten().fold(0, |a, b| a | b))
    }
}

/// Searches every instance of `spec` up to its first violation (see
/// [`Refutation`]). Instances alike up to renaming non-sender agents (and
/// swapping values, when the protocol treats them alike on every view
/// asked: then the mirror of a run is a run with the mirrored answers) are
/// searched once, as in [`verify`].
///
/// It searches with the reductions of before issue 27
/// ([`Options::before_eager`]): the counterexamples it returns are what
/// learning rows train on, and the later reductions would change which
/// shortest run is found (not whether an instance is broken), hence the
/// runs trained on and every learning figure of the docs.
pub fn refute(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Refutation {
    let options = Options {
        first_violation: true,
        ..Options::before_eager()
    };
    let instances = game::instances(spec);
    let mut answered: BTreeMap<(bool, Option<u8>), Option<u8>> = BTreeMap::new();
    let mut r = Refutation {
        per_instance: vec![],
        states: 0,
        counterexamples: vec![],
    };
    for (k, inst) in instances.iter().enumerate() {
        let class = (inst.is_faulty(game::SENDER), inst.input);
        if let Some(&b) = answered.get(&class) {
            r.per_instance.push(b);
            continue;
        }
        let answer = match search_instance(spec, inst, p, limits, &options) {
            Err(too_big) => {
                r.states += too_big.limit;
                None
            }
            Ok((found, alike, merged)) => {
                r.states += found.states;
                if inst.input == Some(0) && alike {
                    answered.insert((class.0, Some(1)), Some(found.broken));
                }
                if let Some(path) = found.paths.into_iter().flatten().next() {
                    r.counterexamples
                        .push((k, real_moves(spec, inst, p, &options, merged, &path)));
                }
                Some(found.broken)
            }
        };
        answered.insert(class, answer);
        r.per_instance.push(answer);
    }
    r
}
