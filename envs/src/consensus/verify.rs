//! Exact analysis: the optimal attack rate of a deterministic honest protocol.
//!
//! For every placement and input vector (each equally likely), the search
//! asks whether *some* sequence of Byzantine choices makes the honest team
//! lose. The protocol and the game are deterministic, so an adaptive
//! adversary is no stronger than the best fixed sequence: a depth-first
//! search over sequences decides it exactly. What keeps it small:
//!
//! - Byzantine messages only matter to honest agents that will still act.
//!   Per round, each such recipient's options are enumerated on its own and
//!   classified by what it does next round.
//! - A recipient that commits next round reads nothing more and sends
//!   nothing more, so *which* option made it commit changes nobody else's
//!   future: all its options collapse into one choice carrying the set of
//!   values it can be made to commit. In the last round every recipient
//!   commits, so there the product over recipients disappears entirely.
//! - Losing is monotone in the set of committed values (agreement fails once
//!   both values are reachable by two agents, validity once the wrong value
//!   is), so a branch stops as soon as it has lost.
//! - Options that leave the recipient's inbox identical (anonymous counts)
//!   are one option.

use crate::consensus::batch::{instance_count, instances};
use crate::consensus::budget::{Budget, Meter};
use crate::consensus::protocols::Protocol;
use crate::consensus::rules::{self, bits, empty_inbox, Action, Episode, Instance};
use crate::consensus::spec::{EnvSpec, Faults, Identity, NONE};
use crate::consensus::trace::{replay, Trace};
use crate::consensus::view::View;
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;

/// How much work the verifier may take on before refusing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Upper bound on protocol evaluations (see [`estimate_work`]).
    pub max_work: f64,
}

impl Default for Limits {
    fn default() -> Self {
        // About 100 s at the measured rate.
        Limits { max_work: 2e8 }
    }
}

/// The verifier's answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub protocol: String,
    pub setting: String,
    /// Placements times input vectors, all equally likely.
    pub instances: u64,
    /// Instances some Byzantine strategy wins.
    pub broken_instances: u64,
    /// `broken_instances / instances`: exact, not sampled.
    pub optimal_attack_rate: f64,
    /// The optimal attack rate is exactly 0.
    pub verified: bool,
    /// Protocol evaluations the search made.
    pub evaluations: u64,
    /// The work the search was allowed under: the a-priori bound, or where
    /// that passes the limit, the work measured on [`PROBES`] instances and
    /// scaled to all.
    pub estimated_work: f64,
    /// The first broken instance (in enumeration order), played out.
    pub counterexample: Option<Trace>,
    /// Every broken instance with a Byzantine schedule that wins it (for
    /// replay in training); not part of the printed report.
    #[serde(skip)]
    pub broken: Vec<(Instance, Vec<Vec<u8>>)>,
}

/// What a refusal's work figure rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Basis {
    /// The work measured on `probes` instances, scaled to all; `stopped`
    /// when the probes alone spent their share of the limit.
    Sampled { probes: usize, stopped: bool },
    /// The search itself, stopped once it spent the limit.
    Stopped,
}

