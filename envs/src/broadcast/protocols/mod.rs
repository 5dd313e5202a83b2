//! Reliable-broadcast protocols: deterministic maps from an agent's view to
//! its decision (what to send, whether to deliver). The scripted ones live
//! here, one family per file, registered once in [`REGISTRY`]; a learned
//! policy played greedily implements the same trait, and the verifier
//! checks either.
//!
//! Thresholds are written as in their papers and rounded as each file
//! says; counts include the agent's own message (see `game`), and a
//! protocol that sends "to the neighbours only" counts the others only.

pub mod bracha;
mod crash;
mod echo;
mod imbs_raynal;
mod rbl;

/// The protocol trait lives in `game`, beside the view it reads and the
/// decision it returns: protocols depend on the rules, not the reverse.
pub use super::game::RbProtocol;
use super::game::{Decision, Msg, RbSpec, View};
use super::grammar::Dest;
use super::threshold::{Act, Atom, Rule, Threshold, ThresholdForm};

/// A scripted protocol: a name and a pure rule.
pub struct Scripted {
    pub name: &'static str,
    pub rule: fn(&RbSpec, &View) -> Decision,
}

impl RbProtocol for Scripted {
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn act(&self, spec: &RbSpec, view: &View) -> Decision {
        (self.rule)(spec, view)
    }
}

/// Every scripted protocol, with a line on what it is. The one place a
/// protocol is registered; every list of names is read from here.
pub const REGISTRY: &[(Scripted, &str)] = &[
    (bracha::BRACHA, "Bracha's double echo: ECHO on INIT, READY on > (n+f)/2 ECHO or f+1 READY, deliver on 2f+1 READY"),
    (bracha::NO_AMPLIFICATION, "Bracha without the f+1 READY amplification"),
    (echo::ECHO, "echo (consistent) broadcast: ECHO on INIT, deliver on > (n+f)/2 ECHO; no READY"),
    (imbs_raynal::IMBS_RAYNAL, "Imbs-Raynal (n > 5f): WITNESS (as ECHO) on INIT or n-2f WITNESS, deliver on n-f"),
    (rbl::ALG3, "RB-Learner's Byzantine algorithm 3: ECHO on INIT or f+1 ECHO, deliver on ceil((n+f)/2) ECHO"),
    (rbl::ALG4, "RB-Learner's new Byzantine algorithm 4: algorithm 3 to the neighbours only, deliver on f+1 ECHO"),
    (crash::DELIVER_ON_RECEIPT, "crash faults: deliver the sender's INIT on receipt"),
    (crash::RELAY_THEN_DELIVER, "crash faults: relay the value (as ECHO) to all, then deliver"),
];

/// Names of the scripted protocols, in registry order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|(p, _)| p.name).collect()
}

/// A scripted protocol by name.
pub fn scripted(name: &str) -> Option<&'static Scripted> {
    REGISTRY.iter().map(|(p, _)| p).find(|p| p.name == name)
}

/// The smallest count strictly above `x / 2`: `floor(x / 2) + 1`.
pub(crate) fn more_than_half(x: usize) -> usize {
    x / 2 + 1
}

/// The threshold form of a scripted protocol (issue 28): its rules as
/// guards over n and t, deciding as its code on every view (a test checks
/// it at n = 4 to 7). None for a protocol that is not threshold-guarded.
pub fn threshold_form(name: &str) -> Option<ThresholdForm> {
    Some(match name {
        "bracha" => bracha::form(true),
        "bracha_no_amplification" => bracha::form(false),
        "echo" => echo::form(),
        "imbs_raynal" => imbs_raynal::form(),
        "rbl_alg3" => rbl::form(Dest::All, Threshold::HALF_UP),
        "rbl_alg4" => rbl::form(Dest::Neighbours, Threshold::T_PLUS_1),
        "deliver_on_receipt" => crash::form(),
        _ => return None,
    })
}

/// The rules `each` gives for value 0, then for value 1.
fn per_value(each: impl Fn(u8) -> Vec<Rule>) -> Vec<Rule> {
    (0..2).flat_map(each).collect()
}

/// The sender's rule in every threshold form: INIT v to `dest` on input v.
fn init_on_input(dest: Dest) -> Vec<Rule> {
    per_value(|v| vec![Rule::new(&[Atom::Input(v)], Act::Send(Msg::init(v), dest))])
}

/// ECHO v to `dest` on reading INIT v.
fn echo_on_init(dest: Dest) -> Vec<Rule> {
    per_value(|v| vec![Rule::new(&[Atom::Init(v)], Act::Send(Msg::echo(v), dest))])
}
