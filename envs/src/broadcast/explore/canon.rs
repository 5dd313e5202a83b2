//! Representatives of symmetry classes: records sorted within each kind
//! of non-sender agent, the values swapped when that gives a smaller key;
//! the frames that map a representative's moves back; the packed keys of
//! the seen set and its hash; the move labels of the sleep sets.

use super::super::game::{self, Instance, Local, RbSpec, Source, State, Step, MAX_N};
use super::super::mirror;
use super::retire::is_retired;
use std::hash::Hasher;

/// How a state maps to its representative: its records reordered
/// (`perm[i]`: the agent whose record is `i`-th), then, when `flipped`,
/// every value swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub perm: [usize; MAX_N],
    pub flipped: bool,
}

impl Frame {
    /// The representative of `state`.
    pub fn apply(&self, state: &State) -> State {
        let out = self.perm.map(|i| state[i]);
        if self.flipped {
            mirror::state(&out)
        } else {
            out
        }
    }

    /// A move of the representative, as the move of the state it stands
    /// for.
    pub fn step_back(&self, step: &Step) -> Step {
        let mut out = *step;
        out.to = self.perm[step.to as usize] as u8;
        if self.flipped {
            out.msg.value = 1 - out.msg.value;
        }
        out
    }
}

/// The permutation that renames nobody.
const IDENTITY: [usize; MAX_N] = {
    let mut id = [0; MAX_N];
    let mut i = 0;
    while i < MAX_N {
        id[i] = i;
        i += 1;
    }
    id
};

/// Bits a recipient's moves take in a label set: 6 messages times 3 kinds
/// of sender.
const PER_RECIPIENT: u32 = (game::MSGS * 3) as u32;

/// A move as one bit of a set: recipient, message, kind of sender.
pub fn label(step: &Step) -> u128 {
    let source = match step.from {
        Source::Correct => 0,
        Source::Faulty => 1,
        Source::Byzantine => 2,
    };
    1u128 << (step.to as u32 * PER_RECIPIENT + step.msg.index() as u32 * 3 + source)
}

/// Every move to `to`.
pub fn recipient_mask(to: u8) -> u128 {
    ((1u128 << PER_RECIPIENT) - 1) << (to as u32 * PER_RECIPIENT)
}

/// A label set moved to a representative's frame.
pub fn relabel(labels: u128, frame: &Frame) -> u128 {
    if labels == 0 {
        return 0;
    }
    let block = (1u128 << PER_RECIPIENT) - 1;
    let mut out = 0;
    for (i, &old) in frame.perm.iter().enumerate() {
        out |= (labels >> (old as u32 * PER_RECIPIENT) & block) << (i as u32 * PER_RECIPIENT);
    }
    if frame.flipped {
        // Swap each message's three sender bits with its other value's.
        out = (out & EVEN) << 3 | (out >> 3) & EVEN;
    }
    out
}

/// The sender bits of every value-0 message in a label set (the value-1
/// ones are the next three bits up).
const EVEN: u128 = {
    let mut even = 0;
    let mut m = 0;
    while m < MAX_N * game::MSGS / 2 {
        even |= 0b111u128 << (m * 6);
        m += 1;
    }
    even
};

/// The agents that may be renamed into one another in an instance: the
/// non-sender agents, by kind (correct, faulty), in increasing id.
pub struct Classes {
    slots: [[usize; MAX_N]; 2],
    len: [usize; 2],
}

impl Classes {
    pub fn new(spec: &RbSpec, inst: &Instance) -> Classes {
        let mut out = Classes {
            slots: [[0; MAX_N]; 2],
            len: [0; 2],
        };
        for i in 1..spec.n {
            let c = inst.is_faulty(i) as usize;
            out.slots[c][out.len[c]] = i;
            out.len[c] += 1;
        }
        out
    }

    /// The representative of the class of a packed state, and where each of
    /// its records came from (`perm[i]`: the agent whose record is
    /// `i`-th). The records of each kind are sorted by their packed form, a
    /// total order on records (packing is one to one within a game).
    fn canonical_key(&self, packed: &Packed) -> (Packed, [usize; MAX_N]) {
        let packed = &packed.0;
        let mut perm = IDENTITY;
        for (slots, &k) in self.slots.iter().zip(&self.len) {
            let mut order = *slots;
            // Insertion sort, stable: at most five records.
            for j in 1..k {
                let mut i = j;
                while i > 0 && packed[order[i - 1]] > packed[order[i]] {
                    order.swap(i - 1, i);
                    i -= 1;
                }
            }
            for j in 0..k {
                perm[slots[j]] = order[j];
            }
        }
        // A loop, not `perm.map`: that one is not inlined.
        let mut sorted = [0; MAX_N];
        for (s, &i) in sorted.iter_mut().zip(&perm) {
            *s = packed[i];
        }
        (Packed(sorted), perm)
    }

    /// The packed representative of `state` and its frame: sorted (with
    /// `symmetry`), and with `values` the smaller of that and its mirror's.
    pub fn represent(
        &self,
        spec: &RbSpec,
        state: &State,
        symmetry: bool,
        values: bool,
    ) -> (Packed, Frame) {
        let sort = |s: &Packed| {
            if symmetry {
                self.canonical_key(s)
            } else {
                (*s, IDENTITY)
            }
        };
        let packed = Packed::of(spec, state);
        let (key, perm) = sort(&packed);
        if !values {
            return (
                key,
                Frame {
                    perm,
                    flipped: false,
                },
            );
        }
        // The mirror packed from the packing: the same key as packing
        // `mirror::state(state)`, without building that state.
        let (other, other_perm) = sort(&Packed(packed.0.map(mirror_packed)));
        if other.0 < key.0 {
            (
                other,
                Frame {
                    perm: other_perm,
                    flipped: true,
                },
            )
        } else {
            (
                key,
                Frame {
                    perm,
                    flipped: false,
                },
            )
        }
    }
}

