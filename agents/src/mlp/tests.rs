//! The network's tests: forward and backward against candle's autograd, the
//! same bits at every kernel level and from the same seed.

use super::*;
use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;

/// A network's weights as candle variables, for checks against autograd.
pub(crate) fn candle_vars(net: &Mlp) -> Vec<(Var, Var)> {
    net.layers
        .iter()
        .enumerate()
        .map(|(k, (w, b))| {
            let w = Tensor::from_vec(w.clone(), (net.sizes[k], net.sizes[k + 1]), &Device::Cpu);
            let b = Tensor::from_vec(b.clone(), b.len(), &Device::Cpu);
            (
                Var::from_tensor(&w.unwrap()).unwrap(),
                Var::from_tensor(&b.unwrap()).unwrap(),
            )
        })
        .collect()
}

/// Candle's forward pass of `vars` (ReLU between layers).
pub(crate) fn candle_forward(vars: &[(Var, Var)], x: &Tensor) -> Tensor {
    let mut h = x.clone();
    for (k, (w, b)) in vars.iter().enumerate() {
        h = h.matmul(w.as_tensor()).unwrap();
        h = h.broadcast_add(b.as_tensor()).unwrap();
        if k + 1 < vars.len() {
            h = h.relu().unwrap();
        }
    }
    h
}

fn net() -> Mlp {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut mlp = Mlp::new(&[7, 16, 16, 5], 1.0, &mut rng).unwrap();
    for (k, (_, b)) in mlp.layers.iter_mut().enumerate() {
        b.iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v = (j as f32 * 0.3 + k as f32).sin() * 0.1);
    }
    mlp
}

fn input(rows: usize) -> Vec<f32> {
    (0..rows * 7)
        .map(|k| {
            if k % 3 == 0 {
                1.0
            } else {
                (k as f32 * 0.37).sin()
            }
        })
        .collect()
}

#[test]
fn forward_computes_what_candle_computes_and_training_sees_the_same_bits() {
    let mlp = net();
    let x = input(3);
    let xt = Tensor::from_vec(x.clone(), (3, mlp.inputs()), &Device::Cpu).unwrap();
    let want: Vec<f32> = candle_forward(&candle_vars(&mlp), &xt)
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mut got = vec![];
    mlp.forward(&x, 3, &mut [vec![], vec![]], &mut got);
    for (a, b) in want.iter().zip(&got) {
        assert!((a - b).abs() < 1e-5, "{want:?} vs {got:?}");
    }
    let mut acts = vec![];
    mlp.forward_train(&x, 3, &mut acts);
    assert_eq!(
        acts.last().unwrap(),
        &got,
        "acting and training round alike"
    );
}

#[test]
fn backward_is_candle_autograd() {
    // Loss: sum of outputs times fixed weights; compare every gradient.
    let mlp = net();
    let rows = 4;
    let x = input(rows);
    let c: Vec<f32> = (0..rows * 5).map(|k| (k as f32 * 0.71).cos()).collect();
    let vars = candle_vars(&mlp);
    let h = candle_forward(
        &vars,
        &Tensor::from_vec(x.clone(), (rows, 7), &Device::Cpu).unwrap(),
    );
    let ct = Tensor::from_vec(c.clone(), (rows, 5), &Device::Cpu).unwrap();
    let store = (h * ct).unwrap().sum_all().unwrap().backward().unwrap();

    let mut acts = vec![];
    mlp.forward_train(&x, rows, &mut acts);
    let g = c.clone();
    let mut grads = vec![];
    mlp.backward(&x, &acts, rows, &g, &mut BackScratch::default(), &mut grads);
    for ((w, b), (gw, gb)) in vars.iter().zip(&grads) {
        for (var, got) in [(w, gw), (b, gb)] {
            let want: Vec<f32> = store
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (a, b) in want.iter().zip(got) {
                assert!((a - b).abs() < 1e-4, "{want:?} vs {got:?}");
            }
        }
    }
}

