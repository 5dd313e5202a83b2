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

/// The 95% normal-approximation interval of a mean of `k` samples with
/// sample standard deviation `sd`: `mean +- 1.96 sd / sqrt(k)`. For a mean
/// time over sampled episodes; `None` under two samples.
pub fn mean_interval(mean: f64, sd: Option<f64>, k: u64) -> Option<(f64, f64)> {
    const Z: f64 = 1.959963984540054;
    let sd = sd.filter(|_| k >= 2)?;
    let half = Z * sd / (k as f64).sqrt();
    Some((mean - half, mean + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_interval_is_1_96_standard_errors_and_needs_two_samples() {
        let (lo, hi) = mean_interval(10.0, Some(2.0), 4).unwrap();
        assert!((lo - (10.0 - 1.959963984540054)).abs() < 1e-12, "{lo}");
        assert!((hi - (10.0 + 1.959963984540054)).abs() < 1e-12, "{hi}");
        assert_eq!(mean_interval(10.0, Some(2.0), 1), None);
        assert_eq!(mean_interval(10.0, None, 5), None);
    }

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
