//! The honest rules the search knows, as next-state functions, and one
//! honest node's state.

use super::Solver;
use crate::sampling::{Trivial, COMMIT};

/// The honest rules the search knows, as next-state functions: the
/// scripted rules of `super`, and any rule of (round, own colour,
/// counts) given as a table (a learned policy played greedily has that
/// shape: its observation is exactly those).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `slush::Slush`: adopt the other colour on `alpha` answers of it;
    /// commit in the last round.
    Slush,
    /// `slush::Snowflake`: Slush plus a counter of consecutive successful
    /// queries; commit on reaching `beta` while keeping the colour.
    Snowflake,
    /// A stateless rule, action by action.
    Table(Table),
    /// `slush::Trivial`: always one colour, one's own input, or the first
    /// sample's majority; the baselines a reader thinks of.
    Trivial(Trivial),
}

/// An honest action (`slush::HOLD0`, `HOLD1` or `COMMIT`) for every round,
/// own colour and counts `(0s, 1s)` with `0s + 1s <= k`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub k: usize,
    pub rounds: u8,
    actions: Vec<u8>,
}

impl Table {
    /// Fills the table from `act(round, colour, [0s, 1s])`, rounds from 1.
    pub fn new(k: usize, rounds: u8, mut act: impl FnMut(u8, u8, [usize; 2]) -> u8) -> Table {
        let mut actions = vec![COMMIT; rounds as usize * 2 * (k + 1) * (k + 1)];
        for round in 1..=rounds {
            for colour in 0..2u8 {
                for z in 0..=k {
                    for o in 0..=k - z {
                        actions[Table::at(k, round, colour, [z, o])] = act(round, colour, [z, o]);
                    }
                }
            }
        }
        Table { k, rounds, actions }
    }

    fn at(k: usize, round: u8, colour: u8, [z, o]: [usize; 2]) -> usize {
        ((round as usize - 1) * 2 + colour as usize) * (k + 1) * (k + 1) + z * (k + 1) + o
    }

    pub fn action(&self, round: u8, colour: u8, c: [usize; 2]) -> u8 {
        self.actions[Table::at(self.k, round, colour, c)]
    }
}

impl Rule {
    pub fn parse(name: &str) -> Option<Rule> {
        match name {
            "slush" => Some(Rule::Slush),
            "snowflake" => Some(Rule::Snowflake),
            _ => Trivial::parse(name).map(Rule::Trivial),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Rule::Slush => "slush",
            Rule::Snowflake => "snowflake",
            Rule::Table(_) => "table",
            Rule::Trivial(t) => t.name(),
        }
    }

    /// Every scripted rule's name: Slush, Snowflake and the trivial ones.
    pub const NAMES: &'static [&'static str] = &[
        "slush",
        "snowflake",
        "always0",
        "always1",
        "own_input",
        "first_sample",
    ];
}

/// One honest node's state. The counter is Snowflake's (0 under Slush, and
/// 0 once decided: a decided node's counter is never read again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Node {
    pub colour: u8,
    pub decided: bool,
    pub counter: u8,
}

impl Node {
    pub fn start(colour: u8) -> Node {
        Node {
            colour,
            decided: false,
            counter: 0,
        }
    }
}

impl Solver {
    /// The state of undecided node `node` after a round in which its sample
    /// answered `c` (0s, 1s): the engine's rule and step, exactly
    /// (`Slush::act`, `Snowflake::act`, `SlushEnv::step`).
    pub fn next(&self, node: Node, c: [usize; 2], round: u8) -> Node {
        debug_assert!(!node.decided);
        let commit = Node {
            colour: node.colour,
            decided: true,
            counter: 0,
        };
        let stateless = match &self.rule {
            Rule::Table(t) => Some(t.action(round, node.colour, c)),
            Rule::Trivial(t) => Some(t.action(round, self.spec.rounds, node.colour, c)),
            Rule::Slush | Rule::Snowflake => None,
        };
        if let Some(action) = stateless {
            return match action {
                COMMIT => commit,
                a if round < self.spec.rounds => Node::start(a.min(1)),
                // Holding in the last round is no decision (the engine's step).
                _ => node,
            };
        }
        // Both scripted rules commit in the last round, whatever the answers.
        if round >= self.spec.rounds {
            return commit;
        }
        let own = node.colour as usize;
        let other = 1 - own;
        match &self.rule {
            Rule::Table(_) | Rule::Trivial(_) => unreachable!("handled above"),
            Rule::Slush => Node::start(if c[other] >= self.spec.alpha {
                other as u8
            } else {
                node.colour
            }),
            Rule::Snowflake => {
                // The other colour is checked first, as the engine does (it
                // matters only when k >= 2 alpha).
                let (colour, counter) = if c[other] >= self.spec.alpha {
                    (other as u8, 1)
                } else if c[own] >= self.spec.alpha {
                    (node.colour, node.counter + 1)
                } else {
                    (node.colour, 0)
                };
                if counter as usize >= self.spec.beta && colour == node.colour {
                    commit
                } else {
                    Node {
                        colour,
                        decided: false,
                        counter,
                    }
                }
            }
        }
    }
}
