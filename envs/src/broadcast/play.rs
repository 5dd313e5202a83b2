//! Many reliable-broadcast episodes stepped together, for learning teams
//! (issue 16). No network here: the runner asks its policies for every
//! pending decision of every episode at once, and this module turns the
//! answers into moves of the game through its public rules.
//!
//! **Two kinds of turn.** An episode either has honest agents whose view
//! changed and who have not yet acted on it (*pending*), or it waits for
//! the adversary. Pending agents act first: the game's `react` re-asks a
//! protocol on every change of the view, so an agent acting once per
//! pending view, until it adds nothing, is the same run as `react` with
//! the same decisions. Only then does the adversary move (one delivery or
//! one Byzantine injection), or stop, which it may only do in a quiescent
//! state (fairness: everything owed between correct agents was delivered).
//!
//! **The honest action** is four heads of three classes each (the learner's
//! factored categorical): INIT, ECHO and READY (value 0, value 1, or none)
//! and deliver (0, 1, or not). Every combination is a legal decision, so
//! the per-head masks are exact: a message already sent, an INIT from a
//! non-sender and a second delivery are masked out.
//!
//! **The adversary's action** is a move of `game::steps`, chosen as a short
//! sequence of three-class choices, each masked to what some legal move
//! still allows: what (deliver a correct agent's message, a faulty move,
//! stop), the recipient (base-3 digits of its slot among the non-Byzantine
//! agents), the message's kind, then its value. One level per forward pass.
//!
//! **Episodes end.** Each agent sends each message once and each Byzantine
//! agent sends each message to each recipient once, so at most
//! [`max_moves`] adversary moves exist in any run; the adversary stops
//! earlier, or is stopped when no move is left (then nothing is in flight,
//! so the state is quiescent).

use super::game::{
    self, Decision, Instance, Kind, Msg, RbFaults, RbSpec, Source, State, Step, View, SENDER,
};
use super::protocols::RbProtocol;
use super::threshold::Threshold;
use serde::{Deserialize, Serialize};

/// Honest heads: INIT, ECHO, READY, deliver.
pub const HONEST_HEADS: usize = 4;
/// The class "none" of every head.
pub const NONE: u32 = 2;
const ALL: u8 = 0b111;
const ONLY_NONE: u8 = 1 << NONE;

/// The kinds an honest head sends, in head order.
const HEAD_KINDS: [Kind; 3] = [Kind::Init, Kind::Echo, Kind::Ready];

/// The size of an honest agent's observation (its view and nothing else,
/// so the greedy policy is an `RbProtocol`): its input (one-hot; only the
/// sender has one), the first INIT (one-hot), each of the four counts, the
/// messages sent and the delivery (one-hot). A count is a thermometer:
/// in the raw-count view (`rb.view = "counts"`) count >= k for k = 1..n, so
/// the size grows with n; in the threshold views (`"thresholds"`,
/// `"quorums"`) count >= each of [`ObsView::guards`], the same size at
/// every n.
pub fn honest_obs_size(spec: &RbSpec, reading: Reading) -> usize {
    if reading.per_value {
        return 2 + 2 * units(spec, reading);
    }
    2 + 2 + 4 * units(spec, reading) + game::MSGS + 2
}

/// How many rows of the honest network one decision takes: one, or one
/// per value under `rb.per_value` ([`Reading::per_value`]).
pub fn honest_rows(reading: Reading) -> usize {
    match reading.per_value {
        true => 2,
        false => 1,
    }
}

/// The units of one count's thermometer.
fn units(spec: &RbSpec, reading: Reading) -> usize {
    match reading.view {
        ObsView::Counts => spec.n,
        view => view.guards().len(),
    }
}

/// How the honest network sees the four counts (`rb.view`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsView {
    /// Each count as it is, up to n: the network plays at its own n only.
    #[default]
    Counts,
    /// Each count only as which of 1, f + 1 and ceil((n + f + 1) / 2) it
    /// reaches ([`ObsView::guards`]): the same inputs at every n, so one
    /// network plays at any n.
    Thresholds,
    /// As `Thresholds` without the guard 1: each count only as whether it
    /// reaches f + 1 and ceil((n + f + 1) / 2). Fewer than f + 1 copies
    /// may all be Byzantine, so no correct protocol's safety can rest on
    /// them; the view cannot act on them at all.
    Quorums,
}

impl ObsView {
    pub fn name(self) -> &'static str {
        match self {
            ObsView::Counts => "counts",
            ObsView::Thresholds => "thresholds",
            ObsView::Quorums => "quorums",
        }
    }

    /// The guards a count is seen through, in increasing order at every
    /// n > 3f with f >= 1 (none in the raw-count view): one sender, f + 1
    /// senders (at least one correct) and a Byzantine quorum
    /// ceil((n + f + 1) / 2) (more than (n + f) / 2: any two such sets
    /// share a correct agent). Why these and not more:
    /// docs/reliable_broadcast.md ("A learned protocol at any n").
    pub fn guards(self) -> &'static [Threshold] {
        const THRESHOLDS: [Threshold; 3] = [
            Threshold::ONE,
            Threshold::T_PLUS_1,
            Threshold::MORE_THAN_HALF,
        ];
        match self {
            ObsView::Counts => &[],
            ObsView::Thresholds => &THRESHOLDS,
            ObsView::Quorums => &THRESHOLDS[1..],
        }
    }

    /// Whether a network of this view plays at any n (its inputs do not
    /// depend on n).
    pub fn any_n(self) -> bool {
        self != ObsView::Counts
    }
}

/// The least counts reaching each of `obs`'s guards at `spec`'s n and f.
pub fn thresholds(spec: &RbSpec, obs: ObsView) -> Vec<usize> {
    obs.guards()
        .iter()
        .map(|g| {
            (0..=spec.n)
                .find(|&c| g.reached(c, spec.n, spec.f))
                .unwrap_or(spec.n + 1)
        })
        .collect()
}

