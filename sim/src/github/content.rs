//! Tags, releases and file contents as the REST API serves them: `GET tags` (tags by
//! name, highest first — GitHub documents no order; this is the order it is observed
//! to return), `GET releases` and `GET releases/latest`, and the contents API
//! (`GET contents/{path}?ref=` for a file or a folder, `PUT contents/{path}` to create
//! or update one file on a branch with its stale-sha and protected-branch refusals).
//! Lists page with `per_page` (default 30, at most 100) and `page`, as GitHub's do.
//! Handlers take the locked repository; turning them into HTTP is `mod.rs`'s job.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Value};

use super::api::{
    body_str, parse_signature, release_json, required, signature_json, unverified, wrapped_base64,
    Ctx, Reply,
};
use super::objects::{Commit, FileEntry, Object};
use super::repo::{ApiError, ApiResult, Repo};

const CONTENTS_DOCS: &str =
    "https://docs.github.com/rest/repos/contents#create-or-update-file-contents";

/// One page of `items` as `per_page`/`page` ask (GitHub: 30 by default, 100 at most).
pub fn paginate(items: Vec<Value>, query: &BTreeMap<String, String>) -> Vec<Value> {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(30)
        .min(100);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(1);
    items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect()
}

// ---- tags ---------------------------------------------------------------------

/// `GET tags`: every `refs/tags/*`, names in descending order, each with the commit
/// it (or the annotated tag object it names) points at.
pub fn list_tags(ctx: &Ctx, repo: &Repo, query: &BTreeMap<String, String>) -> ApiResult<Reply> {
    let api = ctx.api(repo);
    let mut tags: Vec<(&str, String)> = repo
        .refs
        .iter()
        .filter_map(|(name, sha)| {
            let tag = name.strip_prefix("refs/tags/")?;
            Some((tag, repo.objects.peel_to_commit(sha)?))
        })
        .collect();
    tags.sort_by(|a, b| b.0.cmp(a.0));
    let listed = tags
        .into_iter()
        .map(|(name, commit)| {
            json!({
                "name": name,
                "commit": {"sha": commit, "url": format!("{api}/commits/{commit}")},
                "zipball_url": format!("{api}/zipball/refs/tags/{name}"),
                "tarball_url": format!("{api}/tarball/refs/tags/{name}"),
                "node_id": format!("REF_{}", hex::encode(format!("refs/tags/{name}"))),
            })
        })
        .collect();
    Reply::ok(Value::Array(paginate(listed, query)))
}

// ---- releases -----------------------------------------------------------------

/// `GET releases`: newest first (by `created_at`, then by creation).
pub fn list_releases(ctx: &Ctx, repo: &Repo, query: &BTreeMap<String, String>) -> ApiResult<Reply> {
    let mut releases: Vec<_> = repo.releases.iter().collect();
    releases.sort_by(|a, b| (&b.created_at, b.id).cmp(&(&a.created_at, a.id)));
    let listed = releases
        .into_iter()
        .map(|r| release_json(ctx, repo, r))
        .collect();
    Reply::ok(Value::Array(paginate(listed, query)))
}

/// `GET releases/latest`: 404 until there is a published full release.
pub fn latest_release(ctx: &Ctx, repo: &Repo) -> ApiResult<Reply> {
    let release = repo.latest_release().ok_or_else(ApiError::not_found)?;
    Reply::ok(release_json(ctx, repo, release))
}

// ---- contents -----------------------------------------------------------------

