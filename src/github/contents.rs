//! One file at a time through the contents API: read a file at a ref (its bytes and
//! blob sha) and create or replace it on a branch with a single commit. For several
//! files use `commit_files` (git data, a constant number of calls). A write presents
//! the sha it read, so a concurrent change is refused (`StaleFile`) instead of lost;
//! a protected branch refuses it (`BranchProtected`): such changes go through a pull
//! request.

use base64::Engine as _;
use http::Method;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use super::client::{escape_path, GithubClient};
use super::error::GithubError;
use super::models::{FileAtRef, FileWrite};
use super::transport::Op;

/// Git's id for a blob of `bytes` (what GitHub reports as the file's `sha`).
pub fn git_blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

impl GithubClient {
    /// The file at `path` on `git_ref` (branch, tag or sha), or None when the ref has
    /// no such file. A ref that does not exist is an error (`NotFound`), not None.
    pub async fn get_file(
        &self,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<FileAtRef>, GithubError> {
        let op = Op::new(format!("{path} at {git_ref}"), "contents: read");
        let rest = format!(
            "contents/{}?ref={}",
            escape_path(path.trim_matches('/')),
            escape_path(git_ref)
        );
        let reply: Value = match self.get(&rest, op.clone()).await {
            Ok(reply) => reply,
            Err(GithubError::NotFound { message, .. })
                if !message.starts_with("No commit found") =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        if reply.is_array() || reply["type"] != "file" {
            return Err(GithubError::Decode {
                what: op.what,
                reason: "it is a folder (or a link), not a file".into(),
            });
        }
        let content = reply["content"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content.replace(['\n', '\r'], ""))
            .map_err(|e| GithubError::Decode {
                what: op.what.clone(),
                reason: e.to_string(),
            })?;
        let sha = reply["sha"].as_str().unwrap_or_default().to_string();
        Ok(Some(FileAtRef { bytes, sha }))
    }

    /// Writes `bytes` to `path` on `branch` in one commit with `message`. `sha` is the
    /// blob sha [`Self::get_file`] returned (None to create a file that is not there).
    /// A stale or missing-file `sha` is `StaleFile`; a protected branch is
    /// `BranchProtected`. After a failure whose outcome is unknown (5xx, transport),
    /// reads the file once: if it already holds `bytes`, the write happened.
    pub async fn put_file(
        &self,
        path: &str,
        branch: &str,
        bytes: &[u8],
        message: &str,
        sha: Option<&str>,
    ) -> Result<FileWrite, GithubError> {
        let path = path.trim_matches('/');
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "branch": branch,
        });
        if let Some(sha) = sha {
            body["sha"] = json!(sha);
        }
        let op = Op::new(format!("{path} on {branch}"), "contents: write");
        let result: Result<Value, GithubError> = self
            .send(
                Method::PUT,
                &format!("contents/{}", escape_path(path)),
                &body,
                op,
            )
            .await;
        match result {
            Ok(reply) => Ok(FileWrite {
                blob_sha: reply["content"]["sha"].as_str().unwrap_or_default().into(),
                commit_sha: reply["commit"]["sha"].as_str().unwrap_or_default().into(),
            }),
            Err(GithubError::Status {
                status: 409,
                message,
                ..
            }) if message.contains("does not match") => Err(GithubError::StaleFile {
                path: path.into(),
                message,
            }),
            Err(GithubError::Status {
                status: 409,
                message,
                ..
            }) => Err(GithubError::BranchProtected {
                what: path.into(),
                branch: branch.into(),
                message,
            }),
            Err(e @ (GithubError::Status { .. } | GithubError::Transport { .. })) => {
                let wanted = git_blob_sha(bytes);
                match self.get_file(path, branch).await {
                    Ok(Some(file)) if file.sha == wanted => Ok(FileWrite {
                        blob_sha: wanted,
                        commit_sha: self.branch_head(branch).await?.unwrap_or_default(),
                    }),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits() {
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }
}
