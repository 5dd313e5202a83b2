//! The spec's own tests: offsets, slots, heads and the refusals of
//! [`EnvSpec::new`], each naming its key.

use super::*;

fn spec(n: usize, f: usize, identity: Identity, rounds: u8) -> EnvSpec {
    let cfg = EnvConfig {
        n,
        f,
        identity,
        ..EnvConfig::default()
    };
    EnvSpec::new(&cfg, rounds).unwrap()
}

#[test]
fn offsets_are_a_bijection_on_the_others() {
    for n in 2..8 {
        for i in 0..n {
            let mut seen = vec![false; n];
            for d in 0..n - 1 {
                let j = at_offset(n, i, d);
                assert_ne!(j, i);
                assert_eq!(offset(n, i, j), d);
                assert!(!seen[j]);
                seen[j] = true;
            }
        }
    }
}

#[test]
fn relay_slots_fill_the_block_exactly_once() {
    for n in 3..8 {
        let mut used = vec![0; (n - 1) * (n - 1)];
        for u in used.iter_mut().take(n - 1) {
            *u += 1;
        }
        for dj in 0..n - 1 {
            for dk in (0..n - 1).filter(|&dk| dk != dj) {
                used[relay_slot(n, dj, dk)] += 1;
            }
        }
        assert!(used.iter().all(|&u| u == 1), "n={n}: {used:?}");
    }
}

#[test]
fn byzantine_heads_address_the_senders_slots() {
    let s = spec(5, 2, Identity::Pki, 3);
    for b in 0..5 {
        for i in (0..5).filter(|&i| i != b) {
            let (slot, origin) = s.head(b, i, 0);
            assert_eq!(origin, DIRECT);
            assert_eq!(slot, offset(5, i, b));
            let mut origins = vec![];
            for h in 1..s.heads {
                let (slot, k) = s.head(b, i, h);
                let k = k as usize;
                assert!(k != b && k != i);
                assert_eq!(slot, relay_slot(5, offset(5, i, b), offset(5, i, k)));
                origins.push(k);
            }
            let mut sorted = origins.clone();
            sorted.sort();
            assert_eq!(origins, sorted, "origins ascend by id");
        }
    }
}

#[test]
fn broadcast_groups_put_the_sender_first() {
    for n in 2..7 {
        for s in 0..n {
            for i in 0..n {
                let mut groups: Vec<usize> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| broadcast_group(n, s, i, j))
                    .collect();
                if i != s {
                    assert_eq!(broadcast_group(n, s, i, s), 0);
                }
                groups.sort();
                assert_eq!(groups, (0..n - 1).collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn validation_names_the_key() {
    let bad = |cfg: EnvConfig, rounds: u8| EnvSpec::new(&cfg, rounds).unwrap_err();
    let e = bad(
        EnvConfig {
            f: 3,
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.f");
    assert!(e.to_string().starts_with("env.f = 3: needs f < n"));
    assert_eq!(bad(EnvConfig::default(), 0).key, "env.rounds");
    let e = bad(
        EnvConfig {
            comm: Comm::InteractiveConsistency,
            faults: Faults::Crash,
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.faults");
    assert!(e.reason.contains("Byzantine faults"));
    let e = bad(
        EnvConfig {
            comm: Comm::Broadcast,
            identity: Identity::Anonymous,
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.identity");
    assert!(e.reason.contains("designated sender"));
    let e = bad(
        EnvConfig {
            synchrony: Synchrony::Asynchronous,
            comm: Comm::Broadcast,
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.synchrony");
    let e = bad(
        EnvConfig {
            synchrony: Synchrony::Asynchronous,
            identity: Identity::Anonymous,
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.identity");
    let e = bad(
        EnvConfig {
            delta: Some(1),
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.delta");
    let e = bad(
        EnvConfig {
            synchrony: Synchrony::PartiallySynchronous,
            delta: Some(3),
            ..EnvConfig::default()
        },
        3,
    );
    assert_eq!(e.key, "env.delta");
    let e = bad(
        EnvConfig {
            synchrony: Synchrony::PartiallySynchronous,
            gst: Some(4),
            ..EnvConfig::default()
        },
        3,
    );
    assert_eq!(
        (e.key.as_str(), e.reason.as_str()),
        ("env.gst", "needs 1 <= gst <= rounds = 3")
    );
    let e = bad(
        EnvConfig {
            synchrony: Synchrony::Asynchronous,
            gst: Some(2),
            ..EnvConfig::default()
        },
        3,
    );
    assert_eq!(e.key, "env.gst");
    let e = bad(
        EnvConfig {
            byzantine_ids: Some(vec![0, 1]),
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.byzantine_ids");
    let e = bad(
        EnvConfig {
            ones: Some(3),
            ..EnvConfig::default()
        },
        2,
    );
    assert_eq!(e.key, "env.ones");
}

#[test]
fn lamport_shostak_pease_bound_is_reported() {
    assert!(spec(3, 1, Identity::Authenticated, 3)
        .impossibility()
        .is_some());
    assert!(spec(4, 1, Identity::Authenticated, 3)
        .impossibility()
        .is_none());
    assert!(spec(3, 1, Identity::Pki, 3).impossibility().is_none());
}
