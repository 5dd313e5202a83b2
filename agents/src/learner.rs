//! Policy-gradient learners for factored categorical policies: REINFORCE
//! with a learned baseline, and PPO (clipped objective, GAE, value head,
//! entropy bonus, gradient-norm clipping, minibatches, several epochs), as in
//! CleanRL's ppo.py. They see observations, masks, actions and rewards:
//! nothing of consensus.
//!
//! The losses and their gradients are written out over plain arrays, in a
//! fixed order, with a pure-Rust `exp` and `ln`: a run's numbers depend on
//! its config and seed only, never on the CPU (docs/reproducibility.md).

use crate::adam::Adam;
use crate::buffer::Buffer;
use crate::mlp::{BackScratch, Frozen, Mlp};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Classes per head: `send`/`commit 0`/`commit 1`, or `0`/`1`/`nothing`.
pub const CLASSES: usize = 3;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algo {
    Ppo,
    Reinforce,
}

/// A learning team's hyperparameters (`[honest.learn]`, `[byzantine.learn]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LearnConfig {
    /// `ppo` or `reinforce`.
    pub algo: Algo,
    /// Hidden layer sizes of the policy and of the value network.
    pub hidden: Vec<usize>,
    /// Adam learning rate.
    pub lr: f64,
    /// Discount per step (episodes are a few rounds: 1 is undiscounted).
    pub gamma: f32,
    /// GAE lambda (PPO; REINFORCE uses 1, the Monte Carlo return).
    pub gae_lambda: f32,
    /// PPO clip coefficient on the probability ratio.
    pub clip: f32,
    /// Weight of the entropy bonus.
    pub entropy_coef: f32,
    /// Weight of the value loss.
    pub value_coef: f32,
    /// Gradients are rescaled to at most this global norm.
    pub max_grad_norm: f32,
    /// PPO passes over each batch (REINFORCE: one).
    pub update_epochs: usize,
    /// Samples per gradient step.
    pub minibatch: usize,
    /// Normalise advantages per minibatch.
    pub normalize_advantages: bool,
    /// REINFORCE's baseline: `value` (a value network trained alongside) or
    /// `batch_mean` (the mean return over every step of the batch; no value
    /// network is trained). PPO always uses the value network.
    #[serde(skip_serializing_if = "Baseline::is_value")]
    pub baseline: Baseline,
    /// The policy's first output bias per class, the same for every head
    /// (zeros: every class alike, so the first policy is near uniform). A
    /// prior the learning moves: in reliable broadcast, whose last class is
    /// "none", `[0, 0, 2]` starts every agent mostly idle.
    #[serde(skip_serializing_if = "is_zero")]
    pub class_bias: [f32; CLASSES],
    /// A monotone policy: in every head, the logit of class 0 minus that of
    /// the last class never falls as any input grows. Where class 0 is
    /// "act" and the last "do nothing" (reliable broadcast's per-value
    /// rows, whose inputs are evidence for one value), more evidence never
    /// turns an action off, so the greedy protocol is a set of monotone
    /// threshold rules by construction. Kept by projection
    /// ([`Mlp::project_monotone`]) at the start and after every step.
    #[serde(skip_serializing_if = "is_false")]
    pub monotone: bool,
}

fn is_zero(b: &[f32; CLASSES]) -> bool {
    b.iter().all(|&x| x == 0.0)
}

fn is_false(b: &bool) -> bool {
    !b
}

/// What REINFORCE subtracts from a step's return to get its advantage.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// A value network's estimate of the step's return, trained alongside.
    #[default]
    Value,
    /// One scalar: the mean return over every step of the batch (the
    /// textbook REINFORCE baseline); the value network is not trained.
    BatchMean,
}

impl Baseline {
    fn is_value(&self) -> bool {
        *self == Baseline::Value
    }
}

/// Why a [`LearnConfig`] cannot train: the field (`hidden`, not
/// `honest.learn.hidden`: the caller knows the team), its value as written
/// and the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

