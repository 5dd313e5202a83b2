//! `verify --game reliable_broadcast --checkpoint FILE --all-n` (issue 28):
//! a threshold-view network read back as threshold rules and proved for
//! every n > 3t, or refused naming the view where it is no such rule.
//!
//! The networks are Bracha's protocol cloned into the threshold view at
//! n = 4, f = 1 (behaviour cloning on every view its own sends can make, to
//! every decision matched), so what they do is known: Bracha's rules with
//! its delivery quorum read as ceil((n + f + 1) / 2) (equal to 2f + 1 at
//! n = 4, the only quorum of the view), which is safe at every n.

mod common;

use agents::checkpoint::{self, Meta};
use agents::{LearnConfig, Learner};
use common::verify_rb_checkpoint;
use envs::broadcast::game::{Kind, Msg, View};
use envs::broadcast::play::{self, ObsView, Reading};
use envs::broadcast::protocols::scripted;
use envs::broadcast::threshold::{each_view, effect};
use envs::broadcast::{RbFaults, RbProtocol, RbSpec};
use selfplay::games::broadcast::{alln, explain};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const HIDDEN: [usize; 2] = [64, 64];

/// The experiment a clone is saved under: the threshold view, one value of
/// each kind, values read as they are (a value-symmetric network cannot
/// break Bracha's ties between the values, so it is not Bracha's rules).
fn config(view: &str) -> String {
    let per_value = view.starts_with("per_value");
    let view = match view {
        "per_value_quorums" => "quorums",
        "per_value" => "thresholds",
        view => view,
    };
    format!(
        "game = \"reliable_broadcast\"\n\n[env]\nn = 4\nf = 1\n\n[honest]\nkind = \"learned\"\n\n\
         [honest.learn]\nhidden = [64, 64]\n\n[byzantine]\nkind = \"learned\"\n\n[train]\nepisodes = 4096\nbatch = 512\n\
         eval_every = 4096\n\n[rb]\nview = \"{view}\"\nvalue_symmetric = false\n\
         one_value_per_kind = true\nper_value = {per_value}\nsupported_only = {per_value}\n"
    )
}

/// Bracha cloned into a threshold-view network at n = 4, f = 1, with
/// `change` applied to the target decision of each view (head classes:
/// INIT, ECHO, READY, deliver), saved at `path`.
fn clone(path: &Path, change: impl Fn(&View, &mut [u32])) -> PathBuf {
    let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
    let reading = Reading {
        symmetric: false,
        one_value: true,
        view: ObsView::Thresholds,
        supported: false,
        per_value: false,
        sender_broadcasts: false,
    };
    let bracha = scripted("bracha").unwrap();
    let d = play::honest_obs_size(&spec, reading);
    let (mut obs, mut masks, mut actions) = (vec![], vec![], vec![]);
    let mut seen = BTreeSet::new();
    each_view(&spec, |view| {
        let leveled = play::leveled(&spec, reading.view, view);
        if view.sent != view.to_self || !seen.insert(format!("{leveled:?}")) {
            return;
        }
        let mut x = vec![0.0; d];
        let mut m = [0u8; play::HONEST_HEADS];
        play::honest_input(&spec, view, reading, &mut x, &mut m);
        let (wire, own, deliver) = effect(view, &bracha.act(&spec, view));
        let new = wire | own;
        let mut target = [play::NONE; play::HONEST_HEADS];
        for (h, kind) in [Kind::Init, Kind::Echo, Kind::Ready]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = (0..2).find(|&v| new & Msg::new(kind, v).bit() != 0) {
                target[h] = v as u32;
            }
        }
        target[3] = deliver.map_or(play::NONE, |v| v as u32);
        change(view, &mut target);
        obs.extend(x);
        masks.extend(m);
        actions.extend(target);
    });
    imitate_and_save(path, d, (&obs, &masks, &actions), "thresholds")
}

/// A network of `d` inputs that matches every decision of `data`
/// (observations, masks, head classes), saved at `path` under `view`.
fn imitate_and_save(
    path: &Path,
    d: usize,
    (obs, masks, actions): (&[f32], &[u8], &[u32]),
    view: &str,
) -> PathBuf {
    let cfg = LearnConfig {
        hidden: HIDDEN.to_vec(),
        lr: 0.003,
        minibatch: 1024,
        ..LearnConfig::default()
    };
    let mut rng = selfplay::streams::stream(7, 0);
    let mut learner = Learner::new(d, play::HONEST_HEADS, &cfg, &mut rng).unwrap();
    let matched = learner.imitate(obs, masks, actions, 400, &mut rng).unwrap();
    assert_eq!(matched, 1.0, "the clone matches every decision");
    save(path, &learner, d, view)
}

