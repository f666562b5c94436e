//! lockstep: a Slack bot that takes a Frappe team's configuration changes from a
//! staging site to production through GitHub pull requests.
//!
//! Module map (dependencies point downwards only):
//!
//! - Domain, pure, no I/O: [`command`] (slash-command grammar and help),
//!   [`blueprint`] (kinds, canonical JSON, repo paths, diff, families, validation).
//! - Infrastructure: [`error`] (user-facing vs internal errors), [`config`] (TOML + environment), [`secret`] (values that never
//!   print), [`clock`] (the one clock, `LOCKSTEP_NOW`-aware), [`store`] (sled: runs,
//!   outbox, seen, locks, audit), [`tls`] (the process crypto provider).
//! - Adapters, one outside system each: [`slack`] (Socket Mode listener, Web API,
//!   Block Kit rendering), [`frappe`] (REST client), [`runner`] (bench on the bench host).
//! - [`workflow`]: effects (what the bot decided to do, stored in the outbox) and the
//!   executor that performs them at least once, idempotently.
//! - [`handlers`]: one per subcommand; decide, return effects, never do I/O to Slack.
//! - [`ids`]: newtypes for Slack ids and run ids.
//! - [`jobs`]: long operations run as tasks that report back as events, one file per job.
//! - [`services`]: the adapters jobs use (staging and production sites), built from config.
//! - [`access`]: who may do what (users and user groups from the config).
//! - [`app`]: wires config, store and adapters; the only place that spawns tasks.
//! - [`demo`]: `lockstep demo`, the bot against the local sims with no credentials.
//! - [`sim`]: local Slack- and Frappe-compatible servers and the bench stand-in used by
//!   `lockstep demo` and the integration tests. Nothing else in the crate uses it.

pub mod access;
pub mod app;
pub mod blueprint;
pub mod checks;
pub mod clock;
pub mod command;
pub mod config;
pub mod demo;
pub mod error;
pub mod frappe;
pub mod github;
pub mod handlers;
pub mod ids;
pub mod jobs;
pub mod runner;
pub mod secret;
pub mod services;
pub mod sim;
pub mod slack;
pub mod store;
pub mod tls;
pub mod workflow;
