//! Issue 26: `selfplay` never panics, hangs or passes 8 GB on any input.
//! Every key each game reads, in its experiment files, is set to values a
//! hostile user would try (zero, negative, NaN, infinities, huge, every
//! wrong type). Each attempt is loaded and checked in-process under
//! `catch_unwind`; each one the loader accepts also runs for real through
//! the binary, at a tiny size, under a wall-clock timeout and an 8 GB
//! address-space limit: it must end with 0 or a clean refusal (2).
//!
//! `cargo test --test fuzz_keys -- --nocapture` prints what was covered;
//! with `FUZZ_DUMP=1` also every refusal and each tiny run's time.

mod common;
use selfplay::games::Registry;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The experiment files: the sampling game and reliable broadcast (the
/// games issue 26 is about), consensus, and snowball.
const FILES: &[&str] = &[
    "rb_learn.toml",
    "rb_learn_crash.toml",
    "slush_attack.toml",
    "slush_cotrain.toml",
    "slush.toml",
    "byz_break.toml",
    "snowball_liveness.toml",
];

/// The values every key is tried with: zero, negative, NaN, infinities,
/// huge (as a float, past u64 and at i64::MAX), and every wrong type.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "nan",
    "inf",
    "-inf",
    "1e300",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "1",
    "2",
    "64",
    "1000000",
    "0.5",
    "1e-300",
    "\"x\"",
    "true",
    "[]",
    "[0]",
    "{}",
];

/// More values for keys that hold an array: each element hostile.
const ARRAY_VALUES: &[&str] = &[
    "[-1]",
    "[nan]",
    "[inf]",
    "[1e300]",
    "[9223372036854775807]",
    "[9223372036854775807, 9223372036854775807]",
    "[100000, 100000]",
    "[1]",
    "[0, 0, 0]",
    "[nan, 0, 0]",
    "[1e300, 0, 0]",
    "[0, 0, 0, 0]",
    "[\"x\"]",
    "[[0]]",
];

/// Keys serialisation leaves out at their defaults (`None`, `false`, a
/// default enum): tried as well wherever the game reads them.
const UNWRITTEN: &[&str] = &[
    "name",
    "env.rounds",
    "env.byzantine_ids",
    "env.ones",
    "env.delta",
    "env.gst",
    "env.canonical_views",
    "honest.checkpoint",
    "honest.learn.baseline",
    "honest.learn.class_bias",
    "byzantine.checkpoint",
    "byzantine.learn.baseline",
    "byzantine.learn.class_bias",
    "rewards.round_penalty_at",
    "slush.attack_goal",
    "rb.message_cost",
    "rb.replay_fraction",
    "rb.max_states",
    "rb.value_symmetric",
    "rb.pay_per_property",
    "rb.faulty_sender_share",
    "rb.one_value_per_kind",
];

/// The size a run accepted by the loader is tried at (a key under test is
/// never overridden).
const TINY: &[&str] = &[
    "train.episodes=32",
    "train.batch=32",
    "train.eval_every=32",
    "eval.episodes=32",
    "eval.batch=16",
];

/// A run that takes longer than this hangs; so does a load. A tiny run
/// takes well under a second alone; the margin is for a machine busy with
/// other builds (at 20 s the test failed once beside a build of the whole
/// workspace, and passed alone and in the whole suite).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Keys that set how much work a run does: a huge value is a run as long
/// as asked (rows keep coming, or one evaluation of that many episodes), not
/// a hang. Such a run must not fail in its first [`LONG`]; it is then
/// stopped and counted as long.
const WORK: &[&str] = &[
    "snowball.rounds",
    "train.episodes",
    "eval.episodes",
    "honest.learn.minibatch",
    "honest.learn.update_epochs",
    "byzantine.learn.minibatch",
    "byzantine.learn.update_epochs",
];
const LONG: Duration = Duration::from_millis(1500);

/// The binary's address space: past it an allocation fails and the run
/// aborts (a signal, so a failure here).
const MEMORY_KB: u64 = 8 * 1024 * 1024;

/// Concurrent tiny runs.
const RUNNERS: usize = 3;

fn experiment(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .join(name)
}

