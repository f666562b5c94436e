//! Releases, pure: which version may be shipped after which tags ([`version`]), the
//! Keep a Changelog entry and the file it goes into ([`changelog`]), and the release
//! notes as people read them in Slack ([`notes`]). No I/O: the ship run reads tags,
//! files and blueprints through the adapters and hands them here.

pub mod changelog;
pub mod notes;
pub mod version;

pub use changelog::{Change, ChangeKind};
pub use version::{newest_tag, tag_name, VersionRefusal};