impl LearnConfig {
    /// The first setting a learner cannot train with, if any. Every game's
    /// validation calls this for each team, so a setting that would divide
    /// by zero (a layer of 0 units, a minibatch of 0 samples) or diverge is
    /// refused up front by its key in every game alike, never met as a
    /// panic inside the networks.
    pub fn check(&self) -> Result<(), Refusal> {
        let refuse = |field, value: &dyn std::fmt::Display, reason: &str| {
            Err(Refusal {
                field,
                value: value.to_string(),
                reason: reason.to_string(),
            })
        };
        let range = |field, x: f64, lo: f64, hi: f64, reason: &str| {
            if (lo..=hi).contains(&x) {
                Ok(())
            } else {
                refuse(field, &x, reason)
            }
        };
        if self.lr <= 0.0 {
            return refuse("lr", &self.lr, "needs a positive learning rate");
        }
        range(
            "lr",
            self.lr,
            0.0,
            1.0,
            "Adam diverges with a learning rate above 1: use one in (0, 1]",
        )?;
        range(
            "gamma",
            self.gamma.into(),
            0.0,
            1.0,
            "a discount is in [0, 1]",
        )?;
        range(
            "gae_lambda",
            self.gae_lambda.into(),
            0.0,
            1.0,
            "GAE's lambda is in [0, 1]",
        )?;
        for b in self.class_bias {
            range(
                "class_bias",
                b.into(),
                -20.0,
                20.0,
                "a first logit bias past 20 makes a class all but certain (or impossible) \
                 from the start",
            )?;
        }
        if self.clip <= 0.0 {
            return refuse(
                "clip",
                &self.clip,
                "PPO's clip on the probability ratio must be positive",
            );
        }
        if self.max_grad_norm <= 0.0 {
            return refuse(
                "max_grad_norm",
                &self.max_grad_norm,
                "gradients are rescaled to at most this norm: it must be positive",
            );
        }
        for (field, x) in [
            ("entropy_coef", self.entropy_coef),
            ("value_coef", self.value_coef),
        ] {
            range(field, x.into(), 0.0, 1e3, "a loss weight is in [0, 1000]")?;
        }
        if self.baseline == Baseline::BatchMean && self.algo != Algo::Reinforce {
            return refuse(
                "baseline",
                &"\"batch_mean\"",
                "only REINFORCE takes the batch-mean baseline (PPO's advantages need the \
                 value network): set algo = \"reinforce\" or baseline = \"value\"",
            );
        }
        if !(1..=1000).contains(&self.update_epochs) {
            return refuse(
                "update_epochs",
                &self.update_epochs,
                "passes over each batch: at least 1 (else the team never learns), at most 1000",
            );
        }
        // A minibatch of 0 samples never ends an epoch's pass.
        if self.minibatch == 0 {
            return refuse("minibatch", &0, "needs at least 1 sample");
        }
        // A layer of 0 units passes nothing on, and the kernels find a
        // layer's fan-in by dividing by its width.
        if self.hidden.contains(&0) {
            return refuse(
                "hidden",
                &format!("{:?}", self.hidden),
                "layers need at least 1 unit",
            );
        }
        Ok(())
    }
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            algo: Algo::Ppo,
            hidden: vec![64, 64],
            lr: 3e-3,
            gamma: 1.0,
            gae_lambda: 0.95,
            clip: 0.2,
            entropy_coef: 0.01,
            value_coef: 0.5,
            max_grad_norm: 0.5,
            update_epochs: 4,
            minibatch: 1024,
            normalize_advantages: true,
            baseline: Baseline::Value,
            class_bias: [0.0; CLASSES],
            monotone: false,
        }
    }
}

/// What one update did, with CleanRL's metric names in mind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
    /// CleanRL's `approx_kl`: the mean of `(ratio - 1) - log ratio`.
    pub approx_kl: f64,
    /// CleanRL's `old_approx_kl`: the mean of `-log ratio`.
    pub old_approx_kl: f64,
    pub clipfrac: f64,
    /// The value head's explained variance on the batch: `1 - Var(returns -
    /// values) / Var(returns)`, with the behaviour policy's value estimates.
    pub explained_variance: f64,
    /// The mean shaped return of the batch's trajectories (undiscounted).
    pub mean_return: f64,
    pub samples: u64,
}

/// Learner statistics summed over updates, for their mean (the sample
/// count is a total, not a mean).
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsSum {
    sum: Stats,
    count: f64,
    /// Updates whose explained variance is defined (their returns varied).
    explained: f64,
}

impl StatsSum {
    pub fn add(&mut self, s: &Stats) {
        self.sum.policy_loss += s.policy_loss;
        self.sum.value_loss += s.value_loss;
        self.sum.entropy += s.entropy;
        self.sum.approx_kl += s.approx_kl;
        self.sum.old_approx_kl += s.old_approx_kl;
        self.sum.clipfrac += s.clipfrac;
        if s.explained_variance.is_finite() {
            self.sum.explained_variance += s.explained_variance;
            self.explained += 1.0;
        }
        self.sum.mean_return += s.mean_return;
        self.sum.samples += s.samples;
        self.count += 1.0;
    }

