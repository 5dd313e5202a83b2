//! What the adversary wants ([`Goal`]), what a figure counts ([`Score`]),
//! and the figures the search gives for one split or for uniform inputs.

use super::Solver;

/// What the adversary wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Goal {
    /// Two honest nodes decide different colours (the engine's agreement
    /// fails; an honest node left undecided at the cap breaks termination,
    /// not agreement, so it does not count here).
    Disagreement,
    /// Not every honest node decides this colour (the initial majority):
    /// the complement of the runner's `majority` count.
    NotAll(u8),
    /// Not every honest node decides one common colour: agreement or
    /// termination fails. On split inputs this is correctness failing
    /// (either colour is some honest node's input, so validity holds).
    Unsettled,
}

/// What a figure counts, for one initial split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Agreement fails ([`Goal::Disagreement`]).
    Disagreement,
    /// Not every honest node decides the initial honest majority (1 on a
    /// tied split, which has none).
    Majority,
    /// Agreement, termination or validity fails: the complement of the
    /// engine's honest win. On a unanimous split validity binds, so it is
    /// [`Goal::NotAll`] of that colour; on a split one, [`Goal::Unsettled`].
    Correctness,
}

impl Score {
    pub const ALL: [Score; 3] = [Score::Disagreement, Score::Majority, Score::Correctness];

    pub fn name(&self) -> &'static str {
        match self {
            Score::Disagreement => "disagreement",
            Score::Majority => "majority",
            Score::Correctness => "correctness",
        }
    }
}

/// The exact figures for one initial split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Honest nodes starting on colour 1.
    pub ones: usize,
    /// Largest probability of disagreement (agreement fails).
    pub disagreement: f64,
    /// Largest probability that the initial honest majority is not what
    /// every honest node decides; 1 on a tied split, which has no majority
    /// (the runner never counts a tied episode as a majority decision).
    pub majority: f64,
}

impl Solver {
    /// The largest probability of `goal` with `ones` honest nodes starting on 1.
    pub fn optimum(&mut self, goal: Goal, ones: usize) -> f64 {
        assert!(ones <= self.h, "{ones} ones among {} honest nodes", self.h);
        let key = self.start_key(ones);
        self.value(goal, 1, key)
    }

    /// Both figures for one initial split.
    pub fn figures(&mut self, ones: usize) -> Figures {
        let majority = self.score(Score::Majority, ones);
        Figures {
            ones,
            disagreement: self.score(Score::Disagreement, ones),
            majority,
        }
    }

    /// The largest probability of what `score` counts, with `ones` honest
    /// nodes starting on 1.
    pub fn score(&mut self, score: Score, ones: usize) -> f64 {
        match self.goal(score, ones) {
            Some(goal) => self.optimum(goal, ones),
            None => 1.0,
        }
    }

    /// The adversary's goal behind `score` with `ones` honest nodes starting
    /// on 1; `None` where the figure is 1 whatever is played (the majority
    /// of a tied split, which has none).
    pub fn goal(&self, score: Score, ones: usize) -> Option<Goal> {
        let zeros = self.h - ones;
        match score {
            Score::Disagreement => Some(Goal::Disagreement),
            Score::Majority if ones == zeros => None,
            Score::Majority => Some(Goal::NotAll((ones > zeros) as u8)),
            // Unanimous inputs: validity binds, so every node must decide them.
            Score::Correctness if ones == 0 => Some(Goal::NotAll(0)),
            Score::Correctness if zeros == 0 => Some(Goal::NotAll(1)),
            Score::Correctness => Some(Goal::Unsettled),
        }
    }

    /// [`Solver::score`] with the engine's default inputs (uniform and
    /// independent: each split in its binomial share, played at its best).
    pub fn uniform_score(&mut self, score: Score) -> f64 {
        let scale = 0.5f64.powi(self.h as i32);
        let mut sum = 0.0;
        for ones in 0..=self.h {
            sum += self.binom[self.h][ones] * scale * self.score(score, ones);
        }
        sum
    }

    /// Both figures for every initial split, `ones = 0..=n - f`.
    pub fn every_split(&mut self) -> Vec<Figures> {
        (0..=self.h).map(|ones| self.figures(ones)).collect()
    }

    /// Both figures with the engine's default inputs (no `env.ones`): every
    /// honest input uniform and independent, so `ones` is Binomial(n - f, 1/2)
    /// and the adversary, who sees the inputs, plays each split at its best.
    /// `ones` is reported as the number of honest nodes (every split).
    pub fn uniform(&mut self) -> Figures {
        let splits = self.every_split();
        let scale = 0.5f64.powi(self.h as i32);
        let (mut d, mut m) = (0.0, 0.0);
        for s in &splits {
            let w = self.binom[self.h][s.ones] * scale;
            d += w * s.disagreement;
            m += w * s.majority;
        }
        Figures {
            ones: self.h,
            disagreement: d,
            majority: m,
        }
    }
}