/// How many of `obs`'s guards `count` reaches: its level, 0 to the number
/// of guards.
pub fn level(spec: &RbSpec, obs: ObsView, count: usize) -> u8 {
    obs.guards()
        .iter()
        .filter(|g| g.reached(count, spec.n, spec.f))
        .count() as u8
}

/// `view` as a threshold view `obs` sees it: each count replaced by its
/// [`level`]; nothing else changes. The raw-count view sees it as it is.
pub fn leveled(spec: &RbSpec, obs: ObsView, view: &View) -> View {
    if obs == ObsView::Counts {
        return *view;
    }
    let mut v = *view;
    for c in v.count.iter_mut() {
        *c = level(spec, obs, *c as usize);
    }
    v
}

/// Writes `view` as the network reads it, in the raw-count view.
pub fn encode_view(spec: &RbSpec, view: &View, out: &mut [f32]) {
    encode(view, spec.n, out)
}

/// Writes `view` with each count a thermometer of `units` units (count
/// >= k for k = 1..units; in the threshold view the count is a level).
fn encode(view: &View, units: usize, out: &mut [f32]) {
    out.fill(0.0);
    if let Some(v) = view.input {
        out[v as usize] = 1.0;
    }
    if let Some(v) = view.init {
        out[2 + v as usize] = 1.0;
    }
    for (c, &count) in view.count.iter().enumerate() {
        for k in 0..(count as usize).min(units) {
            out[4 + c * units + k] = 1.0;
        }
    }
    let at = 4 + 4 * units;
    for i in 0..game::MSGS {
        out[at + i] = (view.sent >> i & 1) as f32;
    }
    if let Some(v) = view.delivered {
        out[at + game::MSGS + v as usize] = 1.0;
    }
}

/// How the honest network reads a view and what it may choose there: two
/// priors on the class of protocols it can learn (`rb.value_symmetric`,
/// `rb.one_value_per_kind`), each kept by the masks, so the greedy
/// protocol is in that class by construction and verified like any other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Views are read up to swapping the values (see [`orient`]): no value
    /// is chosen on a view that says the same of both.
    pub symmetric: bool,
    /// At most one value of each kind is sent (an agent that sent ECHO 0
    /// never sends ECHO 1), as in the textbook protocols.
    pub one_value: bool,
    /// How the counts are seen (`rb.view`).
    pub view: ObsView,
    /// A message or a delivery of value v only where the view holds
    /// something of v ([`supports`]): no value is sent or delivered on no
    /// evidence for it, as in the textbook protocols (`rb.supported_only`).
    pub supported: bool,
    /// Each value decided on its own evidence (`rb.per_value`): one row
    /// per value v, which sees only whether the input is v, whether the
    /// INIT read is v, and the counts of ECHO v and READY v, and whose
    /// heads say whether to send INIT v, ECHO v, READY v and deliver v
    /// (class 0; class 1 is masked). The two rows' answers are joined by
    /// [`decision_of`]. So a message is read as support for the value it
    /// carries, as in Bracha's protocol, and the greedy protocol is the
    /// same for both values by construction.
    pub per_value: bool,
    /// The sender's INIT of its input is not a choice: until sent, its
    /// head allows only that (`rb.sender_broadcasts`).
    pub sender_broadcasts: bool,
}

/// Whether `view` holds something of value `v`: the input v, INIT v read,
/// or an ECHO v or READY v from someone.
pub fn supports(view: &View, v: u8) -> bool {
    view.input == Some(v)
        || view.init == Some(v)
        || view.count(Msg::echo(v)) > 0
        || view.count(Msg::ready(v)) > 0
}

impl Reading {
    pub fn symmetric() -> Reading {
        Reading {
            symmetric: true,
            ..Reading::default()
        }
    }
}

/// The honest heads' masks on `view`: what is still legal. Only the
/// sender has an input, and only the sender may send INIT.
pub fn honest_masks(view: &View) -> [u8; HONEST_HEADS] {
    let mut m = [ONLY_NONE; HONEST_HEADS];
    for (h, &kind) in HEAD_KINDS.iter().enumerate() {
        if kind == Kind::Init && view.input.is_none() {
            continue;
        }
        for v in 0..2 {
            if !view.has_sent(Msg::new(kind, v)) {
                m[h] |= 1 << v;
            }
        }
    }
    if view.delivered.is_none() {
        m[3] = ALL;
    }
    m
}

/// `view` with the values 0 and 1 swapped everywhere.
pub fn swap(view: &View) -> View {
    super::mirror::view(view)
}

/// What `view` says about value `v`, most telling first.
fn signature(view: &View, v: u8) -> [u8; 9] {
    let is = |x: Option<u8>| (x == Some(v)) as u8;
    let sent = |k: Kind| view.has_sent(Msg::new(k, v)) as u8;
    [
        is(view.input),
        is(view.init),
        is(view.delivered),
        view.count(Msg::ready(v)) as u8,
        view.count(Msg::echo(v)) as u8,
        sent(Kind::Init),
        sent(Kind::Echo),
        sent(Kind::Ready),
        0,
    ]
}

/// Whether `view` says the same of both values (then a value-symmetric
/// network can choose neither: it sends no value and delivers none).
pub fn alike(view: &View) -> bool {
    signature(view, 0) == signature(view, 1)
}

/// The honest network's view, in one of two codings. As it is; or, with
/// `symmetric` (`rb.value_symmetric`), up to swapping the values: the view
/// is turned so that value 0 is the one it says more about, and the
/// decision is turned back. The game is symmetric in the values (the
/// properties name none, every instance comes with both inputs), so this
/// restricts the learner to protocols that treat 0 and 1 alike, as every
/// textbook protocol does; on a view that says the same of both values
/// such a protocol cannot favour one, so it sends no value and delivers
/// none there. Returns the view the network reads and whether it was
/// turned.
pub fn orient(view: &View, symmetric: bool) -> (View, bool) {
    if symmetric && signature(view, 1) > signature(view, 0) {
        (swap(view), true)
    } else {
        (*view, false)
    }
}