    /// The mean of what was added, or `None` if nothing was.
    pub fn mean(&self) -> Option<Stats> {
        (self.count > 0.0).then(|| Stats {
            policy_loss: self.sum.policy_loss / self.count,
            value_loss: self.sum.value_loss / self.count,
            entropy: self.sum.entropy / self.count,
            approx_kl: self.sum.approx_kl / self.count,
            old_approx_kl: self.sum.old_approx_kl / self.count,
            clipfrac: self.sum.clipfrac / self.count,
            // NaN (an empty cell) only if no update's returns varied.
            explained_variance: self.sum.explained_variance / self.explained,
            mean_return: self.sum.mean_return / self.count,
            samples: self.sum.samples,
        })
    }
}

/// The acting side of a learner: plain arrays.
#[derive(Clone, Debug)]
pub struct Actor {
    pub policy: Frozen,
    pub critic: Frozen,
    pub heads: usize,
}

/// Reusable buffers for [`Actor::act`].
#[derive(Default)]
pub struct ActScratch {
    hidden: [Vec<f32>; 2],
    logits: Vec<f32>,
    values: Vec<f32>,
    /// The distinct rows (observation and masks) of a call, in order of
    /// first appearance, and each row's index among them.
    distinct_obs: Vec<f32>,
    distinct_masks: Vec<u8>,
    distinct_of: Vec<u32>,
    /// Open-addressing table of distinct rows by hash (`u32::MAX`: empty).
    table: Vec<u32>,
    /// Per distinct row and head: its softmax, ready to sample from.
    heads: Vec<Head>,
    /// Calls left to run without looking for repeated rows: set when a call
    /// found most of its rows distinct, where the search costs more than it
    /// saves (the results are the same bits either way).
    skip: u32,
}

/// One head's categorical distribution over the allowed classes, as
/// [`pick`] computes it: the shifted logits, their exponentials (masked
/// classes 0) and sum, `ln` of the sum, and the greedy choice.
#[derive(Clone, Copy, Default)]
struct Head {
    shifted: [f32; CLASSES],
    p: [f32; CLASSES],
    sum: f32,
    ln_sum: f32,
    mask: u8,
    greedy: u32,
}

impl Head {
    fn new(logits: &[f32], mask: u8) -> Head {
        let (shifted, p, sum) = softmax_parts(logits, mask);
        Head {
            shifted,
            p,
            sum,
            ln_sum: libm::logf(sum),
            mask,
            greedy: greedy_choice(logits, mask),
        }
    }

    /// `(class, log-probability)`, drawing from `rng` unless `greedy`.
    #[inline]
    fn pick(&self, greedy: bool, rng: &mut ChaCha8Rng) -> (u32, f32) {
        let c = if greedy {
            self.greedy
        } else {
            draw(&self.p, self.sum, self.mask, rng)
        };
        (c, self.shifted[c as usize] - self.ln_sum)
    }
}

/// A cheap hash of a row's bits (four independent lanes).
#[inline]
fn row_hash(x: &[f32], masks: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = [1u64, 2, 3, 4];
    let mut chunks = x.chunks_exact(8);
    for c in chunks.by_ref() {
        for l in 0..4 {
            let v = (c[2 * l].to_bits() as u64) << 32 | c[2 * l + 1].to_bits() as u64;
            h[l] = (h[l] ^ v).wrapping_mul(K).rotate_left(29);
        }
    }
    for (i, v) in chunks.remainder().iter().enumerate() {
        h[i % 4] = (h[i % 4] ^ v.to_bits() as u64)
            .wrapping_mul(K)
            .rotate_left(29);
    }
    for (i, &m) in masks.iter().enumerate() {
        h[i % 4] = (h[i % 4] ^ m as u64).wrapping_mul(K).rotate_left(29);
    }
    let h = h[0] ^ h[1].rotate_left(16) ^ h[2].rotate_left(32) ^ h[3].rotate_left(48);
    (h ^ h >> 31).wrapping_mul(K)
}