/// Whether `file`'s game reads `path`, as its typed file decides: the
/// parser refuses a key the game does not read as such, whatever its value.
fn reads(file: &Path, path: &str) -> bool {
    match selfplay::games::load_experiment(&Registry::built_in(), file, &[format!("{path}=0")]) {
        Ok(_) => true,
        Err(e) => !e.message.contains("does not read this key"),
    }
}

/// Every leaf key path of `value` (arrays are leaves), with whether it
/// holds an array.
fn leaves(value: &toml::Value, path: &str, out: &mut BTreeMap<String, bool>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        v => {
            out.insert(path.to_string(), v.is_array());
        }
    }
}

/// The key paths `file`'s game reads, with whether each holds an array.
fn keys_of(file: &Path) -> (String, BTreeMap<String, bool>) {
    let (mut exp, entry) =
        selfplay::games::load_experiment(&Registry::built_in(), file, &[]).unwrap();
    exp.sweep = None;
    let mut all = BTreeMap::new();
    leaves(&toml::Value::try_from(&exp).unwrap(), "", &mut all);
    let arrays = ["byzantine_ids", "class_bias", "hidden", "adversaries"];
    for k in UNWRITTEN {
        let array = arrays.iter().any(|a| k.ends_with(a));
        all.entry(k.to_string()).or_insert(array);
    }
    all.retain(|k, _| reads(file, k));
    (entry.name().to_string(), all)
}

/// What one attempt did.
#[derive(Debug)]
enum Outcome {
    /// The loader refused it (with its message).
    Refused(String),
    /// The loader accepted it; the canonical config of the tiny run, if
    /// the loader accepted that too.
    Accepted(Option<String>),
}

