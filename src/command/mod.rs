//! The grammar of the slash command and its help text (PRODUCT.md §3). Pure: no I/O,
//! no tokio, no knowledge of Slack's transport or of what a command does when run.
//!
//! - [`lexer`]: Slack's text to tokens (quotes, escapes, `&amp;`, `<@U…>` mentions).
//! - [`spec`]: the one table of subcommands, flags, arguments and examples.
//! - [`grammar`]: tokens to a typed [`Command`], and back with [`Command::to_text`].
//! - [`values`]: the typed argument values ([`GitRef`], [`FamilySlug`], …).
//! - [`help`]: help text and usage lines rendered from the table.
//!
//! Entry points: [`parse`], [`help()`], [`help_for`]. Every failure is a
//! [`UsageError`] naming the problem and showing the usage to follow.

pub mod error;
pub mod grammar;
pub mod help;
pub mod lexer;
pub mod spec;
mod suggest;
pub mod values;

pub use error::UsageError;
pub use grammar::{parse, Command, MAX_AUDIT_ENTRIES, MAX_COMMAND_CHARS};
pub use help::{help, help_for, usage_hint, SLASH_DESCRIPTION};
pub use lexer::{Broadcast, Link, Mention, Segment};
pub use spec::{Subcommand, SubcommandSpec};
pub use values::{EmergencyReason, EnvName, FamilySlug, FeatureSlug, GitRef, PrNumber, SiteSel};
