//! Exact analysis where the per-recipient factoring of [`crate::consensus::verify`]
//! does not apply: under crash and omission faults (the faulty agents run
//! the protocol themselves, and one crash silences an agent towards
//! everyone), and wherever the adversary also schedules delays (a held
//! message reaches its recipient in a later round). The choices are few
//! instead: a plain depth-first search over every joint adversary choice,
//! round by round, stepping the engine's own rules, with states already
//! seen in a round merged.

use crate::consensus::budget::{Budget, Meter};
use crate::consensus::comm::outcome;
use crate::consensus::protocols::Protocol;
use crate::consensus::rules::{self, bits, empty_inbox, Action, Episode, Instance, DROP};
use crate::consensus::spec::{EnvSpec, Faults, NONE};
use crate::consensus::view::View;
use std::collections::HashSet;

/// An upper bound on protocol evaluations for one instance: every agent
/// acting in every round of every adversary schedule. A crash happens at most
/// once per faulty agent (in one of `R` rounds, towards a proper subset of
/// recipients); an omission can happen to every message; a Byzantine agent
/// writes every head towards every honest agent in every round; each
/// message between agents that follow the protocol may be held up to
/// `delta` rounds while delays are allowed.
pub fn schedules_bound(spec: &EnvSpec) -> f64 {
    let subsets = 2f64.powi(spec.n() as i32 - 1);
    let (f, rounds) = (spec.f() as i32, spec.rounds() as f64);
    let faults = match spec.faults() {
        Faults::Crash => (1.0 + rounds * (subsets - 1.0)).powi(f),
        Faults::Omission => subsets.powf(f as f64 * rounds),
        Faults::Byzantine => {
            let heads = spec.f() * (spec.n() - spec.f()) * spec.heads();
            3f64.powf(heads as f64 * (rounds - 1.0))
        }
    };
    let followers = spec.followers() as f64;
    let delay_rounds = (1..spec.rounds()).filter(|&r| spec.may_delay(r)).count() as f64;
    let delays = (spec.delta() as f64 + 1.0).powf(followers * (followers - 1.0) * delay_rounds);
    faults * delays * spec.n() as f64 * rounds
}
/// Whether some adversary schedule makes the protocol lose `inst`: the schedule
/// (the adversary's action per round `1..=R`), and the evaluations spent.
/// Nothing is found once `budget` runs out (the caller refuses the verification).
pub fn attack(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    inst: Instance,
    budget: &Budget,
) -> (Option<Vec<Vec<u8>>>, u64) {
    let ep = Episode::start(spec, inst);
    let mut inbox = vec![0; spec.stride()];
    empty_inbox(spec, &mut inbox);
    let mut search = Search {
        spec,
        protocol,
        meter: Meter::new(budget),
        schedule: vec![],
    };
    let found = search.explore(1, &ep, &inbox);
    search.meter.finish();
    let found = found && !search.meter.stopped;
    (found.then_some(search.schedule), search.meter.evaluations)
}

struct Search<'a> {
    spec: &'a EnvSpec,
    protocol: &'a dyn Protocol,
    meter: Meter<'a>,
    /// The adversary's actions on the current path.
    schedule: Vec<Vec<u8>>,
}

impl Search<'_> {
    /// Whether the adversary can make the honest team lose from round `r`.
    /// A violated agreement or validity is final: no later decision repairs
    /// it, and the adversary can always let everything else arrive (so a
    /// P4 violation with nothing failed yet stays one).
    fn explore(&mut self, r: u8, ep: &Episode, inbox: &[u8]) -> bool {
        let spec = self.spec;
        let o = outcome(spec, ep);
        if !(o.agreement && o.validity) {
            return true;
        }
        if ep.finished(spec) {
            return false;
        }
        if r > spec.rounds() {
            return true;
        }
        let n = spec.n();
        let acting = ep.undecided(spec);
        let mut actions = vec![0u8; n];
        for i in bits(acting) {
            if !self.meter.spend() {
                return false;
            }
            actions[i] = self.protocol.act(&View::of(spec, r, ep, inbox, i)) as u8;
        }
        let choices = self.choices(r, ep, &actions);
        let radix: Vec<usize> = choices.iter().map(|(_, v)| v.len()).collect();
        let mut digits = vec![0usize; choices.len()];
        let mut seen: HashSet<(Episode, Vec<u8>)> = HashSet::new();
        let mut byz = vec![NONE; spec.byz_action_len()];
        loop {
            byz.fill(NONE);
            for ((at, values), &d) in choices.iter().zip(&digits) {
                byz[*at] = values[d];
            }
            let mut ep2 = *ep;
            let mut next = inbox.to_vec();
            rules::step(spec, r, &mut ep2, &mut next, &actions, &byz);
            // Membership only: the order of the set never reaches the search.
            if seen.insert((ep2, next.clone())) {
                self.schedule.push(byz.clone());
                if self.explore(r + 1, &ep2, &next) {
                    return true;
                }
                self.schedule.pop();
            }
            if self.meter.stopped || !rules::next_combination(&mut digits, &radix) {
                return false;
            }
        }
    }

    /// Every head of the adversary's round-`r` action that can matter, with
    /// the values it may take: drops of the acting faulty agents' messages
    /// to agents that still act, Byzantine messages to agents that still
    /// act, and the delays of this round's messages.
    fn choices(&self, r: u8, ep: &Episode, actions: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let spec = self.spec;
        let n = spec.n();
        let acting = ep.undecided(spec);
        let values = |mask: u8| bits(mask as u32).map(|v| v as u8).collect::<Vec<u8>>();
        let mut out = vec![];
        for (bo, b) in ep.byzantine_ids().enumerate() {
            match spec.faults() {
                Faults::Byzantine if r < spec.rounds() => {
                    for i in bits(acting & !(1 << b)) {
                        for h in 0..spec.heads() {
                            let mask = rules::allowed(spec, r, ep, b, i, h);
                            out.push(((bo * n + i) * spec.heads() + h, values(mask)));
                        }
                    }
                }
                Faults::Byzantine => {}
                _ if acting >> b & 1 == 1 => {
                    for i in bits(acting & !(1 << b)) {
                        out.push(((bo * n + i) * spec.heads(), vec![NONE, DROP]));
                    }
                }
                _ => {}
            }
        }
        if spec.may_delay(r) {
            let senders = bits(acting).filter(|&j| actions[j] == Action::Send as u8);
            for j in senders.collect::<Vec<_>>() {
                for i in bits(acting & !(1 << j)) {
                    let mask = rules::delay_allowed(spec, r, ep, j, i);
                    out.push((spec.delay_head(j, i), values(mask)));
                }
            }
        }
        // Options that change nothing are not choices.
        out.retain(|(_, v)| v.len() > 1);
        out
    }
}
