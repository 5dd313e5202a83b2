//! The games' own commands (`selfplay harden`, `selfplay synthesize`): each
//! game lists them in its registry entry, and the command line offers them
//! beside the commands every game shares.

use super::Registry;
use clap::{ArgMatches, FromArgMatches, Subcommand};

/// A game's own command as parsed: its name and its flags.
#[derive(Debug, Clone)]
pub struct GameCommand {
    pub name: String,
    pub matches: ArgMatches,
}

impl FromArgMatches for GameCommand {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        match m.subcommand() {
            Some((name, sub)) if GameCommand::has_subcommand(name) => Ok(GameCommand {
                name: name.to_string(),
                matches: sub.clone(),
            }),
            _ => Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand)),
        }
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = GameCommand::from_arg_matches(m)?;
        Ok(())
    }
}

impl Subcommand for GameCommand {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        let registry = Registry::built_in();
        registry
            .entries()
            .iter()
            .flat_map(|e| e.commands())
            .fold(cmd, |cmd, c| cmd.subcommand(c))
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        let registry = Registry::built_in();
        registry
            .entries()
            .iter()
            .any(|e| e.commands().iter().any(|c| c.get_name() == name))
    }
}

/// Runs a game's own command in the game that offers it.
pub fn run(registry: &Registry, c: &GameCommand) -> Result<(), String> {
    let entry = registry
        .entries()
        .iter()
        .find(|e| e.commands().iter().any(|x| x.get_name() == c.name))
        .ok_or_else(|| format!("no game offers the command {}", c.name))?;
    entry.command(&c.name, &c.matches)
}
