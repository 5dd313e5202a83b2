//! Exact analysis under crash and omission faults. There the faulty agents
//! run the protocol themselves and the adversary only chooses which of their
//! messages arrive, so the per-recipient factoring of [`crate::verify`] does
//! not apply (one crash silences an agent towards everyone). The choices are
//! few instead: a plain depth-first search over every joint drop pattern,
//! round by round, stepping the engine's own rules.

use crate::protocols::Protocol;
use crate::rules::{self, bits, empty_inbox, Episode, Instance, DROP};
use crate::spec::{EnvSpec, Faults, NONE};
use crate::view::View;

/// An upper bound on protocol evaluations for one instance: every agent
/// acting in every round of every adversary schedule. A crash happens at most
/// once per faulty agent (in one of `R` rounds, towards a proper subset of
/// recipients); an omission can happen to every message.
pub fn schedules_bound(spec: &EnvSpec) -> f64 {
    let subsets = 2f64.powi(spec.n as i32 - 1);
    let (f, rounds) = (spec.f as i32, spec.rounds as f64);
    let schedules = match spec.faults {
        Faults::Crash => (1.0 + rounds * (subsets - 1.0)).powi(f),
        _ => subsets.powf(f as f64 * rounds),
    };
    schedules * spec.n as f64 * rounds
}

/// Whether some drop schedule makes the protocol lose `inst`: the schedule
/// (the adversary's action per round `1..=R`), and the evaluations spent.
pub fn attack(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    inst: Instance,
) -> (Option<Vec<Vec<u8>>>, u64) {
    let ep = Episode::start(spec, inst);
    let mut inbox = vec![0; spec.stride];
    empty_inbox(spec, &mut inbox);
    let mut search = Search {
        spec,
        protocol,
        evaluations: 0,
        schedule: vec![],
    };
    let found = search.explore(1, &ep, &inbox);
    (found.then_some(search.schedule), search.evaluations)
}

struct Search<'a> {
    spec: &'a EnvSpec,
    protocol: &'a dyn Protocol,
    evaluations: u64,
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
        let o = rules::outcome(spec, ep);
        if !(o.agreement && o.validity) {
            return true;
        }
        if ep.finished(spec) {
            return false;
        }
        if r > spec.rounds {
            return true;
        }
        let n = spec.n;
        let acting = ep.undecided(spec);
        let mut actions = vec![0u8; n];
        for i in bits(acting) {
            self.evaluations += 1;
            actions[i] = self.protocol.act(&View::of(spec, r, ep, inbox, i)) as u8;
        }
        // Per acting faulty agent, the recipients whose message may be dropped.
        let faulty: Vec<(usize, usize, u32)> = ep
            .byzantine_ids()
            .enumerate()
            .filter(|&(_, b)| acting >> b & 1 == 1)
            .map(|(bo, b)| (bo, b, acting & !(1 << b)))
            .collect();
        let radix: Vec<usize> = faulty
            .iter()
            .map(|&(_, _, to)| 1 << to.count_ones())
            .collect();
        let mut digits = vec![0usize; faulty.len()];
        let mut seen: Vec<(Episode, Vec<u8>)> = vec![];
        let mut byz = vec![NONE; spec.byz_action_len()];
        loop {
            byz.fill(NONE);
            for (&(bo, _, to), &d) in faulty.iter().zip(&digits) {
                for (t, i) in bits(to).enumerate() {
                    if d >> t & 1 == 1 {
                        byz[(bo * n + i) * spec.heads] = DROP;
                    }
                }
            }
            let mut ep2 = *ep;
            let mut next = inbox.to_vec();
            rules::step(spec, r, &mut ep2, &mut next, &actions, &byz);
            if !seen.iter().any(|(e, x)| *e == ep2 && *x == next) {
                self.schedule.push(byz.clone());
                if self.explore(r + 1, &ep2, &next) {
                    return true;
                }
                self.schedule.pop();
                seen.push((ep2, next));
            }
            if !rules::next_combination(&mut digits, &radix) {
                return false;
            }
        }
    }
}
