//! The verifier's work limit: a loose a-priori bound does not refuse a
//! search that fits (its work is measured on a sample of instances), and a
//! search that needs more than the limit is stopped, never left to run on.

use envs::consensus::verify::{Basis, PROBES};
use envs::consensus::{
    protocols, verify, Comm, EnvConfig, EnvSpec, Identity, Limits, Synchrony, VerifyError,
};

fn spec(cfg: EnvConfig, rounds: u8) -> EnvSpec {
    EnvSpec::new(&cfg, rounds).unwrap()
}

fn limit(max_work: f64) -> Limits {
    Limits { max_work }
}

#[test]
fn a_loose_bound_is_measured_instead_and_the_search_runs() {
    // Dolev-Strong per entry at n = 5, f = 2: the bound before pruning is
    // about 1e9 evaluations, the search makes about 1e6.
    let s = spec(
        EnvConfig {
            n: 5,
            f: 2,
            comm: Comm::InteractiveConsistency,
            identity: Identity::Pki,
            ..EnvConfig::default()
        },
        4,
    );
    assert!(envs::consensus::instances(&s).len() > PROBES);
    let p = protocols::scripted("dolev_strong").unwrap();
    let whole = verify(&s, &*p, &limit(1e15)).unwrap();
    assert!(whole.estimated_work > 1e8, "{}", whole.estimated_work);
    assert!(whole.evaluations < 5_000_000, "{}", whole.evaluations);
    let sampled = verify(&s, &*p, &limit(1e7)).unwrap();
    assert_eq!(
        (sampled.optimal_attack_rate, sampled.evaluations),
        (whole.optimal_attack_rate, whole.evaluations)
    );
    // The measured figure is what it says: within a factor of the work done.
    let ratio = sampled.estimated_work / whole.evaluations as f64;
    assert!((0.2..5.0).contains(&ratio), "{ratio}");
    // Below the work it needs, the sample refuses it, naming its basis.
    match verify(&s, &*p, &limit(1e5)).unwrap_err() {
        e @ VerifyError::TooLarge {
            basis: Basis::Sampled { probes, .. },
            ..
        } => {
            assert_eq!(probes, PROBES);
            assert!(e.to_string().contains("measured on 64 instances"), "{e}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn a_search_over_the_limit_is_stopped() {
    // Majority under delays at n = 4: 32 instances (searched whole, no
    // sample), about 21,000 evaluations.
    let s = spec(
        EnvConfig {
            n: 4,
            f: 1,
            synchrony: Synchrony::Asynchronous,
            delta: Some(1),
            ..EnvConfig::default()
        },
        2,
    );
    let p = protocols::scripted("majority").unwrap();
    let whole = verify(&s, &*p, &limit(1e15)).unwrap();
    let need = whole.evaluations as f64;
    assert!(verify(&s, &*p, &limit(need)).is_ok());
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let e = pool
            .install(|| verify(&s, &*p, &limit(need - 1.0)))
            .unwrap_err();
        assert!(
            matches!(
                e,
                VerifyError::TooLarge {
                    basis: Basis::Stopped,
                    ..
                }
            ),
            "{threads} threads: {e}"
        );
        assert!(e.to_string().contains("was stopped after"), "{e}");
    }
}
