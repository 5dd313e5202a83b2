//! Counterexample traces: a Byzantine schedule played out through the engine
//! and written round by round, who sent what to whom and who decided what.

use crate::consensus::comm::{outcome, Outcome};
use crate::consensus::inbox::{heard, Slot};
use crate::consensus::protocols::Protocol;
use crate::consensus::rules::{self, allowed, bits, empty_inbox, Action, Episode, Instance, DROP};
use crate::consensus::spec::{offset, EnvSpec, Faults, Identity, Switch, NONE};
use crate::consensus::view::View;
use serde::Serialize;
use std::fmt::Write;

/// One episode played out: a fixture a test can replay.
#[derive(Clone, Debug, Serialize)]
pub struct Trace {
    pub setting: String,
    pub protocol: String,
    /// The fault model (`byzantine`, `crash`, `omission`).
    pub faults: &'static str,
    /// Broadcasts (and interactive consistency, one entry's broadcast): the
    /// designated sender, the only agent whose input the episode carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<usize>,
    /// The faulty agents.
    pub byzantine: Vec<usize>,
    /// Each agent's input; `None` for Byzantine agents.
    pub inputs: Vec<Option<u8>>,
    pub rounds: Vec<RoundTrace>,
    /// Each agent's decision; `None` for Byzantine or undecided agents.
    pub decisions: Vec<Option<Decision>>,
    pub outcome: Outcome,
    /// Names of the properties that failed.
    pub violated: Vec<&'static str>,
    /// The Byzantine team's action in each round `1..R` (the engine's layout).
    pub schedule: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Decision {
    pub value: u8,
    pub round: u8,
}

#[derive(Clone, Debug, Serialize)]
pub struct RoundTrace {
    pub round: u8,
    pub honest: Vec<Move>,
    pub byzantine: Vec<Message>,
    /// Crash and omission faults: messages of faulty agents that were dropped, `(from, to)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<(usize, usize)>,
    /// Crash faults: the faulty agents that crashed this round.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crashed: Vec<usize>,
    /// Partial synchrony and asynchrony: messages held, `(from, to, extra rounds)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delayed: Vec<(usize, usize, u8)>,
}

/// An honest agent's move; with `send`, the relays it carried: `(origin, value heard)`.
#[derive(Clone, Debug, Serialize)]
pub struct Move {
    pub agent: usize,
    pub action: Action,
    pub relays: Vec<(usize, u8)>,
    /// Broadcast: the values it forwarded (signature chains under `pki`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forwards: Vec<u8>,
}

/// What one Byzantine agent delivered to one honest agent in a round.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub from: usize,
    pub to: usize,
    pub direct: Option<u8>,
    /// `(origin, value claimed)`.
    pub relays: Vec<(usize, u8)>,
    /// Broadcast: the values it forwarded (signature chains under `pki`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forwards: Vec<u8>,
}

/// Plays `schedule` (missing rounds: silence) against `protocol` from `inst`.
pub fn replay(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    inst: Instance,
    schedule: &[Vec<u8>],
) -> Trace {
    let n = spec.n();
    let broadcast = spec.broadcasts();
    let mut ep = Episode::start(spec, inst);
    let mut inbox = vec![0; spec.stride()];
    empty_inbox(spec, &mut inbox);
    let silent = vec![NONE; spec.byz_action_len()];
    let mut rounds = vec![];
    for r in 1..=spec.rounds() {
        if ep.finished(spec) {
            break;
        }
        let (actions, honest) = honest_moves(spec, protocol, r, &ep, &inbox);
        let byz = schedule.get(r as usize - 1).unwrap_or(&silent);
        let before = ep;
        let mut delayed = vec![];
        // The engine's own rule, on the state it judges delays on.
        let sending = honest.iter().filter(|m| m.action == Action::Send);
        for m in sending.filter(|_| spec.delays()) {
            for i in 0..n {
                let d = byz[spec.delay_head(m.agent, i)];
                if d < NONE && rules::delay_allowed(spec, r, &before, m.agent, i) >> d & 1 == 1 {
                    delayed.push((m.agent, i, d + 1));
                }
            }
        }
        rules::step(spec, r, &mut ep, &mut inbox, &actions, byz);
        let (byzantine, dropped) = faulty_moves(spec, r, &before, &ep, byz);
        // A dropped message is not also held.
        delayed.retain(|&(from, to, _)| !dropped.contains(&(from, to)));
        rounds.push(RoundTrace {
            round: r,
            honest,
            byzantine,
            dropped,
            crashed: bits(ep.crashed & !before.crashed).collect(),
            delayed,
        });
    }
    let out = outcome(spec, &ep);
    Trace {
        setting: spec.describe(),
        protocol: protocol.name(),
        faults: spec.faults().name(),
        sender: broadcast.then_some(ep.sender as usize),
        byzantine: ep.byzantine_ids().collect(),
        inputs: (0..n)
            .map(|i| {
                let has = ep.followers >> i & 1 == 1 && ep.view_input(spec, i) != NONE;
                has.then(|| ep.input(i))
            })
            .collect(),
        rounds,
        decisions: (0..n)
            .map(|i| {
                ep.decision(i).map(|value| Decision {
                    value,
                    round: ep.decided_round[i],
                })
            })
            .collect(),
        outcome: out,
        violated: out.violated(),
        schedule: schedule.to_vec(),
    }
}

