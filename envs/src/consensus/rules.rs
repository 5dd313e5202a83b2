//! The rules of one episode as pure functions of `(spec, round, state, moves)`.
//! The batched environment and the exact verifier both step episodes through
//! these functions, so what is verified is exactly what is played.

use crate::consensus::inbox;
use crate::consensus::spec::{offset, EnvSpec, Faults, Identity, DIRECT, MAX_N, NONE};
use serde::Serialize;

/// An honest agent's move in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[repr(u8)]
pub enum Action {
    /// Send own input to everyone (and relay last round's direct values).
    Send = 0,
    /// Decide 0.
    Commit0 = 1,
    /// Decide 1.
    Commit1 = 2,
}

/// Number of honest actions (the width of an honest policy's head).
pub const ACTIONS: usize = 3;

impl Action {
    pub fn commit(v: u8) -> Action {
        if v == 0 {
            Action::Commit0
        } else {
            Action::Commit1
        }
    }

    pub fn from_index(a: u8) -> Action {
        match a {
            0 => Action::Send,
            1 => Action::Commit0,
            _ => Action::Commit1,
        }
    }

    /// The committed value, if this is a commit.
    pub fn value(self) -> Option<u8> {
        match self {
            Action::Send => None,
            Action::Commit0 => Some(0),
            Action::Commit1 => Some(1),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::Commit0 => "commit 0",
            Action::Commit1 => "commit 1",
        }
    }
}

/// Who is faulty and what every agent that runs the protocol was given.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub struct Instance {
    /// Bit `i` set: agent `i` is faulty (Byzantine, or crash- or omission-prone).
    pub byzantine: u32,
    /// Bit `i`: input of agent `i` (0 for Byzantine agents, who have none).
    pub inputs: u32,
    /// Broadcast and interactive consistency: the designated sender of this
    /// episode (always agent 0 in a broadcast; the entry being broadcast in
    /// interactive consistency).
    #[serde(default)]
    pub sender: u8,
}

/// The changing state of one episode, apart from its inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Episode {
    /// The faulty agents (under every fault model; the name is the common case).
    pub byzantine: u32,
    pub inputs: u32,
    /// Agents that run the honest protocol: the honest ones, plus the faulty
    /// ones under crash and omission faults.
    pub followers: u32,
    /// Faulty agents that have crashed: they act and send no more.
    pub crashed: u32,
    /// Faulty agents that have had a message dropped (omission faults).
    pub omitted: u32,
    /// Honest agents that have committed.
    pub decided: u32,
    /// Bit `i`: the value agent `i` committed.
    pub values: u32,
    /// Honest agents that have sent at least once: the adversary holds their signed input.
    pub signed: u32,
    /// Broadcast: the values (bit `v`) some honest agent has signed and sent,
    /// which the adversary can extend as a signature chain.
    pub public: u8,
    /// Round in which each agent committed (0 while undecided).
    pub decided_round: [u8; MAX_N],
    /// Broadcast and interactive consistency: the designated sender.
    pub sender: u8,
}

impl Episode {
    /// Agent `i` decides `v` in round `r`: the one way a decision is written,
    /// by the engine, the sampling game and the verifier alike.
    #[inline]
    pub fn commit(&mut self, i: usize, v: u8, r: u8) {
        self.decided |= 1 << i;
        self.values |= (v as u32) << i;
        self.decided_round[i] = r;
    }

    /// The end of a round in which `senders` sent: the adversary holds
    /// their signatures, and the values `sent` are public.
    #[inline]
    pub fn close_round(&mut self, senders: u32, sent: u8) {
        self.signed |= senders;
        self.public |= sent;
    }

    /// An episode with Byzantine faults: only the honest agents follow the protocol.
    pub fn new(inst: Instance) -> Episode {
        Episode {
            byzantine: inst.byzantine,
            inputs: inst.inputs & !inst.byzantine,
            followers: !inst.byzantine,
            crashed: 0,
            omitted: 0,
            decided: 0,
            values: 0,
            signed: 0,
            public: 0,
            decided_round: [0; MAX_N],
            sender: inst.sender,
        }
    }