#[derive(Clone, Debug, PartialEq)]
pub enum VerifyError {
    /// The search could take longer than allowed.
    TooLarge {
        estimate: f64,
        limit: f64,
        basis: Basis,
    },
    /// The search's per-instance tables would not fit in memory.
    TooMuchMemory { bytes: f64, limit: f64 },
    /// The work limit is not a positive number (NaN would switch the guard off).
    BadLimit(f64),
    /// The protocol cannot run in this game.
    Unsupported(String),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::TooLarge {
                estimate,
                limit,
                basis,
            } => {
                let (how, note) = match basis {
                    Basis::Sampled { probes, stopped } => (
                        if *stopped {
                            "would take more than"
                        } else {
                            "would take about"
                        },
                        format!("measured on {probes} instances and scaled to all; "),
                    ),
                    Basis::Stopped => ("was stopped after", String::new()),
                };
                write!(
                    f,
                    "refusing: the exhaustive search {how} {estimate:.3e} protocol \
                     evaluations ({note}limit {limit:.1e}, about {:.0} s at {:.0} million \
                     per second, the rate measured on one loaded core). \
                     Use fewer agents or rounds, or raise --max-work",
                    limit / EVALUATIONS_PER_SECOND,
                    EVALUATIONS_PER_SECOND / 1e6
                )
            }
            VerifyError::TooMuchMemory { bytes, limit } => write!(
                f,
                "refusing: the exhaustive search keeps a table entry per instance, about \
                 {:.1} GB here (limit {:.1} GB). Use fewer agents",
                bytes / 1e9,
                limit / 1e9
            ),
            VerifyError::BadLimit(x) => write!(
                f,
                "the verifier's work limit must be a positive number, not {x}"
            ),
            VerifyError::Unsupported(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Protocol evaluations per second on one core, as measured under load
/// (2 to 2.7 million): what the refusal's time figure assumes.
pub const EVALUATIONS_PER_SECOND: f64 = 2e6;

/// Bytes the search keeps per instance (the instance, its verdict and
/// evaluation count, the figures), measured: 3.9 GB for 2^26 instances.
pub const BYTES_PER_INSTANCE: f64 = 64.0;

/// The most memory the search's per-instance tables may take.
pub const MAX_MEMORY: f64 = 2e9;

/// Upper bound on options per honest recipient in round `r`.
fn options_bound(spec: &EnvSpec, r: u8) -> f64 {
    let f = spec.f() as i32;
    if spec.broadcasts() {
        // Each Byzantine agent sends each value or not; with pki only the
        // sender has a chain to send in round 1.
        return if r == 1 && spec.identity() == Identity::Pki {
            4.0
        } else {
            4f64.powi(f)
        };
    }
    match spec.identity() {
        // Counts of f values in {0, 1, nothing}: multisets of size f.
        Identity::Anonymous => ((spec.f() + 1) * (spec.f() + 2) / 2) as f64,
        _ if r == 1 => 3f64.powi(f),
        Identity::Authenticated => 3f64.powi(f * (spec.n() as i32 - 1)),
        Identity::Pki => {
            let honest_origins = spec.honest() as i32 - 1;
            let byz_origins = f - 1;
            (3.0 * 2f64.powi(honest_origins) * 3f64.powi(byz_origins)).powi(f)
        }
    }
}

/// An upper bound on the protocol evaluations of a full search, before
/// pruning: every honest agent acting in every round, every option explored.
pub fn estimate_work(spec: &EnvSpec) -> f64 {
    if spec.faults() != Faults::Byzantine || spec.delays() {
        return instance_count(spec) * crate::consensus::exhaust::schedules_bound(spec);
    }
    let h = spec.honest() as f64;
    let mut prefix = 1.0;
    let mut total = h;
    for r in 1..spec.rounds() {
        let o = options_bound(spec, r);
        total += prefix * h * o;
        prefix *= o.powf(h);
    }
    instance_count(spec) * total
}

/// Instances the work of a search is measured on, where the a-priori bound
/// is over the limit: evenly spaced through the enumeration.
pub const PROBES: usize = 64;

/// Searches one instance with whichever search fits the fault model.
fn search(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    inst: Instance,
    budget: &Budget,
) -> (Option<Vec<Vec<u8>>>, u64) {
    if spec.faults() == Faults::Byzantine && !spec.delays() {
        attack(spec, protocol, inst, budget)
    } else {
        crate::consensus::exhaust::attack(spec, protocol, inst, budget)
    }
}

/// The work of the full search, measured on [`PROBES`] instances and
/// scaled to all of them; refused when that passes `limit`. The probes get
/// their share of the limit, so a refusal costs at most that share.
fn sampled_work(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    all: &[Instance],
    limit: f64,
) -> Result<f64, VerifyError> {
    let probes: Vec<Instance> = (0..PROBES).map(|k| all[k * all.len() / PROBES]).collect();
    let scale = all.len() as f64 / PROBES as f64;
    let budget = Budget::new(limit / scale);
    let work: u64 = probes
        .par_iter()
        .map(|&inst| search(spec, protocol, inst, &budget).1)
        .sum();
    let estimate = work as f64 * scale;
    if budget.exhausted() || estimate > limit {
        return Err(VerifyError::TooLarge {
            estimate: estimate.max(limit),
            limit,
            basis: Basis::Sampled {
                probes: PROBES,
                stopped: budget.cut_short(),
            },
        });
    }
    Ok(estimate)
}

/// Computes the optimal attack rate of `protocol` in `spec`, exactly.
pub fn verify(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    limits: &Limits,
) -> Result<Report, VerifyError> {
    protocol.check(spec).map_err(VerifyError::Unsupported)?;
    if limits.max_work.is_nan() || limits.max_work <= 0.0 {
        return Err(VerifyError::BadLimit(limits.max_work));
    }
    let bytes = instance_count(spec) * BYTES_PER_INSTANCE;
    if bytes > MAX_MEMORY {
        return Err(VerifyError::TooMuchMemory {
            bytes,
            limit: MAX_MEMORY,
        });
    }
    let all = instances(spec);
    let estimate = estimate_work(spec);
    let estimate = if estimate > limits.max_work && all.len() > PROBES {
        // The bound can be loose by orders of magnitude: measure instead.
        // (Fewer instances are searched whole, under the limit.)
        sampled_work(spec, protocol, &all, limits.max_work)?
    } else {
        estimate
    };
    let budget = Budget::new(limits.max_work);
    let results: Vec<(Option<Vec<Vec<u8>>>, u64)> = all
        .par_iter()
        .map(|&inst| search(spec, protocol, inst, &budget))
        .collect();
    if budget.exhausted() {
        return Err(VerifyError::TooLarge {
            estimate: budget.spent() as f64,
            limit: limits.max_work,
            basis: Basis::Stopped,
        });
    }
    // Per instance the figures count, the searched instance that breaks it, if one does.
    let broken: Vec<bool> = results.iter().map(|(s, _)| s.is_some()).collect();
    let verdicts = spec.comm().mode().verdicts(spec, &all, &broken);
    let broken = verdicts.iter().flatten().count() as u64;
    let counterexample = verdicts.iter().flatten().next().map(|&i| {
        let schedule = results[i].0.as_ref().expect("a broken instance");
        replay(spec, protocol, all[i], schedule)
    });
    Ok(Report {
        protocol: protocol.name(),
        setting: spec.describe(),
        instances: verdicts.len() as u64,
        broken_instances: broken,
        optimal_attack_rate: broken as f64 / verdicts.len() as f64,
        verified: broken == 0,
        evaluations: results.iter().map(|(_, e)| e).sum(),
        estimated_work: estimate,
        counterexample,
        broken: all
            .iter()
            .zip(results)
            .filter_map(|(&inst, (s, _))| s.map(|s| (inst, s)))
            .collect(),
    })
}

/// Whether some Byzantine strategy wins `inst`: the winning schedule (the
/// team's action per round `1..R`, replayable), and the evaluations spent.
/// Nothing is found once `budget` runs out (the caller refuses the verification).
pub fn attack(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    inst: Instance,
    budget: &Budget,
) -> (Option<Vec<Vec<u8>>>, u64) {
    let mut ep = Episode::new(inst);
    let mut inbox = vec![0; spec.stride()];
    empty_inbox(spec, &mut inbox);
    let mut search = Search {
        spec,
        protocol,
        unanimous: ep.required_value(spec),
        meter: Meter::new(budget),
    };
    let mut senders = 0;
    let mut reach = 0;
    for i in bits(ep.honest(spec)) {
        search.meter.spend();
        match protocol.act(&View::of(spec, 1, &ep, &inbox, i)).value() {
            None => senders |= 1 << i,
            Some(v) => {
                ep.commit(i, v, 1);
                reach |= 1 << v;
            }
        }
    }
    let found = search.explore(1, &ep, &inbox, senders, reach);
    search.meter.finish();
    if search.meter.stopped {
        // A stopped search's picks may rest on options it never classified.
        return (None, search.meter.evaluations);
    }
    let schedule = found.map(|picks| search.schedule(inst, &picks));
    (schedule, search.meter.evaluations)
}

/// What the adversary does to one recipient in one round, on a losing path.
#[derive(Clone, Debug)]
enum Pick {
    /// The recipient sends next round, having been sent this option.
    Send(Vec<u8>),
    /// The recipient commits next round; `witness[v]` makes it commit `v`.
    Commit([Option<Vec<u8>>; 2]),
}

/// The picks of one round: `(round, recipient, pick)`.
type Picks = Vec<(u8, usize, Pick)>;

struct Search<'a> {
    spec: &'a EnvSpec,
    protocol: &'a dyn Protocol,
    unanimous: Option<u8>,
    meter: Meter<'a>,
}

/// One recipient's options in a round, classified by its next action.
struct Recipient {
    id: usize,
    /// Values it can be made to commit next round (bit v).
    commits: u8,
    /// Option index making it commit v.
    witness: [usize; 2],
    /// Options after which it sends next round.
    sends: Vec<usize>,
    /// All options, `width` values each, and the round block each produces.
    options: Vec<u8>,
    blocks: Vec<u8>,
}

impl Recipient {
    fn choices(&self) -> usize {
        (self.commits != 0) as usize + self.sends.len()
    }