/// The observation and the heads' masks of `view` in its coding; whether
/// the decision must be turned back ([`decision_in`]).
pub fn honest_input(
    spec: &RbSpec,
    view: &View,
    reading: Reading,
    obs: &mut [f32],
    masks: &mut [u8],
) -> bool {
    // The threshold view orients and compares levels, not counts: its
    // decision is a function of what it sees.
    let view = &leveled(spec, reading.view, view);
    let (seen, turned) = orient(view, reading.symmetric);
    encode(&seen, units(spec, reading), obs);
    let mut m = honest_masks(&seen);
    if reading.one_value {
        for (h, &kind) in HEAD_KINDS.iter().enumerate() {
            if (0..2).any(|v| seen.has_sent(Msg::new(kind, v))) {
                m[h] = ONLY_NONE;
            }
        }
    }
    if reading.supported {
        for v in (0..2).filter(|&v| !supports(&seen, v)) {
            for h in m.iter_mut() {
                *h &= !(1 << v);
            }
        }
    }
    if reading.symmetric && alike(view) {
        // Alike in both values: no value can be chosen over the other.
        m = [ONLY_NONE; HONEST_HEADS];
    }
    if let Some(v) = seen.input.filter(|_| reading.sender_broadcasts) {
        if m[0] >> v & 1 == 1 {
            m[0] = 1 << v;
        }
    }
    masks.copy_from_slice(&m);
    turned
}

/// Writes the observation and the heads' masks of every row of the
/// decision on `view` ([`honest_rows`]: `obs` holds that many observations,
/// `masks` that many heads' masks); whether the decision must be turned
/// back ([`decision_of`]).
pub fn honest_inputs(
    spec: &RbSpec,
    view: &View,
    reading: Reading,
    obs: &mut [f32],
    masks: &mut [u8],
) -> bool {
    if !reading.per_value {
        return honest_input(spec, view, reading, obs, masks);
    }
    let d = honest_obs_size(spec, reading);
    let seen = seen(spec, view, reading);
    let full = honest_masks(&seen);
    for v in 0..2u8 {
        let row = &mut obs[v as usize * d..][..d];
        row.fill(0.0);
        row[0] = (seen.input == Some(v)) as u8 as f32;
        row[1] = (seen.init == Some(v)) as u8 as f32;
        let units = units(spec, reading);
        for (c, kind) in [Kind::Echo, Kind::Ready].into_iter().enumerate() {
            let count = seen.count(Msg::new(kind, v));
            for k in 0..count.min(units) {
                row[2 + c * units + k] = 1.0;
            }
        }
        masks[v as usize * HONEST_HEADS..][..HONEST_HEADS]
            .copy_from_slice(&value_masks(&seen, &full, reading, v));
    }
    false
}

/// The counts as the reading compares them: levels in the threshold view.
fn seen(spec: &RbSpec, view: &View, reading: Reading) -> View {
    leveled(spec, reading.view, view)
}

/// The masks of value `v`'s row under `rb.per_value`: class 0 (do it for
/// v) where the `full` masks of the view allow value v, class 1 never,
/// class 2 always.
fn value_masks(
    seen: &View,
    full: &[u8; HONEST_HEADS],
    reading: Reading,
    v: u8,
) -> [u8; HONEST_HEADS] {
    let mut m = [ONLY_NONE; HONEST_HEADS];
    for h in 0..HONEST_HEADS {
        let once = h < HEAD_KINDS.len()
            && reading.one_value
            && (0..2).any(|w| seen.has_sent(Msg::new(HEAD_KINDS[h], w)));
        let unsupported = reading.supported && !supports(seen, v);
        if full[h] >> v & 1 == 1 && !once && !unsupported {
            m[h] |= 1;
        }
    }
    // The sender's INIT of its input: taken, not chosen.
    if reading.sender_broadcasts && seen.input == Some(v) && m[0] & 1 == 1 {
        m[0] = 1;
    }
    m
}

/// Whether head `h` may be taken for one value only: the delivery, and
/// each kind with `rb.one_value_per_kind`.
fn one_value_only(reading: Reading, h: usize) -> bool {
    h == HONEST_HEADS - 1 || reading.one_value
}

/// Under `rb.per_value`, the masks of value 1's row once value 0's row
/// has chosen `first` (its heads' classes): a head that allows one value
/// only (the delivery; a kind, with `rb.one_value_per_kind`) and that value
/// 0 took is closed to value 1. Training samples value 0's row, then value
/// 1's under these masks, so the two rows' classes are the decision made
/// and each row's log-probability is that of what it did; a greedy choice
/// comes out as [`decision_of`]'s "value 0 first" would make it.
pub fn second_row_masks(reading: Reading, first: &[u32], masks: &mut [u8]) {
    for h in 0..HONEST_HEADS {
        if one_value_only(reading, h) && first[h] == 0 {
            masks[h] = ONLY_NONE;
        }
    }
}