    /// An episode of `spec` under its fault model.
    pub fn start(spec: &EnvSpec, inst: Instance) -> Episode {
        let mut ep = Episode::new(inst);
        if spec.faults() != Faults::Byzantine {
            ep.followers = all(spec.n());
            ep.inputs = inst.inputs & all(spec.n());
        }
        ep
    }

    pub fn instance(&self) -> Instance {
        Instance {
            byzantine: self.byzantine,
            inputs: self.inputs,
            sender: self.sender,
        }
    }

    #[inline]
    pub fn honest(&self, spec: &EnvSpec) -> u32 {
        all(spec.n()) & !self.byzantine
    }

    #[inline]
    pub fn undecided(&self, spec: &EnvSpec) -> u32 {
        self.undecided_of(spec.n())
    }

    /// Agents that still act (followers that have neither decided nor crashed), among `n` agents.
    #[inline]
    pub fn undecided_of(&self, n: usize) -> u32 {
        all(n) & self.followers & !self.decided & !self.crashed
    }

    /// Whether some faulty agent has failed so far (crashed or lost a message).
    pub fn failed(&self) -> bool {
        self.crashed | self.omitted != 0
    }

    #[inline]
    pub fn is_byzantine(&self, i: usize) -> bool {
        self.byzantine >> i & 1 == 1
    }

    #[inline]
    pub fn input(&self, i: usize) -> u8 {
        (self.inputs >> i & 1) as u8
    }

    /// The committed value of agent `i`, if it has committed.
    pub fn decision(&self, i: usize) -> Option<u8> {
        (self.decided >> i & 1 == 1).then(|| (self.values >> i & 1) as u8)
    }

    /// The Byzantine ids in ascending order (the team's ordinals).
    pub fn byzantine_ids(&self) -> impl Iterator<Item = usize> {
        bits(self.byzantine)
    }

    /// Whether no honest agent is left to act.
    pub fn finished(&self, spec: &EnvSpec) -> bool {
        self.undecided(spec) == 0
    }

    /// The input agent `i`'s view shows: its own, or in a broadcast, for
    /// every agent but the designated sender, [`NONE`] (it has none).
    #[inline]
    pub fn view_input(&self, spec: &EnvSpec, i: usize) -> u8 {
        if spec.broadcasts() && i != self.sender as usize {
            NONE
        } else {
            self.input(i)
        }
    }

    /// The value validity demands every decision be, if it demands one: the
    /// input all agents share, or in a broadcast the honest sender's input.
    pub fn required_value(&self, spec: &EnvSpec) -> Option<u8> {
        if spec.broadcasts() {
            let s = self.sender as usize;
            return (!self.is_byzantine(s)).then(|| self.input(s));
        }
        let h = self.followers & all(spec.n());
        if self.inputs & h == h {
            Some(1)
        } else if self.inputs & h == 0 {
            Some(0)
        } else {
            None
        }
    }
}

