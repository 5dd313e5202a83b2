//! The exact search: every message ordering and every Byzantine injection,
//! per instance, breadth first, so each counterexample is a shortest one.
//!
//! Why it is complete and finite:
//! - Every reachable state is expanded with every move of
//!   [`game::steps`]: every message in flight may arrive next, and every
//!   Byzantine agent may send every message to every honest agent, once.
//!   Once is enough: an honest agent counts *distinct* senders and reads
//!   only the first INIT, so a repeat from the same Byzantine agent changes
//!   no view and no later move.
//! - Seen states are merged: what can happen next depends on the state
//!   alone (the rules are pure), so a state reached twice has one future.
//! - Safety properties (agreement, integrity) are checked in every state,
//!   eventual ones (validity, totality) in every quiescent state, which is
//!   exactly where a fair run may stop. Each agent sends each message at
//!   most once, so the space is finite and the search ends.
//!
//! Symmetry: the non-sender agents of one kind (correct, or crash-prone)
//! are interchangeable (the same protocol, views without ids, an adversary
//! that may do to one whatever it may do to another, properties that name
//! no agent), and a state keeps what is in flight to each agent in that
//! agent's own record. So sorting those records maps a state to a
//! representative of its class, and the search visits one per class. The
//! tests check it against a search without it and against an independent
//! brute force over concrete messages (`envs/tests/reliable_broadcast.rs`).
//!
//! Not done (issue 16 asks for it): partial-order reduction over
//! deliveries to different recipients. Merging and symmetry keep n = 4,
//! f = 1 well under a second per protocol, so it waits for larger n.

use super::game::{self, Instance, Key, RbSpec, State, Step, MAX_N, PROPERTIES};
use super::protocols::RbProtocol;
use super::trace::{self, Trace};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// How far the search may go before it gives up, with an error.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most distinct states per instance.
    pub max_states: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_states: 20_000_000,
        }
    }
}

/// Why a search did not give an answer.
#[derive(Debug, PartialEq, Eq)]
pub struct TooBig {
    pub limit: u64,
    pub instance: String,
}

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "the search passed the limit of {} states (--max-states) in instance {}: \
             raise the limit (memory grows about 100 bytes a state) or verify a smaller n",
            self.limit, self.instance
        )
    }
}

/// One instance's answer.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceVerdict {
    pub faulty: Vec<usize>,
    pub input: Option<u8>,
    /// The properties some adversary breaks here, in [`PROPERTIES`] order.
    pub broken: Vec<&'static str>,
    /// Distinct states searched (0 when answered by `same_as`).
    pub states: u64,
    /// The instance, alike up to renaming non-sender agents, whose search
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
}

/// What one instance's search found.
pub struct Found {
    /// A bit per entry of [`PROPERTIES`].
    pub broken: u8,
    pub states: u64,
    /// Per property, a shortest path of moves (in representatives' labels)
    /// to a state that breaks it.
    pub paths: Vec<Option<Vec<Step>>>,
}

