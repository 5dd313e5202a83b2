//! What an honest agent acts on: its input, the round, and everything it
//! received in earlier rounds. Scripted protocols read it as structured
//! values; learned policies read the fixed-size one-hot [`encode`]ing.

use crate::consensus::inbox::heard;
use crate::consensus::rules::{all, bits, Episode};
use crate::consensus::spec::{relay_slot, EnvSpec, Identity};

/// An honest agent's view at the start of round `round`.
///
/// Senders are named by their offset `d` from the viewer (agent
/// `(me + 1 + d) mod n`), never by absolute id: the same shared policy runs on
/// every agent, and nothing tells it who is Byzantine.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub spec: &'a EnvSpec,
    /// Current round, `1..=R`.
    pub round: u8,
    /// Own input, 0 or 1; [`NONE`] in a broadcast for all but the designated sender.
    pub input: u8,
    /// This agent's inbox: `R - 1` blocks; only blocks of rounds `< round` are read.
    inbox: &'a [u8],
}

impl<'a> View<'a> {
    pub fn new(spec: &'a EnvSpec, round: u8, input: u8, inbox: &'a [u8]) -> View<'a> {
        View {
            spec,
            round,
            input,
            inbox,
        }
    }

    /// The view of agent `i` in an episode at round `round`.
    pub fn of(spec: &'a EnvSpec, round: u8, ep: &Episode, inbox: &'a [u8], i: usize) -> View<'a> {
        let len = spec.inbox_rounds() * spec.slots();
        View::new(
            spec,
            round,
            ep.view_input(spec, i),
            &inbox[i * len..][..len],
        )
    }

    /// Everything received so far, as raw slots: the blocks of rounds `< round`.
    pub fn received(&self) -> &[u8] {
        &self.inbox[..(self.round.min(self.spec.rounds()) as usize - 1) * self.spec.slots()]
    }

    /// Number of agents.
    pub fn n(&self) -> usize {
        self.spec.n()
    }

    /// Whether `send` is masked: this round every agent must decide.
    pub fn is_last_round(&self) -> bool {
        self.round >= self.spec.rounds()
    }

    #[inline]
    fn block(&self, s: u8) -> &[u8] {
        debug_assert!(s >= 1 && s < self.round, "round {s} not yet received");
        &self.inbox[(s as usize - 1) * self.spec.slots()..][..self.spec.slots()]
    }

    /// Direct value (0, 1 or [`NONE`]) received from the sender at offset `d`, sent in round `s`.
    #[inline]
    pub fn direct(&self, s: u8, d: usize) -> u8 {
        debug_assert!(self.spec.identity() != Identity::Anonymous);
        self.block(s)[d]
    }

    /// Relay received in round `s` from relayer offset `dj` about origin offset `dk`:
    /// the value the relayer says the origin sent it in round `s - 1`.
    #[inline]
    pub fn relay(&self, s: u8, dj: usize, dk: usize) -> u8 {
        debug_assert!(self.spec.identity() != Identity::Anonymous);
        self.block(s)[relay_slot(self.spec.n(), dj, dk)]
    }

    /// Per peer (by offset), the set of values (bit `v`) seen as its round-1
    /// message: directly in round 1, or relayed in round 2. With signatures,
    /// both values prove the peer equivocated.
    pub fn round_one_values(&self) -> Vec<u8> {
        let others = self.n() - 1;
        let mut seen = vec![0u8; others];
        for (dk, x) in seen.iter_mut().enumerate() {
            if self.round > 1 {
                if let Some(v) = heard(self.direct(1, dk)) {
                    *x |= 1 << v;
                }
            }
            if self.round > 2 {
                for dj in (0..others).filter(|&dj| dj != dk) {
                    if let Some(v) = heard(self.relay(2, dj, dk)) {
                        *x |= 1 << v;
                    }
                }
            }
        }
        seen
    }

    /// Broadcast: every value (bit `v`) received so far, from anyone.
    pub fn extracted(&self) -> u8 {
        self.received()
            .iter()
            .filter_map(|&v| heard(v))
            .fold(0u8, |m, v| m | 1 << v)
    }

    /// Counts of 0s and 1s received in round `s` (every identity).
    pub fn counts(&self, s: u8) -> [u8; 2] {
        if self.spec.identity() == Identity::Anonymous {
            let b = self.block(s);
            [b[0], b[1]]
        } else {
            let mut c = [0u8; 2];
            for v in self.block(s)[..self.spec.n() - 1]
                .iter()
                .filter_map(|&v| heard(v))
            {
                c[v as usize] += 1;
            }
            c
        }
    }
}