/// The mask of agents `0..n`.
#[inline]
pub fn all(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// The agents that hold an input under placement `byzantine`: the honest
/// ones, every agent under crash and omission faults, and in a broadcast
/// the designated sender if it is honest.
pub(crate) fn voters(spec: &EnvSpec, byzantine: u32, sender: usize) -> u32 {
    let v = if spec.faults() == Faults::Byzantine {
        all(spec.n()) & !byzantine
    } else {
        all(spec.n())
    };
    if spec.broadcasts() {
        v & 1 << sender
    } else {
        v
    }
}

/// Bit `t` of `x` placed on the `t`-th member of `onto` (ascending id):
/// the `x`-th assignment of bits to that set, as instance lists count them.
pub fn spread(x: u64, onto: u32) -> u32 {
    bits(onto)
        .enumerate()
        .fold(0u32, |acc, (t, i)| acc | ((x >> t & 1) as u32) << i)
}

/// Iterates the set bits of a mask (of up to 64 bits), lowest first.
#[inline]
pub fn bits(m: impl Into<u64>) -> impl Iterator<Item = usize> {
    let mut m: u64 = m.into();
    std::iter::from_fn(move || {
        if m == 0 {
            None
        } else {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            Some(i)
        }
    })
}

/// Advances a mixed-radix counter (`digits[k] < radix[k]`, lowest digit
/// first): how the searches enumerate every combination of choices. Returns
/// `false` once every combination has been seen (the digits are back at 0).
pub fn next_combination(digits: &mut [usize], radix: &[usize]) -> bool {
    for (d, &r) in digits.iter_mut().zip(radix) {
        *d += 1;
        if *d < r {
            return true;
        }
        *d = 0;
    }
    false
}

/// Fresh inboxes (one episode's, or a batch's back to back): every slot
/// empty, nothing in flight.
pub fn empty_inbox(spec: &EnvSpec, inbox: &mut [u8]) {
    let fill = if spec.identity() == Identity::Anonymous {
        0
    } else {
        NONE
    };
    inbox.fill(fill);
    if spec.delays() {
        for episode in inbox.chunks_mut(spec.stride()) {
            episode[2 * spec.visible()..].fill(0);
        }
    }
}

/// Applies the honest moves of round `r`: commits take effect and senders'
/// messages are written to the round-`r` blocks. Returns the senders and
/// (broadcast) the values they sent.
/// A `send` in the last round is not a decision: that agent never terminates.
pub fn honest_moves(
    spec: &EnvSpec,
    r: u8,
    ep: &mut Episode,
    inbox: &mut [u8],
    actions: &[u8],
) -> (u32, u8) {
    let mut senders = 0u32;
    for i in bits(ep.undecided(spec)) {
        match actions[i] {
            0 => senders |= 1 << i,
            a => ep.commit(i, a - 1, r),
        }
    }
    let sent = deliver_honest(spec, r, ep, inbox, senders);
    (senders, sent)
}

/// Broadcast: the values (bit `v`) agent `i` forwards in round `r` (see
/// [`deliver_honest`]), read from its inbox.
pub fn forwards(spec: &EnvSpec, r: u8, ep: &Episode, inbox: &[u8], i: usize) -> u8 {
    let own = if i == ep.sender as usize {
        1 << ep.input(i)
    } else {
        0
    };
    if r == 1 {
        return own;
    }
    let seen = |s: u8| {
        inbox[spec.block(i, s)..][..spec.slots()]
            .iter()
            .filter_map(|&v| inbox::heard(v))
            .fold(0u8, |m, v| m | 1 << v)
    };
    let before = (1..r - 1).fold(own, |m, s| m | seen(s));
    seen(r - 1) & !before
}

/// Writes the round-`r` messages of the honest `senders`: their input to every
/// other agent and, from round 2 on, a relay of what each heard directly in
/// round `r - 1`. Messages of the last round are never seen, so not stored.
///
/// In a broadcast a `send` is Dolev-Strong's relay step: the designated
/// sender sends its input in round 1, and from round 2 on every sender
/// forwards, with its signature added to the chain, each value it first
/// received in round `r - 1`. An honest chain thus always has as many
/// signatures as its round. Returns the values sent (broadcast only).
pub fn deliver_honest(spec: &EnvSpec, r: u8, ep: &Episode, inbox: &mut [u8], senders: u32) -> u8 {
    if r >= spec.rounds() {
        return 0;
    }
    let base = (r as usize - 1) * spec.slots();
    if spec.broadcasts() {
        let mut sent = 0;
        for i in bits(senders) {
            let values = forwards(spec, r, ep, inbox, i);
            sent |= values;
            for dst in (0..spec.n()).filter(|&dst| dst != i) {
                for v in bits(values as u32) {
                    let slot = spec.forward_slot(ep.sender as usize, dst, i, v);
                    inbox[spec.block(dst, r) + slot] = v as u8;
                }
            }
        }
        return sent;
    }
    let anonymous = spec.identity() == Identity::Anonymous;
    for i in bits(senders) {
        let x = ep.input(i);
        if anonymous {
            for &dst in spec.direct_dst(i) {
                inbox[dst as usize + base + x as usize] += 1;
            }
            continue;
        }
        for &dst in spec.direct_dst(i) {
            inbox[dst as usize + base] = x;
        }
        if r >= 2 {
            let prev = base - spec.slots();
            for &(dst, src) in spec.relay_pairs(i) {
                inbox[dst as usize + base] = inbox[src as usize + prev];
            }
        }
    }
    0
}

/// Bit `v` set: value `v` (0, 1 or [`NONE`]) may go in head `h` from Byzantine
/// `b` to `i` in round `r`. Relays carry round `r - 1` messages, so there are
/// none in round 1; with `pki` an honest origin's value can only be forwarded
/// as signed, and only once the adversary has received that signature.
#[inline]
pub fn allowed(spec: &EnvSpec, r: u8, ep: &Episode, b: usize, i: usize, h: usize) -> u8 {
    const ANY: u8 = 0b111;
    const NOTHING: u8 = 1 << NONE;
    if spec.broadcasts() {
        return NOTHING | chains(spec, r, ep, b) & 1 << h;
    }
    let (_, origin) = spec.head(b, i, h);
    if spec.faults() != Faults::Byzantine {
        // The adversary only chooses whether a faulty agent's message arrives.
        let acts = ep.undecided(spec) >> b & 1 == 1;
        return if origin == DIRECT && acts {
            NOTHING | 1 << DROP
        } else {
            NOTHING
        };
    }
    if origin == DIRECT {
        return ANY;
    }
    if r == 1 {
        return NOTHING;
    }
    let k = origin as usize;
    if spec.identity() == Identity::Pki && !ep.is_byzantine(k) {
        if ep.signed >> k & 1 == 1 {
            NOTHING | 1 << ep.input(k)
        } else {
            NOTHING
        }
    } else {
        ANY
    }
}

/// Broadcast: the values (bit `v`) Byzantine `b` can send in round `r`.
/// Without signatures, anything. With `pki` a message is a signature chain
/// starting with the designated sender, and a chain sent in round `r` needs
/// `r` distinct signatures (Dolev-Strong's acceptance rule, which every
/// agent applies, so the channel drops shorter ones). The coalition can
/// build one from its own signatures (a Byzantine sender, then `r - 1`
/// other Byzantine agents ending with `b`), or extend a value an honest
/// agent has already signed and sent. The second case does not count the
/// signatures still free, so it can only give the adversary more than it
/// has: a protocol verified here is verified.
fn chains(spec: &EnvSpec, r: u8, ep: &Episode, b: usize) -> u8 {
    if spec.identity() != Identity::Pki {
        return 0b11;
    }
    let (r, sender) = (r as usize, ep.sender as usize);
    let own = ep.is_byzantine(sender)
        && if b == sender {
            r == 1
        } else {
            (2..=spec.f()).contains(&r)
        };
    if own {
        0b11
    } else if b != sender && r >= 2 {
        ep.public
    } else {
        0
    }
}

/// Writes what the Byzantine agents send to honest recipient `i` in round `r`:
/// `values[bo * stride + h]` for Byzantine ordinal `bo` and head `h`. A value the rules do not
/// allow (a forged signature, a relay in round 1) is dropped: the channel, not
/// the policy, enforces the identity model.
pub fn byzantine_to(
    spec: &EnvSpec,
    r: u8,
    ep: &Episode,
    inbox: &mut [u8],
    i: usize,
    values: &[u8],
    stride: usize,
) {
    let block = spec.block(i, r);
    let anonymous = spec.identity() == Identity::Anonymous;
    for (bo, b) in ep.byzantine_ids().enumerate() {
        for h in 0..spec.heads() {
            let v = values[bo * stride + h];
            if v >= NONE || allowed(spec, r, ep, b, i, h) >> v & 1 == 0 {
                continue;
            }
            let slot = if spec.broadcasts() {
                spec.forward_slot(ep.sender as usize, i, b, h)
            } else {
                spec.head(b, i, h).0
            };
            if anonymous {
                inbox[block + v as usize] += 1;
            } else {
                inbox[block + slot] = v;
            }
        }
    }
}

/// Applies the Byzantine team's round-`r` action (layout
/// `[ordinal][recipient][head]`, see [`EnvSpec::byz_action_len`]) to every
/// honest recipient still undecided; others never read their inbox again.
pub fn byzantine_moves(spec: &EnvSpec, r: u8, ep: &Episode, inbox: &mut [u8], action: &[u8]) {
    if r >= spec.rounds() || ep.byzantine == 0 {
        return;
    }
    let per_b = spec.n() * spec.heads();
    for i in bits(ep.undecided(spec)) {
        byzantine_to(spec, r, ep, inbox, i, &action[i * spec.heads()..], per_b);
    }
}

/// One whole round: honest moves, then the Byzantine moves, then the
/// adversary learns the signatures of this round's senders. Under crash and
/// omission faults the faulty agents move with the honest ones and the
/// adversary then drops some of their messages (see [`DROP`]).
pub fn step(spec: &EnvSpec, r: u8, ep: &mut Episode, inbox: &mut [u8], honest: &[u8], byz: &[u8]) {
    let acting = ep.undecided(spec);
    // Delays are judged on the state the masks saw: the start of the round.
    let start = spec.delays().then_some(*ep);
    let (senders, sent) = honest_moves(spec, r, ep, inbox, honest);
    if spec.faults() == Faults::Byzantine {
        byzantine_moves(spec, r, ep, inbox, byz);
    } else {
        drops(spec, r, ep, inbox, byz, acting, senders);
    }
    if let Some(start) = start {
        hold(spec, r, &start, inbox, byz, senders);
        arrive(spec, r + 1, inbox);
    }
    ep.close_round(senders, sent);
}

/// Bit `v` set: value `v` may go in the scheduling head of the message from
/// `j` to `i` sent in round `r` ([`EnvSpec::delay_head`]). Only messages of
/// agents that may send this round to agents that will still read, and only
/// before stabilisation.
#[inline]
pub fn delay_allowed(spec: &EnvSpec, r: u8, ep: &Episode, j: usize, i: usize) -> u8 {
    const NOTHING: u8 = 1 << NONE;
    let live = ep.undecided(spec);
    if i == j || !spec.may_delay(r) || live >> j & 1 == 0 || live >> i & 1 == 0 {
        return NOTHING;
    }
    // Value d - 1 holds the message d rounds more.
    NOTHING | ((1u8 << spec.delta()) - 1)
}

/// Moves the round-`r` messages the adversary delays (as [`delay_allowed`]
/// permits at the round's `start`) out of the recipients' inboxes and into
/// flight, each with the round it arrives in.
fn hold(spec: &EnvSpec, r: u8, start: &Episode, inbox: &mut [u8], byz: &[u8], senders: u32) {
    let v = spec.visible();
    for j in bits(senders) {
        for i in 0..spec.n() {
            let d = byz[spec.delay_head(j, i)];
            if d >= NONE || delay_allowed(spec, r, start, j, i) >> d & 1 == 0 {
                continue;
            }
            let block = spec.block(i, r);
            for slot in message_slots(spec, i, j) {
                let at = block + slot;
                inbox[v + at] = inbox[at];
                inbox[2 * v + at] = r + 2 + d;
                inbox[at] = NONE;
            }
        }
    }
}

/// Delivers the messages in flight that arrive at the start of round `r`.
fn arrive(spec: &EnvSpec, r: u8, inbox: &mut [u8]) {
    let v = spec.visible();
    for at in 0..v {
        if inbox[2 * v + at] == r {
            inbox[at] = inbox[v + at];
            inbox[2 * v + at] = 0;
        }
    }
}

/// The slots (within `i`'s round block) of the message from `j`.
fn message_slots(spec: &EnvSpec, i: usize, j: usize) -> impl Iterator<Item = usize> {
    spec.layout().message_from(spec.n(), offset(spec.n(), i, j))
}

/// Under crash and omission faults, the value of a faulty agent's direct head
/// towards a recipient that drops its message this round. Anything else
/// ([`NONE`], the default) delivers it as the protocol wrote it.
pub const DROP: u8 = 0;

/// Applies the adversary's drops to the faulty agents that acted this round.
/// A dropped message loses its direct value and its relays. Under crash
/// faults any drop crashes the agent: it reaches only the other recipients,
/// and a commit it made this round never happens (it crashed first).
fn drops(
    spec: &EnvSpec,
    r: u8,
    ep: &mut Episode,
    inbox: &mut [u8],
    byz: &[u8],
    acting: u32,
    senders: u32,
) {
    let n = spec.n();
    for (bo, b) in ep.byzantine_ids().enumerate() {
        if acting >> b & 1 == 0 {
            continue;
        }
        let dropped = (0..n)
            .filter(|&i| i != b && byz[(bo * n + i) * spec.heads()] == DROP)
            .fold(0u32, |m, i| m | 1 << i);
        if dropped == 0 {
            continue;
        }
        let sent = senders >> b & 1 == 1;
        if sent && r < spec.rounds() {
            for i in bits(dropped) {
                erase(spec, r, ep, inbox, b, i);
            }
        }
        match spec.faults() {
            Faults::Crash => {
                ep.crashed |= 1 << b;
                if ep.decided_round[b] == r {
                    ep.decided &= !(1 << b);
                    ep.values &= !(1 << b);
                    ep.decided_round[b] = 0;
                }
            }
            _ if sent => ep.omitted |= 1 << b,
            _ => {}
        }
    }
}

/// Removes what `b` sent `i` in round `r`: its direct value and its relays.
fn erase(spec: &EnvSpec, r: u8, ep: &Episode, inbox: &mut [u8], b: usize, i: usize) {
    let block = spec.block(i, r);
    if spec.identity() == Identity::Anonymous {
        inbox[block + ep.input(b) as usize] -= 1;
        return;
    }
    for slot in message_slots(spec, i, b) {
        inbox[block + slot] = NONE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::comm::outcome;
    use crate::consensus::spec::{offset, relay_slot, EnvConfig};

    fn spec(n: usize, f: usize, identity: Identity, rounds: u8) -> EnvSpec {
        let cfg = EnvConfig {
            n,
            f,
            identity,
            ..EnvConfig::default()
        };
        EnvSpec::new(&cfg, rounds).unwrap()
    }

    #[test]
    fn honest_send_delivers_input_and_relays_last_round() {
        let s = spec(4, 1, Identity::Authenticated, 3);
        // Agent 3 Byzantine; inputs 0:1, 1:0, 2:1.
        let mut ep = Episode::new(Instance {
            byzantine: 0b1000,
            inputs: 0b0101,
            sender: 0,
        });
        let mut inbox = vec![0; s.stride()];
        empty_inbox(&s, &mut inbox);
        let send = [0u8; 4];
        // Byzantine sends 1 directly to agent 0 in round 1.
        let mut byz = vec![NONE; s.byz_action_len()];
        byz[0] = 1; // ordinal 0, recipient 0, head 0 (direct)
        step(&s, 1, &mut ep, &mut inbox, &send, &byz);
        let b0 = s.block(0, 1);
        assert_eq!(inbox[b0 + offset(4, 0, 1)], 0);
        assert_eq!(inbox[b0 + offset(4, 0, 2)], 1);
        assert_eq!(inbox[b0 + offset(4, 0, 3)], 1);
        // Nothing from 3 to agent 1.
        assert_eq!(inbox[s.block(1, 1) + offset(4, 1, 3)], NONE);
        assert_eq!(ep.signed, 0b0111);
        // Round 2: agent 0 relays what it heard from 3 (1) to agent 1.
        let byz = vec![NONE; s.byz_action_len()];
        step(&s, 2, &mut ep, &mut inbox, &send, &byz);
        let slot = relay_slot(4, offset(4, 1, 0), offset(4, 1, 3));
        assert_eq!(inbox[s.block(1, 2) + slot], 1);
        // Agent 0 relays to 2 that agent 1 sent 0.
        let slot = relay_slot(4, offset(4, 2, 0), offset(4, 2, 1));
        assert_eq!(inbox[s.block(2, 2) + slot], 0);
        // Round 3 (last): a send is not a decision.
        let commit = [1u8, 2, 0, 0];
        step(&s, 3, &mut ep, &mut inbox, &commit, &byz);
        assert_eq!(ep.decision(0), Some(0));
        assert_eq!(ep.decision(1), Some(1));
        assert_eq!(ep.decision(2), None);
        let o = outcome(&s, &ep);
        assert!(!o.agreement && o.validity && !o.termination);
    }

    #[test]
    fn pki_forbids_forged_relays_and_early_signatures() {
        let s = spec(3, 1, Identity::Pki, 3);
        let mut ep = Episode::new(Instance {
            byzantine: 0b100,
            inputs: 0b001,
            sender: 0,
        });
        // Relays from 2 to 0 about origin 1: none in round 1, none before 1 has sent.
        assert_eq!(allowed(&s, 1, &ep, 2, 0, 1), 1 << NONE);
        assert_eq!(allowed(&s, 2, &ep, 2, 0, 1), 1 << NONE);
        ep.signed = 0b011;
        // Agent 1's input is 0: only 0 or nothing can be forwarded.
        assert_eq!(allowed(&s, 2, &ep, 2, 0, 1), 1 << NONE | 1);
        let a = spec(3, 1, Identity::Authenticated, 3);
        assert_eq!(allowed(&a, 2, &ep, 2, 0, 1), 0b111);
        // A forged value is dropped by the channel.
        let mut inbox = vec![0; s.stride()];
        empty_inbox(&s, &mut inbox);
        byzantine_to(&s, 2, &ep, &mut inbox, 0, &[1, 1], 2);
        let block = s.block(0, 2);
        assert_eq!(inbox[block + offset(3, 0, 2)], 1, "direct values are free");
        assert_eq!(
            inbox[block + relay_slot(3, offset(3, 0, 2), offset(3, 0, 1))],
            NONE
        );
    }

    #[test]
    fn anonymous_channels_count_values() {
        let s = spec(4, 1, Identity::Anonymous, 2);
        let mut ep = Episode::new(Instance {
            byzantine: 0b0001,
            inputs: 0b0110,
            sender: 0,
        });
        let mut inbox = vec![0; s.stride()];
        empty_inbox(&s, &mut inbox);
        let mut byz = vec![NONE; s.byz_action_len()];
        byz[3] = 0; // to agent 3: a 0
        step(&s, 1, &mut ep, &mut inbox, &[0; 4], &byz);
        // Agent 3 heard 1 (from 1), 1 (from 2), 0 (from Byzantine 0).
        assert_eq!(&inbox[s.block(3, 1)..][..2], &[1, 2]);
        // Agent 1 heard agent 2's 1 and agent 3's 0.
        assert_eq!(&inbox[s.block(1, 1)..][..2], &[1, 1]);
    }

    #[test]
    fn outcome_properties() {
        let s = spec(3, 0, Identity::Authenticated, 2);
        let mut ep = Episode::new(Instance {
            byzantine: 0,
            inputs: 0b111,
            sender: 0,
        });
        ep.decided = 0b111;
        ep.values = 0b111;
        assert!(outcome(&s, &ep).honest_wins());
        ep.values = 0;
        let o = outcome(&s, &ep);
        assert!(o.agreement && !o.validity && o.termination);
        assert_eq!(o.violated(), vec!["validity"]);
    }
}