/// The links GitHub gives every contents entry.
fn entry_json(ctx: &Ctx, repo: &Repo, git_ref: &str, path: &str, kind: &str, sha: &str) -> Value {
    let api = ctx.api(repo);
    let url = format!("{api}/contents/{path}?ref={git_ref}");
    let git_url = if kind == "dir" {
        format!("{api}/git/trees/{sha}")
    } else {
        format!("{api}/git/blobs/{sha}")
    };
    let html_url = format!(
        "{}/{}/{git_ref}/{path}",
        ctx.html(repo),
        if kind == "dir" { "tree" } else { "blob" }
    );
    let size = match kind {
        "file" => repo.objects.blob(sha).map(<[u8]>::len).unwrap_or(0),
        _ => 0,
    };
    json!({
        "type": kind,
        "size": size,
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": (kind == "file").then(|| format!("{}/raw/{git_ref}/{path}", ctx.html(repo))),
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

/// `GET contents/{path}?ref=`: a file (base64 content, blob sha) or a folder's
/// entries at `ref` (default: the default branch). An unknown ref is GitHub's
/// "No commit found for the ref …", an absent path a plain 404.
pub fn get_contents(
    ctx: &Ctx,
    repo: &Repo,
    path: &str,
    query: &BTreeMap<String, String>,
) -> ApiResult<Reply> {
    let path = path.trim_matches('/');
    let git_ref = query
        .get("ref")
        .cloned()
        .unwrap_or_else(|| repo.default_branch.clone());
    let commit = repo.resolve_commitish(&git_ref).ok_or_else(|| {
        ApiError::new(
            404,
            format!("No commit found for the ref {git_ref}"),
            "https://docs.github.com/rest/repos/contents#get-repository-content",
        )
    })?;
    let files = repo.files_at(&commit);
    if let Some(file) = files.get(path) {
        let bytes = repo.objects.blob(&file.sha).unwrap_or_default();
        let mut entry = entry_json(ctx, repo, &git_ref, path, "file", &file.sha);
        entry["content"] = json!(wrapped_base64(bytes));
        entry["encoding"] = json!("base64");
        return Reply::ok(entry);
    }
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let tree = repo.tree_of(&commit).unwrap_or_default();
    let mut entries: Vec<Value> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (full, file) in files.iter().filter(|(p, _)| p.starts_with(&prefix)) {
        let rest = &full[prefix.len()..];
        match rest.split_once('/') {
            None => entries.push(entry_json(ctx, repo, &git_ref, full, "file", &file.sha)),
            Some((dir, _)) => {
                let dir_path = format!("{prefix}{dir}");
                if !dirs.contains(&dir_path) {
                    dirs.push(dir_path);
                }
            }
        }
    }
    if entries.is_empty() && dirs.is_empty() {
        return Err(ApiError::not_found());
    }
    for dir in dirs {
        let sha = subtree(repo, &tree, &dir).unwrap_or_default();
        entries.push(entry_json(ctx, repo, &git_ref, &dir, "dir", &sha));
    }
    entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Reply::ok(Value::Array(entries))
}

/// The tree id of folder `path` under `root`.
fn subtree(repo: &Repo, root: &str, path: &str) -> Option<String> {
    let mut sha = root.to_string();
    for name in path.split('/') {
        sha = repo
            .objects
            .tree(&sha)?
            .iter()
            .find(|e| e.name == name && e.is_tree())?
            .sha
            .clone();
    }
    Some(sha)
}

/// `PUT contents/{path}`: one commit on `branch` (default: the default branch) that
/// creates or replaces the file. Updating needs the current blob `sha` (422 without
/// it, 409 "<path> does not match <sha>" when it is stale); a branch that does not
/// exist is 404 "Branch <b> not found"; a protected branch refuses the direct write
/// with 409 "Could not update file: <what protection requires>".
pub fn put_contents(ctx: &Ctx, repo: &mut Repo, path: &str, body: &Value) -> ApiResult<Reply> {
    let path = path.trim_matches('/').to_string();
    let message = required(body, "message", CONTENTS_DOCS)?.to_string();
    let content = required(body, "content", CONTENTS_DOCS)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content.replace(['\n', '\r'], ""))
        .map_err(|_| ApiError::unprocessable("content is not valid Base64", CONTENTS_DOCS))?;
    let branch = body_str(body, "branch")
        .map(|b| b.trim_start_matches("refs/heads/").to_string())
        .unwrap_or_else(|| repo.default_branch.clone());
    let tip = repo
        .branch_sha(&branch)
        .ok_or_else(|| ApiError::new(404, format!("Branch {branch} not found"), CONTENTS_DOCS))?;
    let current = repo.files_at(&tip).get(&path).map(|f| f.sha.clone());
    match (current.as_deref(), body_str(body, "sha")) {
        (Some(_), None) => {
            return Err(ApiError::unprocessable(
                "Invalid request.\n\n\"sha\" wasn't supplied.",
                CONTENTS_DOCS,
            ))
        }
        (Some(current), Some(given)) if current != given => {
            return Err(ApiError::new(
                409,
                format!("{path} does not match {given}"),
                CONTENTS_DOCS,
            ))
        }
        // A sha for a file that is not there: the caller's view is stale too.
        (None, Some(given)) => {
            return Err(ApiError::new(
                409,
                format!("{path} does not match {given}"),
                CONTENTS_DOCS,
            ))
        }
        _ => {}
    }
    if let Some(reason) = repo.direct_write_refusal(&branch) {
        return Err(ApiError::new(
            409,
            format!("Could not update file: {reason}"),
            "https://docs.github.com/articles/about-protected-branches",
        ));
    }
    let blob = repo.objects.put(Object::Blob(bytes));
    let mut files = repo.files_at(&tip);
    files.insert(
        path.clone(),
        FileEntry {
            mode: "100644".into(),
            sha: blob.clone(),
        },
    );
    let tree = repo.objects.write_flat(&files);
    let author = parse_signature(body.get("author"), &ctx.bot_signature())?;
    let committer = parse_signature(body.get("committer"), &author)?;
    let commit = Commit {
        tree: tree.clone(),
        parents: vec![tip.clone()],
        author,
        committer,
        message,
    };
    let sha = repo.objects.put(Object::Commit(commit.clone()));
    repo.push_branch(&branch, &sha, ctx.login);
    let api = ctx.api(repo);
    let html = ctx.html(repo);
    let mut entry = entry_json(ctx, repo, &branch, &path, "file", &blob);
    entry["html_url"] = json!(format!("{html}/blob/{branch}/{path}"));
    let reply = json!({
        "content": entry,
        "commit": {
            "sha": sha,
            "node_id": format!("C_{sha}"),
            "url": format!("{api}/git/commits/{sha}"),
            "html_url": format!("{html}/commit/{sha}"),
            "author": signature_json(&commit.author),
            "committer": signature_json(&commit.committer),
            "message": commit.message,
            "tree": {"sha": tree, "url": format!("{api}/git/trees/{tree}")},
            "parents": [{"sha": tip, "url": format!("{api}/git/commits/{tip}"),
                         "html_url": format!("{html}/commit/{tip}")}],
            "verification": unverified(),
        },
    });
    let status = if current.is_some() { 200 } else { 201 };
    Ok(Reply::with_status(status, reply).pushing(&branch, &sha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_thirty_by_default_and_at_most_a_hundred() {
        let items: Vec<Value> = (0..250).map(|n| json!(n)).collect();
        let q = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(paginate(items.clone(), &q(&[])).len(), 30);
        let big = paginate(items.clone(), &q(&[("per_page", "500"), ("page", "3")]));
        assert_eq!((big.len(), big[0].clone()), (50, json!(200)));
        assert!(paginate(items, &q(&[("per_page", "100"), ("page", "4")])).is_empty());
    }
}
