//! Slack adapter.
