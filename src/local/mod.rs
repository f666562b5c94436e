//! The bot in a world of local servers (cargo feature `local`, on by default):
//! `lockstep demo` ([`demo`], its walkthrough [`tour`] and the terminal's reading of
//! the channel [`transcript`]) and the configuration that points the bot at
//! `lockstep-sim`'s servers ([`world`]). A `--no-default-features` build leaves this
//! module, and every server, out of the binary.

pub mod demo;
pub mod tour;
pub mod transcript;
pub mod world;
