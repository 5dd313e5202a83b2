//! Adam (Kingma and Ba), written out so its state can be saved and a run
//! resumed to the same result: candle's optimiser keeps its moments private.

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
    /// First and second moment estimates, one per variable.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
}

impl Adam {
    pub fn new(vars: Vec<Var>, lr: f64) -> candle_core::Result<Adam> {
        let m = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<candle_core::Result<_>>()?;
        let v = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<candle_core::Result<_>>()?;
        Ok(Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-5,
            t: 0,
            vars,
            m,
            v,
        })
    }

    pub fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t as i32);
        let c2 = 1.0 - self.beta2.powi(self.t as i32);
        for (k, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: a moment must not carry the graph of every earlier step.
            self.m[k] = ((&self.m[k] * self.beta1)? + (g * (1.0 - self.beta1))?)?.detach();
            self.v[k] = ((&self.v[k] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?.detach();
            let m_hat = (&self.m[k] / c1)?;
            let v_hat = (&self.v[k] / c2)?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            var.set(&var.as_tensor().sub(&(update * self.lr)?)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction the first step is lr * g / (|g| + eps).
        let x =
            Var::from_tensor(&Tensor::new(&[1.0f32, -2.0, 0.5], &Device::Cpu).unwrap()).unwrap();
        let mut adam = Adam::new(vec![x.clone()], 0.1).unwrap();
        let loss = (x.as_tensor() * &Tensor::new(&[3.0f32, -1.0, 0.0], &Device::Cpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
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
        // The moments hold values, not the graph of the step that made them:
        // otherwise every step would keep all earlier ones alive (a leak).
        assert!(!adam.m[0].track_op() && !adam.v[0].track_op());
    }
}
