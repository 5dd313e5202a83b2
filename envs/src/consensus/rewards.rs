//! Shaped rewards, per experiment. The reported win rate never depends on
//! them: it is always [`Outcome::honest_wins`].

use crate::consensus::comm::Outcome;
use crate::consensus::rules::{bits, Episode};
use crate::consensus::spec::EnvSpec;
use serde::{Deserialize, Serialize};

/// The `[rewards]` table: what each honest agent is paid at the end of an
/// episode, and what the Byzantine team is paid.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Rewards {
    /// To each honest agent when the honest team wins.
    pub correct_commit: f32,
    /// To each honest agent when agreement fails.
    pub consistency_violation: f32,
    /// To each honest agent when validity fails.
    pub validity_violation: f32,
    /// To each honest agent when some honest agent never decides.
    pub termination_violation: f32,
    /// To an honest agent that commits against a strict majority of the honest
    /// inputs (in a broadcast: against an honest sender's input).
    pub majority_violation: f32,
    /// On top of `majority_violation`: to an honest agent that commits 0
    /// against a strict majority of 1 only. One-sided, it breaks the 0/1
    /// symmetry of the shaping: in a tie the agents are not pulled to their
    /// own inputs (where they disagree) but towards one common value.
    pub majority_violation_zero: f32,
    /// The mirror image: on top of `majority_violation`, to an honest agent
    /// that commits 1 against a strict majority of 0 only (pulls ties to 0,
    /// as `majority` breaks them).
    pub majority_violation_one: f32,
    /// Atomic commit: to an agent that commits though some vote is no, or
    /// aborts though every vote is yes. Its own decision, not the team's,
    /// and whether or not something failed (a crash in the last round is
    /// invisible, yet excuses an abort under P4): this breaks the "always
    /// abort" trap.
    pub vote_violation: f32,
    /// Per round an honest agent spends before it commits (its commit round
    /// minus one), or with `round_penalty_at = "every_step"` per round in
    /// which it acts (its commit round).
    pub round_penalty: f32,
    /// When `round_penalty` is paid: `end` (with the terminal reward, for
    /// the commit round minus one rounds) or `every_step` (at each step the
    /// agent acts, its commit round included, as REINFORCE's reward to go
    /// charges it: committing in round r costs r penalties, the later steps'
    /// only to the steps before them).
    #[serde(skip_serializing_if = "RoundPenaltyAt::is_end")]
    pub round_penalty_at: RoundPenaltyAt,
    /// How the terminal terms combine: `sum` (every term that applies is
    /// added) or `first_match` (only the first that applies, in the order
    /// consistency, validity, termination, correct commit).
    #[serde(skip_serializing_if = "Terminal::is_sum")]
    pub terminal: Terminal,
    /// To an honest agent that commits in round 1, before hearing anyone.
    pub early_commit_penalty: f32,
    /// The Byzantine team's own table; when absent it gets the negated mean honest reward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byzantine: Option<ByzantineRewards>,
}

/// How the terminal terms of [`Rewards`] combine.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Terminal {
    /// Every term that applies is added: an episode that breaks agreement
    /// and validity pays both.
    #[default]
    Sum,
    /// The first rule that applies gives the reward: `consistency_violation`
    /// if agreement fails, else `validity_violation` if validity fails, else
    /// `termination_violation` if some agent never decides, else
    /// `correct_commit` (the honest team won). As the Learning Consensus
    /// code and the PyTorch anchor pay it.
    FirstMatch,
}

impl Terminal {
    fn is_sum(&self) -> bool {
        *self == Terminal::Sum
    }
}

/// When [`Rewards::round_penalty`] is paid.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RoundPenaltyAt {
    /// With the terminal reward, once per round before the commit.
    #[default]
    End,
    /// At every step the agent acts, its commit round included.
    EveryStep,
}

impl RoundPenaltyAt {
    fn is_end(&self) -> bool {
        *self == RoundPenaltyAt::End
    }
}

/// The Byzantine team's rewards when given explicitly.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ByzantineRewards {
    /// When the honest team loses.
    pub win: f32,
    /// When the honest team wins.
    pub loss: f32,
}

impl Default for ByzantineRewards {
    fn default() -> Self {
        ByzantineRewards {
            win: 1.0,
            loss: -1.0,
        }
    }
}

