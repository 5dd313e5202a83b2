//! A ReLU multilayer perceptron over plain `f32` arrays, with its forward
//! and backward passes written out in a fixed order.
//!
//! Why not candle's kernels: they pick their arithmetic by what the CPU
//! reports at run time (gemm's SIMD path and cache-sized blocks, and the
//! AVX2 branches of candle's own sums and dot products), so the same run
//! rounded differently on different machines. Every sum here runs in the
//! order the code states. The inner loops add one product per output
//! element and iteration, with no fused multiply-add: the compiler may
//! vectorise them across outputs (at compile time, for the baseline
//! target), which never changes a result. See docs/reproducibility.md.
//!
//! Weights are drawn from our own seeded stream.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Layers `sizes[0] -> ... -> sizes[last]`, ReLU between; `w` row-major
/// `[in][out]`, so a layer is `x w + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Frozen {
    pub sizes: Vec<usize>,
    pub layers: Vec<(Vec<f32>, Vec<f32>)>,
}

/// The trainable network: the same arrays (training and acting share every
/// rounding, so a freshly sampled action's probability ratio is exactly 1).
pub type Mlp = Frozen;

/// `y += a * x`, element by element.
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// One layer for one input row: `out = b + sum_i x[i] w[i]`, `i` ascending,
/// then ReLU for a hidden layer. Inputs are one-hot and hidden units ReLU,
/// so most are zero: only the weight rows of nonzero inputs are added.
/// Acting and training both go through here, so they round alike.
#[inline]
fn layer(w: &[f32], b: &[f32], x: &[f32], hidden: bool, out: &mut [f32]) {
    let m = b.len();
    out.copy_from_slice(b);
    for (i, &v) in x.iter().enumerate() {
        if v != 0.0 {
            axpy(v, &w[i * m..][..m], out);
        }
    }
    if hidden {
        for v in out.iter_mut() {
            *v = v.max(0.0);
        }
    }
}

