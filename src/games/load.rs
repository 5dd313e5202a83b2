//! Reading an experiment for its game: the game `game = "..."` names in
//! the registry reads the file as its own typed file (`Entry::read`), so a
//! key it does not read is refused by the parser; then the game's own
//! checks. The config module parses; this one knows there are games.

use super::{Entry, Job, Registry};
use crate::config::{apply_sets, one_line, quoted, read_with, Experiment, LoadError};
use crate::config::{DEFAULT, DEFAULT_NAME};
use envs::consensus::ConfigError;
use std::path::Path;

/// Reads an experiment file (with overrides) as its game reads it: the
/// game named, and no key that game does not read. Nothing is checked
/// beyond the keys (the game's `job` checks the values).
pub fn load_experiment(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<(Experiment, &'static dyn Entry), LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(&file, format!("cannot read: {e}")))?;
    let (mut exp, entry) = read_for_game(registry, &text, &file, sets)?;
    if exp.name.is_none() {
        exp.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    Ok((exp, entry))
}

/// The game `text` (with `sets`) names, and the experiment as it reads it.
fn read_for_game(
    registry: &Registry,
    text: &str,
    file: &str,
    sets: &[String],
) -> Result<(Experiment, &'static dyn Entry), LoadError> {
    let written: toml::Table = toml::from_str(&apply_sets(text, file, sets)?)
        .map_err(|e| LoadError::new(file, one_line(&e.to_string())))?;
    let game = match written.get("game") {
        None => Experiment::default().game,
        Some(toml::Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(LoadError::new(
                file,
                format!("game = {other}: a game is named by a string"),
            ))
        }
    };
    let entry = registry
        .find(&game)
        .map_err(|e| LoadError::new(file, format!("game: {e}")))?;
    let exp = read_with(text, file, sets, |text, file| entry.read(text, file))?;
    Ok((exp, entry))
}

/// Reads any experiment file (with overrides) and checks it for its game.
pub fn load_job(path: &Path, sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    load_job_in(&Registry::built_in(), path, sets)
}

/// [`load_job`] among the games of `registry`.
pub fn load_job_in(
    registry: &Registry,
    path: &Path,
    sets: &[String],
) -> Result<Box<dyn Job>, LoadError> {
    let file = path.display().to_string();
    let (exp, entry) = load_experiment(registry, path, sets)?;
    entry.job(exp).map_err(|e| LoadError::new(&file, e))
}

/// Checks a parsed experiment for its game (its keys are checked where its
/// text is read: [`load_experiment`]).
pub fn job(exp: Experiment) -> Result<Box<dyn Job>, ConfigError> {
    let entry =
        super::built_in(&exp.game).map_err(|e| ConfigError::new("game", quoted(&exp.game), e))?;
    entry.job(exp)
}

/// The built-in default experiment, with overrides, checked for its game.
pub fn default_job(sets: &[String]) -> Result<Box<dyn Job>, LoadError> {
    let origin = "built-in default";
    let (mut exp, entry) = read_for_game(&Registry::built_in(), DEFAULT, origin, sets)?;
    exp.name.get_or_insert_with(|| DEFAULT_NAME.into());
    entry.job(exp).map_err(|e| LoadError::new(origin, e))
}
