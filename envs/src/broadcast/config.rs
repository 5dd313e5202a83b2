//! The `[rb]` table of a reliable-broadcast learning experiment: what the
//! honest team pays, what it replays, and how far the exact search may go.

use super::play::ObsView;
use super::search::Limits;
use serde::{Deserialize, Serialize};

/// The `[rb]` table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RbConfig {
    /// What an honest agent pays per message it sends (beside -1 when a
    /// property breaks): among protocols that hold, the cheaper wins.
    pub message_cost: f64,
    /// The share of each training batch that replays the verifier's
    /// counterexamples (once there are some).
    pub replay_fraction: f64,
    /// The most states the exact search may visit per instance.
    pub max_states: u64,
    /// The honest network reads views up to swapping the values 0 and 1
    /// (`super::play::orient`): it learns protocols that treat both
    /// values alike, and acts on no view that says the same of both.
    pub value_symmetric: bool,
    /// Pay 1 per broken property (validity, agreement, ...) rather than 1
    /// per episode with some property broken (`selfplay::games::broadcast::play::pay`). Written out
    /// only when set, like `faulty_sender_share`, so that runs without them
    /// keep their bytes.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pay_per_property: bool,
    /// The share of each batch's fresh (not replayed) episodes whose
    /// instance is drawn among those with a faulty sender (`selfplay::games::broadcast::play::starts`).
    #[serde(skip_serializing_if = "is_zero")]
    pub faulty_sender_share: f64,
    /// An honest agent sends at most one value of each kind (masked:
    /// `super::play::Reading`), as the textbook protocols do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub one_value_per_kind: bool,
    /// How the honest network sees the counts: `"counts"`, each up to n
    /// (the network plays at its own n only), or `"thresholds"`, which of
    /// 1, f + 1 and ceil((n + f + 1) / 2) each reaches (the same inputs at
    /// every n, so `selfplay verify --n N --f F` plays the checkpoint at
    /// any size). Written out only when not `"counts"`.
    #[serde(skip_serializing_if = "is_counts")]
    pub view: ObsView,
    /// An honest agent sends or delivers a value only where its view holds
    /// something of it (its input, INIT, an ECHO or a READY of that value;
    /// masked: `super::play::Reading`): no message carries a value on no
    /// evidence for it. Written out only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub supported_only: bool,
    /// Each value decided on its own evidence (`super::play::Reading::per_value`):
    /// whether to send INIT v, ECHO v, READY v and deliver v is read off
    /// the input, the INIT read and the counts of value v alone, by one
    /// network for both values. Written out only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub per_value: bool,
    /// The sender sends INIT of its input on its first decision (masked:
    /// `super::play::Reading::sender_broadcasts`), as every program of
    /// RB-Learner's grammar starts (their H2: the start sends); only the
    /// rest of the protocol is learned. Written out only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sender_broadcasts: bool,
    /// What the run is after: the row that stops it
    /// (`train.stop_when_verified`) and the protocol kept in
    /// `honest_best.safetensors`. Written out only when not `"verified"`.
    #[serde(skip_serializing_if = "Goal::is_verified")]
    pub goal: Goal,
}

/// The `rb.goal` of a run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// A protocol the exact search proves at the training size.
    #[default]
    Verified,
    /// A verified protocol that is also a threshold rule for every
    /// action, as `selfplay explain` reads it off the views the search
    /// reached (the threshold and quorum views only). A rule reads the
    /// same at every n; a protocol that fires at some level of its
    /// evidence and not at a larger one is one the verifier cannot
    /// shrink past n = 4 (docs/reliable_broadcast.md, "Threshold rules as
    /// the goal").
    Rules,
}

impl Goal {
    fn is_verified(&self) -> bool {
        *self == Goal::Verified
    }
}

fn is_counts(v: &ObsView) -> bool {
    *v == ObsView::Counts
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Default for RbConfig {
    fn default() -> Self {
        RbConfig {
            message_cost: 0.01,
            replay_fraction: 0.25,
            max_states: Limits::default().max_states,
            value_symmetric: true,
            pay_per_property: false,
            faulty_sender_share: 0.0,
            one_value_per_kind: false,
            view: ObsView::Counts,
            supported_only: false,
            per_value: false,
            sender_broadcasts: false,
            goal: Goal::Verified,
        }
    }
}
