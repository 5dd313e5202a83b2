//! The games, with no learning: each is a folder holding its rules, batched
//! engine, scripted teams and exact search.
//!
//! - [`consensus`]: consensus rounds (agreement, broadcast, interactive
//!   consistency, atomic commit), rules in docs/rules.md.
//! - [`sampling`]: Avalanche's sampling game (Slush, Snowflake) and its
//!   exact optimal adversary. It scores episodes with the consensus game's
//!   outcome, so it imports that game's rules.
//! - [`broadcast`]: asynchronous reliable broadcast (INIT/ECHO/READY), an
//!   event-driven game with its exact search and synthesis.

pub mod broadcast;
pub mod consensus;
pub mod sampling;
