//! The optimal adversary played in the engine: its move in a round, and
//! the answers that realise it.

use super::key::Key;
use super::{Goal, Node, Solver};

impl Solver {
    /// Answers that move `node` to `target`: (how many of its `m` sampled
    /// Byzantine peers answer 0, how many 1; the rest stay silent).
    pub fn answers_for(
        &self,
        node: Node,
        (h0, h1, m): (usize, usize, usize),
        round: u8,
        target: Node,
    ) -> Option<(usize, usize)> {
        (0..=m)
            .flat_map(|b0| (0..=m - b0).map(move |b1| (b0, b1)))
            .find(|&(b0, b1)| self.next(node, [h0 + b0, h1 + b1], round) == target)
    }

    /// The optimal adversary's move in a round, for playing it: given every
    /// undecided honest node's state and sample composition `(h0, h1, m)`,
    /// and the decided nodes, the state each undecided node should be moved
    /// to (realise it with [`Solver::answers_for`]). Ties go to the first
    /// best choice in a fixed order.
    pub fn best_move(
        &mut self,
        goal: Goal,
        round: u8,
        acting: &[(Node, (usize, usize, usize))],
        decided: &[Node],
    ) -> Vec<Node> {
        let base = self.key_of(decided);
        let opts: Vec<Vec<usize>> = acting
            .iter()
            .map(|&(node, s)| crate::consensus::rules::bits(self.options(node, s, round)).collect())
            .collect();
        let mut pick = vec![0usize; acting.len()];
        let mut best = (f64::NEG_INFINITY, pick.clone());
        loop {
            let key = base
                + pick
                    .iter()
                    .zip(&opts)
                    .map(|(&p, o)| self.unit(o[p]))
                    .sum::<Key>();
            let v = self.value(goal, round + 1, key);
            if v > best.0 {
                best = (v, pick.clone());
            }
            // Next choice, as a mixed-radix counter.
            let mut i = 0;
            while i < pick.len() {
                pick[i] += 1;
                if pick[i] < opts[i].len() {
                    break;
                }
                pick[i] = 0;
                i += 1;
            }
            if i == pick.len() {
                break;
            }
        }
        best.1
            .iter()
            .zip(&opts)
            .map(|(&p, o)| self.node(o[p]))
            .collect()
    }
}
