//! A configuration (how many honest nodes are in each state) packed into
//! one integer key, the memo's index.

use super::{Node, Solver};

/// A configuration: how many honest nodes are in each state, `w` bits per
/// state, state `t` at bits `t * w ..`.
pub(super) type Key = u128;

impl Solver {
    pub(super) fn index(&self, node: Node) -> usize {
        if node.decided {
            node.colour as usize
        } else {
            2 + node.colour as usize * self.counters + node.counter as usize
        }
    }

    pub(super) fn node(&self, t: usize) -> Node {
        if t < 2 {
            Node {
                colour: t as u8,
                decided: true,
                counter: 0,
            }
        } else {
            let u = t - 2;
            Node {
                colour: (u / self.counters) as u8,
                decided: false,
                counter: (u % self.counters) as u8,
            }
        }
    }

    pub(super) fn states(&self) -> usize {
        2 + 2 * self.counters
    }

    pub(super) fn count(&self, key: Key, t: usize) -> usize {
        ((key >> (t as u32 * self.w)) & ((1 << self.w) - 1)) as usize
    }

    pub(super) fn unit(&self, t: usize) -> Key {
        1 << (t as u32 * self.w)
    }

    pub(super) fn key_of(&self, nodes: &[Node]) -> Key {
        nodes.iter().map(|&x| self.unit(self.index(x))).sum()
    }

    pub(super) fn start_key(&self, ones: usize) -> Key {
        ones as Key * self.unit(self.index(Node::start(1)))
            + (self.h - ones) as Key * self.unit(self.index(Node::start(0)))
    }
}