/// The decision the rows' classes say ([`honest_inputs`] wrote
/// their inputs; `turned` is what it returned). Under `rb.per_value` the
/// rows' answers are joined: each value's messages and delivery as its row
/// says, except where both rows take a head that allows one value only (a
/// delivery; a kind, with `rb.one_value_per_kind`). There value 0 is
/// taken, as a threshold form's rules fire in order
/// (`threshold::ThresholdForm::decide`), so the protocol and its rules are
/// one function; the threshold automaton lets either value be taken, so
/// what it proves holds for this choice too.
pub fn decision_of(reading: Reading, acts: &[u32], turned: bool) -> Decision {
    if !reading.per_value {
        return decision_in(acts, turned);
    }
    let wants = |v: usize, h: usize| acts[v * HONEST_HEADS + h] == 0;
    let mut d = Decision::default();
    for h in 0..HONEST_HEADS {
        let single = one_value_only(reading, h);
        // Bit v: value v is taken.
        let taken = match (wants(0, h), wants(1, h)) {
            (true, true) if single => 0b01,
            (a, b) => a as u8 | (b as u8) << 1,
        };
        for v in (0..2).filter(|v| taken >> v & 1 == 1) {
            d = match HEAD_KINDS.get(h) {
                Some(&kind) => d.send(Msg::new(kind, v)),
                None => d.deliver(v),
            };
        }
    }
    d
}

/// The decision the heads' classes say, turned back if the view was.
pub fn decision_in(actions: &[u32], turned: bool) -> Decision {
    let d = decision(actions);
    if !turned {
        return d;
    }
    super::mirror::decision(&d)
}

/// The decision the heads' classes say.
pub fn decision(actions: &[u32]) -> Decision {
    let mut d = Decision::default();
    for (h, &kind) in HEAD_KINDS.iter().enumerate() {
        if actions[h] < NONE {
            d = d.send(Msg::new(kind, actions[h] as u8));
        }
    }
    if actions[3] < NONE {
        d = d.deliver(actions[3] as u8);
    }
    d
}

/// The heads' classes of a decision that sends at most one message of each
/// kind (and delivers at most one value); `None` for one that sends both
/// values of a kind at once (heads cannot say that in one call).
pub fn classes(d: &Decision) -> Option<[u32; HONEST_HEADS]> {
    let mut out = [NONE; HONEST_HEADS];
    for (h, &kind) in HEAD_KINDS.iter().enumerate() {
        let bits = (d.sends >> (kind as usize * 2)) & 3;
        out[h] = match bits {
            0 => NONE,
            1 => 0,
            2 => 1,
            _ => return None,
        };
    }
    out[3] = d.deliver.map_or(NONE, |v| v as u32);
    Some(out)
}

/// One decision, for `react`: the answer on the view it was made for, and
/// nothing on any other (the agent is then pending again).
struct Answer {
    view: View,
    decision: Decision,
}

impl RbProtocol for Answer {
    fn name(&self) -> String {
        "answer".into()
    }
    fn act(&self, _: &RbSpec, view: &View) -> Decision {
        if *view == self.view {
            self.decision
        } else {
            Decision::default()
        }
    }
}

/// The most adversary moves of any run: every delivery of every message an
/// agent may send to every other agent, and every Byzantine injection.
pub fn max_moves(spec: &RbSpec) -> usize {
    spec.n * (spec.n - 1) * game::MSGS + spec.f * spec.n * game::MSGS
}

/// What the adversary chooses at level 0.
pub const WHAT_CORRECT: u32 = 0;
pub const WHAT_FAULTY: u32 = 1;
pub const WHAT_STOP: u32 = 2;

/// The adversary's choice levels: what, the recipient's base-3 digits, kind, value.
pub fn adversary_levels(spec: &RbSpec) -> usize {
    1 + recipient_digits(spec) + 2
}

fn recipient_slots(spec: &RbSpec) -> usize {
    match spec.faults {
        RbFaults::Byzantine => spec.n - spec.f,
        RbFaults::Crash => spec.n,
    }
}

fn recipient_digits(spec: &RbSpec) -> usize {
    let (mut d, mut span) = (1, 3);
    while span < recipient_slots(spec) {
        d += 1;
        span *= 3;
    }
    d
}

/// The size of the adversary's observation: per agent, whether it is
/// faulty, and its record (first INIT and delivery one-hot, counts and
/// messages in flight scaled by n, messages sent); the sender's input; the
/// level being chosen (one-hot) and the choices made so far at this move.
pub fn adversary_obs_size(spec: &RbSpec) -> usize {
    spec.n * AGENT_FEATURES + 2 + adversary_levels(spec) + 3 + spec.n + 3
}

const AGENT_FEATURES: usize = 1 + 2 + 2 + 4 + game::MSGS * 4;

/// One episode: its instance, its state, who must act.
#[derive(Clone, Debug)]
pub struct Episode {
    pub inst: Instance,
    pub state: State,
    /// Bit `a`: agent `a` has a view it has not acted on.
    pub pending: u8,
    pub done: bool,
    /// Adversary moves made.
    pub moves: usize,
    /// Messages the honest (non-faulty) agents sent, each counted once.
    pub honest_sends: u32,
    /// A counterexample's moves (in the search's representatives' labels)
    /// the adversary is forced along, and how far it got.
    pub forced: Vec<Step>,
    pub forced_at: usize,
}

/// A batch of episodes of one game.
pub struct Batch {
    pub spec: RbSpec,
    pub episodes: Vec<Episode>,
}

/// A protocol that never acts: the game's moves with decisions left to us.
struct Silent;

impl RbProtocol for Silent {
    fn name(&self) -> String {
        "silent".into()
    }
    fn act(&self, _: &RbSpec, _: &View) -> Decision {
        Decision::default()
    }
}

impl Batch {
    /// Episodes of the given instances, each with its forced moves (empty:
    /// none), every non-Byzantine agent pending on its first view.
    pub fn new(spec: RbSpec, starts: Vec<(Instance, Vec<Step>)>) -> Batch {
        let episodes = starts
            .into_iter()
            .map(|(inst, forced)| {
                let (state, _) = game::start(&spec, &inst, &Silent);
                let pending = (0..spec.n)
                    .filter(|&a| !inst.is_byzantine(&spec, a))
                    .fold(0u8, |m, a| m | 1 << a);
                Episode {
                    inst,
                    state,
                    pending,
                    done: false,
                    moves: 0,
                    honest_sends: 0,
                    forced,
                    forced_at: 0,
                }
            })
            .collect();
        Batch { spec, episodes }
    }

    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    pub fn done(&self) -> bool {
        self.episodes.iter().all(|e| e.done)
    }

