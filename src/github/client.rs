//! The GitHub client: reading every blueprint file at a ref, committing a set of
//! changed and deleted files in a constant number of calls, refs, compare, creating
//! tags and releases, and branch protection. Pull requests live in `pulls.rs`, Actions
//! in `actions.rs`, reading tags and releases in `releases.rs`, single files in
//! `contents.rs`. It knows blueprints only as bytes under `fixtures/app/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::auth::GithubAuth;
use super::blobs::{decode_blob, BlobCache, DigestCache, BLOB_CACHE_BYTES, DIGEST_CACHE_BYTES};
use super::config::GithubConfig;
use super::error::{GithubError, ReadBlueprintsError};
use super::models::{
    BranchProtection, Comparison, GitCommit, GitRef, GitTag, Release, TreeItem, TreeListing,
};
use super::transport::{Op, RetryPolicy, Transport};
use crate::blueprint::canonical::BlueprintSet;
use crate::blueprint::layout::{read_tree, REPO_ROOT};

/// Blob downloads in flight at once.
pub(crate) const BLOB_CONCURRENCY: usize = 8;

/// A commit and its root tree: what a new commit builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseCommit {
    pub commit: String,
    pub tree: String,
}

/// The blueprint files at one commit, paths relative to `fixtures/app/`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub base: BaseCommit,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Files to write and delete, paths relative to the repository root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileChanges {
    pub upsert: BTreeMap<String, Vec<u8>>,
    pub delete: BTreeSet<String>,
}

impl FileChanges {
    /// What turns blueprint files `before` into `after` (both relative to
    /// `fixtures/app/`): changed and new files written, missing ones deleted.
    pub fn between(
        before: &BTreeMap<String, Vec<u8>>,
        after: &BTreeMap<String, Vec<u8>>,
    ) -> FileChanges {
        let root = |p: &str| format!("{REPO_ROOT}/{p}");
        FileChanges {
            upsert: after
                .iter()
                .filter(|(p, b)| before.get(*p) != Some(*b))
                .map(|(p, b)| (root(p), b.clone()))
                .collect(),
            delete: before
                .keys()
                .filter(|p| !after.contains_key(*p))
                .map(|p| root(p))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.delete.is_empty()
    }
}

/// How the commit lands on its branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchWrite {
    /// A new branch; fails with "Reference already exists" if it is there.
    Create,
    /// An existing branch, fast-forward only.
    FastForward,
    /// Create, or fast-forward if it exists.
    CreateOrFastForward,
}

pub struct GithubClient {
    pub(crate) config: GithubConfig,
    pub(crate) http: Transport,
    blobs: Mutex<BlobCache>,
    pub(crate) digests: Mutex<DigestCache>,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("repo", &self.config.full_name())
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

fn decode<T: DeserializeOwned>(value: Value, op: &Op) -> Result<T, GithubError> {
    serde_json::from_value(value).map_err(|e| GithubError::Decode {
        what: op.what.clone(),
        reason: e.to_string(),
    })
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Path segments of a branch or path are escaped, keeping `/`.
pub(crate) fn escape_path(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

impl GithubClient {
    pub fn new(config: GithubConfig, auth: GithubAuth) -> Result<GithubClient, GithubError> {
        Self::with_retry(config, auth, RetryPolicy::default())
    }

    pub fn with_retry(
        config: GithubConfig,
        auth: GithubAuth,
        retry: RetryPolicy,
    ) -> Result<GithubClient, GithubError> {
        let http = Transport::new(&config.api_url, auth, retry)?;
        Ok(GithubClient {
            config,
            http,
            blobs: Mutex::new(BlobCache::new(BLOB_CACHE_BYTES)),
            digests: Mutex::new(DigestCache::new(DIGEST_CACHE_BYTES)),
        })
    }

    pub fn config(&self) -> &GithubConfig {
        &self.config
    }

    /// HTTP requests sent so far, retries included.
    pub fn calls(&self) -> u64 {
        self.http.calls()
    }

    pub(crate) fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}/{rest}", self.config.owner, self.config.repo)
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        rest: &str,
        op: Op,
    ) -> Result<T, GithubError> {
        let value = self.http.get(&self.repo_path(rest), &op).await?;
        decode(value, &op)
    }

    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        rest: &str,
        body: &Value,
        op: Op,
    ) -> Result<T, GithubError> {
        let value = self
            .http
            .send(method, &self.repo_path(rest), Some(body), &op)
            .await?;
        decode(value, &op)
    }