/// Saves `learner` as an honest checkpoint of `view` at n = 4, f = 1.
fn save(path: &Path, learner: &Learner, d: usize, view: &str) -> PathBuf {
    let meta = Meta {
        team: "honest".into(),
        obs_dim: d,
        heads: play::HONEST_HEADS,
        hidden: HIDDEN.to_vec(),
        rounds: 0,
        episodes: 0,
        config: config(view),
    };
    checkpoint::save(path, learner, &meta).unwrap();
    path.to_path_buf()
}

#[test]
fn a_threshold_network_is_read_as_rules_and_proved_for_every_n() {
    let dir = tempfile::tempdir().unwrap();
    let path = clone(&dir.path().join("bracha.safetensors"), |_, _| {});
    let form = explain::threshold_form(&path).unwrap();
    let rules: Vec<String> = form.rules.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        rules,
        [
            "on input 0: send INIT 0 to all",
            "on input 1: send INIT 1 to all",
            "on INIT 0 read: send ECHO 0 to all",
            "on INIT 1 read: send ECHO 1 to all",
            "on ECHO 0 >= ceil((n + t + 1) / 2): send READY 0 to all",
            "on READY 0 >= t + 1: send READY 0 to all",
            "on ECHO 1 >= ceil((n + t + 1) / 2): send READY 1 to all",
            "on READY 1 >= t + 1: send READY 1 to all",
            "on READY 0 >= ceil((n + t + 1) / 2): deliver 0",
            "on READY 1 >= ceil((n + t + 1) / 2): deliver 1",
        ]
    );
    let r = alln::prove("the clone", &form).unwrap();
    assert!(r.proved("agreement") && r.proved("correct_sender"), "{r:?}");

    // Through the command line, as a user asks it.
    let text = verify_rb_checkpoint(&path, &["--all-n"]);
    assert!(
        text.contains("agreement") && text.contains("proved"),
        "{text}"
    );
}

/// Bracha cloned into a network that decides one value at a time
/// (`rb.per_value`, as experiments/rb_learn_per_value.toml learns), with
/// `change` applied to value v's row target (classes of INIT v, ECHO v,
/// READY v, deliver v: 0 to take it, `NONE` not to), saved at `path`.
fn clone_per_value(path: &Path, change: impl Fn(&View, u8, &mut [u32])) -> PathBuf {
    clone_per_value_in(path, ObsView::Thresholds, change)
}

/// [`clone_per_value`] in the view `obs`.
fn clone_per_value_in(
    path: &Path,
    obs: ObsView,
    change: impl Fn(&View, u8, &mut [u32]),
) -> PathBuf {
    let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
    let reading = Reading {
        symmetric: false,
        one_value: true,
        view: obs,
        supported: true,
        per_value: true,
        sender_broadcasts: false,
    };
    let bracha = scripted("bracha").unwrap();
    let d = play::honest_obs_size(&spec, reading);
    let heads = play::HONEST_HEADS;
    let (mut obs, mut masks, mut actions) = (vec![], vec![], vec![]);
    let mut seen = BTreeSet::new();
    each_view(&spec, |view| {
        if view.sent != view.to_self {
            return;
        }
        let mut x = vec![0.0; 2 * d];
        let mut m = vec![0u8; 2 * heads];
        play::honest_inputs(&spec, view, reading, &mut x, &mut m);
        for v in 0..2u8 {
            // Bracha on value v's evidence alone (where both values would
            // have it act, it picks one; value v's row answers for v).
            let w = 1 - v;
            let mut alone = *view;
            alone.count[Msg::echo(w).index() - 2] = 0;
            alone.count[Msg::ready(w).index() - 2] = 0;
            alone.init = alone.init.filter(|&i| i == v);
            let (wire, own, deliver) = effect(&alone, &bracha.act(&spec, &alone));
            let new = wire | own;
            let mut target = [play::NONE; play::HONEST_HEADS];
            for (h, kind) in [Kind::Init, Kind::Echo, Kind::Ready]
                .into_iter()
                .enumerate()
            {
                if new & Msg::new(kind, v).bit() != 0 {
                    target[h] = 0;
                }
            }
            if deliver == Some(v) {
                target[3] = 0;
            }
            change(view, v, &mut target);
            let (row, mask) = (&x[v as usize * d..][..d], &m[v as usize * heads..][..heads]);
            if seen.insert(format!("{row:?}{mask:?}{target:?}")) {
                obs.extend_from_slice(row);
                masks.extend_from_slice(mask);
                actions.extend(target);
            }
        }
    });
    let name = match reading.view {
        ObsView::Quorums => "per_value_quorums",
        _ => "per_value",
    };
    imitate_and_save(path, d, (&obs, &masks, &actions), name)
}

