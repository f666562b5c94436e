//! Tags and releases: reading a tag's ref and its annotated tag object, listing tags,
//! finding a tag's release and the latest one, listing releases. Creating them is in
//! `client.rs` (`create_annotated_tag`, `create_release`). Every read answers "is it
//! there?" as `Option`, so a caller can check before it writes (a crashed `ship` asks
//! whether its tag and release already exist before making them).

use super::client::{escape_path, GithubClient};
use super::error::GithubError;
use super::models::{GitRef, GitTag, RefObject, Release, TagSummary};
use super::transport::Op;

const CONTENTS_READ: &str = "contents: read";

/// `Ok(None)` for a 404, the value otherwise.
pub(crate) fn found<T>(result: Result<T, GithubError>) -> Result<Option<T>, GithubError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(GithubError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl GithubClient {
    /// What `refs/tags/<tag>` points at: an annotated tag object (`kind` "tag") or a
    /// commit (a lightweight tag), or None when there is no such tag.
    pub async fn tag_ref(&self, tag: &str) -> Result<Option<RefObject>, GithubError> {
        let op = Op::new(format!("tag {tag}"), CONTENTS_READ);
        let r = self
            .get::<GitRef>(&format!("git/ref/tags/{}", escape_path(tag)), op)
            .await;
        Ok(found(r)?.map(|r| r.object))
    }

    /// The annotated tag object `sha` (its name, message, tagger and what it tags),
    /// or None when there is no such tag object.
    pub async fn get_tag_object(&self, sha: &str) -> Result<Option<GitTag>, GithubError> {
        let op = Op::new(format!("tag object {sha}"), CONTENTS_READ);
        found(self.get(&format!("git/tags/{sha}"), op).await)
    }

    /// Every tag with the commit behind it (all pages). GitHub documents no order for
    /// this list (it is observed to come by name, highest first, which is not version
    /// order: `v1.10.0` sorts before `v1.9.0` only by luck); sort it yourself.
    pub async fn list_tags(&self) -> Result<Vec<TagSummary>, GithubError> {
        self.get_pages("tags", "tags", CONTENTS_READ).await
    }

    /// The release made for `tag`, if any (drafts included).
    pub async fn release_for_tag(&self, tag: &str) -> Result<Option<Release>, GithubError> {
        let op = Op::new(format!("the release of {tag}"), CONTENTS_READ);
        found(
            self.get(&format!("releases/tags/{}", escape_path(tag)), op)
                .await,
        )
    }

    /// The repository's latest release (the one marked latest; else the newest
    /// published one that is neither a draft nor a prerelease), if any.
    pub async fn latest_release(&self) -> Result<Option<Release>, GithubError> {
        let op = Op::new("the latest release", CONTENTS_READ);
        found(self.get("releases/latest", op).await)
    }

    /// Every release, newest first (all pages).
    pub async fn list_releases(&self) -> Result<Vec<Release>, GithubError> {
        self.get_pages("releases", "releases", CONTENTS_READ).await
    }
}
