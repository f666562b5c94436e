//! The GitHub adapter: everything lockstep does to the config repository, over
//! GitHub's REST and GraphQL APIs (octocrab for transport, its retry layer off).
//! It reads blueprints as bytes under `fixtures/app/`, commits changes in a constant
//! number of calls (or one file through the contents API), runs pull requests through
//! review to merge (never around branch protection), reads what reviewers asked for,
//! tags and releases, and watches the deploy workflow. It must not touch Slack, Frappe or
//! the store; callers decide what to do with what it returns.

pub mod actions;
pub mod auth;
pub mod blobs;
pub mod client;
pub mod config;
pub mod contents;
pub mod decision;
pub mod error;
pub mod index;
pub mod models;
pub mod pr_edits;
pub mod pulls;
pub mod releases;
pub mod stamped;
pub mod transport;

pub use auth::GithubAuth;
pub use client::{BaseCommit, BranchWrite, FileChanges, GithubClient, Snapshot};
pub use config::GithubConfig;
pub use decision::{summarize, ReviewDecision, ReviewSummary};
pub use error::{GithubError, ReadBlueprintsError};
pub use index::BlobIndex;
pub use models::{
    FileAtRef, FileWrite, GitTag, IssueComment, PullFile, RefObject, Release, ReviewComment,
    TagSummary,
};
pub use pulls::{MergeMethod, NewPull, RevertPull};
pub use stamped::{Entry, Landed, StampedCommit};
pub use transport::RetryPolicy;
