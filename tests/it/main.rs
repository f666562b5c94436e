//! The integration tests: one binary, the real bot driven against the local sims.

mod checklist;
mod cli;
mod harness;
mod manifest;
mod slack_bot;
mod store_crash;
mod sync;