    /// Every item of a paged list (`rest` may carry a query already), 100 a page,
    /// until a short page.
    pub(crate) async fn get_pages<T: DeserializeOwned>(
        &self,
        rest: &str,
        what: &str,
        permission: &'static str,
    ) -> Result<Vec<T>, GithubError> {
        let joiner = if rest.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        for page in 1.. {
            let op = Op::new(what, permission);
            let batch: Vec<T> = self
                .get(&format!("{rest}{joiner}per_page=100&page={page}"), op)
                .await?;
            let done = batch.len() < 100;
            all.extend(batch);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// The repository itself: whether the token reaches it, and its default branch.
    pub async fn repository(&self) -> Result<super::models::Repository, GithubError> {
        let op = Op::new(
            format!("repository {}/{}", self.config.owner, self.config.repo),
            "metadata: read",
        );
        let path = format!("/repos/{}/{}", self.config.owner, self.config.repo);
        let value = self.http.get(&path, &op).await?;
        decode(value, &op)
    }

    // ---- refs and commits -------------------------------------------------------

    /// The commit a branch points at, or None if there is no such branch.
    pub async fn branch_head(&self, branch: &str) -> Result<Option<String>, GithubError> {
        let op = Op::new(format!("branch {branch}"), "contents: read");
        match self
            .get::<GitRef>(&format!("git/ref/heads/{}", escape_path(branch)), op)
            .await
        {
            Ok(r) => Ok(Some(r.object.sha)),
            Err(GithubError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn git_commit(&self, sha: &str) -> Result<GitCommit, GithubError> {
        self.get(
            &format!("git/commits/{sha}"),
            Op::new(format!("commit {sha}"), "contents: read"),
        )
        .await
    }

    /// The first commit of `branch`'s history (the one without parents): its
    /// whole history is listed, 100 commits a page.
    pub async fn root_commit(&self, branch: &str) -> Result<String, GithubError> {
        let history: Vec<super::models::ListedCommit> = self
            .get_pages(
                &format!("commits?sha={}", escape_path(branch)),
                "the history of the production branch",
                "contents: read",
            )
            .await?;
        history
            .iter()
            .rev()
            .find(|commit| commit.parents.is_empty())
            .or(history.last())
            .map(|commit| commit.sha.clone())
            .ok_or_else(|| GithubError::NotFound {
                what: format!("the history of {branch}"),
                message: "no commits".into(),
            })
    }

    /// A branch, tag (annotated ones peeled), full or abbreviated commit id as a
    /// full commit id: one `GET commits/{ref}`. A full id is taken as it is.
    pub async fn resolve_commit(&self, spec: &str) -> Result<String, GithubError> {
        if is_full_sha(spec) {
            return Ok(spec.to_lowercase());
        }
        #[derive(serde::Deserialize)]
        struct CommitId {
            sha: String,
        }
        let op = Op::new(format!("commit {spec}"), "contents: read");
        let commit: CommitId = self
            .get(&format!("commits/{}", escape_path(spec)), op)
            .await?;
        Ok(commit.sha)
    }

    /// The tip of a branch and its tree (2 calls).
    pub async fn base_of(&self, branch: &str) -> Result<BaseCommit, GithubError> {
        let commit = self
            .branch_head(branch)
            .await?
            .ok_or_else(|| GithubError::NotFound {
                what: format!("branch {branch}"),
                message: "Not Found".into(),
            })?;
        let tree = self.git_commit(&commit).await?.tree.sha;
        Ok(BaseCommit { commit, tree })
    }

    // ---- reading ---------------------------------------------------------------

    /// Every file under `fixtures/app/` at `spec` (branch, tag or sha): one call for
    /// the ref, one for the recursive tree (more when GitHub truncates it), and one
    /// per blob not already cached, several at a time.
    pub async fn read_files(&self, spec: &str) -> Result<Snapshot, GithubError> {
        let commit = self.resolve_commit(spec).await?;
        let (tree, items) = self.list_blueprint_blobs(&commit).await?;
        let blobs: Vec<(String, Arc<Vec<u8>>)> = stream::iter(items)
            .map(|item| async move { self.blob(&item.sha).await.map(|b| (item.path, b)) })
            .buffer_unordered(BLOB_CONCURRENCY)
            .try_collect()
            .await?;
        let prefix = format!("{REPO_ROOT}/");
        let files = blobs
            .into_iter()
            .filter_map(|(path, bytes)| {
                Some((
                    path.strip_prefix(&prefix)?.to_string(),
                    bytes.as_ref().clone(),
                ))
            })
            .collect();
        Ok(Snapshot {
            base: BaseCommit { commit, tree },
            files,
        })
    }

    /// [`Self::read_files`] read as a [`BlueprintSet`].
    pub async fn read_blueprints(
        &self,
        spec: &str,
    ) -> Result<(Snapshot, BlueprintSet), ReadBlueprintsError> {
        let snapshot = self.read_files(spec).await?;
        let set =
            read_tree(snapshot.files.iter()).map_err(|source| ReadBlueprintsError::Layout {
                at: spec.to_string(),
                source,
            })?;
        Ok((snapshot, set))
    }

    /// The root tree id and the blobs under `fixtures/app/` (full paths).
    pub(crate) async fn list_blueprint_blobs(
        &self,
        commit: &str,
    ) -> Result<(String, Vec<TreeItem>), GithubError> {
        let root = self.tree(commit, true).await?;
        let prefix = format!("{REPO_ROOT}/");
        if !root.truncated {
            let items = root
                .tree
                .into_iter()
                .filter(|i| i.kind == "blob" && i.path.starts_with(&prefix))
                .collect();
            return Ok((root.sha, items));
        }
        // Too big for one listing: walk down to fixtures/app, then list it in parts.
        let mut sha = root.sha.clone();
        for name in REPO_ROOT.split('/') {
            let level = self.tree(&sha, false).await?;
            match level
                .tree
                .into_iter()
                .find(|i| i.path == name && i.kind == "tree")
            {
                Some(item) => sha = item.sha,
                None => return Ok((root.sha, Vec::new())),
            }
        }
        let mut items = Vec::new();
        Box::pin(self.list_subtree(&sha, &prefix, &mut items)).await?;
        Ok((root.sha, items))
    }

    async fn list_subtree(
        &self,
        sha: &str,
        prefix: &str,
        out: &mut Vec<TreeItem>,
    ) -> Result<(), GithubError> {
        let listing = self.tree(sha, true).await?;
        if !listing.truncated {
            out.extend(
                listing
                    .tree
                    .into_iter()
                    .filter(|i| i.kind == "blob")
                    .map(|mut i| {
                        i.path = format!("{prefix}{}", i.path);
                        i
                    }),
            );
            return Ok(());
        }
        let level = self.tree(sha, false).await?;
        if level.truncated {
            return Err(GithubError::Decode {
                what: format!("tree {prefix}"),
                reason: "one folder holds more entries than GitHub lists at once".into(),
            });
        }
        for mut item in level.tree {
            if item.kind == "tree" {
                Box::pin(self.list_subtree(&item.sha, &format!("{prefix}{}/", item.path), out))
                    .await?;
            } else if item.kind == "blob" {
                item.path = format!("{prefix}{}", item.path);
                out.push(item);
            }
        }
        Ok(())
    }

    async fn tree(&self, sha: &str, recursive: bool) -> Result<TreeListing, GithubError> {
        let query = if recursive { "?recursive=1" } else { "" };
        self.get(
            &format!("git/trees/{sha}{query}"),
            Op::new(format!("tree {sha}"), "contents: read"),
        )
        .await
    }

    /// A blob's bytes, from the cache when this id was read lately. The answer is
    /// decoded on the blocking pool: a tree of them is a lot of base64.
    pub async fn blob(&self, sha: &str) -> Result<Arc<Vec<u8>>, GithubError> {
        if let Some(hit) = self.cached_blob(sha) {
            return Ok(hit);
        }
        let op = Op::new(format!("blob {sha}"), "contents: read");
        let reply = self
            .http
            .get_bytes(&self.repo_path(&format!("git/blobs/{sha}")), &op)
            .await?;
        let decoded = tokio::task::spawn_blocking(move || decode_blob(&reply))
            .await
            .unwrap_or_else(|join| Err(format!("the decoding task failed: {join}")));
        let bytes = Arc::new(decoded.map_err(|reason| GithubError::Decode {
            what: op.what.clone(),
            reason,
        })?);
        self.blobs.lock().unwrap_or_else(|p| p.into_inner()).insert(
            sha,
            bytes.clone(),
            bytes.len(),
        );
        Ok(bytes)
    }

    pub(crate) fn cached_blob(&self, sha: &str) -> Option<Arc<Vec<u8>>> {
        self.blobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha)
    }

    // ---- writing ---------------------------------------------------------------

    /// Commits `changes` on top of `parent` and points `branch` at the result:
    /// one tree (contents inline, deletions as `sha: null`, on `base_tree`), one
    /// commit, one ref write (two for `CreateOrFastForward` on an existing branch),
    /// whatever the number of files. Non-UTF-8 files cost one blob call each.
    pub async fn commit_files(
        &self,
        branch: &str,
        parent: &BaseCommit,
        changes: &FileChanges,
        message: &str,
        write: BranchWrite,
    ) -> Result<BaseCommit, GithubError> {
        let mut entries = Vec::with_capacity(changes.upsert.len() + changes.delete.len());
        for (path, bytes) in &changes.upsert {
            let entry = match std::str::from_utf8(bytes) {
                Ok(text) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "content": text})
                }
                Err(_) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "sha": self.create_blob(bytes).await?})
                }
            };
            entries.push(entry);
        }
        for path in &changes.delete {
            entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}));
        }
        let op = Op::new(format!("a tree for {branch}"), "contents: write");
        let tree: Value = self
            .send(
                Method::POST,
                "git/trees",
                &json!({"base_tree": parent.tree, "tree": entries}),
                op,
            )
            .await?;
        let tree = tree["sha"].as_str().unwrap_or_default().to_string();
        let op = Op::new(format!("a commit on {branch}"), "contents: write");
        let body = json!({"message": message, "tree": tree, "parents": [parent.commit]});
        let commit: Value = self.send(Method::POST, "git/commits", &body, op).await?;
        let commit = commit["sha"].as_str().unwrap_or_default().to_string();
        self.write_branch(branch, &commit, write).await?;
        Ok(BaseCommit { commit, tree })
    }

    async fn create_blob(&self, bytes: &[u8]) -> Result<String, GithubError> {
        let body = json!({"content": base64::engine::general_purpose::STANDARD.encode(bytes), "encoding": "base64"});
        let reply: Value = self
            .send(
                Method::POST,
                "git/blobs",
                &body,
                Op::new("a blob", "contents: write"),
            )
            .await?;
        Ok(reply["sha"].as_str().unwrap_or_default().to_string())
    }

    /// Points `branch` at `sha`. After a failed write whose outcome is unknown (5xx,
    /// transport), reads the branch once instead of repeating the write.
    pub async fn write_branch(
        &self,
        branch: &str,
        sha: &str,
        write: BranchWrite,
    ) -> Result<(), GithubError> {
        let result = match write {
            BranchWrite::FastForward => self.fast_forward(branch, sha).await,
            BranchWrite::Create => self.create_ref(&format!("refs/heads/{branch}"), sha).await,
            BranchWrite::CreateOrFastForward => {
                match self.create_ref(&format!("refs/heads/{branch}"), sha).await {
                    Err(e) if e.is_validation("Reference already exists") => {
                        self.fast_forward(branch, sha).await
                    }
                    other => other,
                }
            }
        };
        match result {
            Err(e @ (GithubError::Status { .. } | GithubError::Transport { .. })) => {
                if self.branch_head(branch).await? == Some(sha.to_string()) {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    async fn fast_forward(&self, branch: &str, sha: &str) -> Result<(), GithubError> {
        let op = Op::new(format!("moving {branch}"), "contents: write");
        let _: Value = self
            .send(
                Method::PATCH,
                &format!("git/refs/heads/{}", escape_path(branch)),
                &json!({"sha": sha, "force": false}),
                op,
            )
            .await?;
        Ok(())
    }

    /// Creates a ref (`refs/heads/…` or `refs/tags/…`).
    pub async fn create_ref(&self, name: &str, sha: &str) -> Result<(), GithubError> {
        let op = Op::new(format!("creating {name}"), "contents: write");
        let _: Value = self
            .send(
                Method::POST,
                "git/refs",
                &json!({"ref": name, "sha": sha}),
                op,
            )
            .await?;
        Ok(())
    }

    pub async fn delete_branch(&self, branch: &str) -> Result<(), GithubError> {
        let op = Op::new(format!("deleting {branch}"), "contents: write");
        match self
            .http
            .send(
                Method::DELETE,
                &self.repo_path(&format!("git/refs/heads/{}", escape_path(branch))),
                None,
                &op,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_validation("Reference does not exist") => Ok(()),
            Err(e) => Err(e),
        }
    }

    // ---- compare, tags, releases, protection -------------------------------------

    pub async fn compare(&self, base: &str, head: &str) -> Result<Comparison, GithubError> {
        let op = Op::new(format!("comparing {base}...{head}"), "contents: read");
        self.get(
            &format!("compare/{}...{}", escape_path(base), escape_path(head)),
            op,
        )
        .await
    }

    /// When the oldest commit on `head` that `base` lacks was committed (`None` when
    /// there is none). GitHub lists at most 250 commits of a comparison, oldest
    /// first, so a longer history gives the oldest of the first 250.
    pub async fn first_commit_since(
        &self,
        base: &str,
        head: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, GithubError> {
        let op = Op::new(format!("the commits {base}...{head}"), "contents: read");
        let comparison: CommitDates = self
            .get(
                &format!("compare/{}...{}", escape_path(base), escape_path(head)),
                op,
            )
            .await?;
        Ok(comparison
            .commits
            .iter()
            .map(|c| c.commit.committer.date)
            .min())
    }

    /// An annotated tag object on `sha` plus its `refs/tags/` ref (2 calls).
    pub async fn create_annotated_tag(
        &self,
        tag: &str,
        message: &str,
        sha: &str,
    ) -> Result<GitTag, GithubError> {
        let op = Op::new(format!("tag {tag}"), "contents: write");
        let object: GitTag = self
            .send(
                Method::POST,
                "git/tags",
                &json!({"tag": tag, "message": message, "object": sha, "type": "commit"}),
                op,
            )
            .await?;
        self.create_ref(&format!("refs/tags/{tag}"), &object.sha)
            .await?;
        Ok(object)
    }

    pub async fn create_release(
        &self,
        tag: &str,
        name: &str,
        body: &str,
    ) -> Result<Release, GithubError> {
        let op = Op::new(format!("release {tag}"), "contents: write");
        self.send(
            Method::POST,
            "releases",
            &json!({"tag_name": tag, "name": name, "body": body, "make_latest": "true"}),
            op,
        )
        .await
    }

    /// Review rules on `branch`, or None when it is not protected. Reading needs
    /// admin rights (`administration: read`); a 403 is returned as such.
    pub async fn branch_protection(
        &self,
        branch: &str,
    ) -> Result<Option<BranchProtection>, GithubError> {
        let op = Op::new(format!("protection of {branch}"), "administration: read");
        let value: Value = match self
            .get(&format!("branches/{}/protection", escape_path(branch)), op)
            .await
        {
            Ok(v) => v,
            Err(GithubError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let reviews = &value["required_pull_request_reviews"];
        Ok(Some(BranchProtection {
            required_approving_review_count: reviews["required_approving_review_count"]
                .as_u64()
                .unwrap_or(0) as u32,
            dismiss_stale_reviews: reviews["dismiss_stale_reviews"].as_bool().unwrap_or(false),
            require_last_push_approval: reviews["require_last_push_approval"]
                .as_bool()
                .unwrap_or(false),
            enforce_admins: value["enforce_admins"]["enabled"]
                .as_bool()
                .unwrap_or(false),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_between_write_only_what_differs() {
        let before: BTreeMap<String, Vec<u8>> = [
            ("roles/a.json", "1"),
            ("roles/b.json", "2"),
            ("roles/c.json", "3"),
        ]
        .iter()
        .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
        .collect();
        let mut after = before.clone();
        after.insert("roles/b.json".into(), b"changed".to_vec());
        after.remove("roles/c.json");
        after.insert("roles/d.json".into(), b"new".to_vec());
        let changes = FileChanges::between(&before, &after);
        assert_eq!(
            changes.upsert.keys().collect::<Vec<_>>(),
            ["fixtures/app/roles/b.json", "fixtures/app/roles/d.json"]
        );
        assert_eq!(
            changes.delete.iter().collect::<Vec<_>>(),
            ["fixtures/app/roles/c.json"]
        );
    }

    #[test]
    fn branch_names_keep_their_slashes_when_escaped() {
        assert_eq!(
            escape_path("promote/2026-11-26 x#1"),
            "promote/2026-11-26%20x%231"
        );
    }
}

/// The commit dates of a comparison (the rest of its answer is not read).
#[derive(Debug, serde::Deserialize)]
struct CommitDates {
    #[serde(default)]
    commits: Vec<DatedCommit>,
}

#[derive(Debug, serde::Deserialize)]
struct DatedCommit {
    commit: DatedCommitBody,
}

#[derive(Debug, serde::Deserialize)]
struct DatedCommitBody {
    committer: CommitterDate,
}

#[derive(Debug, serde::Deserialize)]
struct CommitterDate {
    date: chrono::DateTime<chrono::Utc>,
}
