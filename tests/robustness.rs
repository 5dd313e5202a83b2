//! Bad input gets an error, never a panic; the config reference in
//! docs/config.md cannot drift from the code.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use selfplay::config::{self, Experiment};
use std::collections::BTreeSet;

const SEEDS: &[&str] = &[
    include_str!("../experiments/byz_break.toml"),
    include_str!("../experiments/signed_relay.toml"),
    include_str!("../experiments/cotrain.toml"),
];

/// Feeds the loader mutated experiment files: bytes deleted, duplicated,
/// replaced, lines of random keys and values. It may accept or refuse each,
/// but must not panic.
#[test]
fn the_config_loader_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let pieces = [
        "n",
        "f",
        "=",
        "\"",
        "[",
        "]",
        "{",
        "}",
        ".",
        "-1",
        "0",
        "1e400",
        "nan",
        "inf",
        "true",
        "\n",
        "[env]",
        "[honest]",
        "kind",
        "\"frozen\"",
        "\"learned\"",
        "rounds",
        "255",
        "99999999999999999999",
        "hidden = []",
        "hidden = [0]",
        "minibatch = 0",
        "byzantine_ids = [7, 7]",
        "ones = 9",
        "checkpoint = \"/dev/null\"",
        "[sweep]",
        "grid = { \"env.n\" = [] }",
        "é",
        "\u{0}",
        "lr = -0.0",
    ];
    for _ in 0..3000 {
        let mut text: Vec<char> = SEEDS[rng.random_range(0..SEEDS.len())].chars().collect();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..=text.len());
            match rng.random_range(0..4) {
                0 if at < text.len() => {
                    let end = (at + rng.random_range(1..20)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let p = pieces[rng.random_range(0..pieces.len())];
                    text.splice(at..at, p.chars());
                }
                2 if at < text.len() => text[at] = char::from(rng.random_range(32u8..127)),
                _ => {
                    let line = format!(
                        "\n{} = {}\n",
                        pieces[rng.random_range(0..pieces.len())],
                        pieces[rng.random_range(0..pieces.len())]
                    );
                    text.splice(at..at, line.chars());
                }
            }
        }
        let text: String = text.into_iter().collect();
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(exp) = config::parse(&text, "fuzz.toml") {
                let _ = config::resolve(exp);
            }
            let _ = config::apply_sets(&text, "fuzz.toml", &["env.n=3".into(), "a.b.c=[1".into()]);
        });
        assert!(outcome.is_ok(), "panicked on:\n{text}");
    }
}

/// Key paths of a TOML table, `a.b.c`, tables included.
fn keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let toml::Value::Table(t) = v {
            keys(t, &path, out);
        }
        out.insert(path);
    }
}

/// docs/config.md's reference block: the TOML under "## Experiment files",
/// with commented-out keys (optional ones) uncommented.
fn config_reference() -> String {
    let doc = include_str!("../docs/config.md");
    let start = doc
        .find("## Experiment files")
        .expect("a reference section");
    let block = &doc[start..];
    let open = block.find("```toml\n").expect("a toml block") + 8;
    let close = block[open..].find("```").unwrap() + open;
    block[open..close]
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_config_reference_documents_every_config_key() {
    let text = config_reference();
    // The reference is itself a valid experiment.
    let exp: Experiment = config::parse(&text, "docs/config.md").unwrap_or_else(|e| panic!("{e}"));
    let mut documented = BTreeSet::new();
    keys(&toml::from_str(&text).unwrap(), "", &mut documented);
    // Every key the code knows, with the optional ones filled in.
    let mut full = exp.clone();
    full.name = Some("x".into());
    full.env.rounds = Some(3);
    full.env.byzantine_ids = Some(vec![0]);
    full.env.ones = Some(1);
    full.honest.checkpoint = Some("x".into());
    full.byzantine.checkpoint = Some("x".into());
    full.rewards.byzantine = Some(Default::default());
    full.sweep = Some(Default::default());
    let mut known = BTreeSet::new();
    keys(
        &toml::from_str(&toml::to_string(&full).unwrap()).unwrap(),
        "",
        &mut known,
    );
    // Grid entries are user keys, not config keys.
    documented.retain(|k| !k.starts_with("sweep.grid."));
    // `[byzantine.learn]` is documented "as [honest.learn]".
    assert!(text.contains("[byzantine.learn]        # as [honest.learn]"));
    let learn: Vec<String> = documented
        .iter()
        .filter_map(|k| k.strip_prefix("honest.learn."))
        .map(String::from)
        .collect();
    documented.extend(learn.iter().map(|k| format!("byzantine.learn.{k}")));
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty(),
        "docs/config.md misses {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/config.md documents unknown keys {stale:?}"
    );
}
