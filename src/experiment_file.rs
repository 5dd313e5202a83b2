//! A game's experiment file, typed: the keys every game reads (`name`,
//! `seed`, `game`, `sweep`) and the tables its game reads, each a serde
//! struct that refuses a key it does not hold. So the parser itself refuses
//! a key of another game (`env.delta` in a reliable-broadcast file), with
//! its path, its value and the game.
//!
//! A game declares its file with [`experiment_file!`](crate::experiment_file!)
//! (its tables: a whole record table such as `config::TrainConfig`, or the
//! keys of one it reads, declared with [`some_keys!`](crate::some_keys!)),
//! and reads it with [`read`]. What the file holds is then written into the
//! run's record, `config::Experiment`: what `config.toml` and every
//! checkpoint keep, every game's tables at their defaults beside the game's
//! own, so that the record of every run keeps the bytes it had before the
//! games had files of their own.

use crate::config::{one_line, parse, Experiment, LoadError};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// A table of a game's file, written into the record's table of type `T`:
/// the whole table, or those of its keys the game reads (`some_keys!`).
pub trait Table<T> {
    fn write(self, record: &mut T);
}

impl<T> Table<T> for T {
    fn write(self, record: &mut T) {
        *record = self;
    }
}

/// A game's experiment file, declared with `experiment_file!`.
pub trait GameFile: DeserializeOwned {
    /// The run's record: the file's keys, every other key at its default.
    fn into_experiment(self) -> Experiment;
}

/// `seed`, as the record defaults it (1).
#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(transparent)]
pub struct Seed(pub u64);

impl Default for Seed {
    fn default() -> Self {
        Seed(Experiment::default().seed)
    }
}

/// Declares a game's experiment file: the keys every game reads, and the
/// game's tables, each named as in the record (`config::Experiment`) and
/// typed by a [`Table`] of the record's. A table not written is the
/// record's default.
///
/// ```ignore
/// selfplay::experiment_file! {
///     /// An experiment of my game.
///     pub struct File { env: RoundsOnly, train: selfplay::config::TrainConfig }
/// }
/// ```
#[macro_export]
macro_rules! experiment_file {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[$fmeta:meta])* $table:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            #[serde(default)]
            name: Option<String>,
            #[serde(default)]
            seed: $crate::experiment_file::Seed,
            #[serde(default)]
            game: Option<String>,
            #[serde(default)]
            sweep: Option<$crate::config::SweepConfig>,
            $($(#[$fmeta])* #[serde(default)] $table: $ty,)*
        }

        impl $crate::experiment_file::GameFile for $name {
            fn into_experiment(self) -> $crate::config::Experiment {
                let mut exp = $crate::config::Experiment::default();
                exp.name = self.name;
                exp.seed = self.seed.0;
                if let Some(game) = self.game {
                    exp.game = game;
                }
                exp.sweep = self.sweep;
                $($crate::experiment_file::Table::write(self.$table, &mut exp.$table);)*
                exp
            }
        }
    };
}

/// Declares a table holding some keys of a record table (`of` it), each
/// typed as the record types it; a key not written keeps the record's
/// default.
///
/// ```ignore
/// selfplay::some_keys! {
///     /// `[env]`: the number of rounds only.
///     pub struct RoundsOnly of envs::consensus::EnvConfig { rounds: Option<u8> }
/// }
/// ```
#[macro_export]
macro_rules! some_keys {
    ($(#[$meta:meta])* $vis:vis struct $name:ident of $record:ty {
        $($(#[$fmeta:meta])* $key:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        $vis struct $name {
            $($(#[$fmeta])* $key: Option<$ty>,)*
        }

        impl $crate::experiment_file::Table<$record> for $name {
            fn write(self, record: &mut $record) {
                $(if let Some(value) = self.$key {
                    record.$key = value;
                })*
            }
        }
    };
}

/// Reads `text` as an experiment file of `game`, typed by `F`. A key the
/// record holds but `F` does not is refused as a key the game does not
/// read; any other error is the parser's, with its key path and line.
pub fn read<F: GameFile>(game: &str, text: &str, file: &str) -> Result<Experiment, LoadError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    match serde_path_to_error::deserialize::<_, F>(de) {
        Ok(f) => Ok(f.into_experiment()),
        Err(e) => {
            let path = e.path().to_string();
            let message = one_line(&e.into_inner().to_string());
            // A key the record holds too (whatever its value) is another game's.
            let unknown_to_record = match parse(text, file) {
                Err(e) => e.message.starts_with(&format!("{path}: unknown field")),
                Ok(_) => false,
            };
            match path.as_str() {
                _ if message.starts_with("unknown field") && !unknown_to_record => {
                    Err(foreign(game, text, &path, &message, file))
                }
                "." | "" => Err(LoadError::new(file, message)),
                _ => Err(LoadError::new(file, format!("{path}: {message}"))),
            }
        }
    }
}

/// A key of another game: its path, value and where it is written, and
/// what the game reads in its table.
fn foreign(game: &str, text: &str, path: &str, message: &str, file: &str) -> LoadError {
    let table: toml::Table = toml::from_str(text).unwrap_or_default();
    let mut value = Some(toml::Value::Table(table));
    for part in path.split('.') {
        value = value.and_then(|v| v.as_table().and_then(|t| t.get(part)).cloned());
    }
    let value = match value {
        Some(toml::Value::Table(_)) => "(a table)".to_string(),
        Some(v) => v.to_string(),
        None => "?".to_string(),
    };
    // "unknown field `x`, expected one of `a`, `b` (TOML parse error at line 3, column 1)"
    let (gist, place) = match message.find(" (TOML parse error") {
        Some(at) => message.split_at(at),
        None => (message, ""),
    };
    let keys = gist
        .split_once(", expected ")
        .map_or("", |(_, keys)| keys.trim_start_matches("one of "));
    let within = match path.rsplit_once('.') {
        Some((table, _)) => format!("in [{table}] it reads"),
        None => "at the top it reads".to_string(),
    };
    LoadError::new(
        file,
        format!(
            "{path} = {value}: game = \"{game}\" does not read this key \
             ({within} {keys}){place}"
        ),
    )
}
