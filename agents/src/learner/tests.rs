//! The learner's tests: config checks, the policy gradients against the textbook
//! and candle's autograd, a contextual bandit learned, and acting bit for bit.

use super::*;
use rand::SeedableRng;

/// Issue 26, 2: the one check every game's validation calls names the
/// field of a setting the networks cannot train with.
#[test]
fn a_config_the_networks_cannot_train_with_is_refused_by_its_field() {
    assert_eq!(LearnConfig::default().check(), Ok(()));
    let refused = |cfg: LearnConfig| cfg.check().unwrap_err();
    let r = refused(LearnConfig {
        hidden: vec![16, 0],
        ..LearnConfig::default()
    });
    assert_eq!((r.field, r.value.as_str()), ("hidden", "[16, 0]"));
    let r = refused(LearnConfig {
        minibatch: 0,
        ..LearnConfig::default()
    });
    assert_eq!(r.field, "minibatch");
    let r = refused(LearnConfig {
        lr: 2.0,
        ..LearnConfig::default()
    });
    assert_eq!((r.field, r.value.as_str()), ("lr", "2"));
    // No hidden layer at all is a linear policy, which trains.
    let linear = LearnConfig {
        hidden: vec![],
        ..LearnConfig::default()
    };
    assert_eq!(linear.check(), Ok(()));
}

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

fn gradient(l: &mut Learner, b: &Buffer) -> Vec<f32> {
    let (adv, ret) = b.advantages(1.0, 1.0);
    let mut mb = Minibatch::default();
    l.minibatch(b, &[0, 1], &adv, &ret, &mut mb);
    l.gradients(&mb, Objective::PolicyGradient);
    l.work.policy_grads[0].0.clone()
}

#[test]
fn reinforce_follows_the_textbook_gradient() {
    let (mut l, b) = tiny(Algo::Reinforce);
    let want = textbook_gradient(&l, &b, &[1.0, -2.0]);
    assert_close(&gradient(&mut l, &b), &want);
}

#[test]
fn reinforce_with_the_batch_mean_baseline_subtracts_the_mean_return() {
    // Returns 1 and -2: the batch mean is -0.5, so the advantages are
    // 1.5 and -1.5. The value estimates would make them -1 and 1.
    let (mut l, mut b) = tiny(Algo::Reinforce);
    b.values = vec![2.0, -3.0];
    l.cfg.baseline = Baseline::BatchMean;
    l.cfg.value_coef = 0.5;
    let (adv, ret) = batch_mean_advantages(&b, 1.0);
    assert_eq!((adv, ret), (vec![1.5, -1.5], vec![1.0, -2.0]));
    let want = textbook_gradient(&l, &b, &[1.5, -1.5]);
    let critic = l.critic.layers.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let before = l.policy.layers.clone();
    let s = l.update(&b, &mut rng).unwrap();
    // One Adam step from fresh moments moves each weight by about
    // -lr * sign(gradient): the textbook gradient's signs, on the mean-baselined advantages.
    for ((w0, w1), g) in before[0].0.iter().zip(&l.policy.layers[0].0).zip(&want) {
        if g.abs() > 1e-6 {
            assert_eq!(
                (w1 - w0).signum(),
                -g.signum(),
                "{w0} -> {w1}, gradient {g}"
            );
        }
    }
    // The value network is neither trained nor counted.
    assert_eq!(l.critic.layers, critic);
    assert_eq!(s.value_loss, 0.0);
    assert!(s.explained_variance.is_nan());
}

#[test]
fn ppo_at_ratio_one_is_the_policy_gradient() {
    // On fresh data the ratio is 1, inside the clip range: same gradient.
    let (mut l, b) = tiny(Algo::Ppo);
    let want = textbook_gradient(&l, &b, &[1.0, -2.0]);
    assert_close(&gradient(&mut l, &b), &want);
}