/// Width of the honest one-hot observation for this game.
///
/// Layout: input (2; in broadcasts 3, the third "no input"), round (R),
/// then for each round `s` in `1..R` the messages sent in `s`: every slot
/// as one-hot `{0, 1, nothing}` or, for anonymous channels, each count as
/// one-hot `0..n`. Rounds not yet received are all zeros, so "nothing
/// arrived" and "not yet" differ.
pub fn obs_size(spec: &EnvSpec) -> usize {
    spec.input_width() + spec.rounds() as usize + spec.inbox_rounds() * block_width(spec)
}

fn block_width(spec: &EnvSpec) -> usize {
    spec.layout().one_hot_width(spec.n())
}

/// Writes the one-hot observation of `view` into `out` (length [`obs_size`]).
pub fn encode(view: &View, out: &mut [f32]) {
    let spec = view.spec;
    out.fill(0.0);
    let w = spec.input_width();
    out[view.input as usize] = 1.0;
    out[w + view.round as usize - 1] = 1.0;
    encode_received(
        view,
        canonical_map(view),
        &mut out[w + spec.rounds() as usize..],
    );
}

/// With canonical views: the relabelling of the peers under which the
/// received slots read least (lexicographically). Relabellings that tie
/// give the same slots, so the encoding depends only on the view's orbit.
fn canonical_map<'s>(view: &View<'s>) -> Option<&'s [u16]> {
    let spec = view.spec;
    let received = view.received();
    let read = |map: &[u16], k: usize| {
        received[k / spec.slots() * spec.slots() + map[k % spec.slots()] as usize]
    };
    let mut best: Option<&[u16]> = None;
    for map in spec.peer_maps() {
        let less = best.is_none_or(|b| {
            (0..received.len())
                .map(|k| read(map, k).cmp(&read(b, k)))
                .find(|o| o.is_ne())
                == Some(std::cmp::Ordering::Less)
        });
        if less {
            best = Some(map);
        }
    }
    best
}

/// The received blocks of `view`, one-hot, into `out` (already zeroed);
/// with `peers` (a relabelling from [`canonical_map`]), slot `k` reads raw
/// slot `peers[k]`.
fn encode_received(view: &View, peers: Option<&[u16]>, out: &mut [f32]) {
    let spec = view.spec;
    let width = block_width(spec);
    for s in 1..view.round.min(spec.rounds()) {
        let block = view.block(s);
        let base = (s as usize - 1) * width;
        if spec.identity() == Identity::Anonymous {
            out[base + block[0] as usize] = 1.0;
            out[base + spec.n() + block[1] as usize] = 1.0;
        } else {
            for slot in 0..spec.slots() {
                let v = peers.map_or(block[slot], |m| block[m[slot] as usize]);
                out[base + 3 * slot + v as usize] = 1.0;
            }
        }
    }
}

/// Width of the Byzantine team's observation: round (R), per agent its input
/// (2), whether it is Byzantine (1) and its status (undecided, decided 0,
/// decided 1), then every agent's inbox one-hot as in [`obs_size`].
pub fn byz_obs_size(spec: &EnvSpec) -> usize {
    spec.rounds() as usize + spec.n() * 6 + spec.n() * spec.inbox_rounds() * block_width(spec)
}

