//! Synthesis over RB-Learner's grammar: every program of
//! [`grammar::enumerate`], each class of programs that act alike verified
//! once, exactly, by the search, on as many threads as asked. The answer
//! does not depend on the threads: verdicts are collected by class index,
//! then read in enumeration order.
//!
//! A program's verdict stops at its first broken instance, and checks
//! fewer instances than `search::verify`, each cut argued here:
//! - instances alike up to renaming non-sender agents answer alike (as in
//!   `search::verify`): one per (sender faulty, input);
//! - grammar programs treat the two values alike (every guard and action
//!   is written for "m"), and so do the rules and the properties once the
//!   input is swapped with them, so input 1 answers as input 0 does;
//! - under the per-message semantics the two values are games that never
//!   touch (`RbSpec::values`): each is searched alone, and with a
//!   Byzantine sender (no input) value 1 answers as value 0 does.

use super::game::{self, Instance, RbSpec, Semantics, SENDER};
use super::grammar::{self, Behaviour, Program};
use super::protocols::RbProtocol;
use super::search::{self, describe, Limits, TooBig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One class's answer.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub verified: bool,
    /// The first instance found broken, as a person reads it, and the
    /// properties broken at its first violation.
    pub broken_at: Option<String>,
    pub states: u64,
}

/// The searches that answer a value-symmetric protocol, in the order
/// tried: a correct sender first (most programs lose validity there), then
/// a faulty one; each as (spec, instance).
fn searches(spec: &RbSpec) -> Vec<(RbSpec, Instance)> {
    let mut classes: BTreeMap<(bool, Option<u8>), Instance> = BTreeMap::new();
    for inst in game::instances(spec) {
        if inst.input == Some(1) {
            continue; // the value swap: input 1 answers as input 0
        }
        classes
            .entry((inst.is_faulty(SENDER), inst.input))
            .or_insert(inst);
    }
    let mut out = vec![];
    for inst in classes.into_values() {
        match spec.semantics {
            Semantics::Single => out.push((*spec, inst)),
            Semantics::PerMessage => {
                // With no input both values are the Byzantine sender's to
                // play: value 1 answers as value 0.
                let values: &[u8] = if inst.input.is_some() { &[0, 1] } else { &[0] };
                out.extend(values.iter().map(|&v| (spec.one_value(v), inst)));
            }
        }
    }
    out
}

/// The verdict of a value-symmetric protocol (a grammar program).
pub fn check(spec: &RbSpec, p: &dyn RbProtocol, limits: &Limits) -> Result<Verdict, TooBig> {
    let mut states = 0;
    // Every reduction, and a search that stops at its first broken
    // property: the question is only whether one exists.
    let options = search::Options {
        first_violation: true,
        ..search::Options::default()
    };
    for (s, inst) in searches(spec) {
        let found = search::search_with(&s, &inst, p, limits, &options)?;
        states += found.states;
        if found.broken != 0 {
            return Ok(Verdict {
                verified: false,
                broken_at: Some(format!(
                    "{}: {}",
                    describe(spec, &inst),
                    search::names(found.broken).join(", ")
                )),
                states,
            });
        }
    }
    Ok(Verdict {
        verified: true,
        broken_at: None,
        states,
    })
}

/// Messages sent in the fault-free run with input 0 (every message
/// delivered; these programs are monotone, so every order ends alike): a
/// send to the others is n - 1 messages, a send to itself one.
pub fn messages_sent(spec: &RbSpec, p: &dyn RbProtocol) -> usize {
    let clean = RbSpec { f: 0, ..*spec };
    let inst = Instance {
        faulty: 0,
        input: Some(0),
    };
    let (mut state, _) = game::start(&clean, &inst, p);
    while let Some(&step) = game::steps(&clean, &inst, &state).first() {
        game::apply(&clean, &inst, p, &mut state, step);
    }
    state[..spec.n]
        .iter()
        .map(|l| l.sent.count_ones() as usize * (spec.n - 1) + l.to_self.count_ones() as usize)
        .sum()
}

