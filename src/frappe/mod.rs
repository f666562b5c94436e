//! Frappe REST client (v1 routes). It owns the wire talk with Frappe sites: reads of
//! any site through [`SiteReader`], writes only through [`StagingSite`], and the
//! operator commands `export` / `diff` ([`cli`]). [`ProductionSite`] has no write
//! method at all, so "the bot never writes production over REST" is a type fact.
//! It must not touch the workflow, the store or the sims; blueprint shapes come from
//! [`crate::blueprint`].

pub mod cli;
mod credentials;
mod error;
mod fetch;
mod reader;
mod site;
mod sites;

pub use credentials::ApiCredentials;
pub use error::{ErrorContext, FrappeError};
pub use fetch::{FetchOptions, FetchStats, DEFAULT_PAGE_LENGTH};
pub use reader::{LatestBackups, ListQuery, RetryPolicy, SiteConfig, SiteReader};
pub use site::SiteName;
pub use sites::{ProductionSite, StagingSite};