    fn option(&self, o: usize, width: usize) -> &[u8] {
        &self.options[o * width..][..width]
    }
}

impl Search<'_> {
    /// Honest team has lost once the committed values reachable include both
    /// (two or more honest agents) or the wrong one under unanimous inputs.
    fn lost(&self, reach: u8) -> bool {
        (self.spec.honest() >= 2 && reach == 0b11)
            || self.unanimous.is_some_and(|v| reach >> (1 - v) & 1 == 1)
    }

    /// At round `r`: `ep` has every commit up to `r`, `senders` send in `r`,
    /// `reach` holds the values some honest agent can have committed. Returns
    /// the picks of a losing continuation, if there is one.
    fn explore(
        &mut self,
        r: u8,
        ep: &Episode,
        inbox: &[u8],
        senders: u32,
        reach: u8,
    ) -> Option<Picks> {
        let spec = self.spec;
        if self.lost(reach) {
            return Some(vec![]);
        }
        if senders == 0 {
            return None;
        }
        if r == spec.rounds() {
            // A send in the last round is never followed by a decision.
            return Some(vec![]);
        }
        let mut honest = inbox.to_vec();
        let sent = rules::deliver_honest(spec, r, ep, &mut honest, senders);
        let recipients: Vec<Recipient> = bits(senders)
            .map(|i| self.classify(r, ep, &honest, i))
            .collect();
        if self.meter.stopped {
            return None;
        }
        let reach_all = recipients.iter().fold(reach, |acc, x| acc | x.commits);
        if recipients.iter().all(|x| x.sends.is_empty()) && !self.lost(reach_all) {
            return None;
        }
        // Every combination of choices, committing first (it loses soonest).
        let radix: Vec<usize> = recipients.iter().map(Recipient::choices).collect();
        let mut digits = vec![0usize; recipients.len()];
        let mut next = honest.clone();
        loop {
            let mut ep2 = *ep;
            ep2.close_round(senders, sent);
            let mut reach2 = reach;
            let mut senders2 = 0;
            next.copy_from_slice(&honest);
            for (x, &d) in recipients.iter().zip(&digits) {
                if x.commits != 0 && d == 0 {
                    ep2.decided |= 1 << x.id;
                    ep2.decided_round[x.id] = r + 1;
                    reach2 |= x.commits;
                } else {
                    let o = x.sends[d - (x.commits != 0) as usize];
                    let block = spec.block(x.id, r);
                    next[block..][..spec.slots()]
                        .copy_from_slice(&x.blocks[o * spec.slots()..][..spec.slots()]);
                    senders2 |= 1 << x.id;
                }
            }
            if let Some(mut picks) = self.explore(r + 1, &ep2, &next, senders2, reach2) {
                let width = spec.f() * spec.heads();
                for (x, &d) in recipients.iter().zip(&digits) {
                    let pick = if x.commits != 0 && d == 0 {
                        Pick::Commit([0, 1].map(|v| {
                            (x.commits >> v & 1 == 1)
                                .then(|| x.option(x.witness[v], width).to_vec())
                        }))
                    } else {
                        let o = x.sends[d - (x.commits != 0) as usize];
                        Pick::Send(x.option(o, width).to_vec())
                    };
                    picks.push((r, x.id, pick));
                }
                return Some(picks);
            }
            if self.meter.stopped || !rules::next_combination(&mut digits, &radix) {
                return None;
            }
        }
    }