/// A verified program, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// Its place in enumeration order, from 1.
    pub rank: usize,
    pub program: String,
    pub messages: usize,
    pub rbl_reward: i32,
    pub in_their_action_space: bool,
}

/// The whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct Synthesis {
    pub n: usize,
    pub f: usize,
    pub faults: &'static str,
    pub semantics: &'static str,
    /// Programs of the grammar (their pruning H1-H8).
    pub programs: usize,
    /// Of them, in the action space of their generator's code.
    pub programs_in_their_action_space: usize,
    /// Classes of programs that act alike (the lossless pruning): searched.
    pub classes: usize,
    pub verified_programs: usize,
    pub verified_classes: usize,
    pub verified_in_their_action_space: usize,
    /// Rank of the first verified program in enumeration order, from 1.
    pub first_verified_rank: Option<usize>,
    pub states: u64,
    /// Every verified program: fewest messages first, then best reward,
    /// then enumeration order.
    pub verified: Vec<Found>,
}

/// Enumerates, verifies on `jobs` threads, ranks.
pub fn synthesize(spec: &RbSpec, jobs: usize, limits: &Limits) -> Result<Synthesis, TooBig> {
    let programs = grammar::enumerate();
    // Classes in order of first appearance; the first member searched.
    let mut class_of: BTreeMap<Behaviour, usize> = BTreeMap::new();
    let mut reps: Vec<usize> = vec![];
    let classes: Vec<usize> = programs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let next = reps.len();
            let c = *class_of.entry(grammar::behaviour(spec, p)).or_insert(next);
            if c == next {
                reps.push(i);
            }
            c
        })
        .collect();
    let verdicts = check_all(spec, &programs, &reps, jobs, limits)?;
    let verified = |i: usize| verdicts[classes[i]].verified;
    let mut found: Vec<Found> = (0..programs.len())
        .filter(|&i| verified(i))
        .map(|i| {
            let p = &programs[i];
            Found {
                rank: i + 1,
                program: p.to_string(),
                messages: messages_sent(spec, p),
                rbl_reward: p.rbl_reward(),
                in_their_action_space: p.in_their_action_space(),
            }
        })
        .collect();
    found.sort_by_key(|x| (x.messages, -x.rbl_reward, x.rank));
    Ok(Synthesis {
        n: spec.n,
        f: spec.f,
        faults: spec.faults.name(),
        semantics: spec.semantics.name(),
        programs: programs.len(),
        programs_in_their_action_space: programs
            .iter()
            .filter(|p| p.in_their_action_space())
            .count(),
        classes: reps.len(),
        verified_programs: found.len(),
        verified_classes: verdicts.iter().filter(|v| v.verified).count(),
        verified_in_their_action_space: found.iter().filter(|x| x.in_their_action_space).count(),
        first_verified_rank: (0..programs.len()).find(|&i| verified(i)).map(|i| i + 1),
        states: verdicts.iter().map(|v| v.states).sum(),
        verified: found,
    })
}

/// Each representative's verdict, by class index, on `jobs` threads that
/// take the next class from a shared counter.
fn check_all(
    spec: &RbSpec,
    programs: &[Program],
    reps: &[usize],
    jobs: usize,
    limits: &Limits,
) -> Result<Vec<Verdict>, TooBig> {
    // No more threads than classes: one past that would start only to
    // find the counter spent. The searches at once share the memory one
    // search may use.
    let threads = jobs.clamp(1, reps.len().max(1));
    let limits = &Limits {
        max_bytes: limits.max_bytes / threads as u64,
        ..*limits
    };
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<Verdict, TooBig>>>> =
        Mutex::new((0..reps.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= reps.len() {
                    return;
                }
                let v = check(spec, &programs[reps[c]], limits);
                out.lock().expect("no thread panics holding it")[c] = Some(v);
            });
        }
    });
    out.into_inner()
        .expect("no thread panicked")
        .into_iter()
        .map(|v| v.expect("every class was checked"))
        .collect()
}
