//! A ReLU multilayer perceptron twice over: as candle variables for training,
//! and as plain `f32` arrays for acting (no candle call per decision).
//! Weights are drawn from our own seeded stream: candle's CPU generator
//! cannot be seeded.

use candle_core::{DType, Device, Tensor, Var};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Trainable layers: `w` is `[in, out]`, so a layer is `x.matmul(w) + b`.
pub struct Mlp {
    pub sizes: Vec<usize>,
    pub layers: Vec<(Var, Var)>,
}

impl Mlp {
    /// Layers `sizes[0] -> sizes[1] -> ... -> sizes[last]`, ReLU between.
    /// Hidden layers: He-uniform; the output layer is scaled by `out_gain`
    /// (small for policy heads, so the first policy is near uniform).
    pub fn new(sizes: &[usize], out_gain: f32, rng: &mut ChaCha8Rng) -> candle_core::Result<Mlp> {
        let mut layers = vec![];
        for (k, pair) in sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let last = k + 2 == sizes.len();
            let bound = (6.0 / fan_in as f32).sqrt() * if last { out_gain } else { 1.0 };
            let w: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * bound)
                .collect();
            let w = Var::from_tensor(&Tensor::from_vec(w, (fan_in, fan_out), &Device::Cpu)?)?;
            let b = Var::zeros(fan_out, DType::F32, &Device::Cpu)?;
            layers.push((w, b));
        }
        Ok(Mlp {
            sizes: sizes.to_vec(),
            layers,
        })
    }

    /// The bias rides along as an extra weight row against a column of ones:
    /// its gradient then comes out of the same matrix product, where a
    /// broadcast add would need candle's slow sum over the batch.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let ones = Tensor::ones((x.dim(0)?, 1), DType::F32, x.device())?;
        for (k, (w, b)) in self.layers.iter().enumerate() {
            let wb = Tensor::cat(&[w.as_tensor(), &b.as_tensor().unsqueeze(0)?], 0)?;
            h = Tensor::cat(&[&h, &ones], 1)?.matmul(&wb)?;
            if k + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }

    /// A plain-array copy for acting.
    pub fn frozen(&self) -> candle_core::Result<Frozen> {
        let mut layers = vec![];
        for (w, b) in &self.layers {
            layers.push((
                w.as_tensor().flatten_all()?.to_vec1()?,
                b.as_tensor().to_vec1()?,
            ));
        }
        Ok(Frozen {
            sizes: self.sizes.clone(),
            layers,
        })
    }

    /// Named tensors for a checkpoint: `{prefix}.{k}.w`, `{prefix}.{k}.b`.
    pub fn named(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = vec![];
        for (k, (w, b)) in self.layers.iter().enumerate() {
            out.push((format!("{prefix}.{k}.w"), w.as_tensor().clone()));
            out.push((format!("{prefix}.{k}.b"), b.as_tensor().clone()));
        }
        out
    }

    /// Replaces the weights with the named tensors of a checkpoint; shapes must match.
    pub fn load(&self, prefix: &str, get: &dyn Fn(&str) -> Option<Tensor>) -> Result<(), String> {
        for (k, (w, b)) in self.layers.iter().enumerate() {
            for (var, part) in [(w, "w"), (b, "b")] {
                let name = format!("{prefix}.{k}.{part}");
                let t = get(&name).ok_or_else(|| format!("no tensor {name}"))?;
                if t.dims() != var.dims() {
                    return Err(format!(
                        "{name} has shape {:?}, the config needs {:?}",
                        t.dims(),
                        var.dims()
                    ));
                }
                var.set(&t).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// The same network as plain arrays: `w` row-major `[in][out]`.
#[derive(Clone, Debug)]
pub struct Frozen {
    pub sizes: Vec<usize>,
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Frozen {
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn outputs(&self) -> usize {
        *self.sizes.last().unwrap()
    }

    /// Forward pass of `rows` inputs (`x` is `rows * inputs`) into `out`
    /// (`rows * outputs`). Inputs are one-hot and hidden units ReLU, so most
    /// activations are zero: each layer adds the weight rows of the nonzero
    /// ones only (an axpy per active unit, vectorised over the outputs).
    pub fn forward(&self, x: &[f32], rows: usize, scratch: &mut [Vec<f32>; 2], out: &mut Vec<f32>) {
        let width = self.sizes.iter().copied().max().unwrap();
        for s in scratch.iter_mut() {
            s.resize(width, 0.0);
        }
        out.resize(rows * self.outputs(), 0.0);
        let [a, b] = scratch;
        for r in 0..rows {
            let input = &x[r * self.inputs()..][..self.inputs()];
            a[..input.len()].copy_from_slice(input);
            let mut len = input.len();
            for (k, (w, bias)) in self.layers.iter().enumerate() {
                let m = bias.len();
                b[..m].copy_from_slice(bias);
                for (i, &v) in a[..len].iter().enumerate() {
                    if v != 0.0 {
                        axpy(v, &w[i * m..][..m], &mut b[..m]);
                    }
                }
                if k + 1 < self.layers.len() {
                    for v in &mut b[..m] {
                        *v = v.max(0.0);
                    }
                }
                std::mem::swap(a, b);
                len = m;
            }
            out[r * len..][..len].copy_from_slice(&a[..len]);
        }
    }
}

/// `y += a * x`.
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn frozen_copy_computes_what_candle_computes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mlp = Mlp::new(&[7, 16, 16, 5], 1.0, &mut rng).unwrap();
        let x: Vec<f32> = (0..3 * 7)
            .map(|k| {
                if k % 3 == 0 {
                    1.0
                } else {
                    (k as f32 * 0.37).sin()
                }
            })
            .collect();
        let t = Tensor::from_vec(x.clone(), (3, 7), &Device::Cpu).unwrap();
        let want: Vec<f32> = mlp
            .forward(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mut got = vec![];
        mlp.frozen()
            .unwrap()
            .forward(&x, 3, &mut [vec![], vec![]], &mut got);
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() < 1e-5, "{want:?} vs {got:?}");
        }
    }

    #[test]
    fn same_seed_same_weights() {
        let w = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Mlp::new(&[4, 8, 3], 0.01, &mut rng)
                .unwrap()
                .frozen()
                .unwrap()
                .layers
        };
        assert_eq!(w(5), w(5));
        assert_ne!(w(5), w(6));
    }
}