impl Frozen {
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
            layers.push((w, vec![0.0; fan_out]));
        }
        Ok(Frozen {
            sizes: sizes.to_vec(),
            layers,
        })
    }

    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn outputs(&self) -> usize {
        *self.sizes.last().unwrap()
    }

    /// A copy for acting.
    pub fn frozen(&self) -> candle_core::Result<Frozen> {
        Ok(self.clone())
    }

    /// Forward pass of `rows` inputs (`x` is `rows * inputs`) into `out`
    /// (`rows * outputs`), one row at a time through two scratch rows.
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
                layer(w, bias, &a[..len], k + 1 < self.layers.len(), &mut b[..m]);
                std::mem::swap(a, b);
                len = m;
            }
            out[r * len..][..len].copy_from_slice(&a[..len]);
        }
    }

    /// Forward pass keeping every layer's activations for [`Frozen::backward`]:
    /// `acts[0]` is the input, `acts[k + 1]` layer `k`'s output (after ReLU
    /// for hidden layers). The same arithmetic as [`Frozen::forward`].
    pub fn forward_train(&self, x: &[f32], rows: usize, acts: &mut Vec<Vec<f32>>) {
        acts.resize(self.layers.len() + 1, vec![]);
        acts[0].clear();
        acts[0].extend_from_slice(&x[..rows * self.inputs()]);
        for (k, (w, b)) in self.layers.iter().enumerate() {
            let (n_in, n_out) = (self.sizes[k], self.sizes[k + 1]);
            let (done, rest) = acts.split_at_mut(k + 1);
            let (input, out) = (&done[k], &mut rest[0]);
            out.resize(rows * n_out, 0.0);
            for r in 0..rows {
                let o = &mut out[r * n_out..][..n_out];
                layer(
                    w,
                    b,
                    &input[r * n_in..][..n_in],
                    k + 1 < self.layers.len(),
                    o,
                );
            }
        }
    }

    /// Gradients of the weights, given the activations of
    /// [`Frozen::forward_train`] and `grad_out`, the loss's gradient with
    /// respect to the outputs (`rows * outputs`; overwritten). `grads` gets
    /// one `(w, b)` pair per layer, shaped like the weights. Every sum runs
    /// over the rows in ascending order.
    pub fn backward(
        &self,
        acts: &[Vec<f32>],
        rows: usize,
        grad_out: &mut Vec<f32>,
        scratch: &mut BackScratch,
        grads: &mut Vec<(Vec<f32>, Vec<f32>)>,
    ) {
        grads.resize(self.layers.len(), (vec![], vec![]));
        let g = grad_out;
        for k in (0..self.layers.len()).rev() {
            let (n_in, n_out) = (self.sizes[k], self.sizes[k + 1]);
            let (w, _) = &self.layers[k];
            let (gw, gb) = &mut grads[k];
            gw.clear();
            gw.resize(n_in * n_out, 0.0);
            gb.clear();
            gb.resize(n_out, 0.0);
            let input = &acts[k];
            for r in 0..rows {
                let gr = &g[r * n_out..][..n_out];
                for (gb, gr) in gb.iter_mut().zip(gr) {
                    *gb += gr;
                }
                for (i, &v) in input[r * n_in..][..n_in].iter().enumerate() {
                    if v != 0.0 {
                        axpy(v, gr, &mut gw[i * n_out..][..n_out]);
                    }
                }
            }
            if k == 0 {
                break;
            }
            // The gradient at the layer's input, through the ReLU before it:
            // g_in[r] = sum_j g[r][j] w^T[j], j ascending, where the unit was on.
            let wt = &mut scratch.wt;
            wt.resize(n_in * n_out, 0.0);
            for i in 0..n_in {
                for j in 0..n_out {
                    wt[j * n_in + i] = w[i * n_out + j];
                }
            }
            let g_in = &mut scratch.g_in;
            g_in.clear();
            g_in.resize(rows * n_in, 0.0);
            for r in 0..rows {
                let gi = &mut g_in[r * n_in..][..n_in];
                for (j, &v) in g[r * n_out..][..n_out].iter().enumerate() {
                    if v != 0.0 {
                        axpy(v, &wt[j * n_in..][..n_in], gi);
                    }
                }
                for (gi, &h) in gi.iter_mut().zip(&input[r * n_in..][..n_in]) {
                    if h <= 0.0 {
                        *gi = 0.0;
                    }
                }
            }
            std::mem::swap(g, g_in);
        }
    }

    /// Every weight array, in the optimiser's order: `w`, `b` per layer.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Vec<f32>> {
        self.layers.iter_mut().flat_map(|(w, b)| [w, b])
    }

    /// The sizes of [`Frozen::params_mut`]'s arrays.
    pub fn param_lens(&self) -> Vec<usize> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.len(), b.len()])
            .collect()
    }

    /// Named arrays for a checkpoint: `{prefix}.{k}.w` (`[in, out]`), `{prefix}.{k}.b`.
    pub fn named(&self, prefix: &str) -> Vec<(String, NamedArray)> {
        let mut out = vec![];
        for (k, (w, b)) in self.layers.iter().enumerate() {
            let dims = vec![self.sizes[k], self.sizes[k + 1]];
            out.push((format!("{prefix}.{k}.w"), (dims, w.clone())));
            out.push((format!("{prefix}.{k}.b"), (vec![b.len()], b.clone())));
        }
        out
    }

    /// Replaces the weights with the named tensors of a checkpoint
    /// (`get` gives shape and values); shapes must match.
    pub fn load(
        &mut self,
        prefix: &str,
        get: &dyn Fn(&str) -> Option<NamedArray>,
    ) -> Result<(), String> {
        for k in 0..self.layers.len() {
            let want = [
                vec![self.sizes[k], self.sizes[k + 1]],
                vec![self.sizes[k + 1]],
            ];
            for (part, want) in ["w", "b"].into_iter().zip(want) {
                let name = format!("{prefix}.{k}.{part}");
                let (dims, values) = get(&name).ok_or_else(|| format!("no tensor {name}"))?;
                if dims != want {
                    return Err(format!(
                        "{name} has shape {dims:?}, the config needs {want:?}"
                    ));
                }
                let slot = if part == "w" {
                    &mut self.layers[k].0
                } else {
                    &mut self.layers[k].1
                };
                slot.copy_from_slice(&values);
            }
        }
        Ok(())
    }
}

/// A checkpoint's array: shape and values.
pub type NamedArray = (Vec<usize>, Vec<f32>);

/// Reusable buffers for [`Frozen::backward`].
#[derive(Default)]
pub struct BackScratch {
    wt: Vec<f32>,
    g_in: Vec<f32>,
}

#[cfg(test)]
pub(crate) mod tests {
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
        let mut g = c.clone();
        let mut grads = vec![];
        mlp.backward(&acts, rows, &mut g, &mut BackScratch::default(), &mut grads);
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

    #[test]
    fn same_seed_same_weights() {
        let w = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Mlp::new(&[4, 8, 3], 0.01, &mut rng).unwrap().layers
        };
        assert_eq!(w(5), w(5));
        assert_ne!(w(5), w(6));
    }
}