    /// Enumerates what the Byzantine team can send recipient `i` in round `r`
    /// and what `i` does in round `r + 1` after each.
    fn classify(&mut self, r: u8, ep: &Episode, honest: &[u8], i: usize) -> Recipient {
        let spec = self.spec;
        let width = spec.f() * spec.heads();
        let mut lists: Vec<Vec<u8>> = Vec::with_capacity(width);
        for b in ep.byzantine_ids() {
            for h in 0..spec.heads() {
                let mask = rules::allowed(spec, r, ep, b, i, h);
                lists.push(bits(mask as u32).map(|v| v as u8).collect());
            }
        }
        let radix: Vec<usize> = lists.iter().map(Vec::len).collect();
        let block = spec.block(i, r);
        let len = spec.inbox_rounds() * spec.slots();
        let mut scratch = honest.to_vec();
        let base: Vec<u8> = honest[block..][..spec.slots()].to_vec();
        let mut x = Recipient {
            id: i,
            commits: 0,
            witness: [0; 2],
            sends: vec![],
            options: vec![],
            blocks: vec![],
        };
        let mut digits = vec![0usize; width];
        let mut option = vec![NONE; width];
        let mut seen: Vec<Vec<u8>> = vec![];
        let anonymous = spec.identity() == Identity::Anonymous;
        loop {
            for (t, list) in lists.iter().enumerate() {
                option[t] = list[digits[t]];
            }
            // Write through the same channel rules the engine uses.
            scratch[block..][..spec.slots()].copy_from_slice(&base);
            rules::byzantine_to(spec, r, ep, &mut scratch, i, &option, spec.heads());
            let produced = &scratch[block..][..spec.slots()];
            if !(anonymous && seen.iter().any(|s| s == produced)) {
                if anonymous {
                    seen.push(produced.to_vec());
                }
                let o = x.blocks.len() / spec.slots();
                x.options.extend_from_slice(&option);
                x.blocks.extend_from_slice(produced);
                if !self.meter.spend() {
                    return x;
                }
                let view = View::new(
                    spec,
                    r + 1,
                    ep.view_input(spec, i),
                    &scratch[i * len..][..len],
                );
                match self.protocol.act(&view) {
                    Action::Send => x.sends.push(o),
                    a => {
                        let v = a.value().unwrap() as usize;
                        if x.commits >> v & 1 == 0 {
                            x.commits |= 1 << v;
                            x.witness[v] = o;
                        }
                    }
                }
            }
            if !rules::next_combination(&mut digits, &radix) {
                return x;
            }
        }
    }

