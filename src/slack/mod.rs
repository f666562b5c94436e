//! The Slack adapter: the Socket Mode [`listener`], the Web [`api`] and Block Kit
//! [`render`]ing. It knows Slack; it knows nothing of runs, the store's meaning or
//! promotion rules.

pub mod api;
pub mod listener;
pub mod nagle;
pub mod render;
