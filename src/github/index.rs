//! A ref's blueprint files read as an index of digests ([`BlobIndex`]) instead of a
//! set of JSON trees: each blob is decoded and digested on tokio's blocking pool as
//! it arrives, and its bytes are dropped there, so a 50,000-file branch costs its
//! names and digests, and the runtime's workers (which the Socket Mode listener's
//! acks share) only move bytes. What each blob digested to is kept by blob id, so
//! reading a tree again fetches only the blobs not seen lately. Bodies are read
//! again, by blob id, for the few blueprints a caller finds differing.

use futures::stream::{self, StreamExt as _};

use super::blobs::{decode_blob, digest_weight};
use super::client::{BaseCommit, GithubClient, BLOB_CONCURRENCY};
use super::error::{GithubError, ReadBlueprintsError};
use super::transport::Op;
use crate::blueprint::canonical::{BlueprintId, BlueprintSet, Digest};
use crate::blueprint::kinds::Kind;
use crate::blueprint::layout::{parse_file, LayoutError, TreeReader, REPO_ROOT};
use crate::blueprint::tree_index::{digest_file, sits_in_its_folder, TreeIndex};

/// The blueprints at one commit as digests, with the blob behind each file.
#[derive(Debug, Clone)]
pub struct BlobIndex {
    pub base: BaseCommit,
    pub index: TreeIndex,
    /// The ref as asked for, for errors.
    at: String,
    /// (path relative to `fixtures/app/`, blob id) of every file read, in path order.
    blobs: Vec<(String, String)>,
}

/// What one blob digested to.
type Digested = Option<(Kind, String, Digest)>;

impl GithubClient {
    /// The blueprint files under `fixtures/app/` at `spec` as a [`BlobIndex`]: the
    /// calls of [`GithubClient::read_files`], less the blobs of files the tree reader
    /// ignores. A tree that [`GithubClient::read_blueprints`] refuses is refused
    /// with the same error.
    pub async fn index_blueprints(&self, spec: &str) -> Result<BlobIndex, ReadBlueprintsError> {
        let commit = self.resolve_commit(spec).await?;
        let (tree, items) = self.list_blueprint_blobs(&commit).await?;
        let prefix = format!("{REPO_ROOT}/");
        let mut blobs: Vec<(String, String)> = items
            .into_iter()
            .filter_map(|item| Some((item.path.strip_prefix(&prefix)?.to_owned(), item.sha)))
            .filter(|(path, _)| TreeReader::wants(path))
            .collect();
        blobs.sort();
        let mut index = TreeIndex::new();
        // In path order, as the tree reader goes, so the first bad file is its first.
        // Owned items: a stream of futures borrowing from it is not provably `Send`.
        let mut digests = stream::iter(0..blobs.len())
            .map(|i| {
                let (path, sha) = blobs[i].clone();
                async move { self.digest_blob(path, &sha).await }
            })
            .buffered(BLOB_CONCURRENCY);
        let mut at = 0;
        while let Some(digested) = digests.next().await {
            let path = &blobs[at].0;
            at += 1;
            let added = digested.and_then(|d| index.add(path, d).map_err(Fault::Layout));
            added.map_err(|fault| fault.at(spec))?;
        }
        drop(digests);
        Ok(BlobIndex {
            base: BaseCommit { commit, tree },
            index: index.finish(),
            at: spec.to_owned(),
            blobs,
        })
    }

    /// One file's digest: from the digest cache when this blob was digested lately,
    /// else its blob (from the blob cache when there), decoded and digested on the
    /// blocking pool.
    async fn digest_blob(&self, path: String, sha: &str) -> Result<Digested, Fault> {
        let known = self
            .digests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha);
        if let Some((kind, name, digest)) = known {
            // Digested before under another path, maybe: valid where it fits.
            if sits_in_its_folder(&path, kind) {
                return Ok(Some((kind, name, digest)));
            }
        }
        let digested = self.fetch_digest(path, sha).await?;
        if let Some((kind, name, digest)) = &digested {
            self.digests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    sha,
                    (*kind, name.clone(), *digest),
                    digest_weight(sha, name),
                );
        }
        Ok(digested)
    }

    async fn fetch_digest(&self, path: String, sha: &str) -> Result<Digested, Fault> {
        if let Some(bytes) = self.cached_blob(sha) {
            return off_the_runtime(move || Ok(digest_file(&path, &bytes)?)).await;
        }
        let op = Op::new(format!("blob {sha}"), "contents: read");
        let reply = self
            .http
            .get_bytes(&self.repo_path(&format!("git/blobs/{sha}")), &op)
            .await?;
        off_the_runtime(move || {
            let bytes = decode_blob(&reply).map_err(|reason| GithubError::Decode {
                what: op.what.clone(),
                reason,
            })?;
            Ok(digest_file(&path, &bytes)?)
        })
        .await
    }
}

impl BlobIndex {
    /// `staging@3f2a9c1`-style short commit id.
    pub fn short_commit(&self) -> &str {
        let commit = &self.base.commit;
        &commit[..commit.len().min(7)]
    }

    /// The blueprints `ids` (those not in the index skipped) with their bodies, read
    /// again from their blobs.
    pub async fn read(
        &self,
        github: &GithubClient,
        ids: impl IntoIterator<Item = BlueprintId>,
    ) -> Result<BlueprintSet, ReadBlueprintsError> {
        let files: Vec<(String, String)> = ids
            .into_iter()
            .filter_map(|(kind, name)| self.index.get(kind, &name))
            .filter_map(|entry| {
                let at = self
                    .blobs
                    .binary_search_by(|(path, _)| path.as_str().cmp(&entry.path))
                    .ok()?;
                Some(self.blobs[at].clone())
            })
            .collect();
        let mut set = BlueprintSet::new();
        let mut read = stream::iter(files)
            .map(|(path, sha)| async move {
                let bytes = github.blob(&sha).await?;
                off_the_runtime(move || Ok(parse_file(&path, &bytes)?)).await
            })
            .buffered(BLOB_CONCURRENCY);
        while let Some(parsed) = read.next().await {
            if let Some((blueprint, digest)) = parsed.map_err(|fault| fault.at(&self.at))? {
                set.insert_with_digest(blueprint, digest);
            }
        }
        Ok(set)
    }
}

/// Why a blob could not be indexed or read.
enum Fault {
    Github(GithubError),
    Layout(LayoutError),
}

impl From<GithubError> for Fault {
    fn from(err: GithubError) -> Self {
        Fault::Github(err)
    }
}

impl From<LayoutError> for Fault {
    fn from(err: LayoutError) -> Self {
        Fault::Layout(err)
    }
}

impl Fault {
    fn at(self, spec: &str) -> ReadBlueprintsError {
        match self {
            Fault::Github(err) => ReadBlueprintsError::Github(err),
            Fault::Layout(source) => ReadBlueprintsError::Layout {
                at: spec.to_owned(),
                source,
            },
        }
    }
}

/// Runs CPU work (base64, JSON, digests) on the blocking pool, never on a worker.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Fault> + Send + 'static,
) -> Result<T, Fault> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| {
            Err(Fault::Github(GithubError::Decode {
                what: "a blob".into(),
                reason: format!("the decoding task failed: {join}"),
            }))
        })
}