/// Writes the omniscient Byzantine observation of an episode at round `round`.
pub fn encode_byzantine(spec: &EnvSpec, round: u8, ep: &Episode, inbox: &[u8], out: &mut [f32]) {
    out.fill(0.0);
    out[round as usize - 1] = 1.0;
    let mut base = spec.rounds() as usize;
    // Under crash and omission faults the faulty agents follow the protocol
    // too: the adversary sees their inputs, status and inboxes as well.
    let honest = all(spec.n()) & ep.followers;
    for i in 0..spec.n() {
        if honest >> i & 1 == 1 {
            out[base + ep.input(i) as usize] = 1.0;
            let status = ep.decision(i).map_or(0, |v| 1 + v as usize);
            out[base + 3 + status] = 1.0;
        }
        if ep.is_byzantine(i) {
            out[base + 2] = 1.0;
        }
        base += 6;
    }
    let per_agent = spec.inbox_rounds() * block_width(spec);
    for i in bits(honest) {
        // Every block agent i has received so far, as it sees them.
        let view = View::of(spec, spec.rounds().min(round), ep, inbox, i);
        encode_received(&view, None, &mut out[base + i * per_agent..][..per_agent]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::rules::{empty_inbox, step, Instance};
    use crate::consensus::spec::{offset, Comm, EnvConfig, NONE};

    #[test]
    fn one_hot_has_one_bit_per_field() {
        for identity in [Identity::Authenticated, Identity::Pki, Identity::Anonymous] {
            let cfg = EnvConfig {
                n: 4,
                f: 1,
                identity,
                ..EnvConfig::default()
            };
            let s = EnvSpec::new(&cfg, 3).unwrap();
            let mut ep = Episode::new(Instance {
                byzantine: 0b0010,
                inputs: 0b1101,
                sender: 0,
            });
            let mut inbox = vec![0; s.stride()];
            empty_inbox(&s, &mut inbox);
            let mut out = vec![0.0; obs_size(&s)];
            let fields_per_block = if identity == Identity::Anonymous {
                2
            } else {
                s.slots()
            };
            for r in 1..=3u8 {
                let v = View::of(&s, r, &ep, &inbox, 0);
                encode(&v, &mut out);
                let ones = out.iter().filter(|&&x| x == 1.0).count();
                assert_eq!(ones, 2 + (r as usize - 1) * fields_per_block);
                assert_eq!(out.iter().sum::<f32>(), ones as f32);
                step(
                    &s,
                    r,
                    &mut ep,
                    &mut inbox,
                    &[0; 4],
                    &vec![NONE; s.byz_action_len()],
                );
            }
        }
    }

    fn canonical_spec(n: usize, rounds: u8) -> EnvSpec {
        let cfg = EnvConfig {
            n,
            f: 1,
            identity: Identity::Pki,
            canonical_views: true,
            ..EnvConfig::default()
        };
        EnvSpec::new(&cfg, rounds).unwrap()
    }

    #[test]
    fn canonical_views_are_the_same_under_any_relabelling_of_the_peers() {
        let s = canonical_spec(4, 3);
        assert_eq!(s.peer_maps().len(), 6);
        let len = s.inbox_rounds() * s.slots();
        let (mut a, mut b) = (vec![0.0; obs_size(&s)], vec![0.0; obs_size(&s)]);
        let mut x = 12345u64;
        for _ in 0..200 {
            let inbox: Vec<u8> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 33) as u8 % 3
                })
                .collect();
            encode(&View::new(&s, 3, 1, &inbox), &mut a);
            for map in s.peer_maps() {
                let relabelled: Vec<u8> = (0..len)
                    .map(|k| inbox[k / s.slots() * s.slots() + map[k % s.slots()] as usize])
                    .collect();
                encode(&View::new(&s, 3, 1, &relabelled), &mut b);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn canonical_views_tell_apart_every_orbit() {
        // n = 3, round 2: one block of 4 slots (two direct values, two
        // relays), each 0, 1 or nothing: 81 views. Swapping the two peers
        // fixes the 9 with equal directs and equal relays, so by Burnside
        // there are (81 + 9) / 2 = 45 orbits: 45 distinct encodings.
        let s = canonical_spec(3, 2);
        let mut seen = std::collections::BTreeSet::new();
        let mut out = vec![0.0; obs_size(&s)];
        for code in 0..81u32 {
            let inbox: Vec<u8> = (0..4).map(|k| (code / 3u32.pow(k) % 3) as u8).collect();
            encode(&View::new(&s, 2, 0, &inbox), &mut out);
            seen.insert(out.iter().map(|&v| v as u8).collect::<Vec<_>>());
        }
        assert_eq!(seen.len(), 45);
    }

    #[test]
    fn canonical_views_are_refused_where_peers_differ_are_counts_or_too_many() {
        for (n, comm, identity) in [
            (4, Comm::Broadcast, Identity::Pki),
            (4, Comm::Agreement, Identity::Anonymous),
            (7, Comm::Agreement, Identity::Pki),
        ] {
            let cfg = EnvConfig {
                n,
                comm,
                identity,
                canonical_views: true,
                ..EnvConfig::default()
            };
            let e = EnvSpec::new(&cfg, 3).unwrap_err();
            assert_eq!(e.key, "env.canonical_views");
        }
    }

    #[test]
    fn views_are_relative_to_the_viewer() {
        let cfg = EnvConfig {
            n: 3,
            f: 0,
            ..EnvConfig::default()
        };
        let s = EnvSpec::new(&cfg, 2).unwrap();
        let mut ep = Episode::new(Instance {
            byzantine: 0,
            inputs: 0b010,
            sender: 0,
        });
        let mut inbox = vec![0; s.stride()];
        empty_inbox(&s, &mut inbox);
        step(&s, 1, &mut ep, &mut inbox, &[0; 3], &[]);
        for i in 0..3 {
            let v = View::of(&s, 2, &ep, &inbox, i);
            for j in (0..3).filter(|&j| j != i) {
                assert_eq!(v.direct(1, offset(3, i, j)), ep.input(j));
            }
            assert_eq!(v.counts(1)[1] as u32, (ep.inputs & !(1 << i)).count_ones());
        }
    }
}
