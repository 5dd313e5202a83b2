//! The static description of a configured game: its axes, its sizes and the
//! index tables the hot loop uses. Everything here is fixed for a given
//! configuration (sizes `n`, `f`, rounds; the communication mode, synchrony,
//! identity and fault model; a fixed placement or split); the changing state
//! lives in [`crate::consensus::Episode`].
//!
//! This is the bottom layer of the game, above only the inbox layout: it
//! names the communication mode ([`Comm`]) but holds none of its rules.
//! What it needs from a mode to build an [`EnvSpec`] (a designated sender,
//! the inbox layout, the settings the mode refuses) it asks through
//! [`ModeShape`], a trait defined here that every mode implements
//! ([`crate::consensus::comm::Mode`] extends it). So `comm` asks `spec`, and
//! `spec` asks no module above it; [`EnvSpec::new`], which turns `cfg.comm`
//! into its mode, lives in `comm`, where both are visible.

pub use crate::consensus::inbox::{broadcast_group, relay_slot, Layout, NONE};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest number of agents: agent sets are `u32` bit masks.
pub const MAX_N: usize = 32;

/// Marks a Byzantine head that is a direct value, not a relay.
pub const DIRECT: u8 = u8::MAX;

/// What a faulty agent may do.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Faults {
    /// Anything: the Byzantine team writes every message a faulty agent sends.
    #[default]
    Byzantine,
    /// A faulty agent runs the honest protocol until the adversary crashes it,
    /// mid-round: its last message reaches only the recipients the adversary picks.
    Crash,
    /// A faulty agent runs the honest protocol, but the adversary may drop
    /// any of its messages, in any round (send omission); it never stops.
    Omission,
}

impl Switch for Faults {
    const ALL: &'static [Faults] = &[Faults::Byzantine, Faults::Crash, Faults::Omission];

    fn name(self) -> &'static str {
        match self {
            Faults::Byzantine => "byzantine",
            Faults::Crash => "crash",
            Faults::Omission => "omission",
        }
    }
}

/// When messages arrive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Synchrony {
    /// A message sent in round `r` is seen at the start of round `r + 1`.
    #[default]
    Synchronous,
    /// Delays up to `delta` rounds before a global stabilisation round.
    PartiallySynchronous,
    /// Delays chosen by the adversary, with fair delivery.
    Asynchronous,
}

/// What a recipient knows about who sent a message.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// Direct senders are known; relays are unsigned claims.
    #[default]
    Authenticated,
    /// Every value is signed by its origin: relays cannot be altered.
    Pki,
    /// Only the counts of 0s and 1s per round; no ids, no relays.
    Anonymous,
}

/// What the honest agents must decide: the config's `comm` key. The name
/// only: each mode's rules are in [`crate::consensus::comm`] (`Comm::mode`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Comm {
    /// Byzantine agreement: every honest agent has an input; agree, and keep a unanimous input.
    #[default]
    Agreement,
    /// Byzantine broadcast: one designated sender has the input.
    Broadcast,
    /// Interactive consistency: agree on the vector of all inputs.
    InteractiveConsistency,
    /// Atomic commit: inputs are votes (1 = yes), decisions commit (1) or
    /// abort (0); the properties P1-P5 of Hui et al. Needs crash or omission faults.
    AtomicCommit,
}

/// A switch of the game: every variant, each with the name configs and
/// command-line flags use for it.
pub trait Switch: Copy + 'static {
    /// Every variant, in the order the docs list them.
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    /// The variant called `s`.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.name() == s)
    }

    /// The names, for an error message: `a, b or c`.
    fn expected() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|x| x.name()).collect();
        let (last, rest) = names.split_last().expect("a switch has variants");
        format!("{} or {last}", rest.join(", "))
    }
}

impl Switch for Synchrony {
    const ALL: &'static [Synchrony] = &[
        Synchrony::Synchronous,
        Synchrony::PartiallySynchronous,
        Synchrony::Asynchronous,
    ];

    fn name(self) -> &'static str {
        match self {
            Synchrony::Synchronous => "synchronous",
            Synchrony::PartiallySynchronous => "partially_synchronous",
            Synchrony::Asynchronous => "asynchronous",
        }
    }
}