    /// Turns the picks of a losing path into a replayable schedule. A
    /// recipient that could commit either value takes whichever loses;
    /// every assignment is tried against the engine until one does.
    fn schedule(&self, inst: Instance, picks: &Picks) -> Vec<Vec<u8>> {
        let spec = self.spec;
        let rounds = spec.inbox_rounds();
        let either: Vec<usize> = picks
            .iter()
            .enumerate()
            .filter(|(_, (_, _, p))| matches!(p, Pick::Commit([Some(_), Some(_)])))
            .map(|(t, _)| t)
            .collect();
        let tries = 1u64 << either.len().min(20);
        for assignment in 0..tries {
            let mut sched = vec![vec![NONE; spec.byz_action_len()]; rounds];
            for (t, (r, i, pick)) in picks.iter().enumerate() {
                let option = match pick {
                    Pick::Send(o) => o,
                    Pick::Commit(w) => {
                        let want = either
                            .iter()
                            .position(|&e| e == t)
                            .map_or(0, |bit| (assignment >> bit & 1) as usize);
                        w[want].as_ref().or(w[1 - want].as_ref()).unwrap()
                    }
                };
                let row = &mut sched[*r as usize - 1];
                for bo in 0..spec.f() {
                    for h in 0..spec.heads() {
                        row[(bo * spec.n() + i) * spec.heads() + h] = option[bo * spec.heads() + h];
                    }
                }
            }
            if !replay(spec, self.protocol, inst, &sched)
                .outcome
                .honest_wins()
            {
                return sched;
            }
        }
        unreachable!("the search found a losing path the engine does not reproduce: {inst:?}")
    }
}