/// The same bits (NaNs and signed zeros told apart as bits).
#[inline]
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl Actor {
    /// For `rows` observations with their per-head masks, picks an action per
    /// head (sampled from our stream, or the most likely allowed class when
    /// `greedy`) and returns each row's log-probability and value estimate.
    ///
    /// The networks run once per distinct row (observation and masks): a
    /// row's outputs depend on that row alone (every kernel keeps rows
    /// apart), and so do its softmax and `ln`. Only the draws are per row,
    /// in row order, as if every row were computed on its own. When a call
    /// finds most of its rows distinct, the next 15 calls run every row
    /// without looking (the same bits, without the search's cost).
    #[allow(clippy::too_many_arguments)]
    pub fn act(
        &self,
        obs: &[f32],
        masks: &[u8],
        rows: usize,
        greedy: bool,
        rng: &mut ChaCha8Rng,
        scratch: &mut ActScratch,
        actions: &mut [u32],
        logp: &mut [f32],
        values: Option<&mut [f32]>,
    ) {
        let (d, heads) = (self.policy.inputs(), self.heads);
        let s = scratch;
        let (x, m, distinct) = if s.skip == 0 {
            let distinct = s.dedup(obs, masks, rows, d, heads);
            if distinct * 4 > rows * 3 {
                s.skip = 15;
            }
            (&s.distinct_obs[..], &s.distinct_masks[..], distinct)
        } else {
            s.skip -= 1;
            s.distinct_of.clear();
            s.distinct_of.extend(0..rows as u32);
            (obs, masks, rows)
        };
        self.policy
            .forward(x, distinct, &mut s.hidden, &mut s.logits);
        s.heads.clear();
        for u in 0..distinct {
            for h in 0..heads {
                let z = &s.logits[(u * heads + h) * CLASSES..][..CLASSES];
                s.heads.push(Head::new(z, m[u * heads + h]));
            }
        }
        for r in 0..rows {
            let u = s.distinct_of[r] as usize;
            let mut total = 0.0;
            for h in 0..heads {
                let (a, lp) = s.heads[u * heads + h].pick(greedy, rng);
                actions[r * heads + h] = a;
                total += lp;
            }
            logp[r] = total;
        }
        if let Some(values) = values {
            self.critic
                .forward(x, distinct, &mut s.hidden, &mut s.values);
            for (r, v) in values[..rows].iter_mut().enumerate() {
                *v = s.values[s.distinct_of[r] as usize];
            }
        }
    }
}

impl ActScratch {
    /// Gathers the distinct rows of `obs` and `masks` (rows of `d` and
    /// `heads`) into `distinct_obs` and `distinct_masks`, in order of first
    /// appearance, and each row's index among them into `distinct_of`.
    /// Returns how many there are.
    fn dedup(&mut self, obs: &[f32], masks: &[u8], rows: usize, d: usize, heads: usize) -> usize {
        let cap = (2 * rows).next_power_of_two().max(16);
        self.table.clear();
        self.table.resize(cap, u32::MAX);
        self.distinct_obs.clear();
        self.distinct_masks.clear();
        self.distinct_of.clear();
        let mut distinct = 0usize;
        for r in 0..rows {
            let (x, m) = (&obs[r * d..][..d], &masks[r * heads..][..heads]);
            let mut slot = row_hash(x, m) as usize & (cap - 1);
            let u = loop {
                let u = self.table[slot];
                if u == u32::MAX {
                    self.table[slot] = distinct as u32;
                    self.distinct_obs.extend_from_slice(x);
                    self.distinct_masks.extend_from_slice(m);
                    distinct += 1;
                    break distinct - 1;
                }
                let u = u as usize;
                if same_bits(&self.distinct_obs[u * d..][..d], x)
                    && self.distinct_masks[u * heads..][..heads] == *m
                {
                    break u;
                }
                slot = (slot + 1) & (cap - 1);
            };
            self.distinct_of.push(u as u32);
        }
        distinct
    }
}

/// A head's allowed logits shifted by their maximum and exponentiated:
/// `(shifted, exps, sum)`, masked classes 0. Acting and training share it,
/// so a freshly sampled action's log-probability is recomputed bit for bit.
#[inline]
fn softmax_parts(logits: &[f32], mask: u8) -> ([f32; CLASSES], [f32; CLASSES], f32) {
    let allowed = |c: usize| mask >> c & 1 == 1;
    let max = (0..CLASSES)
        .filter(|&c| allowed(c))
        .map(|c| logits[c])
        .fold(f32::NEG_INFINITY, f32::max);
    let (mut shifted, mut e) = ([0.0f32; CLASSES], [0.0f32; CLASSES]);
    let mut sum = 0.0;
    for c in (0..CLASSES).filter(|&c| allowed(c)) {
        shifted[c] = logits[c] - max;
        e[c] = libm::expf(shifted[c]);
        sum += e[c];
    }
    (shifted, e, sum)
}