impl Switch for Comm {
    const ALL: &'static [Comm] = &[
        Comm::Agreement,
        Comm::Broadcast,
        Comm::InteractiveConsistency,
        Comm::AtomicCommit,
    ];

    fn name(self) -> &'static str {
        match self {
            Comm::Agreement => "agreement",
            Comm::Broadcast => "broadcast",
            Comm::InteractiveConsistency => "interactive_consistency",
            Comm::AtomicCommit => "atomic_commit",
        }
    }
}

impl Switch for Identity {
    const ALL: &'static [Identity] = &[Identity::Authenticated, Identity::Pki, Identity::Anonymous];

    fn name(self) -> &'static str {
        match self {
            Identity::Authenticated => "authenticated",
            Identity::Pki => "pki",
            Identity::Anonymous => "anonymous",
        }
    }
}

/// The `[env]` table of an experiment: the game's axes and sizes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnvConfig {
    /// Number of agents, ids `0..n`.
    pub n: usize,
    /// Number of Byzantine agents among them.
    pub f: usize,
    /// Number of rounds `R`; when absent, the honest protocol's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u8>,
    /// Communication mode.
    pub comm: Comm,
    /// Message timing.
    pub synchrony: Synchrony,
    /// Sender identity.
    pub identity: Identity,
    /// What the `f` faulty agents may do.
    pub faults: Faults,
    /// Fixed ids of the Byzantine agents; when absent, drawn uniformly per episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byzantine_ids: Option<Vec<usize>>,
    /// Fixed input split: how many honest agents get input 1 (placed uniformly);
    /// when absent, every honest input is an independent fair coin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ones: Option<usize>,
    /// Partial synchrony and asynchrony: the most rounds the adversary may
    /// hold a message beyond the next round (1 or 2; default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<u8>,
    /// Partial synchrony: the global stabilisation round. The adversary may
    /// delay messages sent before it; from it on, messages arrive in the
    /// next round (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gst: Option<u8>,
    /// Learned honest agents see the other agents in a canonical order (the
    /// relabelling of peers whose received messages sort least), so a learned
    /// protocol treats its peers alike by construction and learns each view
    /// once per orbit of relabellings instead of once per labelling.
    /// Scripted protocols and the attacker still read the raw view.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub canonical_views: bool,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            n: 3,
            f: 1,
            rounds: None,
            comm: Comm::Agreement,
            synchrony: Synchrony::Synchronous,
            identity: Identity::Authenticated,
            faults: Faults::Byzantine,
            byzantine_ids: None,
            ones: None,
            delta: None,
            gst: None,
            canonical_views: false,
        }
    }
}

/// A setting that cannot be played, naming the key at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `env.f`.
    pub key: String,
    /// The offending value as written.
    pub value: String,
    /// Why it cannot be played.
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: &str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_string(),
            value: short_number(value.to_string()),
            reason: reason.into(),
        }
    }
}

