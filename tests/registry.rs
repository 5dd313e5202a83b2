//! Every command reaches a game through the registry: a config key or a
//! `verify` flag the chosen game does not read is refused naming it and the
//! game that reads it, and a checkpoint of another game is named with the
//! command that reads it (issues 25 and 26).

mod common;
use common::selfplay;
use selfplay::games::Registry;
use std::process::Output;

fn refused(out: Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

fn experiment(name: &str) -> String {
    format!("{}/experiments/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_registry_names_each_game_once() {
    let r = Registry::built_in();
    assert_eq!(
        r.names(),
        ["consensus", "slush", "reliable_broadcast", "snowball"]
    );
    let e = r.find("nosuch").err().unwrap();
    assert!(
        e.contains("consensus, slush, reliable_broadcast, snowball"),
        "{e}"
    );
    // A name taken twice would make `game = "..."` ambiguous.
    for entry in r.entries() {
        let again = Registry::built_in().with(*entry).err().unwrap();
        assert!(again.contains("registered already"), "{again}");
    }
}

/// Keys of another game are refused by the parser, naming the key, the
/// value and the game; before the registry they were read and ignored.
#[test]
fn foreign_keys_are_refused_for_every_game() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    for (file, set, key) in [
        ("rb_learn.toml", "env.delta=1", "env.delta = 1"),
        ("rb_learn.toml", "env.ones=2", "env.ones = 2"),
        (
            "rb_learn.toml",
            "honest.protocol=\"echo\"",
            "honest.protocol = \"echo\"",
        ),
        ("rb_learn.toml", "slush.k=2", "slush = (a table)"),
        ("slush_attack.toml", "env.rounds=3", "env.rounds = 3"),
        ("slush_attack.toml", "train.block=3", "train.block = 3"),
        ("slush_attack.toml", "rb.max_states=5", "rb = (a table)"),
        ("byz_break.toml", "slush.k=2", "slush = (a table)"),
        ("byz_break.toml", "rb.message_cost=0.5", "rb = (a table)"),
        ("byz_break.toml", "snowball.k=2", "snowball = (a table)"),
        ("snowball_liveness.toml", "slush.k=2", "slush = (a table)"),
        ("snowball_liveness.toml", "env.ones=2", "env.ones = 2"),
        // Snowball reads train.episodes, batch and eval_every (a learned
        // adversary), not the consensus game's blocks.
        ("snowball_liveness.toml", "train.block=3", "train.block = 3"),
    ] {
        let err = refused(
            selfplay()
                .arg(experiment(file))
                .args(["--set", set, "--out"])
                .arg(&out)
                .output()
                .unwrap(),
        );
        assert!(err.contains(key), "{file} --set {set}: {err}");
        assert!(err.contains("does not read this key"), "{err}");
        assert!(!out.exists(), "{file} --set {set}: a refused run wrote");
    }
}

/// A `verify` flag given on the command line that the chosen game does not
/// read is refused, naming the game whose flag it is; a default is not given.
#[test]
fn verify_refuses_the_flags_of_other_games() {
    for (args, expected) in [
        (
            vec!["--game", "reliable_broadcast", "--protocol", "bracha", "--n", "4", "--f", "1", "--synchrony", "synchronous"],
            "--synchrony: --game reliable_broadcast does not read it; it is a flag of --game consensus",
        ),
        (
            vec!["--protocol", "floodset", "--n", "3", "--f", "1", "--k", "2"],
            "--k: --game consensus does not read it; it is a flag of --game slush",
        ),
        (
            vec!["--game", "slush", "--protocol", "slush", "--n", "5", "--f", "1", "--max-states", "9"],
            "--max-states: --game slush does not read it; it is a flag of --game reliable_broadcast",
        ),
        (
            vec!["--game", "reliable_broadcast", "--protocol", "bracha", "--n", "4", "--f", "1", "--rounds", "3"],
            "--rounds: --game reliable_broadcast does not read it; it is a flag of --game consensus and --game slush",
        ),
        (
            vec!["--game", "nosuch", "--protocol", "x", "--n", "3", "--f", "1"],
            "--game: no game named \"nosuch\"; the games are consensus, slush, reliable_broadcast, snowball",
        ),
    ] {
        let err = refused(selfplay().arg("verify").args(&args).output().unwrap());
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Every game's own flags are in the help, under its name.
    let help = selfplay().args(["verify", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for heading in [
        "--game consensus:",
        "--game slush:",
        "--game reliable_broadcast:",
    ] {
        assert!(help.contains(heading), "{help}");
    }
}

/// A checkpoint given to a game it was not trained in is named by its game,
/// with the command that reads it (before: "env.rounds = 0", "a consensus
/// checkpoint", or advice that sent the user in a loop).
#[test]
fn a_checkpoint_of_another_game_is_named_with_the_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("slush");
    let out = selfplay()
        .arg(experiment("slush.toml"))
        .args(["--quiet", "--out"])
        .arg(&run)
        .args(["--set", "train.episodes=128", "--set", "train.batch=64"])
        .args(["--set", "eval.episodes=64", "--set", "train.eval_every=128"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ckpt = run.join("honest.safetensors");
    let shown = ckpt.display().to_string();
    for game in ["consensus", "reliable_broadcast"] {
        let err = refused(
            selfplay()
                .args([
                    "verify",
                    "--game",
                    game,
                    "--checkpoint",
                    &shown,
                    "--n",
                    "5",
                    "--f",
                    "1",
                ])
                .output()
                .unwrap(),
        );
        assert!(
            err.contains("a checkpoint of game = \"slush\"")
                && err.contains(&format!(
                    "selfplay verify --game slush --checkpoint {shown}"
                )),
            "{game}: {err}"
        );
    }
    // explain finds the game itself.
    let text = selfplay().args(["explain", &shown]).output().unwrap();
    assert!(text.status.success(), "{text:?}");
}

/// Every game estimates its memory before it starts and refuses, naming
/// the key, what would pass 8 GB (before: the sampling game and reliable
/// broadcast passed 8 GB within 30 s, or aborted on a 40 GB allocation).
#[test]
fn every_game_refuses_a_run_past_8_gb_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    for (file, set, key) in [
        (
            "rb_learn.toml",
            "train.batch=100000000",
            "train.batch = 100000000",
        ),
        (
            "slush_cotrain.toml",
            "train.batch=100000000",
            "train.batch = 100000000",
        ),
        (
            "byz_break.toml",
            "train.batch=100000000",
            "train.batch = 100000000",
        ),
        (
            "rb_learn.toml",
            "honest.learn.hidden=[100000,100000]",
            "honest.learn.hidden = [100000, 100000]",
        ),
        (
            "slush_attack.toml",
            "byzantine.learn.hidden=[100000,100000]",
            "byzantine.learn.hidden = [100000, 100000]",
        ),
    ] {
        let err = refused(
            selfplay()
                .arg(experiment(file))
                .args(["--set", set, "--out"])
                .arg(&out)
                .output()
                .unwrap(),
        );
        assert!(
            err.contains(key) && err.contains("GB of memory (estimate)"),
            "{file} --set {set}: {err}"
        );
        assert!(!out.exists(), "{file}: a refused run wrote");
    }
}
