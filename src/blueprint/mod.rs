//! Blueprints: one configuration record (doctype, name) as canonical JSON.
//!
//! This module owns what a blueprint is and everything that can be said about a set of
//! them without talking to anyone: the tracked kinds ([`kinds`]), the canonical form
//! and its digest ([`canonical`]), where each lives in the config repo ([`layout`]),
//! the drift between two sets ([`diff`], rendered by [`render`]; [`compact`] holds a
//! large git side lean), the plan that makes a site match a set ([`plan`]), families
//! ([`families`]) and validation ([`validate`]). A tree read file by file is held as digests by
//! [`tree_index`]. It is pure domain code: no network,
//! no tokio, no store. The one exception is [`files`], a few `std::fs` helpers for
//! seed folders and `lockstep diff --raw`. (The benchmark's synthetic data comes from
//! the `lockstep-sim` crate, which knows nothing of this module.)

pub mod canonical;
pub mod compact;
pub mod diff;
pub mod families;
pub mod files;
pub mod kinds;
pub mod layout;
pub mod plan;
pub mod render;
pub mod tree_index;
#[doc(hidden)]
pub mod validate;

pub use canonical::{
    canonical_bytes, canonicalize, canonicalize_owned, canonicalize_with_digest, digest, Blueprint,
    BlueprintError, BlueprintId, BlueprintSet, Digest,
};
pub use compact::CompactSet;
pub use diff::{diff, Change, Drift, DriftBuilder};
pub use families::{families, Family};
pub use kinds::{references, Kind, Reference};
pub use validate::{validate, Finding, Severity, ValidationPolicy};