/// The most likely allowed class; ties go to the lowest, so a greedy
/// policy is deterministic.
#[inline]
fn greedy_choice(logits: &[f32], mask: u8) -> u32 {
    let allowed = |c: usize| mask >> c & 1 == 1;
    (0..CLASSES)
        .filter(|&c| allowed(c))
        .fold(None, |best: Option<usize>, c| match best {
            Some(b) if logits[b] >= logits[c] => Some(b),
            _ => Some(c),
        })
        .expect("every head allows some class") as u32
}

/// One categorical draw from the allowed classes' exponentials `p` (sum
/// `sum`): a uniform times the sum, walked down the classes in order.
#[inline]
fn draw(p: &[f32; CLASSES], sum: f32, mask: u8, rng: &mut ChaCha8Rng) -> u32 {
    let allowed = |c: usize| mask >> c & 1 == 1;
    let mut u = rng.random::<f32>() * sum;
    let mut last = None;
    for c in (0..CLASSES).filter(|&c| allowed(c)) {
        last = Some(c);
        if u < p[c] {
            return c as u32;
        }
        u -= p[c];
    }
    last.expect("every head allows some class") as u32
}

/// One categorical draw over the allowed classes: `(class, log-probability)`.
/// Greedy ties go to the lowest class, so a greedy policy is deterministic.
pub fn pick(logits: &[f32], mask: u8, greedy: bool, rng: &mut ChaCha8Rng) -> (u32, f32) {
    Head::new(logits, mask).pick(greedy, rng)
}

/// Fisher-Yates, from our own stream.
fn shuffle(order: &mut [usize], rng: &mut ChaCha8Rng) {
    for k in (1..order.len()).rev() {
        order.swap(k, rng.random_range(0..=k));
    }
}

/// A policy network with one categorical head per factored action, a value
/// network, and one Adam optimiser over both.
pub struct Learner {
    pub cfg: LearnConfig,
    pub heads: usize,
    pub policy: Mlp,
    pub critic: Mlp,
    pub opt: Adam,
    work: StepWork,
}

/// One minibatch: `rows` steps, flat.
#[derive(Default)]
pub struct Minibatch {
    pub rows: usize,
    pub obs: Vec<f32>,
    pub masks: Vec<u8>,
    pub actions: Vec<u32>,
    pub old_logp: Vec<f32>,
    pub advantages: Vec<f32>,
    pub returns: Vec<f32>,
}

/// The arrays of a gradient step, kept between steps (no allocation per step).
#[derive(Default)]
struct StepWork {
    policy_acts: Vec<Vec<f32>>,
    critic_acts: Vec<Vec<f32>>,
    grad_logits: Vec<f32>,
    grad_values: Vec<f32>,
    /// Per head of the current row: log-softmax, softmax, entropy.
    heads: Vec<([f32; CLASSES], [f32; CLASSES], f32)>,
    policy_grads: Vec<(Vec<f32>, Vec<f32>)>,
    critic_grads: Vec<(Vec<f32>, Vec<f32>)>,
    back: BackScratch,
}

/// What a gradient step minimises.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Objective {
    /// The configured policy-gradient loss, entropy bonus and value loss.
    PolicyGradient,
    /// Behaviour cloning: the negative log-likelihood of the actions taken.
    Imitation,
}