/// `load_job` on `file` with `sets`, panics caught: the config as loaded,
/// or the refusal.
fn load(file: &Path, sets: &[String]) -> Result<Result<String, String>, String> {
    let (file, sets) = (file.to_path_buf(), sets.to_vec());
    std::panic::catch_unwind(move || match selfplay::games::load_job(&file, &sets) {
        Ok(job) => Ok(toml::to_string(job.exp()).unwrap()),
        Err(e) => Err(e.to_string()),
    })
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// The snowball game's tiny run beside [`TINY`]'s keys it reads: a small
/// network and a short round cap.
const TINY_SNOWBALL: &[&str] = &["env.n=40", "env.f=2", "snowball.rounds=50"];

/// The tiny run's overrides for an attempt on `key` in `file`: [`TINY`]'s
/// keys the file's game reads (and [`TINY_SNOWBALL`]'s for a snowball
/// file) but the key under test, then the attempt.
fn tiny_sets(file: &Path, key: &str, set: &str) -> Vec<String> {
    let snowball = file.ends_with("snowball_liveness.toml");
    let mut sets: Vec<String> = TINY
        .iter()
        .filter(|s| reads(file, s.split('=').next().unwrap()))
        .chain(TINY_SNOWBALL.iter().filter(|_| snowball))
        .filter(|s| s.split('=').next() != Some(key))
        .map(|s| s.to_string())
        .collect();
    sets.push(set.to_string());
    sets
}

/// One attempt, in a worker thread: the loader on the attempt alone, then
/// on its tiny run. A panic is an `Err`.
fn attempt(file: &Path, key: &str, set: &str) -> Result<Outcome, String> {
    match load(file, &[set.to_string()])? {
        Err(e) => Ok(Outcome::Refused(e)),
        Ok(_) => match load(file, &tiny_sets(file, key, set))? {
            Ok(cfg) => Ok(Outcome::Accepted(Some(cfg))),
            Err(_) => Ok(Outcome::Accepted(None)),
        },
    }
}

/// How a tiny run ended.
enum End {
    /// In 0 or 2.
    Clean,
    /// Still running after [`LONG`], as a key of [`WORK`] asked.
    Long,
    /// Anything else, said.
    Failed(String),
}

/// Runs `selfplay file --set ...` under the memory limit, stopped after
/// `limit`.
fn run(file: &Path, sets: &[String], out: &Path, limit: Duration, long: bool) -> End {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_selfplay"))
        .arg(file)
        .args(["--quiet", "--out"])
        .arg(out)
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for s in sets {
        c.args(["--set", s]);
    }
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = reader.join().unwrap();
    let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
    match status {
        None if long => End::Long,
        None => End::Failed(format!("hangs (killed after {} s)", limit.as_secs())),
        Some(s) if matches!(s.code(), Some(0) | Some(2)) && !err.contains("panicked") => End::Clean,
        Some(s) => End::Failed(format!("ended with {s}: {tail}")),
    }
}

#[derive(Default)]
struct Tally {
    keys: usize,
    attempts: usize,
    refused: usize,
    accepted: usize,
    tiny_refused: usize,
    ran: usize,
    same: usize,
    long: usize,
}

#[test]
fn no_key_of_any_game_panics_hangs_or_runs_away() {
    let start = Instant::now();
    let registry = Registry::built_in();
    let mut failures: Vec<String> = vec![];
    let mut covered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut tallies: Vec<(String, Tally)> = vec![];
    // (file, key, set) of every tiny run to make, once per config.
    let mut runs: Vec<(PathBuf, String, String, Vec<String>)> = vec![];
    let mut seen: HashSet<String> = HashSet::new();

    // One worker thread loads, so a load that hangs is caught by the timeout.
    let (to_worker, jobs) = mpsc::channel::<(PathBuf, String, String)>();
    let (to_main, results) = mpsc::channel();
    std::thread::spawn(move || {
        for (file, key, set) in jobs {
            let r = attempt(&file, &key, &set);
            if to_main.send(r).is_err() {
                return;
            }
        }
    });

    for name in FILES {
        let file = experiment(name);
        let (game, keys) = keys_of(&file);
        let mut t = Tally {
            keys: keys.len(),
            ..Tally::default()
        };
        for (key, array) in &keys {
            covered.entry(game.clone()).or_default().insert(key.clone());
            let extra = if *array { ARRAY_VALUES } else { &[][..] };
            for value in VALUES.iter().chain(extra) {
                let set = format!("{key}={value}");
                t.attempts += 1;
                to_worker
                    .send((file.clone(), key.clone(), set.clone()))
                    .unwrap();
                let outcome = match results.recv_timeout(TIMEOUT) {
                    Ok(r) => r,
                    Err(_) => panic!(
                        "{name} --set {set}: loading hangs (over {} s)",
                        TIMEOUT.as_secs()
                    ),
                };
                match outcome {
                    Err(p) => failures.push(format!("{name} --set {set}: the loader panics: {p}")),
                    Ok(Outcome::Refused(e)) => {
                        t.refused += 1;
                        if std::env::var("FUZZ_DUMP").is_ok() {
                            println!("REFUSED {name} --set {set}: {e}");
                        }
                        // A clear refusal names the key it refuses, or
                        // the relation with another it breaks (`env.n = 2`:
                        // "slush.k = 3: ... of the other n - 1 = 1 agents").
                        let leaf = key.rsplit('.').next().unwrap();
                        let named = e.contains(key.as_str()) || e.contains(&format!(" {leaf} "));
                        if e.contains("panicked") || !named {
                            failures.push(format!("{name} --set {set}: {e}"));
                        }
                    }
                    Ok(Outcome::Accepted(None)) => {
                        t.accepted += 1;
                        t.tiny_refused += 1;
                    }
                    Ok(Outcome::Accepted(Some(cfg))) => {
                        t.accepted += 1;
                        if seen.insert(cfg) {
                            t.ran += 1;
                            runs.push((
                                file.clone(),
                                key.clone(),
                                set.clone(),
                                tiny_sets(&file, key, &set),
                            ));
                        } else {
                            t.same += 1;
                        }
                    }
                }
            }
        }
        tallies.push((name.to_string(), t));
    }
    drop(to_worker);
    let loaded = start.elapsed();

    // The accepted attempts, for real, a few at a time.
    let dir = tempfile::tempdir().unwrap();
    let queue = Arc::new(Mutex::new(runs.into_iter().enumerate().collect::<Vec<_>>()));
    let found = Arc::new(Mutex::new(vec![]));
    let long = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let workers: Vec<_> = (0..RUNNERS)
        .map(|_| {
            let (queue, found, long) = (queue.clone(), found.clone(), long.clone());
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || loop {
                let Some((i, (file, key, set, sets))) = queue.lock().unwrap().pop() else {
                    return;
                };
                let out = root.join(i.to_string());
                let work = WORK.contains(&key.as_str());
                let limit = if work { LONG } else { TIMEOUT };
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let t0 = Instant::now();
                let end = run(&file, &sets, &out, limit, work);
                if std::env::var("FUZZ_DUMP").is_ok() {
                    println!("TIME {:.2} {name} --set {set}", t0.elapsed().as_secs_f64());
                }
                match end {
                    End::Clean => {}
                    End::Long => *long.lock().unwrap().entry(name).or_default() += 1,
                    End::Failed(why) => found
                        .lock()
                        .unwrap()
                        .push(format!("{name} --set {set} (tiny run): {why}")),
                }
                let _ = std::fs::remove_dir_all(&out);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    failures.extend(found.lock().unwrap().drain(..));
    for (name, t) in &mut tallies {
        t.long = long
            .lock()
            .unwrap()
            .get(name.as_str())
            .copied()
            .unwrap_or(0);
    }

    println!(
        "{:<22} {:>5} {:>8} {:>8} {:>9} {:>12} {:>5} {:>6} {:>5}",
        "file", "keys", "attempts", "refused", "accepted", "tiny refused", "ran", "same", "long"
    );
    let mut total = Tally::default();
    for (name, t) in &tallies {
        println!(
            "{name:<22} {:>5} {:>8} {:>8} {:>9} {:>12} {:>5} {:>6} {:>5}",
            t.keys, t.attempts, t.refused, t.accepted, t.tiny_refused, t.ran, t.same, t.long
        );
        total.keys += t.keys;
        total.attempts += t.attempts;
        total.refused += t.refused;
        total.accepted += t.accepted;
        total.tiny_refused += t.tiny_refused;
        total.ran += t.ran;
        total.same += t.same;
        total.long += t.long;
    }
    println!(
        "{:<22} {:>5} {:>8} {:>8} {:>9} {:>12} {:>5} {:>6} {:>5}",
        "all",
        total.keys,
        total.attempts,
        total.refused,
        total.accepted,
        total.tiny_refused,
        total.ran,
        total.same,
        total.long
    );
    println!(
        "loading {:.1} s, tiny runs {:.1} s",
        loaded.as_secs_f64(),
        (start.elapsed() - loaded).as_secs_f64()
    );

    // Every game was tried (every key its file reads, by `keys_of`).
    for entry in registry.entries() {
        if !covered.contains_key(entry.name()) {
            failures.push(format!("no experiment file of game {} tried", entry.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The defects this fuzzing found, each as its own case (issue 26).
#[test]
fn what_the_fuzzing_found_stays_fixed() {
    let refusal =
        |file: &str, set: &str| match selfplay::games::load_job(&experiment(file), &[set.into()]) {
            Ok(_) => panic!("{file} --set {set}: accepted"),
            Err(e) => e.message,
        };
    // A huge beta overflowed the Byzantine observation's size (a panic).
    for file in ["slush_attack.toml", "slush_cotrain.toml", "slush.toml"] {
        let e = refusal(file, "slush.beta=9223372036854775807");
        assert!(
            e.starts_with("slush.beta = 9223372036854775807: needs 1 to 64"),
            "{e}"
        );
    }
    // The value shown is the key's own (it said `env.n = 1`).
    let e = refusal("rb_learn.toml", "env.n=0");
    assert!(e.starts_with("env.n = 0: "), "{e}");
    // A float is shown as written, not in 301 digits.
    let e = refusal("rb_learn.toml", "honest.learn.lr=1e300");
    assert!(e.starts_with("honest.learn.lr = 1e300: "), "{e}");
    // A memory refusal names every key of the product, the one raised too
    // (it named only `train.batch = 512`).
    let e = refusal("rb_learn.toml", "byzantine.learn.hidden=[100000, 100000]");
    assert!(
        e.contains("byzantine.learn.hidden = [100000, 100000]"),
        "{e}"
    );
    // A minibatch past the batch is one step over the batch: it was refused
    // as needing 18,889,465 TB.
    for file in ["rb_learn.toml", "slush_cotrain.toml", "byz_break.toml"] {
        let set = "byzantine.learn.minibatch=9223372036854775807".to_string();
        assert!(
            selfplay::games::load_job(&experiment(file), &[set]).is_ok(),
            "{file}"
        );
    }
}
