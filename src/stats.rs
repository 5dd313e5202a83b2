//! Statistics every game reports with: confidence intervals of sampled rates.

/// The 95% Wilson score interval of `k` successes in `n` trials: unlike the
/// normal approximation it stays inside [0, 1] and is not empty at 0 or n.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959963984540054;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    // At 0 and n the bound is exactly 0 or 1; rounding would leave a speck.
    let low = if k == 0.0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_holds_the_rate_and_stays_in_the_unit_interval() {
        let (lo, hi) = wilson(0, 100);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.03 && hi < 0.04, "{hi}");
        let (lo, hi) = wilson(100, 100);
        assert!(lo > 0.96 && lo < 0.97 && hi == 1.0, "{lo}");
        // 50 of 100: about 0.5 +- 0.097.
        let (lo, hi) = wilson(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
    }
}
