//! Adam (Kingma and Ba), written out so its state can be saved and a run
//! resumed to the same result (candle's optimiser keeps its moments
//! private), and over plain arrays: per variable, one copy out and one copy
//! in, instead of a dozen tensor operations on tiny tensors.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken.
    pub t: u64,
    pub vars: Vec<Var>,
    /// First and second moment estimates, one array per variable.
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

impl Adam {
    pub fn new(vars: Vec<Var>, lr: f64) -> Adam {
        let m: Vec<Vec<f32>> = vars.iter().map(|v| vec![0.0; v.elem_count()]).collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-5,
            t: 0,
            v: m.clone(),
            m,
            vars,
        }
    }

    /// One step on `grads`, rescaled first so that their global norm is at
    /// most `max_norm`. Returns the norm before rescaling.
    pub fn step(&mut self, grads: &GradStore, max_norm: f64) -> candle_core::Result<f64> {
        let gs: Vec<Option<Vec<f32>>> = self
            .vars
            .iter()
            .map(|v| grads.get(v.as_tensor()).map(values).transpose())
            .collect::<candle_core::Result<_>>()?;
        let norm = gs
            .iter()
            .flatten()
            .flat_map(|g| g.iter())
            .map(|&x| x as f64 * x as f64)
            .sum::<f64>()
            .sqrt();
        let scale = if norm > max_norm {
            (max_norm / (norm + 1e-6)) as f32
        } else {
            1.0
        };
        self.t += 1;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let c1 = 1.0 - self.beta1.powi(self.t as i32) as f32;
        let c2 = 1.0 - self.beta2.powi(self.t as i32) as f32;
        let (lr, eps) = (self.lr as f32, self.eps as f32);
        for (k, g) in gs.into_iter().enumerate() {
            let Some(g) = g else {
                continue;
            };
            let var = &self.vars[k];
            let mut theta = values(var.as_tensor())?;
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for j in 0..theta.len() {
                let g = g[j] * scale;
                m[j] = b1 * m[j] + (1.0 - b1) * g;
                v[j] = b2 * v[j] + (1.0 - b2) * g * g;
                theta[j] -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
            }
            var.set(&Tensor::from_vec(theta, var.shape(), var.device())?)?;
        }
        Ok(norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn step(x: &Var, grad: [f32; 3], max_norm: f64, adam: &mut Adam) {
        let loss = (x.as_tensor() * &Tensor::new(&grad, &Device::Cpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        adam.step(&loss.backward().unwrap(), max_norm).unwrap();
    }

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction the first step is lr * g / (|g| + eps).
        let x =
            Var::from_tensor(&Tensor::new(&[1.0f32, -2.0, 0.5], &Device::Cpu).unwrap()).unwrap();
        let mut adam = Adam::new(vec![x.clone()], 0.1);
        step(&x, [3.0, -1.0, 0.0], f64::INFINITY, &mut adam);
        let got: Vec<f32> = x.as_tensor().to_vec1().unwrap();
        let want = [
            1.0 - 0.1 * 3.0 / (3.0 + 1e-5),
            -2.0 + 0.1 * 1.0 / (1.0 + 1e-5),
            0.5,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w as f32).abs() < 1e-6, "{got:?}");
        }
        assert_eq!(adam.t, 1);
        for (m, want) in adam.m[0].iter().zip([0.3f32, -0.1, 0.0]) {
            assert!((m - want).abs() < 1e-6);
        }
    }

    #[test]
    fn clipping_scales_the_gradient_to_the_norm() {
        let x = Var::from_tensor(&Tensor::new(&[0.0f32, 0.0, 0.0], &Device::Cpu).unwrap()).unwrap();
        let mut adam = Adam::new(vec![x.clone()], 0.1);
        // |(3, 4, 0)| = 5, clipped to 1: the moment holds 0.1 * (0.6, 0.8, 0).
        step(&x, [3.0, 4.0, 0.0], 1.0, &mut adam);
        for (m, want) in adam.m[0].iter().zip([0.06f32, 0.08, 0.0]) {
            assert!((m - want).abs() < 1e-6, "{:?}", adam.m[0]);
        }
    }
}