/// A float printed in full (`1e300` is 301 digits) is shown as `1e300`.
fn short_number(value: String) -> String {
    match value.parse::<f64>() {
        Ok(x) if value.len() > 24 && x.is_finite() => format!("{x:e}"),
        _ => value,
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// What building an [`EnvSpec`] needs from a communication mode, asked
/// once: who holds an input, how a round block is laid out, which settings
/// the mode refuses. Every mode implements it (a supertrait of
/// [`crate::consensus::comm::Mode`]); the spec depends on this trait, not
/// on the modes.
pub trait ModeShape {
    /// Whether each episode is one designated sender's broadcast: the
    /// sender alone has an input, and messages carry forwarded values.
    fn designated_sender(&self) -> bool {
        false
    }

    /// How a round block lays out the messages an agent receives (with
    /// ids; anonymous channels always count): relays by default.
    fn layout(&self) -> Layout {
        if self.designated_sender() {
            Layout::Forwards
        } else {
            Layout::Relays
        }
    }

    /// Refuses the settings this mode is not built for, naming the key.
    fn validate(&self, _cfg: &EnvConfig) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// Everything static about a configured game, plus index tables.
///
/// Inbox: each agent `i` has, for every round `s` in `1..R` in which
/// messages can be sent and later seen, a block of `slots` bytes, laid out
/// as [`Layout`] says (see [`crate::consensus::inbox`]).
#[derive(Clone, Debug)]
pub struct EnvSpec {
    n: usize,
    f: usize,
    rounds: u8,
    comm: Comm,
    /// The mode's [`ModeShape::designated_sender`], asked once:
    /// the hot loops read it per message.
    designated_sender: bool,
    /// What each slot of a round block means.
    layout: Layout,
    synchrony: Synchrony,
    identity: Identity,
    faults: Faults,
    byzantine_ids: Option<u32>,
    ones: Option<usize>,
    /// Partial synchrony and asynchrony: the most rounds a message can be
    /// held beyond the next (0: synchronous).
    delta: u8,
    /// Messages sent before this round may be delayed (partial synchrony:
    /// the stabilisation round; asynchrony: `u8::MAX`).
    gst: u8,
    /// Bytes of inbox per episode that agents read: `n * (R - 1) * slots`.
    visible: usize,
    /// Slots per agent per round.
    slots: usize,
    /// Bytes of inbox per episode: [`EnvSpec::visible`], and with delays
    /// twice that again for the messages in flight.
    stride: usize,
    /// Byzantine heads per (Byzantine sender, recipient): the direct value and each relay.
    heads: usize,
    /// `heads_table[(b * n + i) * heads + h]`: slot in `i`'s round block and origin (or [`DIRECT`]).
    heads_table: Vec<(u16, u8)>,
    /// Per honest sender `i`: inbox offsets (round 1 block) of its direct value at each recipient.
    direct_dst: Vec<Vec<u32>>,
    /// Per honest sender `i`: `(dst, src)` pairs copying what `i` heard directly in
    /// round `r - 1` (offset `src`, round 1 block) to a relay slot (offset `dst`, round 1 block).
    relay_pairs: Vec<Vec<(u32, u32)>>,
    /// With [`EnvConfig::canonical_views`]: per relabelling of the peers, the
    /// raw slot each relabelled slot of a round block reads (empty otherwise).
    peer_maps: Vec<Vec<u16>>,
}

/// Offset of `to` as seen from `from`: agent `(from + 1 + d) mod n` has offset `d`.
#[inline]
pub fn offset(n: usize, from: usize, to: usize) -> usize {
    (to + n - from - 1) % n
}

/// The agent at offset `d` from `from`.
#[inline]
pub fn at_offset(n: usize, from: usize, d: usize) -> usize {
    (from + 1 + d) % n
}

/// The designated sender of a broadcast: agent 0. Placements are uniform,
/// so it is Byzantine in `f / n` of them. (In interactive consistency each
/// episode broadcasts one entry, and its sender is drawn per episode.)
pub const SENDER: usize = 0;

/// Canonical views enumerate the `(n - 1)!` relabellings of the peers: 120 at n = 6.
pub const MAX_CANONICAL_N: usize = 6;

/// For every permutation `p` of the peer offsets `0..n-1` (peer at offset
/// `d` relabelled `p[d]`), the raw slot that each relabelled slot of a
/// non-anonymous agreement block reads: direct values and relays alike.
fn peer_maps(n: usize) -> Vec<Vec<u16>> {
    let mut perms: Vec<Vec<usize>> = vec![vec![]];
    for _ in 0..n - 1 {
        let mut longer = vec![];
        for p in &perms {
            for d in (0..n - 1).filter(|d| !p.contains(d)) {
                let mut q = p.clone();
                q.push(d);
                longer.push(q);
            }
        }
        perms = longer;
    }
    perms
        .iter()
        .map(|p| {
            let mut map = vec![0u16; (n - 1) * (n - 1)];
            for d in 0..n - 1 {
                map[p[d]] = d as u16;
                for k in (0..n - 1).filter(|&k| k != d) {
                    map[relay_slot(n, p[d], p[k])] = relay_slot(n, d, k) as u16;
                }
            }
            map
        })
        .collect()
}

impl EnvSpec {
    /// Number of agents, ids `0..n`.
    #[inline]
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of faulty agents.
    #[inline]
    pub fn f(&self) -> usize {
        self.f
    }

    /// Number of rounds `R`.
    #[inline]
    pub fn rounds(&self) -> u8 {
        self.rounds
    }

    /// The communication mode.
    #[inline]
    pub fn comm(&self) -> Comm {
        self.comm
    }

    /// When messages arrive.
    #[inline]
    pub fn synchrony(&self) -> Synchrony {
        self.synchrony
    }

    /// What a recipient knows about who sent a message.
    #[inline]
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// What the `f` faulty agents may do.
    #[inline]
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Fixed faulty agents (a bit mask), when the config names them.
    #[inline]
    pub fn byzantine_ids(&self) -> Option<u32> {
        self.byzantine_ids
    }

    /// Fixed input split: how many agents with an input get 1.
    #[inline]
    pub fn ones(&self) -> Option<usize> {
        self.ones
    }

    /// Partial synchrony and asynchrony: the most rounds a message can be
    /// held beyond the next (0: synchronous).
    #[inline]
    pub fn delta(&self) -> u8 {
        self.delta
    }

    /// Messages sent before this round may be delayed (partial synchrony:
    /// the stabilisation round; asynchrony: `u8::MAX`).
    #[inline]
    pub fn gst(&self) -> u8 {
        self.gst
    }

    /// Bytes of inbox per episode that agents read: `n * (R - 1) * slots`.
    #[inline]
    pub fn visible(&self) -> usize {
        self.visible
    }

    /// Slots per agent per round.
    #[inline]
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Bytes of inbox per episode: [`EnvSpec::visible`], and with delays
    /// twice that again for the messages in flight.
    #[inline]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Byzantine heads per (Byzantine sender, recipient): the direct value and each relay.
    #[inline]
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// With [`EnvConfig::canonical_views`]: per relabelling of the peers, the
    /// raw slot each relabelled slot of a round block reads (empty otherwise).
    #[inline]
    pub fn peer_maps(&self) -> &[Vec<u16>] {
        &self.peer_maps
    }

    /// Validates `cfg` with the number of rounds already resolved, asking
    /// `mode` (`cfg.comm`'s: see [`EnvSpec::new`]) what it needs.
    pub(crate) fn for_mode<M: ModeShape + ?Sized>(
        cfg: &EnvConfig,
        rounds: u8,
        mode: &M,
    ) -> Result<EnvSpec, ConfigError> {
        check_size(cfg, rounds)?;
        let n = cfg.n;
        mode.validate(cfg)?;
        let (delays, delta, gst) = timing(cfg, rounds)?;
        check_views(cfg)?;
        let byzantine_ids = byzantine_mask(cfg)?;
        check_ones(cfg)?;
        let anonymous = cfg.identity == Identity::Anonymous;
        let broadcast = mode.designated_sender();
        let layout = if anonymous {
            Layout::Counts
        } else {
            mode.layout()
        };
        let slots = layout.slots(n);
        let inbox_rounds = rounds as usize - 1;
        // With delays the inbox carries the messages in flight too: what
        // has arrived, then the held values, then the round each arrives.
        let stride = n * inbox_rounds * slots;
        let held = if delays { 3 } else { 1 };
        let heads = layout.heads(n);
        let block = |i: usize| (i * inbox_rounds) * slots;
        // The index tables of agreement's direct values and relays. A
        // broadcast's slots depend on the episode's sender instead (see
        // [`EnvSpec::forward_slot`]); its heads are one per value.
        let mut heads_table = vec![(0u16, DIRECT); n * n * heads];
        let mut direct_dst = vec![Vec::new(); n];
        let mut relay_pairs = vec![Vec::new(); n];
        for b in (0..n).filter(|_| !broadcast) {
            for i in 0..n {
                if i == b {
                    continue;
                }
                let base = (b * n + i) * heads;
                let db = offset(n, i, b);
                heads_table[base] = (if anonymous { 0 } else { db as u16 }, DIRECT);
                if anonymous {
                    continue;
                }
                let origins = (0..n).filter(|&k| k != b && k != i);
                for (h, k) in origins.enumerate() {
                    let slot = relay_slot(n, db, offset(n, i, k));
                    heads_table[base + 1 + h] = (slot as u16, k as u8);
                }
            }
        }
        for i in (0..n).filter(|_| !broadcast) {
            for j in (0..n).filter(|&j| j != i) {
                let di = offset(n, j, i);
                direct_dst[i].push((block(j) + if anonymous { 0 } else { di }) as u32);
                if anonymous {
                    continue;
                }
                for k in (0..n).filter(|&k| k != i && k != j) {
                    let dst = block(j) + relay_slot(n, di, offset(n, j, k));
                    let src = block(i) + offset(n, i, k);
                    relay_pairs[i].push((dst as u32, src as u32));
                }
            }
        }
        Ok(EnvSpec {
            n,
            f: cfg.f,
            rounds,
            comm: cfg.comm,
            designated_sender: mode.designated_sender(),
            layout,
            synchrony: cfg.synchrony,
            identity: cfg.identity,
            faults: cfg.faults,
            byzantine_ids,
            ones: cfg.ones,
            delta,
            gst,
            visible: stride,
            slots,
            stride: stride * held,
            heads,
            heads_table,
            direct_dst,
            relay_pairs,
            peer_maps: if cfg.canonical_views {
                peer_maps(n)
            } else {
                vec![]
            },
        })
    }

    /// Whether learned honest agents see their peers in canonical order.
    pub fn canonical_views(&self) -> bool {
        !self.peer_maps.is_empty()
    }

    /// Number of honest agents.
    pub fn honest(&self) -> usize {
        self.n - self.f
    }

    /// Number of agents that run the honest protocol and hold an input:
    /// the honest ones, plus the faulty ones unless they are Byzantine.
    pub fn followers(&self) -> usize {
        if self.faults == Faults::Byzantine {
            self.honest()
        } else {
            self.n
        }
    }

    /// Width of the input one-hot: 0, 1, and in a broadcast "no input" (every agent but the sender).
    pub fn input_width(&self) -> usize {
        if self.broadcasts() {
            3
        } else {
            2
        }
    }

    /// Whether each episode is one designated sender's broadcast (see
    /// [`ModeShape::designated_sender`]).
    #[inline]
    pub fn broadcasts(&self) -> bool {
        self.designated_sender
    }

    /// What each slot of a round block means.
    #[inline]
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Broadcasts: the slot (in `i`'s round block) of value `v` from `j`
    /// when `s` is the designated sender.
    #[inline]
    pub fn forward_slot(&self, s: usize, i: usize, j: usize, v: usize) -> usize {
        2 * broadcast_group(self.n, s, i, j) + v
    }

    /// Rounds whose messages are seen by someone: `R - 1`.
    pub fn inbox_rounds(&self) -> usize {
        self.rounds as usize - 1
    }

    /// Offset of agent `i`'s block for messages sent in round `s` (`1..R`).
    #[inline]
    pub fn block(&self, i: usize, s: u8) -> usize {
        (i * self.inbox_rounds() + (s as usize - 1)) * self.slots
    }

    /// Length of the Byzantine team's action vector: `f * n * heads`, laid out
    /// `[byzantine ordinal][recipient id][head]`. Head 0 is the direct value,
    /// head `1 + h` relays the `h`-th origin (ascending id, skipping sender and recipient).
    /// With delays, `n * n` scheduling heads follow (see [`EnvSpec::delay_head`]).
    pub fn byz_action_len(&self) -> usize {
        self.f * self.n * self.heads + if self.delays() { self.n * self.n } else { 0 }
    }

    /// Whether the adversary may delay messages (partial synchrony, asynchrony).
    #[inline]
    pub fn delays(&self) -> bool {
        self.synchrony != Synchrony::Synchronous
    }

    /// Whether messages sent in round `r` may be delayed: before the
    /// stabilisation round, and never in the last round (nobody reads those).
    #[inline]
    pub fn may_delay(&self, r: u8) -> bool {
        self.delays() && r < self.gst && r < self.rounds
    }

    /// Index in the Byzantine action of the head that schedules the message
    /// from `j` to `i` sent this round: [`NONE`] delivers it in the next
    /// round, `d - 1` holds it `d` rounds more (`d <= delta`).
    #[inline]
    pub fn delay_head(&self, j: usize, i: usize) -> usize {
        self.f * self.n * self.heads + j * self.n + i
    }

    /// Slot (in the recipient's round block) and origin of head `h` from `b` to `i`.
    #[inline]
    pub fn head(&self, b: usize, i: usize, h: usize) -> (usize, u8) {
        let (slot, origin) = self.heads_table[(b * self.n + i) * self.heads + h];
        (slot as usize, origin)
    }

    pub(crate) fn direct_dst(&self, i: usize) -> &[u32] {
        &self.direct_dst[i]
    }

    pub(crate) fn relay_pairs(&self, i: usize) -> &[(u32, u32)] {
        &self.relay_pairs[i]
    }

    /// One line naming the game, for logs and traces.
    pub fn describe(&self) -> String {
        let faults = match self.faults {
            Faults::Byzantine => String::new(),
            x => format!(" faults={}", x.name()),
        };
        let timing = match self.synchrony {
            Synchrony::Synchronous => String::new(),
            Synchrony::PartiallySynchronous => format!(" delta={} gst={}", self.delta, self.gst),
            Synchrony::Asynchronous => format!(" delta={}", self.delta),
        };
        format!(
            "n={} f={} rounds={} comm={} synchrony={}{timing} identity={}{faults}",
            self.n,
            self.f,
            self.rounds,
            self.comm.name(),
            self.synchrony.name(),
            self.identity.name()
        )
    }

    /// Whether theory says no protocol can win this setting against every attack:
    /// without signatures, Byzantine agreement needs `n > 3f` (Lamport-Shostak-Pease).
    pub fn impossibility(&self) -> Option<String> {
        if self.faults != Faults::Byzantine {
            // Synchronous crash and omission faults are tolerable for any f < n.
            return None;
        }
        if self.identity != Identity::Pki && self.f > 0 && self.n <= 3 * self.f {
            Some(format!(
                "agreement without pki needs n > 3f (here n = {}, f = {}): no protocol can be verified",
                self.n, self.f
            ))
        } else {
            None
        }
    }
}

/// The game's size: 2 to MAX_N agents, f < n, 1 to 16 rounds.
fn check_size(cfg: &EnvConfig, rounds: u8) -> Result<(), ConfigError> {
    let n = cfg.n;
    if n < 2 {
        return Err(ConfigError::new(
            "env.n",
            n,
            "the game needs at least 2 agents",
        ));
    }
    if n > MAX_N {
        return Err(ConfigError::new(
            "env.n",
            n,
            format!("at most {MAX_N} agents are supported"),
        ));
    }
    if cfg.f >= n {
        return Err(ConfigError::new(
            "env.f",
            cfg.f,
            format!("needs f < n = {n}: at least one agent must be honest"),
        ));
    }
    if rounds == 0 {
        return Err(ConfigError::new("env.rounds", 0, "needs at least 1 round"));
    }
    if rounds > 16 {
        return Err(ConfigError::new(
            "env.rounds",
            rounds,
            "at most 16 rounds are supported",
        ));
    }
    Ok(())
}

/// The timing: whether messages may be delayed, by how much (`delta`) and
/// from which round on they are not (`gst`), each checked against the
/// synchrony and identity.
fn timing(cfg: &EnvConfig, rounds: u8) -> Result<(bool, u8, u8), ConfigError> {
    let delays = cfg.synchrony != Synchrony::Synchronous;
    if delays && cfg.identity == Identity::Anonymous {
        return Err(ConfigError::new(
            "env.identity",
            "\"anonymous\"",
            "delays are not built for anonymous channels: a count cannot say when each \
             of its messages arrived. Use \"pki\" or \"authenticated\"",
        ));
    }
    let delta = match cfg.delta {
        Some(d) if !delays => {
            return Err(ConfigError::new(
                "env.delta",
                d,
                "delays need synchrony = \"partially_synchronous\" or \"asynchronous\"",
            ))
        }
        Some(d) if !(1..=2).contains(&d) => {
            return Err(ConfigError::new(
                "env.delta",
                d,
                "a message can be held 1 or 2 rounds beyond the next; with rounds <= 3, \
                 2 holds it past the end of the game, as an unbounded delay would",
            ))
        }
        Some(d) => d,
        None if delays => 1,
        None => 0,
    };
    let gst = match cfg.gst {
        Some(g) if cfg.synchrony != Synchrony::PartiallySynchronous => {
            return Err(ConfigError::new(
                "env.gst",
                g,
                "a stabilisation round needs synchrony = \"partially_synchronous\"",
            ))
        }
        Some(g) if g == 0 || g > rounds => {
            return Err(ConfigError::new(
                "env.gst",
                g,
                format!("needs 1 <= gst <= rounds = {rounds}"),
            ))
        }
        Some(g) => g,
        None if cfg.synchrony == Synchrony::PartiallySynchronous => 2.min(rounds),
        // Asynchrony: no stabilisation within the game.
        None => u8::MAX,
    };
    Ok((delays, delta, gst))
}

/// Canonical views: not for anonymous counts, and only up to
/// MAX_CANONICAL_N agents.
fn check_views(cfg: &EnvConfig) -> Result<(), ConfigError> {
    let n = cfg.n;
    if cfg.canonical_views && cfg.identity == Identity::Anonymous {
        return Err(ConfigError::new(
            "env.canonical_views",
            true,
            "anonymous views are counts, the same under any relabelling of the peers already",
        ));
    }
    if cfg.canonical_views && n > MAX_CANONICAL_N {
        return Err(ConfigError::new(
            "env.canonical_views",
            true,
            format!(
                "a canonical view tries all (n - 1)! relabellings of the peers: \
                 built for n <= {MAX_CANONICAL_N}, this game has n = {n}"
            ),
        ));
    }
    Ok(())
}

/// `env.byzantine_ids` as a mask: f distinct agents, when given.
fn byzantine_mask(cfg: &EnvConfig) -> Result<Option<u32>, ConfigError> {
    let n = cfg.n;
    Ok(match &cfg.byzantine_ids {
        None => None,
        Some(ids) => {
            let shown = format!("{ids:?}");
            if ids.len() != cfg.f {
                return Err(ConfigError::new(
                    "env.byzantine_ids",
                    shown,
                    format!("names {} agents but f = {}", ids.len(), cfg.f),
                ));
            }
            let mut mask = 0u32;
            for &id in ids {
                if id >= n {
                    return Err(ConfigError::new(
                        "env.byzantine_ids",
                        shown,
                        format!("id {id} is not an agent (ids are 0..{n})"),
                    ));
                }
                if mask & (1 << id) != 0 {
                    return Err(ConfigError::new(
                        "env.byzantine_ids",
                        shown,
                        format!("id {id} appears twice"),
                    ));
                }
                mask |= 1 << id;
            }
            Some(mask)
        }
    })
}

/// `env.ones`: at most the agents that hold an input.
fn check_ones(cfg: &EnvConfig) -> Result<(), ConfigError> {
    let n = cfg.n;
    if let Some(ones) = cfg.ones {
        let voters = if cfg.faults == Faults::Byzantine {
            n - cfg.f
        } else {
            n
        };
        if ones > voters {
            return Err(ConfigError::new(
                "env.ones",
                ones,
                format!("only {voters} agents have an input"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