/// One value at a time: the rules are read off as the smallest rules over
/// each value's own guards that allow every action the network takes, on
/// every view at n = 4 (reached or not). Bracha's clone gives back
/// Bracha's rules and is proved; a clone that delivers on f + 1 ECHOs
/// (broken by a Byzantine sender at n = 4) is refuted for agreement.
#[test]
fn a_per_value_network_is_read_as_rules_proved_or_refuted() {
    let dir = tempfile::tempdir().unwrap();
    let path = clone_per_value(&dir.path().join("bracha.safetensors"), |_, _, _| {});
    let form = explain::threshold_form(&path).unwrap();
    let rules: Vec<String> = form.rules.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        rules,
        [
            "on input 0: send INIT 0 to all",
            "on input 1: send INIT 1 to all",
            "on INIT 0 read: send ECHO 0 to all",
            "on INIT 1 read: send ECHO 1 to all",
            "on READY 0 >= t + 1: send READY 0 to all",
            "on ECHO 0 >= ceil((n + t + 1) / 2): send READY 0 to all",
            "on READY 1 >= t + 1: send READY 1 to all",
            "on ECHO 1 >= ceil((n + t + 1) / 2): send READY 1 to all",
            "on READY 0 >= ceil((n + t + 1) / 2): deliver 0",
            "on READY 1 >= ceil((n + t + 1) / 2): deliver 1",
        ]
    );
    let r = alln::prove("the clone", &form).unwrap();
    assert!(r.proved("agreement") && r.proved("correct_sender"), "{r:?}");

    let hasty = clone_per_value(&dir.path().join("hasty.safetensors"), |view, v, t| {
        if view.count(Msg::echo(v)) >= 2 && view.delivered.is_none() {
            t[3] = 0;
        }
    });
    let form = explain::threshold_form(&hasty).unwrap();
    let r = alln::prove("the hasty clone", &form).unwrap();
    assert!(!r.proved("agreement"), "{r:?}");
}

/// The quorum view (`rb.view = "quorums"`: f + 1 and the quorum, without
/// the guard of a single copy) gives Bracha's clone the same rules, proved
/// for every n; it plays at another n (verified at n = 5, f = 1, where its
/// quorum is 4 of 5). None of its rules reads a single copy.
#[test]
fn a_quorum_view_network_is_read_as_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bracha.safetensors");
    let path = clone_per_value_in(&path, ObsView::Quorums, |_, _, _| {});
    let form = explain::threshold_form(&path).unwrap();
    let rules: Vec<String> = form.rules.iter().map(|r| r.to_string()).collect();
    let bracha = dir.path().join("bracha_thresholds.safetensors");
    let bracha = explain::threshold_form(&clone_per_value(&bracha, |_, _, _| {})).unwrap();
    let theirs: Vec<String> = bracha.rules.iter().map(|r| r.to_string()).collect();
    assert_eq!(rules, theirs);
    assert!(rules.iter().all(|r| !r.contains(">= 1:")), "{rules:?}");
    let r = alln::prove("the clone", &form).unwrap();
    assert!(r.proved("agreement") && r.proved("correct_sender"), "{r:?}");

    let text = verify_rb_checkpoint(&path, &["--n", "5", "--f", "1", "--json"]);
    assert!(text.contains("\"verified\":true"), "{text}");
}

#[test]
fn a_network_no_rule_explains_is_refused_naming_the_view() {
    let dir = tempfile::tempdir().unwrap();
    // One view changed: on nothing at all, ECHO 0 (and never ECHO 1 there).
    let empty = View::default();
    let path = clone(&dir.path().join("odd.safetensors"), |view, target| {
        if *view == empty {
            target[1] = 0;
        }
    });
    let e = explain::threshold_form(&path).unwrap_err();
    assert!(e.contains("not a threshold automaton"), "{e}");
    assert!(e.contains("ECHO"), "{e}");
    assert!(e.contains("[input none, INIT none"), "{e}");

    // Raw counts play at their own n only: no form for every n.
    let spec = RbSpec::new(4, 1, RbFaults::Byzantine).unwrap();
    let d = play::honest_obs_size(&spec, Reading::default());
    let cfg = LearnConfig {
        hidden: HIDDEN.to_vec(),
        ..LearnConfig::default()
    };
    let learner = Learner::new(
        d,
        play::HONEST_HEADS,
        &cfg,
        &mut selfplay::streams::stream(7, 0),
    );
    let path = save(
        &dir.path().join("counts.safetensors"),
        &learner.unwrap(),
        d,
        "counts",
    );
    let e = explain::threshold_form(&path).unwrap_err();
    assert!(e.contains("trained on raw counts"), "{e}");
}