/// What each undecided honest agent does in round `r`: its action, and
/// what a send carries beyond the direct value (relays, or forwards in a
/// broadcast), as the engine fills the inbox.
fn honest_moves(
    spec: &EnvSpec,
    protocol: &dyn Protocol,
    r: u8,
    ep: &Episode,
    inbox: &[u8],
) -> (Vec<u8>, Vec<Move>) {
    let n = spec.n();
    let broadcast = spec.broadcasts();
    let mut actions = vec![0u8; n];
    let mut honest = vec![];
    for i in bits(ep.undecided(spec)) {
        let action = protocol.act(&View::of(spec, r, ep, inbox, i));
        actions[i] = action as u8;
        let mut relays = vec![];
        let mut forwards = vec![];
        if broadcast && action == Action::Send && r < spec.rounds() {
            let f = rules::forwards(spec, r, ep, inbox, i);
            forwards = bits(f as u32).map(|v| v as u8).collect();
        } else if action == Action::Send
            && r >= 2
            && r < spec.rounds()
            && spec.identity() != Identity::Anonymous
        {
            for k in (0..n).filter(|&k| k != i) {
                let direct = Slot::Direct {
                    from: offset(n, i, k),
                };
                let at = spec.block(i, r - 1) + spec.layout().index(n, direct);
                if let Some(v) = heard(inbox[at]) {
                    relays.push((k, v));
                }
            }
        }
        honest.push(Move {
            agent: i,
            action,
            relays,
            forwards,
        });
    }
    (actions, honest)
}

/// What the faulty agents did in round `r` (the state `before` it, `ep`
/// after): under crash or omission the messages dropped, else the
/// Byzantine messages the engine allowed and delivered.
fn faulty_moves(
    spec: &EnvSpec,
    r: u8,
    before: &Episode,
    ep: &Episode,
    byz: &[u8],
) -> (Vec<Message>, Vec<(usize, usize)>) {
    let n = spec.n();
    let broadcast = spec.broadcasts();
    let mut byzantine = vec![];
    let mut dropped = vec![];
    if spec.faults() != Faults::Byzantine {
        for (bo, b) in before.byzantine_ids().enumerate() {
            for i in bits(before.undecided(spec) & !(1 << b)) {
                let v = byz[(bo * n + i) * spec.heads()];
                if v == DROP && allowed(spec, r, before, b, i, 0) >> DROP & 1 == 1 {
                    dropped.push((b, i));
                }
            }
        }
    } else if r < spec.rounds() {
        for (bo, b) in before.byzantine_ids().enumerate() {
            for i in bits(ep.undecided(spec)) {
                let mut m = Message {
                    from: b,
                    to: i,
                    direct: None,
                    relays: vec![],
                    forwards: vec![],
                };
                for h in 0..spec.heads() {
                    let v = byz[(bo * n + i) * spec.heads() + h];
                    if v == NONE || allowed(spec, r, before, b, i, h) >> v & 1 == 0 {
                        continue;
                    }
                    match spec.head(b, i, h).1 {
                        _ if broadcast => m.forwards.push(v),
                        crate::consensus::spec::DIRECT => m.direct = Some(v),
                        k => m.relays.push((k as usize, v)),
                    }
                }
                if m.direct.is_some() || !m.relays.is_empty() || !m.forwards.is_empty() {
                    byzantine.push(m);
                }
            }
        }
    }
    (byzantine, dropped)
}