    /// The view agent `a` of episode `e` acts on.
    pub fn view(&self, e: usize, a: usize) -> View {
        let ep = &self.episodes[e];
        let input = if a == SENDER { ep.inst.input } else { None };
        ep.state[a].view(input)
    }

    /// Every pending (episode, agent), in episode then agent order.
    pub fn pending(&self) -> Vec<(usize, usize)> {
        let mut out = vec![];
        for (e, ep) in self.episodes.iter().enumerate() {
            if ep.done {
                continue;
            }
            for a in (0..self.spec.n).filter(|&a| ep.pending >> a & 1 == 1) {
                out.push((e, a));
            }
        }
        out
    }

    /// Agent `a` of episode `e` acts on its pending view; it stays pending
    /// if that changed its view (it acts again on the new one).
    pub fn decide(&mut self, e: usize, a: usize, d: Decision) {
        let view = self.view(e, a);
        let spec = self.spec;
        let ep = &mut self.episodes[e];
        ep.pending &= !(1 << a);
        let r = game::react(
            &spec,
            &ep.inst,
            &Answer { view, decision: d },
            &mut ep.state,
            a,
        );
        if r.sent != 0 || r.to_self != 0 || r.delivered != 0 {
            ep.pending |= 1 << a;
            if !ep.inst.is_faulty(a) {
                ep.honest_sends += r.sent.count_ones();
            }
        }
    }

    /// Episodes waiting for the adversary: live, nobody pending.
    pub fn adversary_turns(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&e| !self.episodes[e].done && self.episodes[e].pending == 0)
            .collect()
    }

    /// Plays the next forced move of episode `e`, if it has one that is
    /// still legal (the honest team may have left the counterexample's
    /// path); at the end of a path in a quiescent state, stops the episode
    /// as the counterexample does. Whether a forced move was made.
    pub fn force(&mut self, e: usize) -> bool {
        let spec = self.spec;
        let ep = &mut self.episodes[e];
        let Some(&step) = ep.forced.get(ep.forced_at) else {
            if !ep.forced.is_empty() && game::quiescent(&spec, &ep.inst, &ep.state) {
                ep.forced.clear();
                ep.done = true;
                return true;
            }
            ep.forced.clear();
            return false;
        };
        if !game::steps(&spec, &ep.inst, &ep.state).contains(&step) {
            ep.forced.clear();
            return false;
        }
        ep.forced_at += 1;
        self.play(e, step);
        true
    }

    /// Plays adversary move `step` in episode `e`.
    pub fn play(&mut self, e: usize, step: Step) {
        let spec = self.spec;
        let ep = &mut self.episodes[e];
        let to = step.to as usize;
        let before = ep.state[to];
        game::apply(&spec, &ep.inst, &Silent, &mut ep.state, step);
        // It read something new (a first INIT, one more sender): it acts
        // on its new view. A second INIT changes nothing it sees.
        let now = &ep.state[to];
        if now.init != before.init || now.count != before.count {
            ep.pending |= 1 << to;
        }
        ep.moves += 1;
    }

    /// The adversary stops episode `e` (only in a quiescent state).
    pub fn stop(&mut self, e: usize) {
        debug_assert!(game::quiescent(
            &self.spec,
            &self.episodes[e].inst,
            &self.episodes[e].state
        ));
        self.episodes[e].done = true;
    }

    /// Ends episode `e` if the adversary has no move left.
    pub fn end_if_stuck(&mut self, e: usize) -> bool {
        let ep = &self.episodes[e];
        if game::steps(&self.spec, &ep.inst, &ep.state).is_empty() {
            self.episodes[e].done = true;
            return true;
        }
        false
    }

    /// The properties broken at the end of episode `e` (a bit per
    /// `game::PROPERTIES` entry).
    pub fn broken(&self, e: usize) -> u8 {
        let ep = &self.episodes[e];
        game::broken(&self.spec, &ep.inst, &ep.state)
    }

    /// The non-Byzantine agents in id order: the adversary's recipient slots.
    pub fn recipients(&self, e: usize) -> Vec<usize> {
        let inst = &self.episodes[e].inst;
        (0..self.spec.n)
            .filter(|&r| !inst.is_byzantine(&self.spec, r))
            .collect()
    }
}

/// An adversary move being chosen, one level at a time.
#[derive(Clone, Debug, Default)]
pub struct Choice {
    pub classes: Vec<u32>,
}

/// Which level a class at position `level` decides.
enum Level {
    What,
    Digit,
    Kind,
    Value,
}

fn level_of(spec: &RbSpec, level: usize) -> Level {
    let digits = recipient_digits(spec);
    match level {
        0 => Level::What,
        l if l <= digits => Level::Digit,
        l if l == digits + 1 => Level::Kind,
        _ => Level::Value,
    }
}

/// A step's classes at every level (the recipient as its slot's digits).
fn step_classes(spec: &RbSpec, slots: &[usize], step: &Step) -> Vec<u32> {
    let what = match step.from {
        Source::Correct => WHAT_CORRECT,
        _ => WHAT_FAULTY,
    };
    let mut out = vec![what];
    let slot = slots
        .iter()
        .position(|&r| r == step.to as usize)
        .expect("a move's recipient is not Byzantine");
    let digits = recipient_digits(spec);
    for d in (0..digits).rev() {
        out.push((slot / 3usize.pow(d as u32) % 3) as u32);
    }
    out.push(step.msg.kind as u32);
    out.push(step.msg.value as u32);
    out
}