impl Default for Rewards {
    fn default() -> Self {
        Rewards {
            correct_commit: 1.0,
            consistency_violation: -1.0,
            validity_violation: -1.0,
            termination_violation: -1.0,
            majority_violation: 0.0,
            majority_violation_zero: 0.0,
            majority_violation_one: 0.0,
            vote_violation: 0.0,
            round_penalty: 0.0,
            round_penalty_at: RoundPenaltyAt::End,
            terminal: Terminal::Sum,
            early_commit_penalty: 0.0,
            byzantine: None,
        }
    }
}

/// The strict majority of the inputs of the agents that have one, if there is one.
fn majority(n: usize, ep: &Episode) -> Option<u8> {
    let honest = crate::consensus::rules::all(n) & ep.followers;
    let ones = (ep.inputs & honest).count_ones();
    let zeros = honest.count_ones() - ones;
    (ones != zeros).then_some((ones > zeros) as u8)
}

impl Rewards {
    /// Honest agent `i`'s whole reward for a finished episode, what is paid
    /// per step included.
    pub fn honest(&self, spec: &EnvSpec, ep: &Episode, out: &Outcome, i: usize) -> f32 {
        self.honest_paid(spec, ep, out, i, true)
    }

    /// What honest agent `i` is paid at the end of an episode: its whole
    /// reward less what [`Rewards::per_step`] paid along the way.
    pub fn honest_at_end(&self, spec: &EnvSpec, ep: &Episode, out: &Outcome, i: usize) -> f32 {
        self.honest_paid(spec, ep, out, i, false)
    }

    /// Paid to an honest agent at every step it acts (0 unless
    /// `round_penalty_at = "every_step"`).
    pub fn per_step(&self) -> f32 {
        match self.round_penalty_at {
            RoundPenaltyAt::End => 0.0,
            RoundPenaltyAt::EveryStep => self.round_penalty,
        }
    }

    fn honest_paid(
        &self,
        spec: &EnvSpec,
        ep: &Episode,
        out: &Outcome,
        i: usize,
        steps: bool,
    ) -> f32 {
        let target = if spec.broadcasts() {
            // Only the sender has an input: the value to decide is an honest sender's.
            ep.required_value(spec)
        } else {
            majority(spec.n(), ep)
        };
        self.paid(spec.n(), spec.rounds(), ep, out, i, target, steps)
    }

    /// The whole reward for any game of `n` agents and `rounds` rounds whose
    /// agents all have inputs.
    pub fn honest_for(&self, n: usize, rounds: u8, ep: &Episode, out: &Outcome, i: usize) -> f32 {
        self.paid(n, rounds, ep, out, i, majority(n, ep), true)
    }

    /// `target`: the value [`Rewards::majority_violation`] pays against
    /// deciding otherwise; `steps`: include what is paid per step.
    #[allow(clippy::too_many_arguments)]
    fn paid(
        &self,
        n: usize,
        rounds: u8,
        ep: &Episode,
        out: &Outcome,
        i: usize,
        target: Option<u8>,
        steps: bool,
    ) -> f32 {
        let mut r = 0.0;
        match self.terminal {
            Terminal::Sum => {
                if out.honest_wins() {
                    r += self.correct_commit;
                }
                if !out.agreement {
                    r += self.consistency_violation;
                }
                if !out.validity {
                    r += self.validity_violation;
                }
                if !out.termination {
                    r += self.termination_violation;
                }
            }
            Terminal::FirstMatch => {
                r += if !out.agreement {
                    self.consistency_violation
                } else if !out.validity {
                    self.validity_violation
                } else if !out.termination {
                    self.termination_violation
                } else {
                    self.correct_commit
                };
            }
        }
        let round = match ep.decided_round[i] {
            0 => rounds,
            d => d,
        };
        match self.round_penalty_at {
            RoundPenaltyAt::End => r += self.round_penalty * (round - 1) as f32,
            // One per step it acted: one per round up to its commit (or the last).
            RoundPenaltyAt::EveryStep if steps => r += self.round_penalty * round as f32,
            RoundPenaltyAt::EveryStep => {}
        }
        if let Some(v) = ep.decision(i) {
            if round == 1 {
                r += self.early_commit_penalty;
            }
            if target.is_some_and(|t| t != v) {
                r += self.majority_violation;
                r += if v == 0 {
                    self.majority_violation_zero
                } else {
                    self.majority_violation_one
                };
            }
            let honest = crate::consensus::rules::all(n) & ep.followers;
            let all_yes = ep.inputs & honest == honest;
            if v == all_yes as u8 ^ 1 {
                r += self.vote_violation;
            }
        }
        r
    }

