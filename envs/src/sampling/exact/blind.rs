//! The search under [`super::Sight::Querier`]: the adversary answers per
//! querier without seeing the samples.

use super::key::Key;
use super::{Goal, Solver};

/// Blind adversary, one undecided state: how many nodes hold it, and the
/// distinct distributions of their next state (state index, probability)
/// that the adversary's choices give.
type BlindGroup = (usize, Vec<Vec<(usize, f64)>>);

impl Solver {
    /// The value under [`Sight::Querier`]: the adversary fixes, per querier,
    /// how many Byzantine nodes answer it 0 and how many 1 (the rest stay
    /// silent) before the samples are drawn; which of them the querier
    /// samples is then hypergeometric. Nodes in one state may be told
    /// different things (the adversary sees who asks), so the maximum runs
    /// over multisets of choices per state, each choice a distribution of
    /// the node's next state; the value of a choice profile is the
    /// expectation over the product of those distributions.
    pub(super) fn blind(&mut self, goal: Goal, round: u8, key: Key, hc: [usize; 2]) -> f64 {
        let f = self.spec.f;
        let choices: Vec<(usize, usize)> = (0..=f)
            .flat_map(|x0| (0..=f - x0).map(move |x1| (x0, x1)))
            .collect();
        // Per undecided state: its count, and the distinct next-state
        // distributions its choices give (sorted by state; summed in the
        // fixed order of compositions, then answers).
        let mut groups: Vec<BlindGroup> = vec![];
        for t in 2..self.states() {
            let c = self.count(key, t);
            if c == 0 {
                continue;
            }
            let node = self.node(t);
            let mut dists: Vec<Vec<(usize, f64)>> = vec![];
            for &(x0, x1) in &choices {
                let xn = f - x0 - x1;
                let mut dist: Vec<(usize, f64)> = vec![];
                for s in self.compositions() {
                    let p = self.sample_prob(node.colour, hc, s);
                    if p == 0.0 {
                        continue;
                    }
                    let (h0, h1, m) = s;
                    for b0 in 0..=m.min(x0) {
                        for b1 in 0..=(m - b0).min(x1) {
                            let bn = m - b0 - b1;
                            if bn > xn {
                                continue;
                            }
                            let q = self.binom[x0][b0] * self.binom[x1][b1] * self.binom[xn][bn]
                                / self.binom[f][m];
                            let next = self.index(self.next(node, [h0 + b0, h1 + b1], round));
                            match dist.iter_mut().find(|(u, _)| *u == next) {
                                Some(e) => e.1 += p * q,
                                None => dist.push((next, p * q)),
                            }
                        }
                    }
                }
                dist.sort_by_key(|&(u, _)| u);
                // Choices with the same effect are one choice.
                if !dists.contains(&dist) {
                    dists.push(dist);
                }
            }
            groups.push((c, dists));
        }
        let decided = key & ((1 << (2 * self.w)) - 1);
        let mut profile = vec![];
        let mut top = 0.0f64;
        self.profiles(
            goal,
            round,
            &groups,
            0,
            0,
            &mut vec![],
            &mut profile,
            decided,
            &mut top,
        );
        top
    }

    /// Every multiset of choices per state (group `g`, distribution `j` on,
    /// `left` nodes of the group still unassigned), keeping the best value.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn profiles(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        g: usize,
        j: usize,
        taken: &mut Vec<usize>,
        profile: &mut Vec<(usize, usize, usize)>,
        decided: Key,
        top: &mut f64,
    ) {
        if *top >= 1.0 {
            return;
        }
        if g == groups.len() {
            let v = self.mixed(goal, round, groups, profile, 0, 1.0, decided);
            *top = top.max(v);
            return;
        }
        let (c, dists) = &groups[g];
        let used: usize = taken.iter().sum();
        let left = c - used;
        if j + 1 == dists.len() {
            profile.push((g, j, left));
            self.profiles(
                goal,
                round,
                groups,
                g + 1,
                0,
                &mut vec![],
                profile,
                decided,
                top,
            );
            profile.pop();
            return;
        }
        for q in 0..=left {
            profile.push((g, j, q));
            taken.push(q);
            self.profiles(goal, round, groups, g, j + 1, taken, profile, decided, top);
            taken.pop();
            profile.pop();
        }
    }

    /// The expectation of the next round's value when `profile[i..]` nodes
    /// (group, distribution, how many) move at random by their distributions.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mixed(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        profile: &[(usize, usize, usize)],
        i: usize,
        prob: f64,
        key: Key,
    ) -> f64 {
        if i == profile.len() {
            self.work += 1;
            return prob * self.value(goal, round + 1, key);
        }
        let (g, j, q) = profile[i];
        if q == 0 {
            return self.mixed(goal, round, groups, profile, i + 1, prob, key);
        }
        let dist = &groups[g].1[j];
        let mut parts = vec![0usize; dist.len()];
        let mut sum = 0.0;
        self.fall(
            goal, round, groups, profile, i, prob, key, dist, q, &mut parts, 0, &mut sum,
        );
        sum
    }

    /// Spreads `left` nodes of one profile entry over the next states of
    /// `dist` from `j` on, each spread weighted by its multinomial probability.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fall(
        &mut self,
        goal: Goal,
        round: u8,
        groups: &[BlindGroup],
        profile: &[(usize, usize, usize)],
        i: usize,
        prob: f64,
        key: Key,
        dist: &[(usize, f64)],
        left: usize,
        parts: &mut Vec<usize>,
        j: usize,
        sum: &mut f64,
    ) {
        if j + 1 == dist.len() {
            parts[j] = left;
            let total: usize = parts.iter().sum();
            let mut p = prob * self.multinomial(total, parts);
            let mut k = key;
            for (q, &(t, pt)) in parts.iter().zip(dist) {
                p *= pt.powi(*q as i32);
                k += *q as Key * self.unit(t);
            }
            *sum += self.mixed(goal, round, groups, profile, i + 1, p, k);
            return;
        }
        for q in 0..=left {
            parts[j] = q;
            self.fall(
                goal,
                round,
                groups,
                profile,
                i,
                prob,
                key,
                dist,
                left - q,
                parts,
                j + 1,
                sum,
            );
        }
    }
}