fn values(v: &[u8]) -> String {
    v.iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

fn pairs(p: &[(usize, u8)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Trace {
    /// The trace as a person reads it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "counterexample: {} ({})", self.protocol, self.setting);
        let byz: Vec<String> = self.byzantine.iter().map(|b| b.to_string()).collect();
        let label = match self.faults {
            "byzantine" => "byzantine".to_string(),
            x => format!("faulty ({x})"),
        };
        let _ = writeln!(
            s,
            "  {label}: {}",
            if byz.is_empty() {
                "none".into()
            } else {
                byz.join(", ")
            }
        );
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.map(|x| format!("{i}={x}")))
            .collect();
        if let Some(k) = self.sender {
            let _ = writeln!(s, "  designated sender: agent {k}");
        }
        let _ = writeln!(
            s,
            "  inputs: {}",
            if inputs.is_empty() {
                "none (the designated sender is Byzantine)".to_string()
            } else {
                inputs.join(" ")
            }
        );
        for round in &self.rounds {
            let _ = writeln!(s, "  round {}:", round.round);
            for m in &round.honest {
                let faulty = if self.byzantine.contains(&m.agent) {
                    " (faulty)"
                } else {
                    ""
                };
                let _ = write!(s, "    agent {}{faulty} {}", m.agent, m.action.label());
                if self.sender.is_some() && m.action == Action::Send {
                    if m.forwards.is_empty() {
                        let _ = write!(s, " (nothing new to forward)");
                    } else {
                        let _ = write!(s, ", forwarding {}", values(&m.forwards));
                    }
                } else if m.action == Action::Send {
                    let x = self.inputs[m.agent].unwrap_or(0);
                    let _ = write!(s, " {x}");
                    if !m.relays.is_empty() {
                        let _ = write!(s, ", relaying heard {}", pairs(&m.relays));
                    }
                }
                let _ = writeln!(s);
            }
            for m in &round.byzantine {
                let _ = write!(s, "    agent {} (byzantine) to {}:", m.from, m.to);
                if let Some(v) = m.direct {
                    let _ = write!(s, " {v}");
                }
                if !m.forwards.is_empty() {
                    let _ = write!(s, " forwards {}", values(&m.forwards));
                }
                if !m.relays.is_empty() {
                    let _ = write!(s, " claims {}", pairs(&m.relays));
                }
                let _ = writeln!(s);
            }
            for &(from, to, d) in &round.delayed {
                let _ = writeln!(
                    s,
                    "    agent {from}'s message to {to} is held {d} round{} more",
                    if d == 1 { "" } else { "s" }
                );
            }
            for &b in self.byzantine.iter() {
                let lost: Vec<String> = round
                    .dropped
                    .iter()
                    .filter(|&&(from, _)| from == b)
                    .map(|(_, to)| to.to_string())
                    .collect();
                if round.crashed.contains(&b) {
                    let _ = writeln!(
                        s,
                        "    agent {b} crashes; its message does not reach {}",
                        lost.join(", ")
                    );
                } else if !lost.is_empty() {
                    let _ = writeln!(s, "    agent {b}'s message to {} is lost", lost.join(", "));
                }
            }
        }
        let decided: Vec<String> = self
            .decisions
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| format!("{i}->{} (round {})", d.value, d.round)))
            .collect();
        let _ = writeln!(s, "  decisions: {}", decided.join(", "));
        let _ = writeln!(
            s,
            "  violated: {}",
            if self.violated.is_empty() {
                "nothing".to_string()
            } else {
                self.violated.join(", ")
            }
        );
        s
    }
}
