//! The bot's durable work: what to do ([`effect`]) and doing it ([`executor`]).
//!
//! Handlers decide; they never talk to Slack directly. They return effects, which
//! are stored with the state change that caused them and performed afterwards, at
//! least once and idempotently, so a restart neither loses nor repeats a reply.

pub mod effect;
pub mod event;
pub mod executor;
pub mod job;
