//! Partial synchrony and asynchrony: held messages arrive late, the
//! synchronous baselines fall once messages can be held, the search over
//! delays agrees with a brute force through the batched engine, and at
//! n = 2f no protocol at all survives delays (every one is verified).

mod common;
use common::search_matches_brute_force;

use envs::consensus::protocols::{self, Protocol};
use envs::consensus::rules::{empty_inbox, step, Action, Episode, Instance};
use envs::consensus::spec::offset;
use envs::consensus::{
    verify, Comm, EnvConfig, EnvSpec, Faults, Identity, Limits, Report, Synchrony, View, NONE,
};
use Synchrony::{Asynchronous, PartiallySynchronous};

/// Agreement among `n` agents, `f` faulty, synchronous.
fn game(n: usize, f: usize, identity: Identity, faults: Faults) -> EnvConfig {
    EnvConfig {
        n,
        f,
        identity,
        faults,
        ..EnvConfig::default()
    }
}

/// `cfg` with delays of up to `delta` rounds (and a stabilisation round).
fn timed(cfg: EnvConfig, synchrony: Synchrony, delta: u8, gst: Option<u8>) -> EnvConfig {
    EnvConfig {
        synchrony,
        delta: Some(delta),
        gst,
        ..cfg
    }
}

fn spec(cfg: EnvConfig, rounds: u8) -> EnvSpec {
    EnvSpec::new(&cfg, rounds).unwrap()
}

fn check(name: &str, s: &EnvSpec) -> Report {
    let p = protocols::scripted(name).unwrap();
    verify(s, &*p, &Limits::default()).unwrap()
}

#[test]
fn a_held_message_arrives_late() {
    // n = 3, nobody faulty; agent 0's round-1 message to agent 1 is held 2
    // rounds more: agent 1 sees it at the start of round 4, not round 2,
    // and cannot relay it in round 2. Agent 2 got it on time and relays it.
    let plain = game(3, 0, Identity::Authenticated, Faults::Byzantine);
    let s = spec(timed(plain, PartiallySynchronous, 2, Some(3)), 4);
    let mut ep = Episode::new(Instance {
        byzantine: 0,
        inputs: 0b001,
        sender: 0,
    });
    let mut inbox = vec![0; s.stride()];
    empty_inbox(&s, &mut inbox);
    let on_time = vec![NONE; s.byz_action_len()];
    let mut byz = on_time.clone();
    byz[s.delay_head(0, 1)] = 1; // hold 2 rounds more
    step(&s, 1, &mut ep, &mut inbox, &[0; 3], &byz);
    let seen = |ep: &Episode, inbox: &[u8], r: u8| {
        View::of(&s, r, ep, inbox, 1).direct(1, offset(3, 1, 0))
    };
    assert_eq!(seen(&ep, &inbox, 2), NONE);
    assert_eq!(
        View::of(&s, 2, &ep, &inbox, 2).direct(1, offset(3, 2, 0)),
        1
    );
    step(&s, 2, &mut ep, &mut inbox, &[0; 3], &on_time);
    assert_eq!(seen(&ep, &inbox, 3), NONE);
    // Agent 2 relayed agent 0's value to agent 1 in round 2; agent 1 had nothing to relay.
    let v1 = View::of(&s, 3, &ep, &inbox, 1);
    assert_eq!(v1.relay(2, offset(3, 1, 2), offset(3, 1, 0)), 1);
    let v2 = View::of(&s, 3, &ep, &inbox, 2);
    assert_eq!(v2.relay(2, offset(3, 2, 1), offset(3, 2, 0)), NONE);
    step(&s, 3, &mut ep, &mut inbox, &[0; 3], &on_time);
    assert_eq!(seen(&ep, &inbox, 4), 1);
}

#[test]
fn with_delays_signatures_no_longer_save_n_3() {
    let pki = game(3, 1, Identity::Pki, Faults::Byzantine);
    let sr = |cfg: EnvConfig| check("signed_relay", &spec(cfg, 3));
    assert!(sr(pki.clone()).verified);
    // Round-1 messages held one round still arrive before the decision.
    assert!(sr(timed(pki.clone(), PartiallySynchronous, 1, Some(2))).verified);
    // Once round-2 relays can be held past the decision, equivocation wins
    // on every split input (Dwork-Lynch-Stockmeyer: n > 3f even with pki).
    for cfg in [
        timed(pki.clone(), PartiallySynchronous, 1, Some(3)),
        timed(pki.clone(), Asynchronous, 1, None),
    ] {
        let r = sr(cfg);
        assert_eq!((r.broken_instances, r.instances), (6, 12), "{}", r.setting);
        let cex = r.counterexample.unwrap();
        assert!(cex.render().contains("is held"), "{}", cex.render());
    }
    let r = sr(timed(pki, Asynchronous, 2, None));
    assert_eq!((r.broken_instances, r.instances), (9, 12));
}