impl Learner {
    pub fn new(
        obs_dim: usize,
        heads: usize,
        cfg: &LearnConfig,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<Learner> {
        let mut sizes = vec![obs_dim];
        sizes.extend(&cfg.hidden);
        let mut policy_sizes = sizes.clone();
        policy_sizes.push(heads * CLASSES);
        sizes.push(1);
        let mut policy = Mlp::new(&policy_sizes, 0.01, rng)?;
        if let Some((_, bias)) = policy.layers.last_mut() {
            for (k, b) in bias.iter_mut().enumerate() {
                *b = cfg.class_bias[k % CLASSES];
            }
        }
        if cfg.monotone {
            policy.project_monotone(CLASSES);
        }
        let critic = Mlp::new(&sizes, 1.0, rng)?;
        let mut lens = policy.param_lens();
        lens.extend(critic.param_lens());
        let opt = Adam::new(&lens, cfg.lr);
        Ok(Learner {
            cfg: cfg.clone(),
            heads,
            policy,
            critic,
            opt,
            work: StepWork::default(),
        })
    }

    /// The current networks as plain arrays, for acting.
    pub fn actor(&self) -> candle_core::Result<Actor> {
        Ok(Actor {
            policy: self.policy.frozen()?,
            critic: self.critic.frozen()?,
            heads: self.heads,
        })
    }

    /// Fills `mb` with the steps `idx` of `buf`, advantages normalised per
    /// minibatch when configured.
    pub fn minibatch(
        &self,
        buf: &Buffer,
        idx: &[usize],
        adv: &[f32],
        ret: &[f32],
        mb: &mut Minibatch,
    ) {
        let (d, h, m) = (buf.obs_dim, buf.heads, idx.len());
        mb.rows = m;
        mb.obs.clear();
        mb.masks.clear();
        mb.actions.clear();
        mb.old_logp.clear();
        mb.advantages.clear();
        mb.returns.clear();
        for &t in idx {
            mb.obs.extend_from_slice(&buf.obs[t * d..][..d]);
            mb.masks.extend_from_slice(&buf.masks[t * h..][..h]);
            mb.actions.extend_from_slice(&buf.actions[t * h..][..h]);
            mb.old_logp.push(buf.logp[t]);
            mb.advantages.push(adv[t]);
            mb.returns.push(ret[t]);
        }
        if self.cfg.normalize_advantages && m > 1 {
            let a = &mut mb.advantages;
            let mean = a.iter().sum::<f32>() / m as f32;
            let var = a.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / (m - 1) as f32;
            let std = var.sqrt() + 1e-8;
            a.iter_mut().for_each(|x| *x = (*x - mean) / std);
        }
    }

    /// The loss of a minibatch, its statistics, and its gradients (left in
    /// the step's work arrays for [`Learner::apply`]).
    ///
    /// Per step, with `p`, `lp` a head's masked softmax and log-softmax and
    /// `H` its entropy: the gradient at logit `c` of head `h` is
    /// `g_logp * (1[c = a_h] - p_c) + coef * p_c * (lp_c + H_h)` over the
    /// minibatch size, where `g_logp` is the policy loss's derivative with
    /// respect to the step's log-probability (summed over heads) and
    /// `coef` the entropy weight.
    fn gradients(&mut self, mb: &Minibatch, objective: Objective) -> Stats {
        let (m, h) = (mb.rows, self.heads);
        let train_critic = objective == Objective::PolicyGradient && self.trains_critic();
        let w = &mut self.work;
        self.policy.forward_train(&mb.obs, m, &mut w.policy_acts);
        let logits = w.policy_acts.last().expect("an output layer");
        w.grad_logits.clear();
        w.grad_logits.resize(m * h * CLASSES, 0.0);
        let inv_m = 1.0 / m as f32;
        let ent_coef = match objective {
            Objective::PolicyGradient => self.cfg.entropy_coef,
            Objective::Imitation => 0.0,
        };
        let c = self.cfg.clip;
        let (mut policy_loss, mut entropy, mut kl, mut old_kl, mut clipped) =
            (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        w.heads.resize(h, ([0.0; CLASSES], [0.0; CLASSES], 0.0));
        for r in 0..m {
            let (mut logp, mut ent) = (0.0f32, 0.0f32);
            for (k, head) in w.heads.iter_mut().enumerate() {
                let z = &logits[(r * h + k) * CLASSES..][..CLASSES];
                let mask = mb.masks[r * h + k];
                let (shifted, e, sum) = softmax_parts(z, mask);
                let lse = libm::logf(sum);
                let (mut lp, mut p, mut hh) = ([0.0f32; CLASSES], [0.0f32; CLASSES], 0.0f32);
                for c in (0..CLASSES).filter(|&c| mask >> c & 1 == 1) {
                    lp[c] = shifted[c] - lse;
                    p[c] = e[c] / sum;
                    hh -= p[c] * lp[c];
                }
                logp += lp[mb.actions[r * h + k] as usize];
                ent += hh;
                *head = (lp, p, hh);
            }
            entropy += ent as f64;
            let adv = mb.advantages[r];
            let log_ratio = logp - mb.old_logp[r];
            let ratio = libm::expf(log_ratio);
            kl += ((ratio - 1.0) - log_ratio) as f64;
            old_kl += -log_ratio as f64;
            let (loss, g_logp) = match (objective, self.cfg.algo) {
                (Objective::Imitation, _) => (-logp, -1.0),
                (Objective::PolicyGradient, Algo::Reinforce) => (-adv * logp, -adv),
                (Objective::PolicyGradient, Algo::Ppo) => {
                    clipped += ((ratio - 1.0).abs() > c) as u8 as f64;
                    let unclipped = -adv * ratio;
                    let clipped = -adv * ratio.clamp(1.0 - c, 1.0 + c);
                    // The clipped branch, where it is the larger, is flat in the ratio.
                    if unclipped >= clipped {
                        (unclipped, -adv * ratio)
                    } else {
                        (clipped, 0.0)
                    }
                }
            };
            policy_loss += loss as f64;
            for (k, (lp, p, hh)) in w.heads.iter().enumerate() {
                let a = mb.actions[r * h + k] as usize;
                let mask = mb.masks[r * h + k];
                let g = &mut w.grad_logits[(r * h + k) * CLASSES..][..CLASSES];
                for c in (0..CLASSES).filter(|&c| mask >> c & 1 == 1) {
                    let onehot = (c == a) as u8 as f32;
                    g[c] =
                        g_logp * inv_m * (onehot - p[c]) + ent_coef * inv_m * p[c] * (lp[c] + hh);
                }
            }
        }
        self.policy.backward(
            &mb.obs,
            &w.policy_acts,
            m,
            &w.grad_logits,
            &mut w.back,
            &mut w.policy_grads,
        );
        let mut value_loss = 0.0f64;
        if train_critic {
            self.critic.forward_train(&mb.obs, m, &mut w.critic_acts);
            let values = w.critic_acts.last().expect("an output layer");
            w.grad_values.clear();
            for (v, ret) in values.iter().zip(&mb.returns) {
                let err = v - ret;
                value_loss += 0.5 * (err * err) as f64;
                w.grad_values.push(self.cfg.value_coef * err * inv_m);
            }
            self.critic.backward(
                &mb.obs,
                &w.critic_acts,
                m,
                &w.grad_values,
                &mut w.back,
                &mut w.critic_grads,
            );
        }
        let per = |x: f64| x / m.max(1) as f64;
        let ppo = self.cfg.algo == Algo::Ppo && objective == Objective::PolicyGradient;
        Stats {
            policy_loss: per(policy_loss),
            value_loss: per(value_loss),
            entropy: per(entropy),
            approx_kl: per(kl),
            old_approx_kl: per(old_kl),
            clipfrac: if ppo { per(clipped) } else { 0.0 },
            explained_variance: 0.0,
            mean_return: 0.0,
            samples: m as u64,
        }
    }

    /// Whether policy-gradient steps train the value network: not for
    /// REINFORCE with the batch-mean baseline, which never reads it.
    fn trains_critic(&self) -> bool {
        !(self.cfg.algo == Algo::Reinforce && self.cfg.baseline == Baseline::BatchMean)
    }

    /// One Adam step along the gradients [`Learner::gradients`] left, with
    /// the global gradient norm clipped. Imitation leaves the value network
    /// be, and so does REINFORCE with the batch-mean baseline.
    fn apply(&mut self, objective: Objective) {
        let w = &self.work;
        let mut grads: Vec<Option<&[f32]>> = vec![];
        for (gw, gb) in &w.policy_grads {
            grads.extend([Some(&gw[..]), Some(&gb[..])]);
        }
        let critic = objective == Objective::PolicyGradient && self.trains_critic();
        for (gw, gb) in &w.critic_grads {
            grads.extend([critic.then_some(&gw[..]), critic.then_some(&gb[..])]);
        }
        grads.resize(self.opt.m.len(), None);
        let params: Vec<&mut Vec<f32>> = self
            .policy
            .params_mut()
            .chain(self.critic.params_mut())
            .collect();
        self.opt.step(params, &grads, self.cfg.max_grad_norm as f64);
        if self.cfg.monotone {
            self.policy.project_monotone(CLASSES);
        }
    }

    /// Behaviour cloning: fits the policy to `actions` (one per head) on
    /// `obs` with their masks, by cross-entropy, for at most `epochs` passes
    /// or until every greedy action matches. Returns the fraction matched.
    pub fn imitate(
        &mut self,
        obs: &[f32],
        masks: &[u8],
        actions: &[u32],
        epochs: usize,
        rng: &mut ChaCha8Rng,
    ) -> candle_core::Result<f64> {
        let d = self.policy.sizes[0];
        let rows = obs.len() / d;
        let mut buf = Buffer::new(d, self.heads);
        for r in 0..rows {
            let h = self.heads;
            buf.push(
                r,
                &obs[r * d..][..d],
                &masks[r * h..][..h],
                &actions[r * h..][..h],
                0.0,
                0.0,
            );
        }
        let zeros = vec![0.0; rows];
        let mut scratch = ActScratch::default();
        let matched = |l: &Learner,
                       rng: &mut ChaCha8Rng,
                       scratch: &mut ActScratch|
         -> candle_core::Result<f64> {
            let actor = l.actor()?;
            let mut got = vec![0u32; rows * l.heads];
            let mut lp = vec![0.0; rows];
            actor.act(
                obs, masks, rows, true, rng, scratch, &mut got, &mut lp, None,
            );
            let ok = (0..rows)
                .filter(|&r| got[r * l.heads..][..l.heads] == actions[r * l.heads..][..l.heads])
                .count();
            Ok(ok as f64 / rows.max(1) as f64)
        };
        let mut order: Vec<usize> = (0..rows).collect();
        let mut mb = Minibatch::default();
        for _ in 0..epochs {
            if matched(self, rng, &mut scratch)? == 1.0 {
                break;
            }
            shuffle(&mut order, rng);
            for idx in order.chunks(self.cfg.minibatch.max(1)) {
                self.minibatch(&buf, idx, &zeros, &zeros, &mut mb);
                self.gradients(&mb, Objective::Imitation);
                self.apply(Objective::Imitation);
            }
        }
        matched(self, rng, &mut scratch)
    }

    /// Trains on a full buffer of finished trajectories; returns mean stats.
    pub fn update(&mut self, buf: &Buffer, rng: &mut ChaCha8Rng) -> candle_core::Result<Stats> {
        if buf.is_empty() {
            return Ok(Stats::default());
        }
        let (epochs, lambda) = match self.cfg.algo {
            Algo::Ppo => (self.cfg.update_epochs, self.cfg.gae_lambda),
            Algo::Reinforce => (1, 1.0),
        };
        let (adv, ret) = if self.trains_critic() {
            buf.advantages(self.cfg.gamma, lambda)
        } else {
            batch_mean_advantages(buf, self.cfg.gamma)
        };
        let mut order: Vec<usize> = (0..buf.len()).collect();
        let mut sum = StatsSum::default();
        let mut mb = Minibatch::default();
        for _ in 0..epochs {
            shuffle(&mut order, rng);
            for idx in order.chunks(self.cfg.minibatch.max(1)) {
                self.minibatch(buf, idx, &adv, &ret, &mut mb);
                let s = self.gradients(&mb, Objective::PolicyGradient);
                self.apply(Objective::PolicyGradient);
                sum.add(&s);
            }
        }
        let mut stats = sum.mean().unwrap_or_default();
        stats.explained_variance = if self.trains_critic() {
            explained_variance(&buf.values, &ret)
        } else {
            f64::NAN // no value network is trained: nothing explains the returns
        };
        stats.mean_return = mean_return(buf);
        Ok(stats)
    }
}

/// REINFORCE with the textbook baseline: each step's Monte Carlo return
/// (discounted by `gamma`) minus the mean return over every step of the
/// batch, one scalar; `(advantages, returns)`. The mean is summed in f64, in
/// step order.
fn batch_mean_advantages(buf: &Buffer, gamma: f32) -> (Vec<f32>, Vec<f32>) {
    let ret = buf.returns(gamma);
    let mean = (ret.iter().map(|&g| g as f64).sum::<f64>() / ret.len().max(1) as f64) as f32;
    let adv = ret.iter().map(|&g| g - mean).collect();
    (adv, ret)
}

/// `1 - Var(y - pred) / Var(y)` (population variances, CleanRL's
/// `explained_var`); NaN when the targets do not vary.
fn explained_variance(pred: &[f32], y: &[f32]) -> f64 {
    let var = |xs: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = xs.collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64
    };
    let var_y = var(&mut y.iter().map(|&x| x as f64));
    let var_err = var(&mut y.iter().zip(pred).map(|(&y, &p)| y as f64 - p as f64));
    if var_y == 0.0 {
        f64::NAN
    } else {
        1.0 - var_err / var_y
    }
}

/// The undiscounted sum of rewards per trajectory, averaged over the buffer's
/// trajectories (a step no other step points to starts one).
fn mean_return(buf: &Buffer) -> f64 {
    let starts = buf.starts().iter().filter(|&&s| s).count();
    let total: f64 = buf.rewards.iter().map(|&r| r as f64).sum();
    total / starts.max(1) as f64
}

#[cfg(test)]
mod tests;