/// Every kernel level this CPU runs (the SSE2 baseline with blocks of
/// 32, AVX2 with blocks of 64) gives the same bits, at widths that
/// exercise every block size, inputs over one 64-bit mask word, signed
/// zeros and dead units.
#[test]
fn every_kernel_level_gives_the_same_bits() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for sizes in [vec![59, 64, 64, 3], vec![130, 71, 1], vec![5, 37, 2]] {
        let net = Mlp::new(&sizes, 0.5, &mut rng).unwrap();
        let rows = 9;
        let x: Vec<f32> = (0..rows * sizes[0])
            .map(|k| match k % 5 {
                0 => 1.0,
                1 => -0.0,
                // Even rows one-hot (the multiply-free sums), odd rows not.
                2 if k / sizes[0] % 2 == 0 => 1.0,
                2 => (k as f32 * 0.61).sin(),
                _ => 0.0,
            })
            .collect();
        let width = sizes.iter().copied().max().unwrap();
        let mut words = vec![0u64; width.div_ceil(64)];
        let run = |level: Level, words: &mut Vec<u64>| {
            let mut out = vec![0.0; rows * net.outputs()];
            let mut hidden = vec![0.0; 2 * width];
            let mut group = vec![0.0; G * width];
            forward_rows(
                level,
                &net,
                &x,
                rows,
                &mut hidden,
                words,
                &mut group,
                &mut out,
            );
            let mut acts = vec![x.clone()];
            for (k, (w, b)) in net.layers.iter().enumerate() {
                let mut o = vec![0.0; rows * b.len()];
                let hidden = k + 1 < net.layers.len();
                layer_rows(
                    level, w, b, &acts[k], rows, hidden, words, &mut group, &mut o,
                );
                acts.push(o);
            }
            assert_eq!(acts.last().unwrap(), &out);
            let mut grads = vec![];
            for k in 0..net.layers.len() {
                let (n_in, n_out) = (sizes[k], sizes[k + 1]);
                let g: Vec<f32> = (0..rows * n_out)
                    .map(|i| {
                        if i % 4 == 1 {
                            0.0
                        } else {
                            (i as f32 * 0.37).cos()
                        }
                    })
                    .collect();
                let (mut gw, mut gb) = (vec![0.0; n_in * n_out], vec![0.0; n_out]);
                weight_grads(level, &acts[k], &g, rows, words, &mut gw, &mut gb);
                let wt: Vec<f32> = (0..n_in * n_out)
                    .map(|t| net.layers[k].0[(t % n_in) * n_out + t / n_in])
                    .collect();
                let mut g_in = vec![0.0; rows * n_in];
                let zeros = vec![0.0; n_in];
                input_grads(level, &wt, &g, &acts[k], rows, &zeros, words, &mut g_in);
                grads.push((gw, gb, g_in));
            }
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let mut all = bits(&out);
            for (gw, gb, gi) in &grads {
                all.extend(bits(gw));
                all.extend(bits(gb));
                all.extend(bits(gi));
            }
            all
        };
        let base = run(Level::Base, &mut words);
        // The forward pass as it was first written, one element at a
        // time: out = b, then each nonzero input's row added, ReLU.
        let mut want = vec![];
        for r in 0..rows {
            let mut h = x[r * sizes[0]..][..sizes[0]].to_vec();
            for (k, (w, b)) in net.layers.iter().enumerate() {
                let mut o = b.clone();
                for (i, &v) in h.iter().enumerate() {
                    if v != 0.0 {
                        for (j, o) in o.iter_mut().enumerate() {
                            *o += v * w[i * b.len() + j];
                        }
                    }
                }
                if k + 1 < net.layers.len() {
                    o.iter_mut().for_each(|v| *v = v.max(0.0));
                }
                h = o;
            }
            want.extend(h.iter().map(|f| f.to_bits()));
        }
        assert_eq!(base[..want.len()], want[..], "{sizes:?}");
        for level in Level::available() {
            assert_eq!(run(level, &mut words), base, "{level:?} on {sizes:?}");
        }
    }
}

#[test]
fn same_seed_same_weights() {
    let w = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Mlp::new(&[4, 8, 3], 0.01, &mut rng).unwrap().layers
    };
    assert_eq!(w(5), w(5));
    assert_ne!(w(5), w(6));
}

/// After `project_monotone`, each head's class 0 minus its last class never
/// falls when one input goes from 0 to 1, on every 0/1 input of 8 bits;
/// before it, on a random network, it does somewhere (so the check can
/// fail).
#[test]
fn a_projected_network_is_monotone_in_every_input() {
    const CLASSES: usize = 3;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = Mlp::new(&[8, 16, 16, 4 * CLASSES], 1.0, &mut rng).unwrap();
    for (_, b) in net.layers.iter_mut() {
        for (k, x) in b.iter_mut().enumerate() {
            *x = (k % 5) as f32 * 0.1 - 0.2;
        }
    }
    let falls = |net: &Mlp| -> usize {
        let margin = |bits: usize| -> Vec<f32> {
            let x: Vec<f32> = (0..8).map(|i| (bits >> i & 1) as f32).collect();
            let mut out = vec![];
            net.forward(&x, 1, &mut [vec![], vec![]], &mut out);
            out.chunks(CLASSES).map(|h| h[0] - h[CLASSES - 1]).collect()
        };
        let mut n = 0;
        for bits in 0..256usize {
            let here = margin(bits);
            for i in (0..8).filter(|i| bits >> i & 1 == 0) {
                let up = margin(bits | 1 << i);
                n += here.iter().zip(&up).filter(|(a, b)| *b < *a).count();
            }
        }
        n
    };
    assert!(falls(&net) > 0);
    net.project_monotone(CLASSES);
    assert_eq!(falls(&net), 0);
}