/// Searches one instance; `symmetry` off gives the plain search.
pub fn search(
    spec: &RbSpec,
    inst: &Instance,
    p: &dyn RbProtocol,
    limits: &Limits,
    symmetry: bool,
) -> Result<Found, TooBig> {
    let all = (1u8 << PROPERTIES.len()) - 1;
    let canon = |s: State| {
        if symmetry {
            canonical(spec, inst, s).0
        } else {
            s
        }
    };
    let (first, _) = game::start(spec, inst, p);
    let first = canon(first);
    // The map is only looked up, never iterated: its order cannot leak.
    let mut seen: HashMap<Key, u32, BuildHasherDefault<Fx>> = HashMap::default();
    // Per state: its parent and the move that reached it.
    let mut parent: Vec<(u32, Option<Step>)> = vec![(0, None)];
    let mut witness = vec![None; PROPERTIES.len()];
    let mut broken = 0u8;
    let mut note = |state: &State, id: u32, broken: &mut u8| {
        let b = game::broken(spec, inst, state) & !*broken;
        for (i, w) in witness.iter_mut().enumerate() {
            if b >> i & 1 == 1 {
                *w = Some(id);
            }
        }
        *broken |= b;
    };
    note(&first, 0, &mut broken);
    let key = game::pack(&first);
    seen.insert(key, 0);
    let mut queue = VecDeque::from([(key, 0u32)]);
    while let Some((key, id)) = queue.pop_front() {
        if broken == all {
            break;
        }
        let state = game::unpack(spec, &key);
        for step in game::steps(spec, inst, &state) {
            let mut next = state;
            game::apply(spec, inst, p, &mut next, step);
            let next = canon(next);
            let key = game::pack(&next);
            if seen.contains_key(&key) {
                continue;
            }
            let child = parent.len() as u32;
            if parent.len() as u64 >= limits.max_states {
                return Err(TooBig {
                    limit: limits.max_states,
                    instance: describe(spec, inst),
                });
            }
            parent.push((id, Some(step)));
            note(&next, child, &mut broken);
            seen.insert(key, child);
            queue.push_back((key, child));
        }
    }
    let path = |mut id: u32| {
        let mut steps = vec![];
        while let (up, Some(step)) = parent[id as usize] {
            steps.push(step);
            id = up;
        }
        steps.reverse();
        steps
    };
    Ok(Found {
        broken,
        states: parent.len() as u64,
        paths: witness.into_iter().map(|w| w.map(path)).collect(),
    })
}

/// A fast hash for the seen set (Fx's multiply-rotate): the set is never
/// iterated, so the hash decides speed only, never an answer.
#[derive(Default)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Verifies `p` over every instance of `spec`.
pub fn verify(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Result<Report, TooBig> {
    let instances = game::instances(spec);
    let mut per_instance = vec![];
    let mut counterexample = None;
    let mut union = 0u8;
    // Instances alike up to renaming the non-sender agents (the same
    // sender's fault and input) have the same answer: searched once each.
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
        let found = search(spec, inst, p, limits, true)?;
        searched.insert(class, (k, found.broken));
        union |= found.broken;
        if counterexample.is_none() {
            if let Some((i, Some(path))) = found.paths.iter().enumerate().find(|x| x.1.is_some()) {
                counterexample = Some(trace::replay(spec, inst, p, path, i));
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
    })
}

fn names(bits: u8) -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits >> i & 1 == 1)
        .map(|(_, p)| p.name)
        .collect()
}

/// An instance as a person reads it.
pub fn describe(spec: &RbSpec, inst: &Instance) -> String {
    let faulty: Vec<String> = (0..spec.n)
        .filter(|&i| inst.is_faulty(i))
        .map(|i| i.to_string())
        .collect();
    let who = match faulty.len() {
        0 => "no faulty agent".to_string(),
        _ => format!("{} agent(s) {}", spec.faults.name(), faulty.join(", ")),
    };
    match inst.input {
        Some(v) => format!("{who}, sender's input {v}"),
        None => format!("{who}, the sender Byzantine"),
    }
}

/// The representative of `state`'s symmetry class, and where each of its
/// records came from (`perm[i]`: the agent whose record is `i`-th).
/// Sorted within each class of non-sender agents: correct, and faulty.
pub fn canonical(spec: &RbSpec, inst: &Instance, state: State) -> (State, [usize; MAX_N]) {
    let mut perm: [usize; MAX_N] = std::array::from_fn(|i| i);
    for faulty in [false, true] {
        let mut slots = [0usize; MAX_N];
        let mut k = 0;
        for i in (1..spec.n).filter(|&i| inst.is_faulty(i) == faulty) {
            slots[k] = i;
            k += 1;
        }
        let mut order = slots;
        // Stable: equal records keep their order, so the map is a function.
        order[..k].sort_by(|&a, &b| state[a].cmp(&state[b]));
        for j in 0..k {
            perm[slots[j]] = order[j];
        }
    }
    (perm.map(|i| state[i]), perm)
}