#[test]
fn ppo_clips_a_ratio_pushed_past_the_range() {
    // Pretend the behaviour policy made sample 0 (advantage +1) much less
    // likely: ratio > 1 + clip, so that sample contributes no gradient.
    let (mut l, mut b) = tiny(Algo::Ppo);
    b.logp[0] -= 1.0;
    let want = textbook_gradient(&l, &b, &[0.0, -2.0]);
    assert_close(&gradient(&mut l, &b), &want);
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

/// The whole loss (PPO's clipped objective, the entropy bonus, the value
/// loss, masked classes, two heads, a hidden layer) against candle's
/// autograd of the same formula.
#[test]
fn gradients_match_candle_autograd() {
    use crate::mlp::tests::{candle_forward, candle_vars};
    use candle_core::{Device, Tensor, D};
    let cfg = LearnConfig {
        hidden: vec![8],
        entropy_coef: 0.05,
        normalize_advantages: false,
        ..LearnConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (d, h, m) = (4, 2, 6);
    let mut l = Learner::new(d, h, &cfg, &mut rng).unwrap();
    // Away from uniform, so every term matters.
    l.policy.layers[1].0.iter_mut().for_each(|v| *v *= 100.0);
    let masks = [0b111u8, 0b110, 0b011, 0b111, 0b101, 0b111];
    let mut mb = Minibatch {
        rows: m,
        obs: (0..m * d)
            .map(|k| {
                if k % 3 == 1 {
                    0.0
                } else {
                    (k as f32 * 0.9).sin()
                }
            })
            .collect(),
        masks: (0..m * h).map(|k| masks[k % masks.len()]).collect(),
        actions: vec![],
        old_logp: vec![],
        advantages: (0..m).map(|r| (r as f32 * 1.3).cos() * 2.0).collect(),
        returns: (0..m).map(|r| (r as f32 * 0.4).sin()).collect(),
    };
    mb.actions = mb
        .masks
        .iter()
        .map(|&mk| (0..3).rev().find(|&c| mk >> c & 1 == 1).unwrap())
        .collect();
    // Old log-probabilities off the current ones, some past the clip range.
    let actor = l.actor().unwrap();
    let (mut a, mut lp) = (vec![0u32; m * h], vec![0f32; m]);
    let mut scratch = ActScratch::default();
    actor.act(
        &mb.obs,
        &mb.masks,
        m,
        true,
        &mut rng,
        &mut scratch,
        &mut a,
        &mut lp,
        None,
    );
    let offsets = [0.0f32, 0.5, -0.5, 0.05, -0.05, 1.0];
    mb.old_logp = (0..m).map(|r| lp[r] + offsets[r]).collect();
    l.gradients(&mb, Objective::PolicyGradient);

    let dev = &Device::Cpu;
    let (pv, cv) = (candle_vars(&l.policy), candle_vars(&l.critic));
    let x = Tensor::from_vec(mb.obs.clone(), (m, d), dev).unwrap();
    let bias: Vec<f32> = mb
        .masks
        .iter()
        .flat_map(|&mk| (0..3).map(move |c| if mk >> c & 1 == 1 { 0.0 } else { -1e9 }))
        .collect();
    let bias = Tensor::from_vec(bias, (m, h, 3), dev).unwrap();
    let logits = candle_forward(&pv, &x).reshape((m, h, 3)).unwrap();
    let lp_all = candle_nn::ops::log_softmax(&(logits + bias).unwrap(), D::Minus1).unwrap();
    let acts = Tensor::from_vec(mb.actions.clone(), (m, h, 1), dev).unwrap();
    let logp = lp_all
        .gather(&acts, 2)
        .unwrap()
        .squeeze(2)
        .unwrap()
        .sum(1)
        .unwrap();
    let entropy = (lp_all.exp().unwrap() * &lp_all)
        .unwrap()
        .sum(2)
        .unwrap()
        .sum(1)
        .unwrap()
        .neg()
        .unwrap()
        .mean_all()
        .unwrap();
    let old = Tensor::from_vec(mb.old_logp.clone(), m, dev).unwrap();
    let ratio = (&logp - &old).unwrap().exp().unwrap();
    let adv = Tensor::from_vec(mb.advantages.clone(), m, dev).unwrap();
    let pg1 = (adv.neg().unwrap() * &ratio).unwrap();
    let pg2 = (adv.neg().unwrap() * ratio.clamp(0.8, 1.2).unwrap()).unwrap();
    let policy_loss = pg1.maximum(&pg2).unwrap().mean_all().unwrap();
    let ret = Tensor::from_vec(mb.returns.clone(), m, dev).unwrap();
    let values = candle_forward(&cv, &x).squeeze(1).unwrap();
    let value_loss = ((values - ret).unwrap().sqr().unwrap().mean_all().unwrap() * 0.5).unwrap();
    let loss = ((&policy_loss - (entropy * 0.05).unwrap()).unwrap() + (value_loss * 0.5).unwrap())
        .unwrap();
    let store = loss.backward().unwrap();
    let ours = l.work.policy_grads.iter().chain(&l.work.critic_grads);
    for ((w, b), (gw, gb)) in pv.iter().chain(&cv).zip(ours) {
        for (v, got) in [(w, gw), (b, gb)] {
            let want: Vec<f32> = store
                .get(v.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (a, b) in want.iter().zip(got) {
                assert!(
                    (a - b).abs() < 1e-4 * (1.0 + a.abs()),
                    "{want:?} vs {got:?}"
                );
            }
        }
    }
}

#[test]
fn a_fresh_sample_has_probability_ratio_exactly_one() {
    // Acting and training share every rounding.
    let (mut l, b) = tiny(Algo::Ppo);
    let actor = l.actor().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut scratch = ActScratch::default();
    let (mut a, mut lp) = ([0u32; 2], [0f32; 2]);
    actor.act(
        &b.obs,
        &b.masks,
        2,
        false,
        &mut rng,
        &mut scratch,
        &mut a,
        &mut lp,
        None,
    );
    let mut fresh = Buffer::new(2, 1);
    for t in 0..2 {
        fresh.push(t, &b.obs[t * 2..][..2], &[0b111], &a[t..t + 1], lp[t], 0.0);
    }
    let (adv, ret) = fresh.advantages(1.0, 1.0);
    let mut mb = Minibatch::default();
    l.minibatch(&fresh, &[0, 1], &adv, &ret, &mut mb);
    let s = l.gradients(&mb, Objective::PolicyGradient);
    assert_eq!((s.approx_kl, s.old_approx_kl), (0.0, 0.0));
}

/// Running each distinct row once, or every row (the search skipped),
/// or each row alone gives the same actions, log-probabilities and
/// values, bit for bit, from the same stream.
#[test]
fn distinct_rows_act_as_every_row_would_alone() {
    let (d, heads, rows) = (6, 2, 40);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let l = Learner::new(d, heads, &LearnConfig::default(), &mut rng).unwrap();
    let actor = l.actor().unwrap();
    // Rows from a few patterns, one-hot and not, with varied masks.
    let obs: Vec<f32> = (0..rows * d)
        .map(|k| match (k / d % 5, k % d) {
            (0, i) => (i == 1) as u8 as f32,
            (1, i) => (i == 2 || i == 4) as u8 as f32,
            (2, i) => i as f32 * 0.3 - 0.7,
            (p, i) => ((p * 7 + i) % 3) as f32 * 0.5,
        })
        .collect();
    let masks: Vec<u8> = (0..rows * heads)
        .map(|k| [0b111, 0b110, 0b011][k / heads % 3])
        .collect();
    let run = |mode: u8| {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (mut a, mut lp, mut v) = (vec![0u32; rows * heads], vec![0f32; rows], vec![0f32; rows]);
        let mut scratch = ActScratch::default();
        for r in 0..rows {
            if mode == 2 {
                actor.act(
                    &obs[r * d..][..d],
                    &masks[r * heads..][..heads],
                    1,
                    false,
                    &mut rng,
                    &mut scratch,
                    &mut a[r * heads..][..heads],
                    &mut lp[r..r + 1],
                    Some(&mut v[r..r + 1]),
                );
            }
        }
        if mode < 2 {
            scratch.skip = mode as u32;
            actor.act(
                &obs,
                &masks,
                rows,
                false,
                &mut rng,
                &mut scratch,
                &mut a,
                &mut lp,
                Some(&mut v),
            );
        }
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        (a, bits(&lp), bits(&v))
    };
    let distinct = run(0);
    assert_eq!(distinct, run(1));
    assert_eq!(distinct, run(2));
}

#[test]
fn explained_variance_and_mean_return_as_cleanrl_defines_them() {
    assert_eq!(explained_variance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
    assert_eq!(explained_variance(&[0.0, 0.0], &[1.0, -1.0]), 0.0);
    assert!(explained_variance(&[0.0, 1.0], &[2.0, 2.0]).is_nan());
    let mut b = Buffer::new(1, 1);
    b.push(0, &[0.0], &[7], &[0], 0.0, 0.0);
    b.push(1, &[0.0], &[7], &[0], 0.0, 0.0);
    b.push(0, &[0.0], &[7], &[0], 0.0, 0.0);
    b.reward_last(0, 3.0);
    b.reward_last(1, -1.0);
    assert_eq!(mean_return(&b), 1.0);
}