#[test]
fn with_delays_floodset_falls() {
    let crash = |n| game(n, 1, Identity::Authenticated, Faults::Crash);
    let fs = |cfg: EnvConfig| check("floodset", &spec(cfg, 3));
    assert!(fs(crash(3)).verified);
    let r = fs(timed(crash(3), PartiallySynchronous, 1, Some(2)));
    assert_eq!((r.broken_instances, r.instances), (3, 24));
    // Two agents: a round-1 message held one round still arrives in time;
    // held two, it never does, and each agent decides alone.
    assert!(fs(timed(crash(2), Asynchronous, 1, None)).verified);
    let r = fs(timed(crash(2), Asynchronous, 2, None));
    assert_eq!((r.broken_instances, r.instances), (4, 8));
}

/// A deterministic protocol for n = 2 and 2 rounds given as a table:
/// round 1 by input, round 2 by input and what came from the other agent.
struct Table {
    round1: [Action; 2],
    round2: [Action; 6],
}

impl Protocol for Table {
    fn name(&self) -> String {
        format!("table {:?} {:?}", self.round1, self.round2)
    }

    fn rounds(&self) -> u8 {
        2
    }

    fn act(&self, view: &View) -> Action {
        if view.round == 1 {
            return self.round1[view.input as usize];
        }
        self.round2[view.input as usize * 3 + view.direct(1, 0) as usize]
    }
}

/// Every protocol for n = 2, f = 1 crash, 2 rounds: 3^2 first moves times
/// 2^6 decisions.
fn every_protocol() -> impl Iterator<Item = Table> {
    let all = [Action::Send, Action::Commit0, Action::Commit1];
    (0..9).flat_map(move |a| {
        (0..64u32).map(move |d| Table {
            round1: [all[a % 3], all[a / 3]],
            round2: std::array::from_fn(|k| Action::commit((d >> k & 1) as u8)),
        })
    })
}

#[test]
fn at_n_2f_no_protocol_survives_delays() {
    // Crash faults need n >= 2f + 1 once messages can be delayed: at n = 2,
    // f = 1 a held message looks exactly like a crash, and each agent must
    // decide alone. Every one of the 576 protocols is verified exactly.
    let crash = game(2, 1, Identity::Authenticated, Faults::Crash);
    let sync = spec(crash.clone(), 2);
    let held = spec(timed(crash, Asynchronous, 1, None), 2);
    let (mut verified_sync, mut verified_held, mut count) = (0, 0, 0);
    for p in every_protocol() {
        count += 1;
        verified_sync += verify(&sync, &p, &Limits::default()).unwrap().verified as usize;
        verified_held += verify(&held, &p, &Limits::default()).unwrap().verified as usize;
    }
    assert_eq!(count, 576);
    // Synchronous: send, then decide the smaller value seen, or the larger.
    assert_eq!(verified_sync, 2);
    assert_eq!(verified_held, 0);
}

#[test]
fn search_agrees_with_brute_force() {
    let crash = |n| game(n, 1, Identity::Authenticated, Faults::Crash);
    let commit = EnvConfig {
        comm: Comm::AtomicCommit,
        ..crash(3)
    };
    let cases = [
        ("floodset", timed(crash(2), Asynchronous, 2, None), 3),
        (
            "floodset",
            timed(crash(3), PartiallySynchronous, 1, Some(2)),
            3,
        ),
        (
            "majority",
            timed(
                game(3, 1, Identity::Authenticated, Faults::Byzantine),
                Asynchronous,
                1,
                None,
            ),
            2,
        ),
        (
            "majority",
            timed(
                game(3, 1, Identity::Pki, Faults::Omission),
                Asynchronous,
                1,
                None,
            ),
            2,
        ),
        ("vote_commit", timed(commit, Asynchronous, 1, None), 2),
        (
            // One placement keeps it to 324 schedules per round.
            "signed_relay",
            EnvConfig {
                byzantine_ids: Some(vec![2]),
                ..timed(
                    game(3, 1, Identity::Pki, Faults::Byzantine),
                    PartiallySynchronous,
                    1,
                    Some(3),
                )
            },
            3,
        ),
    ];
    for (name, cfg, rounds) in cases {
        let p = protocols::scripted(name).unwrap();
        search_matches_brute_force(&spec(cfg, rounds), &*p);
    }
}
