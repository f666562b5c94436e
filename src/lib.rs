//! lockstep: a Slack bot that takes a Frappe team's configuration changes from a
//! staging site to production through GitHub pull requests.
//!
//! Module map (dependencies point one way: domain <- workflow <- store/adapters <- app):
//!
//! - Domain, pure, no I/O: [`command`] (slash-command grammar and help),
//!   [`blueprint`] (kinds, canonical JSON, repo paths, diff, plans, families,
//!   validation), [`checks`] (the eight checklist boxes, the reviewer's rules, test
//!   report parsing, the freeze guard), [`release`] (versions, CHANGELOG.md entries,
//!   release notes).
//! - Infrastructure: [`config`] (TOML + environment), [`secret`] (values that never
//!   print), [`clock`] (the one clock, `LOCKSTEP_NOW`-aware), [`store`] (sled: runs,
//!   outbox, seen, locks, audit, and the hash-chained audit log beside it), [`error`]
//!   (user-facing vs internal errors), [`ids`] (newtypes), [`tls`] (the process
//!   crypto provider).
//! - Adapters, one outside system each: [`slack`] (Socket Mode listener, Web API,
//!   Block Kit rendering), [`frappe`] (REST client; production is read-only by type),
//!   [`github`] (the config repository), [`runner`] (bench on the bench host);
//!   [`adapters`] resolves them once from the configuration.
//! - [`workflow`]: runs as values moved by pure `step`s (reads, syncs, rollbacks,
//!   the promotion, the release), their effects and operations, and the executor
//!   that performs effects at least once, idempotently.
//! - [`commands`]: one file per subcommand: what arrives, and the performers of the
//!   operations its runs ask for.
//! - [`access`]: who may do what (users and user groups from the config).
//! - [`stacks`]: several stacks in one bot (`[stacks.<name>]`), each bound to its
//!   channels; the store as one stack sees it.
//! - [`app`]: wires config, store and adapters; the only place that spawns tasks.
//!   [`check`] is `lockstep check`.
//! - [`priority`]: the listener's thread ahead of the work threads for the CPU.
//! - [`logging`]: text or JSON log lines (`--log-format`), each with its spans'
//!   fields (the run id).
//! - [`metrics`]: the Prometheus registry and the `/metrics`, `/healthz`, `/readyz`
//!   listener (`[metrics] listen`).
//! - [`watch`]: the drift watcher (`[watch] schedule`): `diff` of both sites on a
//!   cron schedule, posted only when the drift changed.
//! - [`local`] (feature `local`): `lockstep demo` and the configuration that points
//!   the bot at the local servers of the `lockstep-sim` crate.

/// mimalloc: canonicalising and diffing tens of thousands of blueprints is a storm
/// of small allocations and frees, where it is markedly faster than the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod access;
pub mod adapters;
pub mod app;
pub mod blueprint;
pub mod check;
pub mod checks;
pub mod clock;
pub mod command;
pub mod commands;
pub mod config;
pub mod error;
pub mod frappe;
pub mod github;
pub mod ids;
#[cfg(feature = "local")]
pub mod local;
pub mod logging;
pub mod metrics;
pub mod priority;
pub mod release;
pub mod runner;
pub mod secret;
pub mod slack;
pub mod stacks;
pub mod store;
pub mod tls;
pub mod watch;
pub mod workflow;
