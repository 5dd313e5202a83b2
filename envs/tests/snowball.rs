//! Snowball at Avalanche's size (issue 30): textbook facts of the rule, the
//! engine's determinism, and the rebalancing attack on both sides of its
//! threshold, each with a margin.

use envs::sampling::snowball::{play, Adversary, Batch, SnowballConfig, SnowballSpec, Summary};

fn spec(n: usize, f: usize, change: impl FnOnce(&mut SnowballConfig)) -> SnowballSpec {
    let mut cfg = SnowballConfig::default();
    change(&mut cfg);
    SnowballSpec::new(n, f, &cfg).unwrap()
}

#[test]
fn without_byzantine_nodes_every_episode_decides_and_agrees() {
    for n in [50, 300] {
        let s = spec(n, 0, |_| {});
        let outcomes = play(&s, Adversary::Silent, 7, 40, 16);
        let sum = Summary::of(&outcomes);
        assert_eq!(sum.stalled, 0, "n = {n}: {sum:?}");
        assert_eq!(sum.violations, 0, "n = {n}: {sum:?}");
        for o in &outcomes {
            assert_eq!(o.decided[0] + o.decided[1], n as u32);
            assert!(o.decided[0] == 0 || o.decided[1] == 0, "{o:?}");
            // Decided on every colour takes at least beta rounds.
            assert!(o.finished.unwrap() >= 20, "{o:?}");
        }
    }
}

#[test]
fn beta_one_and_a_unanimous_start_decide_in_round_one() {
    for ones in [0, 99] {
        let s = spec(99 + 1, 1, |c| {
            c.beta = 1;
            c.ones = Some(ones);
        });
        let colour = usize::from(ones > 0);
        for adversary in [Adversary::Silent, Adversary::RebalanceInformed] {
            for o in play(&s, adversary, 3, 20, 8) {
                assert_eq!(o.finished, Some(1), "{adversary:?} {o:?}");
                assert_eq!(o.decided[colour], 99, "{o:?}");
            }
        }
    }
}

#[test]
fn a_unanimous_start_decides_in_beta_rounds_without_an_adversary() {
    // Every poll is unanimous: the streak grows by one a round.
    let s = spec(40, 0, |c| {
        c.beta = 7;
        c.ones = Some(40);
    });
    for o in play(&s, Adversary::Silent, 1, 10, 10) {
        assert_eq!((o.finished, o.decided), (Some(7), [0, 40]));
    }
}

#[test]
fn the_same_seed_gives_the_same_outcomes_with_any_batch_and_thread_count() {
    let s = spec(400, 20, |c| c.rounds = 300);
    let one = |threads: usize, batch: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| play(&s, Adversary::Rebalance, 11, 12, batch))
    };
    let reference = one(1, 12);
    assert_eq!(reference, one(2, 5));
    assert_eq!(reference, one(3, 1));
    assert_ne!(reference, pool_free(&s, 12));
}

/// Another seed: not the same outcomes (the streams are the seed's).
fn pool_free(s: &SnowballSpec, episodes: u64) -> Vec<envs::sampling::snowball::Outcome> {
    play(s, Adversary::Rebalance, 12, episodes, 4)
}

#[test]
fn stepping_a_batch_by_hand_keeps_the_counts_of_its_nodes() {
    let s = spec(300, 15, |c| c.rounds = 50);
    let mut b = Batch::new(s, 5, 0, 3);
    for _ in 0..30 {
        b.step(Adversary::RebalanceInformed);
    }
    for (e, o) in b.outcomes().iter().enumerate() {
        let nodes = b.nodes(e);
        let decided = |c: u8| nodes.iter().filter(|n| n.decided && n.pref == c).count() as u32;
        assert_eq!(o.decided, [decided(0), decided(1)]);
        for n in nodes {
            assert!(n.cnt < s.beta || n.decided, "{n:?}");
        }
    }
}

/// The informed rebalancing attack at n = 500 stops liveness (the cap hit)
/// in most episodes at 16% of the nodes, and in few at 2% (its threshold
/// at n = 500 is about 4%, docs/snowball.md). Required of 20 episodes: at
/// least 15 and at most 5.
#[test]
fn the_rebalancing_attack_stops_liveness_above_its_threshold_only() {
    let at = |f: usize| {
        let s = spec(500, f, |c| c.rounds = 200);
        Summary::of(&play(&s, Adversary::RebalanceInformed, 1, 20, 20))
    };
    let strong = at(80);
    assert!(strong.stalled >= 15, "16%: {strong:?}");
    let weak = at(10);
    assert!(weak.stalled <= 5, "2%: {weak:?}");
}
