//! The integration tests: one binary, one module per area. The bot's own scenarios
//! drive the real bot over Socket Mode against the local servers of `lockstep-sim`
//! (see `harness`); the adapter areas drive the bot's clients against the same
//! servers. The servers' own tests live in the `sim` crate.

mod blueprint;
mod browser;
mod checklist;
mod cli;
mod crash;
mod decisions;
mod demo;
mod faults;
mod frappe;
mod github;
mod hardening;
mod harness;
mod home;
mod manifest;
mod metrics;
mod packaging;
mod promote;
mod properties;
mod rig;
mod runner;
mod ship;
mod slack_api;
mod slack_bot;
mod stacks;
mod stats;
mod store_crash;
mod sync;
mod watch;
