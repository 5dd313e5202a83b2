//! Adam (Kingma and Ba), written out so its state can be saved and a run
//! resumed to the same result, over plain arrays in a fixed order.

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken.
    pub t: u64,
    /// First and second moment estimates, one array per parameter array.
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// For parameter arrays of lengths `lens`.
    pub fn new(lens: &[usize], lr: f64) -> Adam {
        let m: Vec<Vec<f32>> = lens.iter().map(|&n| vec![0.0; n]).collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-5,
            t: 0,
            v: m.clone(),
            m,
        }
    }

    /// One step of `params` along `grads` (one per parameter array; `None`:
    /// the loss does not depend on it, and its moments stay), rescaled first
    /// so that their global norm is at most `max_norm`. Returns the norm
    /// before rescaling.
    pub fn step(
        &mut self,
        params: Vec<&mut Vec<f32>>,
        grads: &[Option<&[f32]>],
        max_norm: f64,
    ) -> f64 {
        let norm = grads
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
        for (k, (theta, g)) in params.into_iter().zip(grads).enumerate() {
            let Some(g) = g else {
                continue;
            };
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            // Element by element, each the same IEEE steps (square root and
            // division are correctly rounded at any lane width): zipped, so
            // the compiler vectorises it without bounds checks.
            let n = theta.len();
            for (((theta, &g), m), v) in theta
                .iter_mut()
                .zip(&g[..n])
                .zip(&mut m[..n])
                .zip(&mut v[..n])
            {
                let g = g * scale;
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *theta -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
            }
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(x: &mut Vec<f32>, grad: [f32; 3], max_norm: f64, adam: &mut Adam) {
        adam.step(vec![x], &[Some(&grad[..])], max_norm);
    }

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction the first step is lr * g / (|g| + eps).
        let mut x = vec![1.0f32, -2.0, 0.5];
        let mut adam = Adam::new(&[3], 0.1);
        step(&mut x, [3.0, -1.0, 0.0], f64::INFINITY, &mut adam);
        let want = [
            1.0 - 0.1 * 3.0 / (3.0 + 1e-5),
            -2.0 + 0.1 * 1.0 / (1.0 + 1e-5),
            0.5,
        ];
        for (g, w) in x.iter().zip(want) {
            assert!((g - w as f32).abs() < 1e-6, "{x:?}");
        }
        assert_eq!(adam.t, 1);
        for (m, want) in adam.m[0].iter().zip([0.3f32, -0.1, 0.0]) {
            assert!((m - want).abs() < 1e-6);
        }
    }

    #[test]
    fn clipping_scales_the_gradient_to_the_norm() {
        let mut x = vec![0.0f32; 3];
        let mut adam = Adam::new(&[3], 0.1);
        // |(3, 4, 0)| = 5, clipped to 1: the moment holds 0.1 * (0.6, 0.8, 0).
        step(&mut x, [3.0, 4.0, 0.0], 1.0, &mut adam);
        for (m, want) in adam.m[0].iter().zip([0.06f32, 0.08, 0.0]) {
            assert!((m - want).abs() < 1e-6, "{:?}", adam.m[0]);
        }
    }

    #[test]
    fn a_parameter_without_gradient_keeps_its_value_and_moments() {
        let (mut x, mut y) = (vec![1.0f32], vec![2.0f32]);
        let mut adam = Adam::new(&[1, 1], 0.1);
        adam.step(vec![&mut x, &mut y], &[Some(&[1.0][..]), None], 10.0);
        assert_eq!((y[0], adam.m[1][0], adam.v[1][0]), (2.0, 0.0, 0.0));
        assert!(x[0] < 1.0);
    }
}
