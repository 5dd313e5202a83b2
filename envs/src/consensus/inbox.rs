//! The message layout: what each byte of an agent's round block means.
//!
//! Messages carry one bit. An agent's inbox holds, per round whose
//! messages it can see, one block of slots; a slot holds `0`, `1` or
//! [`NONE`] (nothing arrived), or under anonymous channels a count. Slots
//! are ordered relative to the recipient, so every agent sees the same
//! shape and one shared policy serves every id: the peer at offset `d` in
//! `0..n-1` is agent `(i + 1 + d) mod n` (see [`crate::consensus::spec::offset`]).
//!
//! There are three layouts. The communication mode picks between relays and
//! forwards ([`crate::consensus::spec::ModeShape::layout`]); anonymous channels replace
//! either by counts. Everything that reads a block by its meaning (views,
//! traces, `explain`) goes through [`Layout::slot`] and [`Layout::index`],
//! so the byte order is written down once, here; the engine's hot loops
//! read the index tables [`crate::consensus::EnvSpec`] builds from the same functions.

use std::fmt::Write;

/// The value of a message slot that carries nothing. Slots hold `0`, `1` or `NONE`.
pub const NONE: u8 = 2;

/// The bit a message slot carries, if anything arrived.
#[inline]
pub fn heard(byte: u8) -> Option<u8> {
    (byte != NONE).then_some(byte)
}

/// How an agent's round block is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Agreement, atomic commit: the `n - 1` direct values, then what each
    /// peer relays of what each other peer sent it the round before, at
    /// [`relay_slot`].
    Relays,
    /// A designated sender's broadcast: per sender group (see
    /// [`broadcast_group`]), one slot per value, holding the value when
    /// that sender forwarded it (a signature chain under `pki`).
    Forwards,
    /// Anonymous channels: how many 0s and how many 1s arrived.
    Counts,
}

/// The meaning of one slot of a round block. Peers are named by their
/// offset from the recipient; broadcast senders by their group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The value the peer at offset `from` sent directly.
    Direct { from: usize },
    /// What the peer at offset `relayer` says the peer at offset `origin`
    /// sent it the round before.
    Relay { relayer: usize, origin: usize },
    /// Whether the sender of group `group` forwarded `value`.
    Forward { group: usize, value: u8 },
    /// How many `value`s arrived.
    Count { value: u8 },
}

/// Relay slot index (within a round block) for relayer offset `dj` and origin offset `dk`.
#[inline]
pub fn relay_slot(n: usize, dj: usize, dk: usize) -> usize {
    debug_assert_ne!(dj, dk);
    (n - 1) + dj * (n - 2) + if dk < dj { dk } else { dk - 1 }
}

/// Broadcast blocks are ordered from the designated sender `s`: sender `j`'s
/// group at recipient `i` is `j`'s place in the cycle `s, s + 1, ...` with
/// `i` left out. Every other agent reads the sender's group first; the
/// sender reads the others in id order after it.
#[inline]
pub fn broadcast_group(n: usize, s: usize, i: usize, j: usize) -> usize {
    debug_assert_ne!(i, j);
    let dj = (j + n - s) % n;
    let di = (i + n - s) % n;
    if dj > di {
        dj - 1
    } else {
        dj
    }
}

impl Layout {
    /// Slots per round block with `n` agents.
    pub fn slots(self, n: usize) -> usize {
        match self {
            Layout::Relays => (n - 1) * (n - 1),
            Layout::Forwards => 2 * (n - 1),
            Layout::Counts => 2,
        }
    }

    /// Byzantine heads per (Byzantine sender, recipient): the direct value
    /// and each relay; one per value forwarded; one value counted.
    pub fn heads(self, n: usize) -> usize {
        match self {
            Layout::Relays => n - 1,
            Layout::Forwards => 2,
            Layout::Counts => 1,
        }
    }

    /// What slot `k` of a round block means.
    pub fn slot(self, n: usize, k: usize) -> Slot {
        debug_assert!(k < self.slots(n));
        match self {
            Layout::Relays if k < n - 1 => Slot::Direct { from: k },
            Layout::Relays => {
                let (relayer, rest) = ((k - (n - 1)) / (n - 2), (k - (n - 1)) % (n - 2));
                let origin = if rest < relayer { rest } else { rest + 1 };
                Slot::Relay { relayer, origin }
            }
            Layout::Forwards => Slot::Forward {
                group: k / 2,
                value: (k % 2) as u8,
            },
            Layout::Counts => Slot::Count { value: k as u8 },
        }
    }

