//! Policy-gradient learners for factored categorical policies: REINFORCE
//! with a learned baseline, and PPO (clipped objective, GAE, value head,
//! entropy bonus, gradient-norm clipping, minibatches, several epochs), as in
//! CleanRL's ppo.py. They see observations, masks, actions and rewards:
//! nothing of consensus.

use crate::adam::Adam;
use crate::buffer::Buffer;
use crate::mlp::{Frozen, Mlp};
use candle_core::{DType, Device, Tensor, D};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Classes per head: `send`/`commit 0`/`commit 1`, or `0`/`1`/`nothing`.
pub const CLASSES: usize = 3;

/// Added to the logit of a masked class (finite, so masked terms stay 0, never NaN).
const MASKED: f32 = -1e9;

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
        }
    }
}

/// What one update did, with CleanRL's metric names in mind.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
    pub approx_kl: f64,
    pub clipfrac: f64,
    pub samples: u64,
}

/// Learner statistics summed over updates, for their mean (the sample
/// count is a total, not a mean).
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsSum {
    sum: Stats,
    count: f64,
}

impl StatsSum {
    pub fn add(&mut self, s: &Stats) {
        self.sum.policy_loss += s.policy_loss;
        self.sum.value_loss += s.value_loss;
        self.sum.entropy += s.entropy;
        self.sum.approx_kl += s.approx_kl;
        self.sum.clipfrac += s.clipfrac;
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
            clipfrac: self.sum.clipfrac / self.count,
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
}

impl Actor {
    /// For `rows` observations with their per-head masks, picks an action per
    /// head (sampled from our stream, or the most likely allowed class when
    /// `greedy`) and returns each row's log-probability and value estimate.
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
        self.policy
            .forward(obs, rows, &mut scratch.hidden, &mut scratch.logits);
        for r in 0..rows {
            let mut total = 0.0;
            for h in 0..self.heads {
                let z = &scratch.logits[(r * self.heads + h) * CLASSES..][..CLASSES];
                let m = masks[r * self.heads + h];
                let (a, lp) = pick(z, m, greedy, rng);
                actions[r * self.heads + h] = a;
                total += lp;
            }
            logp[r] = total;
        }
        if let Some(values) = values {
            self.critic
                .forward(obs, rows, &mut scratch.hidden, &mut scratch.values);
            values[..rows].copy_from_slice(&scratch.values[..rows]);
        }
    }
}

/// One categorical draw over the allowed classes: `(class, log-probability)`.
/// Greedy ties go to the lowest class, so a greedy policy is deterministic.
pub fn pick(logits: &[f32], mask: u8, greedy: bool, rng: &mut ChaCha8Rng) -> (u32, f32) {
    let allowed = |c: usize| mask >> c & 1 == 1;
    let max = (0..CLASSES)
        .filter(|&c| allowed(c))
        .map(|c| logits[c])
        .fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0.0f32; CLASSES];
    let mut sum = 0.0;
    for c in (0..CLASSES).filter(|&c| allowed(c)) {
        p[c] = (logits[c] - max).exp();
        sum += p[c];
    }
    let choice = if greedy {
        (0..CLASSES)
            .filter(|&c| allowed(c))
            .fold(None, |best: Option<usize>, c| match best {
                Some(b) if logits[b] >= logits[c] => Some(b),
                _ => Some(c),
            })
    } else {
        let mut u = rng.random::<f32>() * sum;
        let mut last = None;
        let mut chosen = None;
        for c in (0..CLASSES).filter(|&c| allowed(c)) {
            last = Some(c);
            if u < p[c] {
                chosen = Some(c);
                break;
            }
            u -= p[c];
        }
        chosen.or(last)
    }
    .expect("every head allows some class");
    (choice as u32, (p[choice] / sum).ln())
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
}