impl Batch {
    /// The mask of the next level of `choice` in episode `e`: the classes
    /// some legal move (or stop, at level 0 in a quiescent state) has there.
    pub fn adversary_mask(&self, e: usize, choice: &Choice) -> u8 {
        let ep = &self.episodes[e];
        let slots = self.recipients(e);
        let level = choice.classes.len();
        let mut m = 0u8;
        if level == 0 && game::quiescent(&self.spec, &ep.inst, &ep.state) {
            m |= 1 << WHAT_STOP;
        }
        for step in game::steps(&self.spec, &ep.inst, &ep.state) {
            let c = step_classes(&self.spec, &slots, &step);
            if c[..level] == choice.classes[..] {
                m |= 1 << c[level];
            }
        }
        m
    }

    /// The move `choice` names once complete; `None` for stop.
    pub fn adversary_step(&self, e: usize, choice: &Choice) -> Option<Step> {
        if choice.classes.first() == Some(&WHAT_STOP) {
            return None;
        }
        let ep = &self.episodes[e];
        let slots = self.recipients(e);
        game::steps(&self.spec, &ep.inst, &ep.state)
            .into_iter()
            .find(|s| step_classes(&self.spec, &slots, s) == choice.classes)
    }

    /// Whether `choice` is complete.
    pub fn chosen(&self, choice: &Choice) -> bool {
        choice.classes.first() == Some(&WHAT_STOP)
            || choice.classes.len() == adversary_levels(&self.spec)
    }