    /// Where `slot` sits in a round block: the inverse of [`Layout::slot`].
    pub fn index(self, n: usize, slot: Slot) -> usize {
        match (self, slot) {
            (Layout::Relays, Slot::Direct { from }) => from,
            (Layout::Relays, Slot::Relay { relayer, origin }) => relay_slot(n, relayer, origin),
            (Layout::Forwards, Slot::Forward { group, value }) => 2 * group + value as usize,
            (Layout::Counts, Slot::Count { value }) => value as usize,
            (layout, slot) => panic!("{layout:?} blocks have no {slot:?} slot"),
        }
    }

    /// The slots that make up the message from the peer at offset `from`:
    /// its direct value and its relays. Delays hold a message whole.
    pub fn message_from(self, n: usize, from: usize) -> impl Iterator<Item = usize> {
        debug_assert_eq!(self, Layout::Relays, "delays are built for relay blocks");
        std::iter::once(from).chain(
            (0..n - 1)
                .filter(move |&origin| origin != from)
                .map(move |origin| relay_slot(n, from, origin)),
        )
    }

    /// Width of one block in a one-hot observation: each slot as
    /// `{0, 1, nothing}`, or each count as one-hot `0..n`.
    pub fn one_hot_width(self, n: usize) -> usize {
        match self {
            Layout::Counts => 2 * n,
            _ => 3 * self.slots(n),
        }
    }

    /// One round block in words, as `explain` prints a view: `+d` is the
    /// peer at offset `d + 1`. In a broadcast, group 0 is the designated
    /// sender unless the reader is the sender itself (`reader_is_sender`).
    pub fn describe(self, n: usize, block: &[u8], reader_is_sender: bool) -> String {
        let mut s = String::new();
        match self {
            Layout::Counts => {
                let _ = write!(s, "{} zeros, {} ones", block[0], block[1]);
            }
            Layout::Forwards => {
                let mut got = vec![];
                for group in 0..n - 1 {
                    let values: Vec<String> = (0..2)
                        .filter_map(|value| {
                            heard(block[self.index(n, Slot::Forward { group, value })])
                        })
                        .map(|v| v.to_string())
                        .collect();
                    if values.is_empty() {
                        continue;
                    }
                    let who = if !reader_is_sender && group == 0 {
                        "sender".to_string()
                    } else {
                        format!("peer{group}")
                    };
                    got.push(format!("{who}:{}", values.join("+")));
                }
                if got.is_empty() {
                    s.push_str("nothing");
                } else {
                    s.push_str(&got.join(" "));
                }
            }
            Layout::Relays => {
                let shown = |v: u8| heard(v).map_or("-".to_string(), |v| v.to_string());
                let direct: Vec<String> = (0..n - 1)
                    .map(|d| format!("+{}:{}", d + 1, shown(block[d])))
                    .collect();
                s.push_str(&direct.join(" "));
                let relays: Vec<String> = (n - 1..self.slots(n))
                    .filter_map(|k| match (self.slot(n, k), heard(block[k])) {
                        (Slot::Relay { relayer, origin }, Some(v)) => {
                            Some(format!("+{} says +{}:{v}", relayer + 1, origin + 1))
                        }
                        _ => None,
                    })
                    .collect();
                if !relays.is_empty() {
                    let _ = write!(s, " [{}]", relays.join(", "));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_and_index_are_inverse_in_every_layout() {
        for n in 3..=7 {
            for layout in [Layout::Relays, Layout::Forwards, Layout::Counts] {
                for k in 0..layout.slots(n) {
                    assert_eq!(layout.index(n, layout.slot(n, k)), k, "{layout:?} n={n}");
                }
            }
        }
    }

    #[test]
    fn relays_name_every_ordered_pair_of_distinct_peers_once() {
        let n = 5;
        let mut pairs = vec![];
        for k in 0..Layout::Relays.slots(n) {
            if let Slot::Relay { relayer, origin } = Layout::Relays.slot(n, k) {
                assert_ne!(relayer, origin);
                pairs.push((relayer, origin));
            }
        }
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), (n - 1) * (n - 2));
    }

    #[test]
    fn blocks_read_in_words() {
        // n = 3: direct from +1 is 1, from +2 nothing; +2 says +1 sent 0.
        let mut block = vec![NONE; 4];
        block[0] = 1;
        block[relay_slot(3, 1, 0)] = 0;
        assert_eq!(
            Layout::Relays.describe(3, &block, false),
            "+1:1 +2:- [+2 says +1:0]"
        );
        let block = [NONE, 1, 0, NONE];
        assert_eq!(
            Layout::Forwards.describe(3, &block, false),
            "sender:1 peer1:0"
        );
        assert_eq!(
            Layout::Counts.describe(3, &[2, 0], false),
            "2 zeros, 0 ones"
        );
    }
}
