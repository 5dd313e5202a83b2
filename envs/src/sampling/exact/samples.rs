//! The search under [`super::Sight::Samples`]: the adversary sees every
//! sample of the round, so each node's options are known before it
//! answers, and it picks the best joint choice.

use super::key::Key;
use super::{Goal, Node, Solver};

impl Solver {
    /// The states node `node` can be moved to, as a bit set over state
    /// indices, when its sample holds `h0` honest 0s, `h1` honest 1s and `m`
    /// Byzantine nodes (each of which answers 0, 1 or nothing).
    pub(super) fn options(&self, node: Node, (h0, h1, m): (usize, usize, usize), round: u8) -> u64 {
        let mut mask = 0u64;
        for b0 in 0..=m {
            for b1 in 0..=m - b0 {
                mask |= 1 << self.index(self.next(node, [h0 + b0, h1 + b1], round));
            }
        }
        mask
    }

    /// The expectation over every node's option set (group by group: the
    /// multinomial over the option sets of the nodes sharing a state), of
    /// the best joint choice.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn expect(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[(usize, Vec<(u64, f64)>)],
        g: usize,
        prob: f64,
        choice: &mut Vec<(u64, usize)>,
        decided: Key,
    ) -> f64 {
        if g == groups.len() {
            return prob * self.best(goal, round + 1, choice, 0, decided);
        }
        let (c, dist) = &groups[g];
        let mut parts = vec![0usize; dist.len()];
        let mut sum = 0.0;
        self.split(
            goal, round, groups, g, prob, choice, decided, *c, dist, &mut parts, 0, &mut sum,
        );
        sum
    }

    /// Enumerates how the `left` remaining nodes of group `g` fall over its
    /// option sets from `j` on, weighting each split by its multinomial probability.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn split(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[(usize, Vec<(u64, f64)>)],
        g: usize,
        prob: f64,
        choice: &mut Vec<(u64, usize)>,
        decided: Key,
        left: usize,
        dist: &[(u64, f64)],
        parts: &mut Vec<usize>,
        j: usize,
        sum: &mut f64,
    ) {
        if j + 1 == dist.len() {
            parts[j] = left;
            // Multinomial coefficient and the probabilities, in a fixed order.
            let total: usize = parts.iter().sum();
            let mut p = prob * self.multinomial(total, parts);
            for (q, &(_, pq)) in parts.iter().zip(dist) {
                p *= pq.powi(*q as i32);
            }
            let before = choice.len();
            for (q, &(mask, _)) in parts.iter().zip(dist) {
                if *q > 0 {
                    choice.push((mask, *q));
                }
            }
            *sum += self.expect(goal, round, groups, g + 1, p, choice, decided);
            choice.truncate(before);
            return;
        }
        for q in 0..=left {
            parts[j] = q;
            self.split(
                goal,
                round,
                groups,
                g,
                prob,
                choice,
                decided,
                left - q,
                dist,
                parts,
                j + 1,
                sum,
            );
        }
    }

    /// The adversary's best joint choice: every node of choice group `i`
    /// (an option set and how many nodes drew it) moved to one of its
    /// options, the best configuration reached.
    pub(super) fn best(
        &mut self,
        goal: Goal,
        round: u8,
        choice: &[(u64, usize)],
        i: usize,
        key: Key,
    ) -> f64 {
        if i == choice.len() {
            self.work += 1;
            return self.value(goal, round, key);
        }
        let (mask, c) = choice[i];
        if mask.count_ones() == 1 {
            let t = mask.trailing_zeros() as usize;
            return self.best(goal, round, choice, i + 1, key + c as Key * self.unit(t));
        }
        let opts: Vec<usize> = crate::consensus::rules::bits(mask).collect();
        let mut top = 0.0f64;
        self.spread(goal, round, choice, i, key, &opts, 0, c, &mut top);
        top
    }

    /// Spreads `left` nodes over options `opts[j..]`, keeping the best value.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spread(
        &mut self,
        goal: Goal,
        round: u8,
        choice: &[(u64, usize)],
        i: usize,
        key: Key,
        opts: &[usize],
        j: usize,
        left: usize,
        top: &mut f64,
    ) {
        // A probability cannot beat 1: the rest of the search is moot.
        if *top >= 1.0 {
            return;
        }
        if j + 1 == opts.len() {
            let v = self.best(
                goal,
                round,
                choice,
                i + 1,
                key + left as Key * self.unit(opts[j]),
            );
            *top = top.max(v);
            return;
        }
        for q in 0..=left {
            let k = key + q as Key * self.unit(opts[j]);
            self.spread(goal, round, choice, i, k, opts, j + 1, left - q, top);
        }
    }
}