    /// Writes the adversary's observation of episode `e` at `choice`'s next level.
    pub fn encode_adversary(&self, e: usize, choice: &Choice, out: &mut [f32]) {
        out.fill(0.0);
        let spec = &self.spec;
        let ep = &self.episodes[e];
        let scale = 1.0 / spec.n as f32;
        for a in 0..spec.n {
            let o = &mut out[a * AGENT_FEATURES..][..AGENT_FEATURES];
            let l = &ep.state[a];
            o[0] = ep.inst.is_faulty(a) as u8 as f32;
            if l.init > 0 {
                o[l.init as usize] = 1.0;
            }
            if l.delivered > 0 {
                o[2 + l.delivered as usize] = 1.0;
            }
            for c in 0..4 {
                o[5 + c] = l.count[c] as f32 * scale;
            }
            for i in 0..game::MSGS {
                o[9 + i] = (l.sent >> i & 1) as f32;
                o[15 + i] = l.from_correct[i] as f32 * scale;
                o[21 + i] = l.from_faulty[i] as f32 * scale;
                o[27 + i] = l.byzantine_used[i] as f32 * scale;
            }
        }
        let mut at = spec.n * AGENT_FEATURES;
        if let Some(v) = ep.inst.input {
            out[at + v as usize] = 1.0;
        }
        at += 2;
        out[at + choice.classes.len()] = 1.0;
        at += adversary_levels(spec);
        let slots = self.recipients(e);
        let digits = recipient_digits(spec);
        for (level, &c) in choice.classes.iter().enumerate() {
            match level_of(spec, level) {
                Level::What => out[at + c as usize] = 1.0,
                Level::Digit => {}
                Level::Kind => out[at + 3 + spec.n + c as usize] = 1.0,
                Level::Value => {}
            }
        }
        // The recipient once every digit is chosen, as an agent id.
        if choice.classes.len() > digits {
            let slot = choice.classes[1..=digits]
                .iter()
                .fold(0usize, |s, &d| s * 3 + d as usize);
            if let Some(&r) = slots.get(slot) {
                out[at + 3 + r] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broadcast::protocols::scripted;

    fn spec() -> RbSpec {
        RbSpec::new(4, 1, RbFaults::Byzantine).unwrap()
    }

    /// Playing a scripted protocol through pending turns, the adversary
    /// always taking the first legal move, reaches the same state as
    /// `react` and `apply` with the protocol itself.
    #[test]
    fn pending_turns_replay_the_games_own_reactions() {
        let spec = spec();
        let p = scripted("bracha").unwrap();
        for inst in game::instances(&spec) {
            let mut b = Batch::new(spec, vec![(inst, vec![])]);
            let (mut state, _) = game::start(&spec, &inst, p);
            loop {
                while let Some(&(e, a)) = b.pending().first() {
                    let v = b.view(e, a);
                    b.decide(e, a, p.act(&spec, &v));
                }
                assert_eq!(b.episodes[0].state, state);
                let steps = game::steps(&spec, &inst, &state);
                let Some(&step) = steps.first() else { break };
                game::apply(&spec, &inst, p, &mut state, step);
                b.play(0, step);
            }
            assert!(b.episodes[0].moves <= max_moves(&spec));
        }
    }

    /// Every complete choice names a legal move, and every legal move has
    /// a choice whose levels the masks allow.
    #[test]
    fn adversary_choices_name_exactly_the_legal_moves() {
        for spec in [spec(), RbSpec::new(3, 1, RbFaults::Crash).unwrap()] {
            let p = scripted("bracha").unwrap();
            for inst in game::instances(&spec) {
                let mut b = Batch::new(spec, vec![(inst, vec![])]);
                for (e, a) in b.pending() {
                    let v = b.view(e, a);
                    b.decide(e, a, p.act(&spec, &v));
                }
                let slots = b.recipients(0);
                let steps = game::steps(&spec, &inst, &b.episodes[0].state);
                for s in &steps {
                    let c = step_classes(&spec, &slots, s);
                    let mut ch = Choice::default();
                    for &k in &c {
                        assert!(b.adversary_mask(0, &ch) >> k & 1 == 1);
                        ch.classes.push(k);
                    }
                    assert_eq!(b.adversary_step(0, &ch), Some(*s));
                }
            }
        }
    }

    /// Turning a view and its decision back is the identity, and a view
    /// alike in both values allows no value.
    #[test]
    fn value_symmetric_coding_turns_back() {
        let spec = spec();
        let d = honest_obs_size(&spec, Reading::default());
        let view = View {
            init: Some(1),
            count: [0, 2, 1, 0],
            sent: Msg::echo(1).bit(),
            ..View::default()
        };
        assert_eq!(swap(&swap(&view)), view);
        let (mut o1, mut o2) = (vec![0.0; d], vec![0.0; d]);
        let (mut m1, mut m2) = ([0u8; 4], [0u8; 4]);
        let t1 = honest_input(&spec, &view, Reading::symmetric(), &mut o1, &mut m1);
        let t2 = honest_input(&spec, &swap(&view), Reading::symmetric(), &mut o2, &mut m2);
        assert!(t1 && !t2);
        assert_eq!((o1, m1), (o2, m2));
        let acts = [NONE, NONE, 0, 0];
        assert_eq!(
            decision_in(&acts, t1),
            Decision::default().send(Msg::ready(1)).deliver(1)
        );
        let alike = View {
            count: [1, 1, 0, 0],
            ..View::default()
        };
        let mut o = vec![0.0; d];
        let mut m = [0u8; 4];
        honest_input(&spec, &alike, Reading::symmetric(), &mut o, &mut m);
        assert_eq!(m, [ONLY_NONE; 4]);
        honest_input(&spec, &alike, Reading::default(), &mut o, &mut m);
        assert_eq!(m[3], ALL);
        // One value per kind: ECHO 1 sent, so no ECHO at all; READY open.
        let one = Reading {
            one_value: true,
            ..Reading::default()
        };
        honest_input(&spec, &view, one, &mut o, &mut m);
        assert_eq!((m[1], m[2]), (ONLY_NONE, ALL));
        honest_input(&spec, &view, Reading::default(), &mut o, &mut m);
        assert_eq!(m[1], ONLY_NONE | 1);
    }

    /// The threshold view's guards and inputs at two sizes: 1, f + 1 and
    /// ceil((n + f + 1) / 2) are 1, 2, 3 at n = 4, f = 1 and 1, 3, 5 at
    /// n = 7, f = 2; a count is the thermometer of how many it reaches, so
    /// the input size is the same at both, and views at the same levels
    /// are the same input.
    #[test]
    fn threshold_view_reads_the_same_guards_at_any_n() {
        let small = spec();
        let big = RbSpec {
            n: 7,
            f: 2,
            ..small
        };
        let t = ObsView::Thresholds;
        assert_eq!(thresholds(&small, t), [1, 2, 3]);
        assert_eq!(thresholds(&big, t), [1, 3, 5]);
        let levels = |s: &RbSpec, o: ObsView| (0..=s.n).map(|c| level(s, o, c)).collect::<Vec<_>>();
        assert_eq!(levels(&small, t), [0, 1, 2, 3, 3]);
        assert_eq!(levels(&big, t), [0, 1, 1, 2, 2, 3, 3, 3]);
        // The quorum view: the same without the guard 1.
        let q = ObsView::Quorums;
        assert_eq!(thresholds(&small, q), [2, 3]);
        assert_eq!(thresholds(&big, q), [3, 5]);
        assert_eq!(levels(&small, q), [0, 0, 1, 2, 2]);
        assert_eq!(levels(&big, q), [0, 0, 0, 1, 1, 2, 2, 2]);
        let six = RbSpec {
            n: 6,
            f: 1,
            ..small
        };
        assert_eq!(thresholds(&six, t), [1, 2, 4]);
        let reading = Reading {
            view: ObsView::Thresholds,
            ..Reading::symmetric()
        };
        let d = honest_obs_size(&small, reading);
        assert_eq!(d, honest_obs_size(&big, reading));
        assert_eq!(d, 2 + 2 + 4 * 3 + 6 + 2);
        assert_eq!(
            honest_obs_size(&small, Reading::default()),
            2 + 2 + 16 + 6 + 2
        );
        // ECHO 1 at the quorum, READY 1 at f + 1, ECHO 0 from one agent.
        let at = |s: &RbSpec, e0: u8, e1: u8, r1: u8| {
            let view = View {
                init: Some(1),
                count: [e0, e1, 0, r1],
                ..View::default()
            };
            let (mut o, mut m) = (vec![0.0; d], [0u8; HONEST_HEADS]);
            let turned = honest_input(s, &view, reading, &mut o, &mut m);
            (o, m, turned)
        };
        let (o, m, turned) = at(&small, 1, 3, 2);
        assert_eq!((o.clone(), m, turned), at(&big, 2, 6, 3));
        assert!(turned);
        // Turned: value 1's counts are read as value 0's. Levels: ECHO 0
        // 3, ECHO 1 1, READY 0 2, READY 1 0, as thermometers of 3 units.
        assert_eq!(o[4..16], [1., 1., 1., 1., 0., 0., 1., 1., 0., 0., 0., 0.]);
        // Two views a count apart in the same level are one input.
        assert_eq!(at(&big, 2, 5, 3).0, o);
        assert_ne!(at(&big, 2, 4, 3).0, o);
    }

    /// With `supported`, a value with nothing of it in the view is masked
    /// on every head: the sender acts on its input's value only, and an
    /// agent that read only INIT 0 and ECHO 0 sends and delivers 0 only.
    #[test]
    fn supported_values_only_where_the_view_holds_them() {
        let spec = spec();
        let reading = Reading {
            supported: true,
            ..Reading::default()
        };
        let d = honest_obs_size(&spec, reading);
        let mut o = vec![0.0; d];
        let mut m = [0u8; HONEST_HEADS];
        let sender = View {
            input: Some(1),
            ..View::default()
        };
        honest_input(&spec, &sender, reading, &mut o, &mut m);
        assert_eq!(m, [ONLY_NONE | 0b10; HONEST_HEADS]);
        let relay = View {
            init: Some(0),
            count: [1, 0, 0, 0],
            ..View::default()
        };
        honest_input(&spec, &relay, reading, &mut o, &mut m);
        assert_eq!(m, [ONLY_NONE, 0b101, 0b101, 0b101]);
        // A READY 1 from someone opens value 1.
        let both = View {
            count: [1, 0, 0, 1],
            ..relay
        };
        honest_input(&spec, &both, reading, &mut o, &mut m);
        assert_eq!(m, [ONLY_NONE, ALL, ALL, ALL]);
    }

    #[test]
    fn head_classes_round_trip_and_masks_forbid_repeats() {
        let d = Decision::default().send(Msg::echo(1)).deliver(0);
        assert_eq!(decision(&classes(&d).unwrap()), d);
        let view = View {
            sent: Msg::echo(1).bit(),
            delivered: Some(0),
            ..View::default()
        };
        let m = honest_masks(&view);
        assert_eq!(m, [ONLY_NONE, 0b101, ALL, ONLY_NONE]);
    }

    /// `rb.per_value`: value v's row sees v's evidence alone (the other
    /// value's counts change nothing in it), both rows answer with class
    /// 0 for "this value", and where both take a head that allows one
    /// value only, value 0 is taken (as the rules of a threshold form fire).
    #[test]
    fn per_value_rows_read_their_own_value_alone() {
        let spec = spec();
        let reading = Reading {
            per_value: true,
            one_value: true,
            view: ObsView::Thresholds,
            ..Reading::default()
        };
        let (r, d) = (honest_rows(reading), honest_obs_size(&spec, reading));
        assert_eq!((r, d), (2, 2 + 2 * 3));
        let inputs = |view: &View| {
            let (mut o, mut m) = (vec![0.0; r * d], vec![0u8; r * HONEST_HEADS]);
            honest_inputs(&spec, view, reading, &mut o, &mut m);
            (o, m)
        };
        let view = View {
            init: Some(0),
            count: [3, 1, 2, 0],
            sent: Msg::echo(0).bit(),
            ..View::default()
        };
        let (o, m) = inputs(&view);
        // Row 0: INIT 0 read, ECHO 0 at level 3, READY 0 at level 2.
        assert_eq!(o[..d], [0., 1., 1., 1., 1., 1., 1., 0.]);
        // Row 1: ECHO 1 from one agent, nothing else.
        assert_eq!(o[d..], [0., 0., 1., 0., 0., 0., 0., 0.]);
        // More ECHO 1 changes row 1 only.
        let more = View {
            count: [3, 3, 2, 0],
            ..view
        };
        let (o2, _) = inputs(&more);
        assert_eq!(o2[..d], o[..d]);
        assert_ne!(o2[d..], o[d..]);
        // ECHO sent (one value per kind): no ECHO for either row; class 1
        // is never open; INIT needs an input.
        for v in 0..2 {
            let row = &m[v * HONEST_HEADS..][..HONEST_HEADS];
            assert_eq!(row, [ONLY_NONE, ONLY_NONE, ONLY_NONE | 1, ONLY_NONE | 1]);
        }
        // Each row's READY: both values sent.
        let both = [NONE, NONE, 0, NONE, NONE, NONE, 0, NONE];
        let want = Decision::default().send(Msg::ready(0));
        assert_eq!(decision_of(reading, &both, false), want);
        let many = Reading {
            one_value: false,
            ..reading
        };
        assert_eq!(decision_of(many, &both, false), want.send(Msg::ready(1)));
        // Both rows deliver: value 0.
        let deliver = [NONE, NONE, NONE, 0, NONE, NONE, NONE, 0];
        assert_eq!(
            decision_of(reading, &deliver, false),
            Decision::default().deliver(0)
        );
        let one = [NONE, NONE, NONE, NONE, NONE, NONE, NONE, 0];
        assert_eq!(
            decision_of(reading, &one, false),
            Decision::default().deliver(1)
        );
    }

    /// With `sender_broadcasts`, the sender's INIT of its input is forced
    /// (its head allows only that) until sent, in both codings; without
    /// it the head may also stay idle; once sent, it is closed.
    #[test]
    fn the_sender_broadcasts_its_input_when_asked_to() {
        let spec = spec();
        let view = View {
            input: Some(1),
            ..View::default()
        };
        for per_value in [false, true] {
            let masks = |forced: bool, view: &View| {
                let reading = Reading {
                    per_value,
                    supported: true,
                    sender_broadcasts: forced,
                    ..Reading::default()
                };
                let r = honest_rows(reading);
                let mut o = vec![0.0; r * honest_obs_size(&spec, reading)];
                let mut m = vec![0u8; r * HONEST_HEADS];
                honest_inputs(&spec, view, reading, &mut o, &mut m);
                m
            };
            let (free, forced) = (masks(false, &view), masks(true, &view));
            if per_value {
                // Row 1 (value 1): class 0 (send INIT 1) and 2 (idle), then 0 only.
                assert_eq!(free[HONEST_HEADS], 1 | 1 << NONE);
                assert_eq!(forced[HONEST_HEADS], 1);
                // Row 0: nothing of value 0, so idle in both.
                assert_eq!((free[0], forced[0]), (ONLY_NONE, ONLY_NONE));
            } else {
                assert_eq!(free[0], 1 << 1 | 1 << NONE);
                assert_eq!(forced[0], 1 << 1);
            }
            let sent = View {
                sent: Msg::init(1).bit(),
                to_self: Msg::init(1).bit(),
                init: Some(1),
                ..view
            };
            let head = if per_value { HONEST_HEADS } else { 0 };
            assert_eq!(masks(true, &sent)[head], ONLY_NONE);
        }
    }
}