    /// The Byzantine team's reward for a finished episode.
    pub fn byzantine(&self, spec: &EnvSpec, ep: &Episode, out: &Outcome) -> f32 {
        match &self.byzantine {
            Some(b) => {
                if out.honest_wins() {
                    b.loss
                } else {
                    b.win
                }
            }
            None => {
                let honest: Vec<usize> = bits(ep.honest(spec)).collect();
                let total: f32 = honest.iter().map(|&i| self.honest(spec, ep, out, i)).sum();
                -total / honest.len() as f32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::comm::outcome;
    use crate::consensus::rules::Instance;
    use crate::consensus::spec::EnvConfig;

    fn game() -> EnvSpec {
        EnvSpec::new(&EnvConfig::default(), 3).unwrap()
    }

    #[test]
    fn table_terms_add_up() {
        let s = game();
        let table = Rewards {
            correct_commit: 1.0,
            consistency_violation: -2.0,
            validity_violation: -4.0,
            termination_violation: -8.0,
            majority_violation: -0.5,
            majority_violation_zero: 0.0,
            majority_violation_one: 0.0,
            vote_violation: -16.0,
            round_penalty: -0.1,
            round_penalty_at: RoundPenaltyAt::End,
            terminal: Terminal::Sum,
            early_commit_penalty: -0.25,
            byzantine: None,
        };
        // Agent 2 Byzantine; honest inputs 1, 1. Agent 0 commits 0 in round 1,
        // agent 1 commits 1 in round 3: agreement and validity both fail.
        // Every input is 1: agent 0's 0 is a vote violation too.
        let mut ep = Episode::new(Instance {
            byzantine: 0b100,
            inputs: 0b011,
            sender: 0,
        });
        ep.decided = 0b011;
        ep.values = 0b010;
        ep.decided_round[0] = 1;
        ep.decided_round[1] = 3;
        let o = outcome(&s, &ep);
        let r0 = table.honest(&s, &ep, &o, 0);
        let r1 = table.honest(&s, &ep, &o, 1);
        assert!((r0 - (-2.0 - 4.0 - 0.25 - 0.5 - 16.0)).abs() < 1e-6, "{r0}");
        assert!((r1 - (-2.0 - 4.0 - 0.2)).abs() < 1e-6, "{r1}");
        assert!((table.byzantine(&s, &ep, &o) - (-(r0 + r1) / 2.0)).abs() < 1e-6);
        let explicit = Rewards {
            byzantine: Some(ByzantineRewards {
                win: 3.0,
                loss: -1.0,
            }),
            ..table
        };
        assert_eq!(explicit.byzantine(&s, &ep, &o), 3.0);
        // The one-sided term: agent 0's 0 against a majority of 1 pays it
        // on top; a 1 against a majority of 0 would not.
        let one_sided = Rewards {
            majority_violation_zero: -1.0,
            ..table.clone()
        };
        let r0z = one_sided.honest(&s, &ep, &o, 0);
        assert!((r0z - (r0 - 1.0)).abs() < 1e-6, "{r0z}");
        ep.inputs = 0;
        ep.values = 0b011;
        let o = outcome(&s, &ep);
        assert_eq!(
            one_sided.honest(&s, &ep, &o, 0),
            table.honest(&s, &ep, &o, 0)
        );
        // Its mirror pays exactly there: agent 0's 1 against a majority of 0.
        let mirror = Rewards {
            majority_violation_one: -1.0,
            ..table.clone()
        };
        let r = table.honest(&s, &ep, &o, 0);
        assert!((mirror.honest(&s, &ep, &o, 0) - (r - 1.0)).abs() < 1e-6);
    }

    #[test]
    fn first_match_pays_only_the_first_rule_that_applies() {
        let s = game();
        let anchor = Rewards {
            validity_violation: -2.0,
            terminal: Terminal::FirstMatch,
            ..Rewards::default()
        };
        let summed = Rewards {
            terminal: Terminal::Sum,
            ..anchor.clone()
        };
        // Inputs all 0; agent 0 decides 0, agents 1 and 2 decide 1:
        // agreement and validity both fail.
        let mut ep = Episode::new(Instance {
            byzantine: 0,
            inputs: 0,
            sender: 0,
        });
        ep.decided = 0b111;
        ep.values = 0b110;
        for r in ep.decided_round.iter_mut().take(3) {
            *r = 2;
        }
        let o = outcome(&s, &ep);
        assert!(!o.agreement && !o.validity);
        assert_eq!(summed.honest(&s, &ep, &o, 0), -3.0);
        assert_eq!(anchor.honest(&s, &ep, &o, 0), -1.0);
        // All decide 1 against inputs all 0: validity alone.
        ep.values = 0b111;
        let o = outcome(&s, &ep);
        assert!(o.agreement && !o.validity);
        assert_eq!(anchor.honest(&s, &ep, &o, 0), -2.0);
        // All decide 0: a win.
        ep.values = 0;
        let o = outcome(&s, &ep);
        assert!(o.honest_wins());
        assert_eq!(anchor.honest(&s, &ep, &o, 0), 1.0);
        // Agent 2 never decides: termination, after agreement and validity.
        ep.decided = 0b011;
        let o = outcome(&s, &ep);
        assert!(o.agreement && o.validity && !o.termination);
        assert_eq!(anchor.honest(&s, &ep, &o, 0), -1.0);
        assert_eq!(summed.honest(&s, &ep, &o, 0), -1.0);
    }

    #[test]
    fn every_step_round_penalty_is_paid_per_step_not_at_the_end() {
        let s = game();
        let table = Rewards {
            round_penalty: -0.25,
            round_penalty_at: RoundPenaltyAt::EveryStep,
            ..Rewards::default()
        };
        let at_end = Rewards {
            round_penalty_at: RoundPenaltyAt::End,
            ..table.clone()
        };
        // Everyone decides 0 on inputs 0 in round 2: a win.
        let mut ep = Episode::new(Instance {
            byzantine: 0,
            inputs: 0,
            sender: 0,
        });
        ep.decided = 0b111;
        ep.values = 0;
        for r in ep.decided_round.iter_mut().take(3) {
            *r = 2;
        }
        let o = outcome(&s, &ep);
        // At the end: one round before the commit. Per step: two steps acted,
        // neither paid at the end.
        assert_eq!(at_end.per_step(), 0.0);
        assert_eq!(at_end.honest(&s, &ep, &o, 0), 0.75);
        assert_eq!(at_end.honest_at_end(&s, &ep, &o, 0), 0.75);
        assert_eq!(table.per_step(), -0.25);
        assert_eq!(table.honest_at_end(&s, &ep, &o, 0), 1.0);
        assert_eq!(table.honest(&s, &ep, &o, 0), 0.5);
    }

    #[test]
    fn broadcast_majority_is_the_honest_senders_input() {
        let cfg = EnvConfig {
            comm: crate::consensus::spec::Comm::Broadcast,
            identity: crate::consensus::spec::Identity::Pki,
            ..EnvConfig::default()
        };
        let s = EnvSpec::new(&cfg, 3).unwrap();
        let table = Rewards {
            majority_violation: -0.5,
            ..Rewards::default()
        };
        // Sender 0 honest with input 1; agent 1 decides 0: against its input.
        let mut ep = Episode::start(
            &s,
            Instance {
                byzantine: 0b100,
                inputs: 0b001,
                sender: 0,
            },
        );
        ep.decided = 0b011;
        ep.values = 0b001;
        let o = outcome(&s, &ep);
        assert!(!o.agreement && !o.validity);
        assert_eq!(table.honest(&s, &ep, &o, 1), -1.0 - 1.0 - 0.5);
        assert_eq!(table.honest(&s, &ep, &o, 0), -1.0 - 1.0);
        // A Byzantine sender: no input to pay against.
        ep.byzantine = 0b001;
        ep.followers = !0b001;
        let o = outcome(&s, &ep);
        assert_eq!(table.honest(&s, &ep, &o, 1), table.honest(&s, &ep, &o, 2));
    }
}