/// A minibatch as tensors.
pub struct Minibatch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub mask_bias: Tensor,
    pub old_logp: Tensor,
    pub advantages: Tensor,
    pub returns: Tensor,
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
        let policy = Mlp::new(&policy_sizes, 0.01, rng)?;
        let critic = Mlp::new(&sizes, 1.0, rng)?;
        let mut vars = policy.vars();
        vars.extend(critic.vars());
        let opt = Adam::new(vars, cfg.lr);
        Ok(Learner {
            cfg: cfg.clone(),
            heads,
            policy,
            critic,
            opt,
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

    /// Builds the minibatch of steps `idx` from `buf`.
    pub fn minibatch(
        &self,
        buf: &Buffer,
        idx: &[usize],
        adv: &[f32],
        ret: &[f32],
    ) -> candle_core::Result<Minibatch> {
        let (d, h, m) = (buf.obs_dim, buf.heads, idx.len());
        let dev = &Device::Cpu;
        let mut obs = Vec::with_capacity(m * d);
        let mut actions = Vec::with_capacity(m * h);
        let mut bias = Vec::with_capacity(m * h * CLASSES);
        for &t in idx {
            obs.extend_from_slice(&buf.obs[t * d..][..d]);
            actions.extend_from_slice(&buf.actions[t * h..][..h]);
            for &mask in &buf.masks[t * h..][..h] {
                bias.extend((0..CLASSES).map(|c| if mask >> c & 1 == 1 { 0.0 } else { MASKED }));
            }
        }
        let mut a: Vec<f32> = idx.iter().map(|&t| adv[t]).collect();
        if self.cfg.normalize_advantages && m > 1 {
            let mean = a.iter().sum::<f32>() / m as f32;
            let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (m - 1) as f32;
            let std = var.sqrt() + 1e-8;
            a.iter_mut().for_each(|x| *x = (*x - mean) / std);
        }
        Ok(Minibatch {
            obs: Tensor::from_vec(obs, (m, d), dev)?,
            actions: Tensor::from_vec(actions, (m, h, 1), dev)?,
            mask_bias: Tensor::from_vec(bias, (m, h, CLASSES), dev)?,
            old_logp: Tensor::from_vec(
                idx.iter().map(|&t| buf.logp[t]).collect::<Vec<_>>(),
                m,
                dev,
            )?,
            advantages: Tensor::from_vec(a, m, dev)?,
            returns: Tensor::from_vec(idx.iter().map(|&t| ret[t]).collect::<Vec<_>>(), m, dev)?,
        })
    }

    /// Masked log-probabilities of every class (`[m, heads, classes]`) and of
    /// the actions taken, summed over heads (`[m]`).
    fn log_probs(&self, mb: &Minibatch) -> candle_core::Result<(Tensor, Tensor)> {
        let m = mb.obs.dim(0)?;
        let logits = self
            .policy
            .forward(&mb.obs)?
            .reshape((m, self.heads, CLASSES))?;
        let lp_all = candle_nn::ops::log_softmax(&(logits + &mb.mask_bias)?, D::Minus1)?;
        let logp = lp_all.gather(&mb.actions, 2)?.squeeze(2)?.sum(1)?;
        Ok((lp_all, logp))
    }

    /// The loss of a minibatch and its statistics (policy loss, value loss,
    /// entropy, approximate KL, clip fraction).
    pub fn loss(&self, mb: &Minibatch) -> candle_core::Result<(Tensor, Stats)> {
        let m = mb.obs.dim(0)?;
        let (lp_all, logp) = self.log_probs(mb)?;
        let entropy = (lp_all.exp()? * &lp_all)?
            .sum(2)?
            .sum(1)?
            .neg()?
            .mean_all()?;
        let log_ratio = (&logp - &mb.old_logp)?;
        let ratio = log_ratio.exp()?;
        let (policy_loss, approx_kl, clipfrac) = match self.cfg.algo {
            Algo::Ppo => {
                let c = self.cfg.clip as f64;
                let pg1 = (mb.advantages.neg()? * &ratio)?;
                let pg2 = (mb.advantages.neg()? * ratio.clamp(1.0 - c, 1.0 + c)?)?;
                let loss = pg1.maximum(&pg2)?.mean_all()?;
                let kl = ((&ratio - 1.0)? - &log_ratio)?
                    .mean_all()?
                    .to_scalar::<f32>()?;
                let clipped = ((&ratio - 1.0)?.abs()?.gt(c)?.to_dtype(DType::F32)?).mean_all()?;
                (loss, kl as f64, clipped.to_scalar::<f32>()? as f64)
            }
            Algo::Reinforce => ((mb.advantages.neg()? * &logp)?.mean_all()?, 0.0, 0.0),
        };
        let values = self.critic.forward(&mb.obs)?.squeeze(1)?;
        let value_loss = ((values - &mb.returns)?.sqr()?.mean_all()? * 0.5)?;
        let loss = ((&policy_loss - (&entropy * self.cfg.entropy_coef as f64)?)?
            + (&value_loss * self.cfg.value_coef as f64)?)?;
        let stats = Stats {
            policy_loss: policy_loss.to_scalar::<f32>()? as f64,
            value_loss: value_loss.to_scalar::<f32>()? as f64,
            entropy: entropy.to_scalar::<f32>()? as f64,
            approx_kl,
            clipfrac,
            samples: m as u64,
        };
        Ok((loss, stats))
    }

    /// One gradient step with the global gradient norm clipped.
    fn step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        let grads = loss.backward()?;
        self.opt.step(&grads, self.cfg.max_grad_norm as f64)?;
        Ok(())
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
        for _ in 0..epochs {
            if matched(self, rng, &mut scratch)? == 1.0 {
                break;
            }
            shuffle(&mut order, rng);
            for idx in order.chunks(self.cfg.minibatch.max(1)) {
                let mb = self.minibatch(&buf, idx, &zeros, &zeros)?;
                let (_, logp) = self.log_probs(&mb)?;
                let loss = logp.mean_all()?.neg()?;
                self.step(&loss)?;
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
        let (adv, ret) = buf.advantages(self.cfg.gamma, lambda);
        let mut order: Vec<usize> = (0..buf.len()).collect();
        let mut sum = StatsSum::default();
        for _ in 0..epochs {
            shuffle(&mut order, rng);
            for idx in order.chunks(self.cfg.minibatch.max(1)) {
                let mb = self.minibatch(buf, idx, &adv, &ret)?;
                let (loss, s) = self.loss(&mb)?;
                self.step(&loss)?;
                sum.add(&s);
            }
        }
        Ok(sum.mean().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A linear policy (no hidden layer) on two samples, one head.
    fn tiny(algo: Algo) -> (Learner, Buffer) {
        let cfg = LearnConfig {
            algo,
            hidden: vec![],
            normalize_advantages: false,
            entropy_coef: 0.0,
            value_coef: 0.0,
            ..LearnConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let l = Learner::new(2, 1, &cfg, &mut rng).unwrap();
        let mut b = Buffer::new(2, 1);
        let actor = l.actor().unwrap();
        let obs = [[1.0f32, 0.0], [0.0, 1.0]];
        for (t, (x, a)) in obs.iter().zip([2u32, 0]).enumerate() {
            let z = &actor.policy.layers[0];
            let logits: Vec<f32> = (0..3)
                .map(|c| x[0] * z.0[c] + x[1] * z.0[3 + c] + z.1[c])
                .collect();
            let lse = logits.iter().map(|v| v.exp()).sum::<f32>().ln();
            b.push(t, x, &[0b111], &[a], logits[a as usize] - lse, 0.0);
        }
        b.reward_last(0, 1.0);
        b.reward_last(1, -2.0);
        (l, b)
    }

    /// d loss / d W for the textbook policy gradient: -(1/M) sum_t A_t (onehot(a_t) - pi_t) x_t^T.
    fn textbook_gradient(l: &Learner, b: &Buffer, adv: &[f32]) -> Vec<f32> {
        let w = &l.actor().unwrap().policy.layers[0].0;
        let mut g = vec![0.0f32; 6];
        for (t, a) in adv.iter().enumerate() {
            let x = &b.obs[t * 2..][..2];
            let logits: Vec<f32> = (0..3).map(|c| x[0] * w[c] + x[1] * w[3 + c]).collect();
            let sum: f32 = logits.iter().map(|v| v.exp()).sum();
            for c in 0..3 {
                let p = logits[c].exp() / sum;
                let onehot = (b.actions[t] as usize == c) as u8 as f32;
                for i in 0..2 {
                    g[i * 3 + c] += -a * (onehot - p) * x[i] / 2.0;
                }
            }
        }
        g
    }

    fn assert_close(got: &[f32], want: &[f32]) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
    }

    fn gradient(l: &Learner, b: &Buffer) -> Vec<f32> {
        let (adv, ret) = b.advantages(1.0, 1.0);
        let mb = l.minibatch(b, &[0, 1], &adv, &ret).unwrap();
        let (loss, _) = l.loss(&mb).unwrap();
        let grads = loss.backward().unwrap();
        let w = &l.policy.layers[0].0;
        grads
            .get(w.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn reinforce_follows_the_textbook_gradient() {
        let (l, b) = tiny(Algo::Reinforce);
        let want = textbook_gradient(&l, &b, &[1.0, -2.0]);
        assert_close(&gradient(&l, &b), &want);
    }

    #[test]
    fn ppo_at_ratio_one_is_the_policy_gradient() {
        // On fresh data the ratio is 1, inside the clip range: same gradient.
        let (l, b) = tiny(Algo::Ppo);
        let want = textbook_gradient(&l, &b, &[1.0, -2.0]);
        assert_close(&gradient(&l, &b), &want);
    }

    #[test]
    fn ppo_clips_a_ratio_pushed_past_the_range() {
        // Pretend the behaviour policy made sample 0 (advantage +1) much less
        // likely: ratio > 1 + clip, so that sample contributes no gradient.
        let (l, mut b) = tiny(Algo::Ppo);
        b.logp[0] -= 1.0;
        let want = textbook_gradient(&l, &b, &[0.0, -2.0]);
        assert_close(&gradient(&l, &b), &want);
    }

    #[test]
    fn a_learner_learns_a_contextual_bandit() {
        // Reward 1 for action == argmax of the one-hot observation, else 0.
        let cfg = LearnConfig {
            hidden: vec![16],
            minibatch: 256,
            ..LearnConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut l = Learner::new(3, 1, &cfg, &mut rng).unwrap();
        let mut scratch = ActScratch::default();
        for _ in 0..40 {
            let actor = l.actor().unwrap();
            let mut b = Buffer::new(3, 1);
            for t in 0..256 {
                let mut x = [0.0f32; 3];
                x[t % 3] = 1.0;
                let (mut a, mut lp, mut v) = ([0u32], [0f32], [0f32]);
                actor.act(
                    &x,
                    &[0b111],
                    1,
                    false,
                    &mut rng,
                    &mut scratch,
                    &mut a,
                    &mut lp,
                    Some(&mut v),
                );
                b.push(t, &x, &[0b111], &a, lp[0], v[0]);
                b.reward_last(t, (a[0] as usize == t % 3) as u8 as f32);
            }
            l.update(&b, &mut rng).unwrap();
        }
        let actor = l.actor().unwrap();
        for k in 0..3 {
            let mut x = [0.0f32; 3];
            x[k] = 1.0;
            let (mut a, mut lp) = ([0u32], [0f32]);
            actor.act(
                &x,
                &[0b111],
                1,
                true,
                &mut rng,
                &mut scratch,
                &mut a,
                &mut lp,
                None,
            );
            assert_eq!(a[0] as usize, k);
        }
    }
}
