//! `lockstep-sim`: local servers that speak the real services' wire formats, for
//! `lockstep demo` and the bot's integration tests — a Slack-compatible server
//! ([`slack`]: Web API, Socket Mode, response URLs, a web page of the channels), a
//! Frappe-compatible one ([`frappe`], several sites), a GitHub-compatible one
//! ([`github`]: a real git object store, PRs, reviews, protection, Actions), the bench
//! stand-in ([`bench`]), the example world they make together ([`world`]), the demo's
//! web page of that world ([`page`]: the channel beside the repo and site panels) and
//! the benchmarks' synthetic blueprints ([`synth`]).
//!
//! This crate depends on nothing of the bot, and the bot reaches it only through its
//! `local` cargo feature: the bot cannot tell a sim from the real service, and a
//! production build holds no server code. Wire types are written here from the
//! services' documentation, never shared with the bot's clients, so a mistake in one
//! cannot hide the same mistake in the other.

pub mod bench;
pub mod frappe;
pub mod github;
pub mod page;
pub mod slack;
pub mod synth;
pub mod world;