/// A packed record with every value swapped: `mirror::record` on the
/// packing (`Local::pack`). Each field about a value sits next to the
/// same field about the other value: the 1-bit fields (INITs read, values
/// delivered, messages sent either way) in adjacent bits from bit 48 up,
/// the 3-bit counts (ECHO and READY read, then per message in flight) in
/// adjacent 3-bit halves of 6-bit groups from bit 0 up. So the swap is
/// two masked shifts; a retired record (every count 7, both INITs read)
/// stays itself, as `mirror::record` keeps it.
pub fn mirror_packed(key: u64) -> u64 {
    const BITS: u64 = 0x5555 << 48;
    const COUNTS: u64 = 0o0707_0707_0707_0707;
    (key & BITS) << 1 | (key >> 1) & BITS | (key & COUNTS) << 3 | (key >> 3) & COUNTS
}

/// A state packed: a record in 64 bits per agent (the records past `n`
/// stay 0).
#[derive(Clone, Copy, Debug)]
pub struct Packed([u64; MAX_N]);

impl Packed {
    fn of(spec: &RbSpec, state: &State) -> Packed {
        let mut out = [0; MAX_N];
        for (o, l) in out.iter_mut().zip(&state[..spec.n]) {
            *o = l.pack();
        }
        Packed(out)
    }
}

/// The words of a packed state that may be nonzero: those of the agents
/// with a record. A Byzantine agent's record stays empty, and sorting
/// keeps every agent's record among its own kind's slots, so which words
/// are left out is the instance's alone: the key is one to one.
#[derive(Clone, Copy, Debug)]
pub struct Words<const W: usize>([u64; W]);

/// Which words of a packed state a key keeps, in order.
pub struct Layout<const W: usize>([usize; W]);

impl<const W: usize> Words<W> {
    /// The words kept: every agent with a record, then (to fill `W`) words
    /// that are always 0, a Byzantine agent's or those past `n`.
    pub fn layout(spec: &RbSpec, inst: &Instance) -> Layout<W> {
        let kept = (0..MAX_N).filter(|&a| a < spec.n && !inst.is_byzantine(spec, a));
        let empty = (0..MAX_N).filter(|&a| a >= spec.n || inst.is_byzantine(spec, a));
        let mut order = kept.chain(empty);
        Layout(std::array::from_fn(|_| order.next().expect("W <= MAX_N")))
    }
}

impl<const W: usize> Layout<W> {
    pub fn of(&self, key: &Packed) -> Words<W> {
        debug_assert!(
            (0..MAX_N).all(|a| self.0.contains(&a) || key.0[a] == 0),
            "a word left out of the key is not empty"
        );
        Words(self.0.map(|a| key.0[a]))
    }

    /// The state a key packs (the records left out are empty).
    pub fn unpack(&self, spec: &RbSpec, words: &Words<W>) -> State {
        let byzantine = spec.faults == game::RbFaults::Byzantine;
        let mut out = [Local::default(); MAX_N];
        for (&a, &w) in self.0.iter().zip(&words.0) {
            let mut me = Local::unpack(w, byzantine);
            if is_retired(&me) {
                // A retired record has every Byzantine copy used under
                // either faults (see `Retired::retire`), which its packing
                // shares with the copies from crash-prone agents.
                me.from_faulty = [0; game::MSGS];
                me.byzantine_used = [spec.f as u8; game::MSGS];
            }
            out[a] = me;
        }
        out
    }
}

impl<const W: usize> PartialEq for Words<W> {
    fn eq(&self, other: &Words<W>) -> bool {
        // Not `==` on the arrays: that is a call to memcmp.
        self.0
            .iter()
            .zip(&other.0)
            .fold(true, |same, (a, b)| same & (a == b))
    }
}

impl<const W: usize> Eq for Words<W> {}

impl<const W: usize> std::hash::Hash for Words<W> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for &w in &self.0 {
            h.write_u64(w);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a record set to each value its width allows, one
    /// field at a time and all together from a fixed stream: the packed
    /// mirror is the mirror's packing.
    #[test]
    fn mirror_packed_is_the_packed_mirror() {
        let mut records = vec![Local::default()];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            let mut draw = |bound: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % bound) as u8
            };
            let mut l = Local {
                init: draw(4),
                delivered: draw(4),
                sent: draw(64),
                to_self: draw(64),
                ..Local::default()
            };
            l.count = std::array::from_fn(|_| draw(8));
            l.from_correct = std::array::from_fn(|_| draw(8));
            l.byzantine_used = std::array::from_fn(|_| draw(8));
            records.push(l);
        }
        for l in &records {
            assert_eq!(mirror_packed(l.pack()), mirror::record(l).pack(), "{l:?}");
            // The queue keeps states packed: a record comes back whole,
            // and with crash faults' copies in place of Byzantine ones.
            assert_eq!(Local::unpack(l.pack(), true), *l);
            let crash = Local {
                from_faulty: l.byzantine_used,
                byzantine_used: [0; game::MSGS],
                ..*l
            };
            assert_eq!(Local::unpack(crash.pack(), false), crash);
        }
        // And a flip of only one value's field is seen: the test can fail.
        let one = Local {
            init: 1,
            ..Local::default()
        };
        assert_ne!(mirror_packed(one.pack()), one.pack());
    }
}
