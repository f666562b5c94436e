//! The REST routes under `/repos/{owner}/{repo}/…`, dispatched by hand because refs,
//! branches and `{base}...{head}` may hold `/`. Each handler takes the locked
//! repository and the JSON body and returns GitHub's status and JSON; pushes to a
//! branch are reported back so the caller can start workflow runs after unlocking.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Value};

use super::objects::{Commit, FileEntry, Object, Signature, Tag, TREE_MODE};
use super::repo::{
    user_json, ApiError, ApiResult, LineComment, MergeOutcome, Pull, Release, Repo, Review,
};
use super::{content, conversation};

/// What a handler returns: status, body, and what the caller must do once the
/// repository is unlocked: start the runs a branch move or a dispatch asked for,
/// wake runs whose state changed.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// Branches moved, as `(branch, sha)`.
    pub pushed: Vec<(String, String)>,
    /// A bench run created by a dispatch, with its `args`.
    pub dispatched: Option<(u64, String)>,
    /// A run was asked to cancel.
    pub runs_changed: bool,
    /// For a 302: where to.
    pub location: Option<String>,
}

impl Reply {
    pub(super) fn with_status(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            pushed: Vec::new(),
            dispatched: None,
            runs_changed: false,
            location: None,
        }
    }
    pub(super) fn ok(body: Value) -> ApiResult<Reply> {
        Ok(Reply::with_status(200, body))
    }
    pub(super) fn created(body: Value) -> ApiResult<Reply> {
        Ok(Reply::with_status(201, body))
    }
    pub(super) fn pushing(mut self, branch: &str, sha: &str) -> Self {
        self.pushed.push((branch.to_string(), sha.to_string()));
        self
    }
}

/// Request context shared by the handlers.
pub struct Ctx<'a> {
    pub base_url: &'a str,
    pub login: &'a str,
    pub now: i64,
    pub tree_entry_limit: usize,
    pub mergeable_unknown_reads: u32,
    /// Whether the repositories have the dispatchable `bench.yml`.
    pub has_bench_workflow: bool,
    /// Signs job-log download addresses.
    pub log_signing_key: &'a str,
}

impl Ctx<'_> {
    pub(super) fn api(&self, repo: &Repo) -> String {
        format!("{}/repos/{}", self.base_url, repo.full_name())
    }
    pub(super) fn html(&self, repo: &Repo) -> String {
        format!("{}/{}", self.base_url, repo.full_name())
    }
    pub(super) fn bot_signature(&self) -> Signature {
        Signature {
            name: self.login.to_string(),
            email: format!("{}@users.noreply.github.com", self.login),
            time: self.now,
            offset: "+0000".into(),
        }
    }
    pub(super) fn now_iso(&self) -> String {
        iso(self.now)
    }
}

pub fn iso(time: i64) -> String {
    chrono::DateTime::from_timestamp(time, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(super) fn body_str<'v>(body: &'v Value, key: &str) -> Option<&'v str> {
    body.get(key).and_then(Value::as_str)
}

pub(super) fn required<'v>(body: &'v Value, key: &str, docs: &'static str) -> ApiResult<&'v str> {
    body_str(body, key).ok_or_else(|| {
        ApiError::unprocessable(
            format!("Invalid request.\n\n\"{key}\" wasn't supplied."),
            docs,
        )
    })
}

/// Routes one request under `/repos/{owner}/{repo}/`; `rest` is the part after it.
pub fn dispatch(
    ctx: &Ctx,
    repo: &mut Repo,
    method: &str,
    rest: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> ApiResult<Reply> {
    let segs: Vec<&str> = rest.split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", [""]) => get_repository(ctx, repo),
        ("GET", ["git", "ref", r @ ..]) => get_ref(ctx, repo, &r.join("/")),
        ("GET", ["git", "matching-refs", r @ ..]) => matching_refs(ctx, repo, &r.join("/")),
        ("POST", ["git", "refs"]) => create_ref(ctx, repo, body),
        ("PATCH", ["git", "refs", r @ ..]) => update_ref(ctx, repo, &r.join("/"), body),
        ("DELETE", ["git", "refs", r @ ..]) => delete_ref(repo, &r.join("/")),
        ("GET", ["git", "trees", t @ ..]) => get_tree(ctx, repo, &t.join("/"), query),
        ("POST", ["git", "trees"]) => create_tree(ctx, repo, body),
        ("GET", ["git", "blobs", sha]) => get_blob(ctx, repo, sha),
        ("POST", ["git", "blobs"]) => create_blob(ctx, repo, body),
        ("GET", ["git", "commits", sha]) => get_git_commit(ctx, repo, sha),
        ("POST", ["git", "commits"]) => create_commit(ctx, repo, body),
        ("GET", ["git", "tags", sha]) => get_tag(ctx, repo, sha),
        ("POST", ["git", "tags"]) => create_tag(ctx, repo, body),
        ("GET", ["compare", spec @ ..]) => compare(ctx, repo, &spec.join("/")),
        ("GET", ["commits"]) => list_commits(ctx, repo, query),
        ("GET", ["commits", r @ .., "check-runs"]) => check_runs(ctx, repo, &r.join("/")),
        ("GET", ["commits", r @ ..]) => get_commit(ctx, repo, &r.join("/")),
        ("GET", ["branches", b @ .., "protection"]) => protection(ctx, repo, &b.join("/")),
        ("GET", ["pulls"]) => list_pulls(ctx, repo, query),
        ("POST", ["pulls"]) => create_pull(ctx, repo, body),
        ("GET", ["pulls", n]) => get_pull(ctx, repo, number(n)?),
        ("PUT", ["pulls", n, "merge"]) => merge(ctx, repo, number(n)?, body),
        ("GET", ["pulls", n, "reviews"]) => list_reviews(ctx, repo, number(n)?),
        ("POST", ["pulls", n, "reviews"]) => create_review(ctx, repo, number(n)?, body),
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            request_reviewers(ctx, repo, number(n)?, body)
        }
        ("POST", ["issues", n, "labels"]) => add_labels(ctx, repo, number(n)?, body),
        ("GET", ["actions", "runs"]) => list_runs(ctx, repo, query),
        ("GET", ["actions", "runs", id]) => get_run(ctx, repo, number(id)?),
        ("GET", ["actions", "runs", id, "jobs"]) => list_jobs(ctx, repo, number(id)?),
        ("POST", ["actions", "runs", id, "cancel"]) => cancel_run(repo, number(id)?),
        ("GET", ["actions", "jobs", id, "logs"]) => job_logs(ctx, repo, number(id)?),
        ("GET", ["actions", "workflows", w]) => get_workflow(ctx, repo, w),
        ("POST", ["actions", "workflows", w, "dispatches"]) => {
            dispatch_workflow(ctx, repo, w, body)
        }
        ("POST", ["releases"]) => create_release(ctx, repo, body),
        ("GET", ["releases"]) => content::list_releases(ctx, repo, query),
        ("GET", ["releases", "latest"]) => content::latest_release(ctx, repo),
        ("GET", ["releases", "tags", tag]) => get_release(ctx, repo, tag),
        ("GET", ["tags"]) => content::list_tags(ctx, repo, query),
        ("GET", ["contents", p @ ..]) => content::get_contents(ctx, repo, &p.join("/"), query),
        ("PUT", ["contents", p @ ..]) => content::put_contents(ctx, repo, &p.join("/"), body),
        ("PATCH", ["pulls", n]) => conversation::update_pull(ctx, repo, number(n)?, body),
        ("GET", ["pulls", n, "files"]) => conversation::pull_files(ctx, repo, number(n)?, query),
        ("GET", ["pulls", n, "comments"]) => {
            conversation::review_comments(ctx, repo, number(n)?, query)
        }
        ("POST", ["issues", n, "comments"]) => {
            conversation::create_issue_comment(ctx, repo, number(n)?, body)
        }
        ("GET", ["issues", n, "comments"]) => {
            conversation::issue_comments(ctx, repo, number(n)?, query)
        }
        _ => Err(ApiError::not_found()),
    }
}

/// `GET /repos/{owner}/{repo}`: the `full-repository` shape, the summary other
/// answers embed plus the counts only this one carries.
fn get_repository(ctx: &Ctx, repo: &Repo) -> ApiResult<Reply> {
    let mut value = repo.summary_json(ctx.base_url);
    value["has_discussions"] = json!(false);
    value["network_count"] = json!(0);
    value["subscribers_count"] = json!(0);
    Reply::ok(value)
}

fn number(s: &str) -> ApiResult<u64> {
    s.parse().map_err(|_| ApiError::not_found())
}

// ---- refs -------------------------------------------------------------------

fn ref_json(ctx: &Ctx, repo: &Repo, name: &str, sha: &str) -> Value {
    let kind = repo
        .objects
        .get(sha)
        .map(Object::type_name)
        .unwrap_or("commit");
    json!({
        "ref": name,
        "node_id": format!("REF_{}", hex::encode(name)),
        "url": format!("{}/git/{name}", ctx.api(repo)),
        "object": {"type": kind, "sha": sha, "url": format!("{}/git/{kind}s/{sha}", ctx.api(repo))},
    })
}

const REFS_DOCS: &str = "https://docs.github.com/rest/git/refs";

fn get_ref(ctx: &Ctx, repo: &Repo, short: &str) -> ApiResult<Reply> {
    let name = format!("refs/{short}");
    let sha = repo.refs.get(&name).ok_or_else(ApiError::not_found)?;
    Reply::ok(ref_json(ctx, repo, &name, sha))
}

fn matching_refs(ctx: &Ctx, repo: &Repo, prefix: &str) -> ApiResult<Reply> {
    let prefix = format!("refs/{prefix}");
    let refs: Vec<Value> = repo
        .refs
        .iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, s)| ref_json(ctx, repo, n, s))
        .collect();
    Reply::ok(Value::Array(refs))
}

fn protected_update(repo: &Repo, name: &str) -> Option<ApiError> {
    let branch = name.strip_prefix("refs/heads/")?;
    repo.protection.contains_key(branch).then(|| {
        ApiError::unprocessable(
            format!("Protected branch update failed for {name}. Changes must be made through a pull request."),
            REFS_DOCS,
        )
    })
}

fn create_ref(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let name = required(body, "ref", REFS_DOCS)?.to_string();
    let sha = required(body, "sha", REFS_DOCS)?.to_string();
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return Err(ApiError::unprocessable(
            "Reference name must start with 'refs/' and have at least two slashes.",
            REFS_DOCS,
        ));
    }
    if repo.refs.contains_key(&name) {
        return Err(ApiError::unprocessable(
            "Reference already exists",
            REFS_DOCS,
        ));
    }
    if repo.objects.get(&sha).is_none() {
        return Err(ApiError::unprocessable("Object does not exist", REFS_DOCS));
    }
    if let Some(refused) = protected_update(repo, &name) {
        return Err(refused);
    }
    repo.refs.insert(name.clone(), sha.clone());
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        repo.last_pushers.insert(branch.into(), ctx.login.into());
    }
    let reply = Reply::created(ref_json(ctx, repo, &name, &sha))?;
    Ok(match name.strip_prefix("refs/heads/") {
        Some(branch) => reply.pushing(branch, &sha),
        None => reply,
    })
}

fn update_ref(ctx: &Ctx, repo: &mut Repo, short: &str, body: &Value) -> ApiResult<Reply> {
    let name = format!("refs/{short}");
    let sha = required(body, "sha", REFS_DOCS)?.to_string();
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let current = repo
        .refs
        .get(&name)
        .cloned()
        .ok_or_else(|| ApiError::unprocessable("Reference does not exist", REFS_DOCS))?;
    if repo.objects.get(&sha).is_none() {
        return Err(ApiError::unprocessable("Object does not exist", REFS_DOCS));
    }
    if !force && !repo.objects.is_ancestor(&current, &sha) {
        return Err(ApiError::unprocessable(
            "Update is not a fast forward",
            REFS_DOCS,
        ));
    }
    if let Some(refused) = protected_update(repo, &name) {
        return Err(refused);
    }
    repo.refs.insert(name.clone(), sha.clone());
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        repo.last_pushers.insert(branch.into(), ctx.login.into());
    }
    let reply = Reply::ok(ref_json(ctx, repo, &name, &sha))?;
    Ok(match name.strip_prefix("refs/heads/") {
        Some(branch) => reply.pushing(branch, &sha),
        None => reply,
    })
}

fn delete_ref(repo: &mut Repo, short: &str) -> ApiResult<Reply> {
    let name = format!("refs/{short}");
    if let Some(refused) = protected_update(repo, &name) {
        return Err(refused);
    }
    repo.refs
        .remove(&name)
        .ok_or_else(|| ApiError::unprocessable("Reference does not exist", REFS_DOCS))?;
    Ok(Reply::with_status(204, Value::Null))
}

// ---- trees and blobs ----------------------------------------------------------

const TREES_DOCS: &str = "https://docs.github.com/rest/git/trees";

fn get_tree(
    ctx: &Ctx,
    repo: &Repo,
    spec: &str,
    query: &BTreeMap<String, String>,
) -> ApiResult<Reply> {
    let tree = match repo.objects.get(spec) {
        Some(Object::Tree(_)) => spec.to_string(),
        _ => repo
            .resolve_commit(spec)
            .and_then(|c| repo.tree_of(&c))
            .ok_or_else(ApiError::not_found)?,
    };
    let recursive = query
        .get("recursive")
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let entries: Vec<(String, super::objects::TreeEntry)> = if recursive {
        repo.objects.walk(&tree)
    } else {
        let mut e = repo.objects.tree(&tree).unwrap_or_default().to_vec();
        super::objects::sort_entries(&mut e);
        e.into_iter().map(|e| (e.name.clone(), e)).collect()
    };
    let truncated = entries.len() > ctx.tree_entry_limit;
    let listed: Vec<Value> = entries
        .into_iter()
        .take(ctx.tree_entry_limit)
        .map(|(path, e)| tree_entry_json(ctx, repo, &path, &e))
        .collect();
    Reply::ok(json!({
        "sha": tree,
        "url": format!("{}/git/trees/{tree}", ctx.api(repo)),
        "tree": listed,
        "truncated": truncated,
    }))
}

fn tree_entry_json(ctx: &Ctx, repo: &Repo, path: &str, e: &super::objects::TreeEntry) -> Value {
    if e.is_tree() {
        json!({"path": path, "mode": TREE_MODE, "type": "tree", "sha": e.sha,
               "url": format!("{}/git/trees/{}", ctx.api(repo), e.sha)})
    } else {
        let size = repo.objects.blob(&e.sha).map(<[u8]>::len).unwrap_or(0);
        json!({"path": path, "mode": e.mode, "type": "blob", "sha": e.sha, "size": size,
               "url": format!("{}/git/blobs/{}", ctx.api(repo), e.sha)})
    }
}

fn create_tree(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let mut flat = match body_str(body, "base_tree") {
        Some(base) => {
            if repo.objects.tree(base).is_none() {
                return Err(ApiError::unprocessable(
                    "base_tree is not a valid tree oid",
                    TREES_DOCS,
                ));
            }
            repo.objects.flatten(base)
        }
        None => BTreeMap::new(),
    };
    let entries = body.get("tree").and_then(Value::as_array).ok_or_else(|| {
        ApiError::unprocessable("Invalid request.\n\n\"tree\" wasn't supplied.", TREES_DOCS)
    })?;
    for entry in entries {
        apply_tree_entry(repo, &mut flat, entry)?;
    }
    let sha = repo.objects.write_flat(&flat);
    let mut reply = get_tree(ctx, repo, &sha, &BTreeMap::new())?;
    reply.status = 201;
    Ok(reply)
}

fn apply_tree_entry(
    repo: &mut Repo,
    flat: &mut BTreeMap<String, FileEntry>,
    entry: &Value,
) -> ApiResult<()> {
    let path = required(entry, "path", TREES_DOCS)?
        .trim_matches('/')
        .to_string();
    let mode = required(entry, "mode", TREES_DOCS)?;
    if !["100644", "100755", "040000", "160000", "120000"].contains(&mode) {
        return Err(ApiError::unprocessable(
            format!("Invalid tree info: mode {mode} is not one of 100644, 100755, 040000, 160000, 120000"),
            TREES_DOCS,
        ));
    }
    let content = body_str(entry, "content");
    let sha = entry.get("sha");
    if content.is_some() && sha.is_some_and(|s| !s.is_null()) {
        return Err(ApiError::unprocessable(
            "Must supply either tree.sha or tree.content, not both",
            TREES_DOCS,
        ));
    }
    let under = format!("{path}/");
    match (content, sha) {
        (Some(text), _) => {
            let blob = repo.objects.put(Object::Blob(text.as_bytes().to_vec()));
            flat.retain(|p, _| !p.starts_with(&under));
            flat.insert(
                path,
                FileEntry {
                    mode: mode.into(),
                    sha: blob,
                },
            );
        }
        (None, Some(Value::Null)) => {
            flat.remove(&path);
            flat.retain(|p, _| !p.starts_with(&under));
        }
        (None, Some(Value::String(id))) => match repo.objects.get(id) {
            Some(Object::Tree(_)) => {
                flat.retain(|p, _| !p.starts_with(&under) && *p != path);
                for (p, f) in repo.objects.flatten(id) {
                    flat.insert(format!("{under}{p}"), f);
                }
            }
            Some(Object::Blob(_)) => {
                flat.retain(|p, _| !p.starts_with(&under));
                flat.insert(
                    path,
                    FileEntry {
                        mode: mode.into(),
                        sha: id.clone(),
                    },
                );
            }
            _ => {
                return Err(ApiError::unprocessable(
                    format!("Invalid tree info: sha {id} is not a blob or tree in this repository"),
                    TREES_DOCS,
                ))
            }
        },
        _ => {
            return Err(ApiError::unprocessable(
                "Must supply either tree.sha or tree.content",
                TREES_DOCS,
            ))
        }
    }
    Ok(())
}

/// Base64 wrapped at 60 columns with `\n`, as GitHub sends blob contents.
pub(super) fn wrapped_base64(bytes: &[u8]) -> String {
    let plain = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(plain.len() + plain.len() / 60 + 1);
    for chunk in plain.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn get_blob(ctx: &Ctx, repo: &Repo, sha: &str) -> ApiResult<Reply> {
    let bytes = repo.objects.blob(sha).ok_or_else(ApiError::not_found)?;
    Reply::ok(json!({
        "sha": sha,
        "node_id": format!("B_{sha}"),
        "size": bytes.len(),
        "url": format!("{}/git/blobs/{sha}", ctx.api(repo)),
        "content": wrapped_base64(bytes),
        "encoding": "base64",
    }))
}

fn create_blob(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let docs = "https://docs.github.com/rest/git/blobs";
    let content = required(body, "content", docs)?;
    let bytes = match body_str(body, "encoding").unwrap_or("utf-8") {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.replace('\n', ""))
            .map_err(|_| ApiError::unprocessable("content is not valid Base64", docs))?,
        _ => content.as_bytes().to_vec(),
    };
    let sha = repo.objects.put(Object::Blob(bytes));
    Reply::created(json!({"sha": sha, "url": format!("{}/git/blobs/{sha}", ctx.api(repo))}))
}

// ---- commits and tags -------------------------------------------------------

const COMMITS_DOCS: &str = "https://docs.github.com/rest/git/commits";

pub(super) fn signature_json(s: &Signature) -> Value {
    json!({"name": s.name, "email": s.email, "date": s.iso_date()})
}

pub(super) fn unverified() -> Value {
    json!({"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null})
}

pub fn git_commit_json(ctx: &Ctx, repo: &Repo, sha: &str, c: &Commit) -> Value {
    let api = ctx.api(repo);
    json!({
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "url": format!("{api}/git/commits/{sha}"),
        "html_url": format!("{}/commit/{sha}", ctx.html(repo)),
        "author": signature_json(&c.author),
        "committer": signature_json(&c.committer),
        "message": c.message,
        "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{api}/git/commits/{p}"),
            "html_url": format!("{}/commit/{p}", ctx.html(repo)),
        })).collect::<Vec<_>>(),
        "verification": unverified(),
    })
}

fn get_git_commit(ctx: &Ctx, repo: &Repo, sha: &str) -> ApiResult<Reply> {
    let c = repo.objects.commit(sha).ok_or_else(ApiError::not_found)?;
    Reply::ok(git_commit_json(ctx, repo, sha, c))
}

/// `GET commits/{ref}`: the commit a branch, tag or (abbreviated) id names, in
/// the REST `commit` shape (authors as git signatures; no GitHub accounts, no files).
/// `GET commits?sha=&per_page=&page=`: the commits reachable from `sha` (default:
/// the default branch), newest first by committer date as `git log` lists them.
fn list_commits(ctx: &Ctx, repo: &Repo, query: &BTreeMap<String, String>) -> ApiResult<Reply> {
    let spec = query
        .get("sha")
        .cloned()
        .unwrap_or_else(|| repo.default_branch.clone());
    let head = repo.resolve_commitish(&spec).ok_or_else(|| {
        ApiError::new(
            404,
            format!("No commit found for SHA: {spec}"),
            "https://docs.github.com/rest/commits/commits#list-commits",
        )
    })?;
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![head];
    let mut reachable = Vec::new();
    while let Some(sha) = stack.pop() {
        if !seen.insert(sha.clone()) {
            continue;
        }
        if let Some(commit) = repo.objects.commit(&sha) {
            stack.extend(commit.parents.iter().cloned());
            reachable.push((commit.committer.time, sha));
        }
    }
    // Newest first; ties (commits made in the same second) children before parents,
    // which the walk above already visited first.
    let order: BTreeMap<&String, usize> = reachable
        .iter()
        .enumerate()
        .map(|(i, (_, s))| (s, i))
        .collect();
    let mut sorted: Vec<&(i64, String)> = reachable.iter().collect();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(order[&a.1].cmp(&order[&b.1])));
    let listed = sorted
        .into_iter()
        .map(|(_, sha)| commit_json(ctx, repo, sha))
        .collect();
    Reply::ok(Value::Array(super::content::paginate(listed, query)))
}

fn get_commit(ctx: &Ctx, repo: &Repo, spec: &str) -> ApiResult<Reply> {
    let sha = repo.resolve_commitish(spec).ok_or_else(|| {
        ApiError::unprocessable(
            format!("No commit found for SHA: {spec}"),
            "https://docs.github.com/rest/commits/commits#get-a-commit",
        )
    })?;
    Reply::ok(commit_json(ctx, repo, &sha))
}

pub(super) fn parse_signature(value: Option<&Value>, fallback: &Signature) -> ApiResult<Signature> {
    let Some(v) = value.filter(|v| v.is_object()) else {
        return Ok(fallback.clone());
    };
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&fallback.name);
    let email = v
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or(&fallback.email);
    let (time, offset) = match v.get("date").and_then(Value::as_str) {
        Some(date) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(date).map_err(|_| {
                ApiError::unprocessable(
                    format!("Invalid date {date:?}: use ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)"),
                    COMMITS_DOCS,
                )
            })?;
            let secs = parsed.offset().local_minus_utc();
            let sign = if secs < 0 { '-' } else { '+' };
            let abs = secs.abs();
            (
                parsed.timestamp(),
                format!("{sign}{:02}{:02}", abs / 3600, (abs % 3600) / 60),
            )
        }
        None => (fallback.time, fallback.offset.clone()),
    };
    Ok(Signature {
        name: name.into(),
        email: email.into(),
        time,
        offset,
    })
}

fn create_commit(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let message = required(body, "message", COMMITS_DOCS)?.to_string();
    let tree = required(body, "tree", COMMITS_DOCS)?.to_string();
    if repo.objects.tree(&tree).is_none() {
        return Err(ApiError::unprocessable(
            "Tree SHA does not exist",
            COMMITS_DOCS,
        ));
    }
    let mut parents = Vec::new();
    for p in body
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = p.as_str().unwrap_or_default();
        if repo.objects.commit(p).is_none() {
            return Err(ApiError::unprocessable(
                "Parent SHA does not exist or is not a commit object",
                COMMITS_DOCS,
            ));
        }
        parents.push(p.to_string());
    }
    let author = parse_signature(body.get("author"), &ctx.bot_signature())?;
    let committer = parse_signature(body.get("committer"), &author)?;
    let commit = Commit {
        tree,
        parents,
        author,
        committer,
        message,
    };
    let sha = repo.objects.put(Object::Commit(commit.clone()));
    Reply::created(git_commit_json(ctx, repo, &sha, &commit))
}

fn tag_json(ctx: &Ctx, repo: &Repo, sha: &str, t: &Tag) -> Value {
    json!({
        "node_id": format!("TAG_{sha}"),
        "tag": t.tag,
        "sha": sha,
        "url": format!("{}/git/tags/{sha}", ctx.api(repo)),
        "message": t.message,
        "tagger": signature_json(&t.tagger),
        "object": {"type": t.object_type, "sha": t.object,
                   "url": format!("{}/git/{}s/{}", ctx.api(repo), t.object_type, t.object)},
        "verification": unverified(),
    })
}

fn get_tag(ctx: &Ctx, repo: &Repo, sha: &str) -> ApiResult<Reply> {
    match repo.objects.get(sha) {
        Some(Object::Tag(t)) => Reply::ok(tag_json(ctx, repo, sha, t)),
        _ => Err(ApiError::not_found()),
    }
}

fn create_tag(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let docs = "https://docs.github.com/rest/git/tags";
    let tag = required(body, "tag", docs)?.to_string();
    let message = required(body, "message", docs)?.to_string();
    let object = required(body, "object", docs)?.to_string();
    let object_type = required(body, "type", docs)?.to_string();
    match repo.objects.get(&object) {
        Some(o) if o.type_name() == object_type => {}
        _ => return Err(ApiError::unprocessable("Object does not exist", docs)),
    }
    let tagger = parse_signature(body.get("tagger"), &ctx.bot_signature())?;
    let t = Tag {
        object,
        object_type,
        tag,
        tagger,
        message,
    };
    let sha = repo.put_tag(t.clone());
    Reply::created(tag_json(ctx, repo, &sha, &t))
}

/// A commit in the REST `commit` shape, as `GET commits/{ref}` and `/compare` give it.
fn commit_json(ctx: &Ctx, repo: &Repo, sha: &str) -> Value {
    let Some(c) = repo.objects.commit(sha) else {
        return Value::Null;
    };
    let api = ctx.api(repo);
    json!({
        "url": format!("{api}/commits/{sha}"),
        "sha": sha,
        "node_id": format!("C_{sha}"),
        "html_url": format!("{}/commit/{sha}", ctx.html(repo)),
        "comments_url": format!("{api}/commits/{sha}/comments"),
        "commit": {
            "url": format!("{api}/git/commits/{sha}"),
            "author": signature_json(&c.author),
            "committer": signature_json(&c.committer),
            "message": c.message,
            "comment_count": 0,
            "tree": {"sha": c.tree, "url": format!("{api}/git/trees/{}", c.tree)},
            "verification": unverified(),
        },
        "author": null,
        "committer": null,
        "parents": c.parents.iter().map(|p| json!({
            "sha": p, "url": format!("{api}/commits/{p}"), "html_url": format!("{}/commit/{p}", ctx.html(repo)),
        })).collect::<Vec<_>>(),
    })
}

fn compare(ctx: &Ctx, repo: &Repo, spec: &str) -> ApiResult<Reply> {
    let (base_spec, head_spec) = spec.split_once("...").ok_or_else(ApiError::not_found)?;
    let base = repo
        .resolve_commit(base_spec)
        .ok_or_else(ApiError::not_found)?;
    let head = repo
        .resolve_commit(head_spec)
        .ok_or_else(ApiError::not_found)?;
    let merge_base = repo.merge_base(&base, &head).ok_or_else(|| {
        ApiError::new(
            404,
            format!("No common ancestor between {base_spec} and {head_spec}."),
            "https://docs.github.com/rest/commits/commits#compare-two-commits",
        )
    })?;
    let ahead = repo.commits_between(&base, &head);
    let behind = repo.commits_between(&head, &base);
    let status = match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => "identical",
        (false, true) => "ahead",
        (true, false) => "behind",
        (false, false) => "diverged",
    };
    let files = changed_files(ctx, repo, &merge_base, &head);
    let html = ctx.html(repo);
    Reply::ok(json!({
        "url": format!("{}/compare/{spec}", ctx.api(repo)),
        "html_url": format!("{html}/compare/{spec}"),
        "permalink_url": format!("{html}/compare/{base}...{head}"),
        "diff_url": format!("{html}/compare/{spec}.diff"),
        "patch_url": format!("{html}/compare/{spec}.patch"),
        "base_commit": commit_json(ctx, repo, &base),
        "merge_base_commit": commit_json(ctx, repo, &merge_base),
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind.len(),
        "total_commits": ahead.len(),
        "commits": ahead.iter().take(250).map(|c| commit_json(ctx, repo, c)).collect::<Vec<_>>(),
        "files": files.into_iter().take(300).collect::<Vec<_>>(),
    }))
}

pub(super) fn changed_files(ctx: &Ctx, repo: &Repo, from: &str, to: &str) -> Vec<Value> {
    let before = repo.files_at(from);
    let after = repo.files_at(to);
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    let html = ctx.html(repo);
    paths
        .into_iter()
        .filter_map(|path| {
            let (b, a) = (before.get(path), after.get(path));
            let status = match (b, a) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(x), Some(y)) if x != y => "modified",
                _ => return None,
            };
            let lines = |e: Option<&FileEntry>| {
                e.and_then(|e| repo.objects.blob(&e.sha))
                    .map(|b| b.split(|c| *c == b'\n').count())
                    .unwrap_or(0)
            };
            let (additions, deletions) = match status {
                "added" => (lines(a), 0),
                "removed" => (0, lines(b)),
                _ => (lines(a), lines(b)),
            };
            let sha = a.or(b).map(|e| e.sha.clone()).unwrap_or_default();
            Some(json!({
                "sha": sha,
                "filename": path,
                "status": status,
                "additions": additions,
                "deletions": deletions,
                "changes": additions + deletions,
                "blob_url": format!("{html}/blob/{to}/{path}"),
                "raw_url": format!("{html}/raw/{to}/{path}"),
                "contents_url": format!("{}/contents/{path}?ref={to}", ctx.api(repo)),
            }))
        })
        .collect()
}

// ---- pull requests ------------------------------------------------------------

const PULLS_DOCS: &str = "https://docs.github.com/rest/pulls/pulls";

fn branch_json(ctx: &Ctx, repo: &Repo, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", repo.owner),
        "ref": branch,
        "sha": sha,
        "user": user_json(&repo.owner, ctx.base_url),
        "repo": repo.summary_json(ctx.base_url),
    })
}

pub(super) fn label_json(ctx: &Ctx, repo: &Repo, name: &str) -> Value {
    let id = name
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % 1_000_000_000;
    json!({
        "id": id,
        "node_id": format!("LA_{id}"),
        "url": format!("{}/labels/{name}", ctx.api(repo)),
        "name": name,
        "color": "ededed",
        "default": false,
        // `pull-request-simple` (the requested_reviewers reply) types this as a
        // non-null string; an empty description satisfies every schema.
        "description": "",
    })
}

/// A pull request as GitHub renders it. `mergeable` stays null for the first
/// `mergeable_unknown_reads` single-PR reads (`polled`), like GitHub's lazy job.
pub fn pull_json(ctx: &Ctx, repo: &mut Repo, number: u64, polled: bool) -> ApiResult<Value> {
    let (mergeable, mergeable_state) = {
        let pull = repo.pull_mut(number)?;
        if pull.unknown_reads_left > 0 && pull.state == "open" {
            if polled {
                pull.unknown_reads_left -= 1;
            }
            (None, "unknown".to_string())
        } else {
            repo.mergeability(number)?
        }
    };
    let pull = repo.pull(number)?.clone();
    let head_sha = repo.head_sha(&pull);
    let base_sha = repo.branch_sha(&pull.base_ref).unwrap_or_default();
    let api = ctx.api(repo);
    let html = format!("{}/pull/{number}", ctx.html(repo));
    let commits = repo.commits_between(&base_sha, &head_sha).len();
    let links = json!({
        "self": {"href": format!("{api}/pulls/{number}")},
        "html": {"href": html},
        "issue": {"href": format!("{api}/issues/{number}")},
        "comments": {"href": format!("{api}/issues/{number}/comments")},
        "review_comments": {"href": format!("{api}/pulls/{number}/comments")},
        "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/pulls/{number}/commits")},
        "statuses": {"href": format!("{api}/statuses/{head_sha}")},
    });
    let mut value = json!({
        "url": format!("{api}/pulls/{number}"),
        "id": pull.id,
        "node_id": pull.node_id(),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{number}"),
        "commits_url": format!("{api}/pulls/{number}/commits"),
        "review_comments_url": format!("{api}/pulls/{number}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{number}/comments"),
        "statuses_url": format!("{api}/statuses/{head_sha}"),
        "number": number,
        "state": pull.state,
        "locked": false,
        "title": pull.title,
        "user": user_json(&pull.user, ctx.base_url),
        "body": pull.body,
        "labels": pull.labels.iter().map(|l| label_json(ctx, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": pull.requested_reviewers.iter().map(|r| user_json(r, ctx.base_url)).collect::<Vec<_>>(),
        "requested_teams": [],
    });
    let rest = json!({
        "head": branch_json(ctx, repo, &pull.head_ref, &head_sha),
        "base": branch_json(ctx, repo, &pull.base_ref, &base_sha),
        "_links": links,
        "author_association": "MEMBER",
        "auto_merge": null,
        "draft": pull.draft,
        "merged": pull.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": mergeable_state,
        "merged_by": pull.merged_by.as_ref().map(|u| user_json(u, ctx.base_url)),
        "comments": pull.comments.len(),
        "review_comments": pull.reviews.iter().map(|r| r.comments.len()).sum::<usize>(),
        "maintainer_can_modify": false,
        "commits": commits,
        "additions": 0,
        "deletions": 0,
        "changed_files": super::conversation::pull_changes(repo, &pull).len(),
    });
    if let (Value::Object(all), Value::Object(more)) = (&mut value, rest) {
        all.extend(more);
    }
    Ok(value)
}

fn list_pulls(ctx: &Ctx, repo: &mut Repo, query: &BTreeMap<String, String>) -> ApiResult<Reply> {
    let state = query.get("state").map(String::as_str).unwrap_or("open");
    let head = query
        .get("head")
        .map(|h| h.split_once(':').map(|(_, b)| b).unwrap_or(h).to_string());
    let base = query.get("base").cloned();
    let numbers: Vec<u64> = repo
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| head.as_ref().is_none_or(|h| &p.head_ref == h))
        .filter(|p| base.as_ref().is_none_or(|b| &p.base_ref == b))
        .map(|p| p.number)
        .collect();
    let mut out = Vec::new();
    for n in numbers.into_iter().rev() {
        out.push(pull_json(ctx, repo, n, false)?);
    }
    Reply::ok(Value::Array(out))
}

pub(super) fn validation_failed(errors: Value) -> ApiError {
    ApiError::unprocessable("Validation Failed", PULLS_DOCS).with_errors(errors)
}

/// Opens a pull request as the token's user.
pub fn open_pull(
    ctx: &Ctx,
    repo: &mut Repo,
    title: &str,
    head: &str,
    base: &str,
    body: Option<String>,
    draft: bool,
) -> ApiResult<u64> {
    let head = head
        .split_once(':')
        .map(|(_, b)| b)
        .unwrap_or(head)
        .to_string();
    let Some(head_sha) = repo.branch_sha(&head) else {
        return Err(validation_failed(
            json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}]),
        ));
    };
    let Some(base_sha) = repo.branch_sha(base) else {
        return Err(validation_failed(
            json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
        ));
    };
    if repo
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head_ref == head && p.base_ref == base)
    {
        return Err(validation_failed(
            json!([{"resource": "PullRequest", "code": "custom",
            "message": format!("A pull request already exists for {}:{head}.", repo.owner)}]),
        ));
    }
    if repo.commits_between(&base_sha, &head_sha).is_empty() {
        return Err(validation_failed(
            json!([{"resource": "PullRequest", "code": "custom",
            "message": format!("No commits between {base} and {head}")}]),
        ));
    }
    let number = repo.pulls.iter().map(|p| p.number).max().unwrap_or(0) + 1;
    let id = repo.next_id();
    repo.pulls.push(Pull {
        number,
        id,
        title: title.into(),
        body,
        user: ctx.login.into(),
        head_ref: head,
        base_ref: base.into(),
        closed_head_sha: None,
        state: "open".into(),
        draft,
        merged: false,
        merged_at: None,
        merged_by: None,
        merge_commit_sha: None,
        labels: Vec::new(),
        requested_reviewers: Vec::new(),
        reviews: Vec::new(),
        comments: Vec::new(),
        created_at: ctx.now_iso(),
        updated_at: ctx.now_iso(),
        closed_at: None,
        unknown_reads_left: ctx.mergeable_unknown_reads,
    });
    Ok(number)
}

fn create_pull(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let title = required(body, "title", PULLS_DOCS)?;
    let head = required(body, "head", PULLS_DOCS)?;
    let base = required(body, "base", PULLS_DOCS)?;
    let text = body_str(body, "body").map(str::to_string);
    let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
    let number = open_pull(ctx, repo, title, head, base, text, draft)?;
    Reply::created(pull_json(ctx, repo, number, false)?)
}

fn get_pull(ctx: &Ctx, repo: &mut Repo, number: u64) -> ApiResult<Reply> {
    Reply::ok(pull_json(ctx, repo, number, true)?)
}

fn merge(ctx: &Ctx, repo: &mut Repo, number: u64, body: &Value) -> ApiResult<Reply> {
    let docs = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request";
    let pull = repo.pull(number)?.clone();
    let head = repo.head_sha(&pull);
    if pull.state != "open" {
        return Err(ApiError::new(405, "Pull Request is not mergeable", docs));
    }
    if let Some(expected) = body_str(body, "sha") {
        if expected != head {
            return Err(ApiError::new(
                409,
                "Head branch was modified. Review and try the merge again.",
                docs,
            ));
        }
    }
    let base_sha = repo
        .branch_sha(&pull.base_ref)
        .ok_or_else(ApiError::not_found)?;
    let tree = match repo.merge_trees(&base_sha, &head) {
        MergeOutcome::Clean(tree) => tree,
        MergeOutcome::Conflict => {
            return Err(ApiError::new(405, "Pull Request is not mergeable", docs))
        }
    };
    if pull.draft {
        return Err(ApiError::new(405, "Pull Request is still a draft", docs));
    }
    if let Some(refusal) = repo.protection_refusal(&pull, &head) {
        return Err(ApiError::new(405, refusal, docs));
    }
    let method = body_str(body, "merge_method").unwrap_or("merge");
    let title = body_str(body, "commit_title")
        .map(str::to_string)
        .unwrap_or_else(|| match method {
            "merge" => format!(
                "Merge pull request #{number} from {}/{}",
                repo.owner, pull.head_ref
            ),
            _ => format!("{} (#{number})", pull.title),
        });
    let message = match body_str(body, "commit_message") {
        Some(m) => format!("{title}\n\n{m}"),
        None if method == "merge" => format!("{title}\n\n{}", pull.title),
        None => title,
    };
    let parents = match method {
        "merge" => vec![base_sha.clone(), head.clone()],
        "squash" | "rebase" => vec![base_sha.clone()],
        other => {
            return Err(ApiError::unprocessable(
                format!("Invalid merge_method {other:?}"),
                docs,
            ));
        }
    };
    let sig = ctx.bot_signature();
    let sha = repo.objects.put(Object::Commit(Commit {
        tree,
        parents,
        author: sig.clone(),
        committer: sig,
        message,
    }));
    repo.refs
        .insert(format!("refs/heads/{}", pull.base_ref), sha.clone());
    let now = ctx.now_iso();
    let p = repo.pull_mut(number)?;
    p.state = "closed".into();
    p.merged = true;
    p.merged_at = Some(now.clone());
    p.closed_at = Some(now.clone());
    p.updated_at = now;
    p.merged_by = Some(ctx.login.to_string());
    p.merge_commit_sha = Some(sha.clone());
    p.closed_head_sha = Some(head);
    let base_ref = p.base_ref.clone();
    Ok(Reply::ok(
        json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
    )?
    .pushing(&base_ref, &sha))
}

fn review_json(ctx: &Ctx, repo: &Repo, number: u64, r: &Review) -> Value {
    let html = format!(
        "{}/pull/{number}#pullrequestreview-{}",
        ctx.html(repo),
        r.id
    );
    let pr_url = format!("{}/pulls/{number}", ctx.api(repo));
    json!({
        "id": r.id,
        "node_id": format!("PRR_{}", r.id),
        "user": user_json(&r.user, ctx.base_url),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "submitted_at": r.submitted_at,
        "commit_id": r.commit_id,
        "author_association": "COLLABORATOR",
    })
}

fn list_reviews(ctx: &Ctx, repo: &Repo, number: u64) -> ApiResult<Reply> {
    let pull = repo.pull(number)?;
    Reply::ok(Value::Array(
        pull.reviews
            .iter()
            .map(|r| review_json(ctx, repo, number, r))
            .collect(),
    ))
}

/// A line comment a review asks for: path, 1-based line, text.
pub type NewLineComment = (String, u32, String);

/// Records a review by `user` with its line comments; GitHub's rules for
/// self-approval apply, and each comment must land on a file the pull request
/// changes, on a line that file has.
pub fn add_review(
    ctx: &Ctx,
    repo: &mut Repo,
    number: u64,
    user: &str,
    state: &str,
    body: &str,
    comments: Vec<NewLineComment>,
) -> ApiResult<u64> {
    let docs = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";
    let pull = repo.pull(number)?.clone();
    if pull.user == user && state != "COMMENTED" {
        let what = if state == "APPROVED" {
            "approve"
        } else {
            "request changes on"
        };
        return Err(ApiError::unprocessable("Unprocessable Entity", docs)
            .with_errors(json!([format!("Can not {what} your own pull request")])));
    }
    if state == "CHANGES_REQUESTED" && body.is_empty() {
        return Err(ApiError::unprocessable("Unprocessable Entity", docs)
            .with_errors(json!(["Body is required for an event of REQUEST_CHANGES"])));
    }
    let head = repo.head_sha(&pull);
    let files = repo.files_at(&head);
    let changed: Vec<String> = super::conversation::pull_changes(repo, &pull)
        .into_iter()
        .map(|c| c.path)
        .collect();
    let mut line_comments = Vec::new();
    for (path, line, text) in comments {
        let lines = files
            .get(&path)
            .and_then(|f| repo.objects.blob(&f.sha))
            .map(|b| String::from_utf8_lossy(b).lines().count() as u32);
        if !changed.contains(&path) || lines.is_none() {
            return Err(ApiError::unprocessable("Unprocessable Entity", docs)
                .with_errors(json!(["Path could not be resolved"])));
        }
        if line == 0 || Some(line) > lines {
            return Err(
                ApiError::unprocessable("Unprocessable Entity", docs).with_errors(json!([
                    "Pull request review thread line must be part of the diff"
                ])),
            );
        }
        line_comments.push(LineComment {
            id: repo.next_id(),
            path,
            line,
            body: text,
        });
    }
    let id = repo.next_id();
    let review = Review {
        id,
        user: user.into(),
        state: state.into(),
        commit_id: head,
        body: body.into(),
        comments: line_comments,
        submitted_at: ctx.now_iso(),
    };
    let p = repo.pull_mut(number)?;
    p.reviews.push(review);
    p.requested_reviewers.retain(|r| r != user);
    Ok(id)
}

fn create_review(ctx: &Ctx, repo: &mut Repo, number: u64, body: &Value) -> ApiResult<Reply> {
    let state = match body_str(body, "event") {
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        _ => "PENDING",
    };
    let comments = body
        .get("comments")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|c| {
                    let line = c["line"].as_u64().or_else(|| c["position"].as_u64())?;
                    Some((
                        c["path"].as_str()?.to_string(),
                        u32::try_from(line).ok()?,
                        c["body"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let id = add_review(
        ctx,
        repo,
        number,
        ctx.login,
        state,
        body_str(body, "body").unwrap_or(""),
        comments,
    )?;
    let pull = repo.pull(number)?;
    let review = pull
        .reviews
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    Reply::ok(review_json(ctx, repo, number, &review))
}

fn request_reviewers(ctx: &Ctx, repo: &mut Repo, number: u64, body: &Value) -> ApiResult<Reply> {
    let docs = "https://docs.github.com/rest/pulls/review-requests";
    let reviewers: Vec<String> = body
        .get("reviewers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let author = repo.pull(number)?.user.clone();
    if reviewers.contains(&author) {
        return Err(ApiError::unprocessable(
            "Review cannot be requested from pull request author.",
            docs,
        ));
    }
    if reviewers.iter().any(|r| !repo.collaborators.contains(r)) {
        return Err(ApiError::unprocessable(
            format!("Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {} repository.", repo.full_name()),
            docs,
        ));
    }
    let p = repo.pull_mut(number)?;
    for r in reviewers {
        if !p.requested_reviewers.contains(&r) {
            p.requested_reviewers.push(r);
        }
    }
    Reply::created(pull_json(ctx, repo, number, false)?)
}

fn add_labels(ctx: &Ctx, repo: &mut Repo, number: u64, body: &Value) -> ApiResult<Reply> {
    let labels: Vec<String> = match body.get("labels") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => {
            return Err(ApiError::unprocessable(
                "Invalid request.\n\n\"labels\" wasn't supplied.",
                "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue",
            ))
        }
    };
    let p = repo.pull_mut(number)?;
    for l in labels {
        if !p.labels.contains(&l) {
            p.labels.push(l);
        }
    }
    let all = p.labels.clone();
    Reply::ok(Value::Array(
        all.iter().map(|l| label_json(ctx, repo, l)).collect(),
    ))
}

// ---- protection, actions, releases -------------------------------------------

fn protection(ctx: &Ctx, repo: &Repo, branch: &str) -> ApiResult<Reply> {
    let p = repo.protection.get(branch).ok_or_else(|| {
        ApiError::new(
            404,
            "Branch not protected",
            "https://docs.github.com/rest/branches/branch-protection#get-branch-protection",
        )
    })?;
    let url = format!("{}/branches/{branch}/protection", ctx.api(repo));
    Reply::ok(json!({
        "url": url,
        "required_pull_request_reviews": {
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": p.dismiss_stale_reviews,
            "require_code_owner_reviews": false,
            "required_approving_review_count": p.required_approving_review_count,
            "require_last_push_approval": p.require_last_push_approval,
        },
        "enforce_admins": {"url": format!("{url}/enforce_admins"), "enabled": p.enforce_admins},
        "required_linear_history": {"enabled": false},
        "allow_force_pushes": {"enabled": false},
        "allow_deletions": {"enabled": false},
    }))
}

fn run_json(ctx: &Ctx, repo: &Repo, run: &super::repo::WorkflowRun) -> Value {
    let api = ctx.api(repo);
    let html = ctx.html(repo);
    let commit = repo.objects.commit(&run.head_sha);
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": format!("WFR_{}", run.id),
        "check_suite_id": run.id,
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.workflow.path(),
        "display_title": commit.map(|c| c.message.lines().next().unwrap_or("").to_string()).unwrap_or_default(),
        "run_number": run.run_number,
        "run_attempt": 1,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow.id,
        "url": format!("{api}/actions/runs/{}", run.id),
        "html_url": format!("{html}/actions/runs/{}", run.id),
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "run_started_at": run.created_at,
        "jobs_url": format!("{api}/actions/runs/{}/jobs", run.id),
        "logs_url": format!("{api}/actions/runs/{}/logs", run.id),
        "check_suite_url": format!("{api}/check-suites/{}", run.id),
        "artifacts_url": format!("{api}/actions/runs/{}/artifacts", run.id),
        "cancel_url": format!("{api}/actions/runs/{}/cancel", run.id),
        "rerun_url": format!("{api}/actions/runs/{}/rerun", run.id),
        "workflow_url": format!("{api}/actions/workflows/{}", run.workflow.id),
        "head_commit": commit.map(|c| json!({
            "id": run.head_sha, "tree_id": c.tree, "message": c.message,
            "timestamp": c.committer.iso_date(),
            "author": {"name": c.author.name, "email": c.author.email},
            "committer": {"name": c.committer.name, "email": c.committer.email},
        })),
        "repository": repo.summary_json(ctx.base_url),
        "head_repository": repo.summary_json(ctx.base_url),
    })
}

fn list_runs(ctx: &Ctx, repo: &Repo, query: &BTreeMap<String, String>) -> ApiResult<Reply> {
    let runs: Vec<Value> = repo
        .runs
        .iter()
        .rev()
        .filter(|r| query.get("head_sha").is_none_or(|s| &r.head_sha == s))
        .filter(|r| query.get("event").is_none_or(|e| &r.event == e))
        .filter(|r| query.get("branch").is_none_or(|b| &r.head_branch == b))
        .filter(|r| {
            query
                .get("status")
                .is_none_or(|s| &r.status == s || r.conclusion.as_ref() == Some(s))
        })
        .map(|r| run_json(ctx, repo, r))
        .collect();
    Reply::ok(json!({"total_count": runs.len(), "workflow_runs": runs}))
}

fn get_run(ctx: &Ctx, repo: &Repo, id: u64) -> ApiResult<Reply> {
    let run = repo
        .runs
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::not_found)?;
    Reply::ok(run_json(ctx, repo, run))
}

fn job_json(
    ctx: &Ctx,
    repo: &Repo,
    run: &super::repo::WorkflowRun,
    job: &super::repo::Job,
) -> Value {
    let api = ctx.api(repo);
    json!({
        "id": job.id,
        "run_id": run.id,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": format!("CR_{}", job.id),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": format!("{api}/actions/jobs/{}", job.id),
        "html_url": format!("{}/actions/runs/{}/job/{}", ctx.html(repo), run.id, job.id),
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": run.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "name": job.name,
        "steps": job.steps.iter().map(|s| json!({
            "name": s.name, "status": s.status, "conclusion": s.conclusion, "number": s.number,
            "started_at": s.started_at, "completed_at": s.completed_at,
        })).collect::<Vec<_>>(),
        "check_run_url": format!("{api}/check-runs/{}", job.id),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "sim-runner",
        "runner_group_id": 1,
        "runner_group_name": "sim",
        "workflow_name": run.name,
    })
}

fn list_jobs(ctx: &Ctx, repo: &Repo, id: u64) -> ApiResult<Reply> {
    let run = repo
        .runs
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::not_found)?;
    let jobs: Vec<Value> = run
        .jobs
        .iter()
        .map(|j| job_json(ctx, repo, run, j))
        .collect();
    Reply::ok(json!({"total_count": jobs.len(), "jobs": jobs}))
}

const DISPATCH_DOCS: &str =
    "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";

/// `POST actions/workflows/{id}/dispatches`: GitHub's checks in its order (the
/// workflow, its trigger, the ref, the inputs), then a queued run.
fn dispatch_workflow(ctx: &Ctx, repo: &mut Repo, workflow: &str, body: &Value) -> ApiResult<Reply> {
    let workflow = super::runs::find_workflow(workflow, ctx.has_bench_workflow)
        .ok_or_else(ApiError::not_found)?;
    if !workflow.dispatchable {
        return Err(ApiError::unprocessable(
            "Workflow does not have 'workflow_dispatch' trigger",
            DISPATCH_DOCS,
        ));
    }
    let git_ref = required(body, "ref", DISPATCH_DOCS)?;
    let short = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref);
    let sha = [format!("refs/heads/{short}"), format!("refs/tags/{short}")]
        .iter()
        .find_map(|name| repo.refs.get(name))
        .and_then(|sha| repo.resolve_commit(sha))
        .ok_or_else(|| {
            ApiError::unprocessable(format!("No ref found for: {git_ref}"), DISPATCH_DOCS)
        })?;
    let inputs = body.get("inputs").cloned().unwrap_or(json!({}));
    let Some(inputs) = inputs.as_object() else {
        return Err(ApiError::unprocessable(
            "Invalid request.\n\nFor 'properties/inputs', is not an object.",
            DISPATCH_DOCS,
        ));
    };
    let unexpected: Vec<&String> = inputs.keys().filter(|k| *k != "args").collect();
    if !unexpected.is_empty() {
        return Err(ApiError::unprocessable(
            format!("Unexpected inputs provided: {}", json!(unexpected)),
            DISPATCH_DOCS,
        ));
    }
    let Some(args) = inputs.get("args").and_then(Value::as_str) else {
        return Err(ApiError::unprocessable(
            "Required input 'args' not provided",
            DISPATCH_DOCS,
        ));
    };
    let run_id = super::runs::new_bench_run(repo, (short, &sha), args, ctx.now_iso());
    let mut reply = if body.get("return_run_details") == Some(&json!(true)) {
        Reply::with_status(
            200,
            json!({
                "workflow_run_id": run_id,
                "run_url": format!("{}/actions/runs/{run_id}", ctx.api(repo)),
                "html_url": format!("{}/actions/runs/{run_id}", ctx.html(repo)),
            }),
        )
    } else {
        Reply::with_status(204, Value::Null)
    };
    reply.dispatched = Some((run_id, args.to_string()));
    Ok(reply)
}

/// `GET actions/workflows/{id}`: a workflow file of the repository.
fn get_workflow(ctx: &Ctx, repo: &Repo, workflow: &str) -> ApiResult<Reply> {
    let w = super::runs::find_workflow(workflow, ctx.has_bench_workflow)
        .ok_or_else(ApiError::not_found)?;
    let (api, html) = (ctx.api(repo), ctx.html(repo));
    Reply::ok(json!({
        "id": w.id,
        "node_id": format!("W_{}", w.id),
        "name": w.name,
        "path": w.path(),
        "state": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "url": format!("{api}/actions/workflows/{}", w.id),
        "html_url": format!("{html}/blob/{}/{}", repo.default_branch, w.path()),
        "badge_url": format!("{html}/workflows/{}/badge.svg", w.name),
    }))
}

/// `POST actions/runs/{id}/cancel`: 202, or 409 once the run has completed.
fn cancel_run(repo: &mut Repo, id: u64) -> ApiResult<Reply> {
    let run = repo
        .runs
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::not_found)?;
    if run.status == "completed" {
        return Err(ApiError::new(
            409,
            "Cannot cancel a workflow run that is completed.",
            "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run",
        ));
    }
    run.cancel_requested = true;
    let mut reply = Reply::with_status(202, json!({}));
    reply.runs_changed = true;
    Ok(reply)
}

/// `GET actions/jobs/{id}/logs`: a 302 to a signed address that lasts a minute.
fn job_logs(ctx: &Ctx, repo: &Repo, job_id: u64) -> ApiResult<Reply> {
    let known = repo
        .runs
        .iter()
        .flat_map(|r| &r.jobs)
        .any(|j| j.id == job_id);
    if !known {
        return Err(ApiError::not_found());
    }
    let expires = iso(ctx.now + 60);
    let signature = log_signature(ctx.log_signing_key, &repo.full_name(), job_id, &expires);
    let mut reply = Reply::with_status(302, Value::Null);
    reply.location = Some(format!(
        "{}/_actions/logs/{}/{job_id}?urlExpires={expires}&urlSigningMethod=HMACV1&urlSignature={signature}",
        ctx.base_url,
        repo.full_name()
    ));
    Ok(reply)
}

/// The signature of a job-log address (checked when it is fetched).
pub fn log_signature(key: &str, repo: &str, job_id: u64, expires: &str) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(format!("{key}|{repo}|{job_id}|{expires}")))
}

/// GitHub reports each Actions job as a check run on its commit.
fn check_runs(ctx: &Ctx, repo: &Repo, spec: &str) -> ApiResult<Reply> {
    let sha = repo.resolve_commit(spec).ok_or_else(ApiError::not_found)?;
    let api = ctx.api(repo);
    let runs: Vec<Value> = repo
        .runs
        .iter()
        .filter(|r| r.head_sha == sha)
        .flat_map(|r| r.jobs.iter().map(move |j| (r, j)))
        .map(|(r, j)| {
            json!({
                "id": j.id,
                "head_sha": sha,
                "node_id": format!("CR_{}", j.id),
                "external_id": j.id.to_string(),
                "url": format!("{api}/check-runs/{}", j.id),
                "html_url": format!("{}/actions/runs/{}/job/{}", ctx.html(repo), r.id, j.id),
                "details_url": format!("{}/actions/runs/{}/job/{}", ctx.html(repo), r.id, j.id),
                "status": j.status,
                "conclusion": j.conclusion,
                "started_at": j.started_at,
                "completed_at": j.completed_at,
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                           "annotations_url": format!("{api}/check-runs/{}/annotations", j.id)},
                "name": j.name,
                "check_suite": {"id": r.id},
                "app": null,
                "pull_requests": [],
            })
        })
        .collect();
    Reply::ok(json!({"total_count": runs.len(), "check_runs": runs}))
}

pub(super) fn release_json(ctx: &Ctx, repo: &Repo, r: &Release) -> Value {
    let api = ctx.api(repo);
    let html = ctx.html(repo);
    json!({
        "url": format!("{api}/releases/{}", r.id),
        "html_url": format!("{html}/releases/tag/{}", r.tag_name),
        "assets_url": format!("{api}/releases/{}/assets", r.id),
        "upload_url": format!("{api}/releases/{}/assets{{?name,label}}", r.id),
        "tarball_url": format!("{api}/tarball/{}", r.tag_name),
        "zipball_url": format!("{api}/zipball/{}", r.tag_name),
        "id": r.id,
        "node_id": format!("RE_{}", r.id),
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "body": r.body,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": r.created_at,
        "published_at": r.published_at,
        "author": user_json(ctx.login, ctx.base_url),
        "assets": [],
    })
}

fn create_release(ctx: &Ctx, repo: &mut Repo, body: &Value) -> ApiResult<Reply> {
    let docs = "https://docs.github.com/rest/releases/releases#create-a-release";
    let tag = required(body, "tag_name", docs)?.to_string();
    if repo.releases.iter().any(|r| r.tag_name == tag) {
        return Err(validation_failed(
            json!([{"resource": "Release", "code": "already_exists", "field": "tag_name"}]),
        ));
    }
    let target = body_str(body, "target_commitish")
        .unwrap_or(&repo.default_branch)
        .to_string();
    let tag_ref = format!("refs/tags/{tag}");
    if !repo.refs.contains_key(&tag_ref) {
        let sha = repo.resolve_commit(&target).ok_or_else(|| {
            validation_failed(
                json!([{"resource": "Release", "code": "invalid", "field": "target_commitish"}]),
            )
        })?;
        repo.refs.insert(tag_ref.clone(), sha);
    }
    let make_latest = match body.get("make_latest") {
        None | Some(Value::Null) => "true".to_string(),
        Some(Value::String(s)) if ["true", "false", "legacy"].contains(&s.as_str()) => s.clone(),
        Some(_) => {
            return Err(validation_failed(
                json!([{"resource": "Release", "code": "invalid", "field": "make_latest"}]),
            ))
        }
    };
    // "The date of the commit used for the release" (GitHub's words for created_at).
    let commit_date = repo
        .resolve_commit(&tag_ref)
        .and_then(|c| repo.objects.commit(&c).map(|c| c.committer.iso_date()))
        .unwrap_or_else(|| ctx.now_iso());
    let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
    let prerelease = body
        .get("prerelease")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let release = Release {
        id: repo.next_id(),
        tag_name: tag,
        name: body_str(body, "name").map(String::from),
        body: body_str(body, "body").map(String::from),
        target_commitish: target,
        draft,
        prerelease,
        created_at: commit_date,
        published_at: (!draft).then(|| ctx.now_iso()),
    };
    if !draft && !prerelease {
        match make_latest.as_str() {
            "true" => repo.latest_release = Some(release.id),
            // Legacy: the newest by created_at (and semantic version) wins; the
            // sim leaves the choice to `Repo::latest_release`'s date rule.
            "legacy" => repo.latest_release = None,
            _ => {}
        }
    }
    let json = release_json(ctx, repo, &release);
    repo.releases.push(release);
    Reply::created(json)
}

fn get_release(ctx: &Ctx, repo: &Repo, tag: &str) -> ApiResult<Reply> {
    let r = repo
        .releases
        .iter()
        .find(|r| r.tag_name == tag)
        .ok_or_else(ApiError::not_found)?;
    Reply::ok(release_json(ctx, repo, r))
}

/// GraphQL `reviewDecision` for a pull request.
pub fn graphql_review_decision(repo: &Repo, number: u64) -> ApiResult<Option<&'static str>> {
    let pull = repo.pull(number)?;
    let head = repo.head_sha(pull);
    Ok(repo.decision(pull, &head, repo.protection.get(&pull.base_ref)))
}

/// Opens a PR reverting merged PR `number`: a branch off the base tip whose tree sets
/// each file the merge changed back to its state before the merge.
pub fn revert_pull(
    ctx: &Ctx,
    repo: &mut Repo,
    number: u64,
    title: Option<&str>,
    body: Option<&str>,
    draft: bool,
) -> Result<(u64, String), String> {
    let pull = repo.pull(number).map_err(|e| e.message)?.clone();
    let merge_sha = pull
        .merge_commit_sha
        .clone()
        .filter(|_| pull.merged)
        .ok_or_else(|| "Pull request is not merged".to_string())?;
    let merge = repo
        .objects
        .commit(&merge_sha)
        .cloned()
        .ok_or("merge commit missing")?;
    let before = merge
        .parents
        .first()
        .map(|p| repo.files_at(p))
        .unwrap_or_default();
    let after = repo.files_at(&merge_sha);
    let tip = repo
        .branch_sha(&pull.base_ref)
        .ok_or("base branch missing")?;
    let mut files = repo.files_at(&tip);
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.dedup();
    for path in paths {
        if before.get(path) == after.get(path) {
            continue;
        }
        if files.get(path) != after.get(path) {
            return Err(format!(
                "{path} changed after the merge; the revert would conflict"
            ));
        }
        match before.get(path) {
            Some(e) => files.insert(path.clone(), e.clone()),
            None => files.remove(path),
        };
    }
    let tree = repo.objects.write_flat(&files);
    let sig = ctx.bot_signature();
    let message = format!(
        "Revert \"{}\"\n\nThis reverts commit {merge_sha}.",
        pull.title
    );
    let sha = repo.objects.put(Object::Commit(Commit {
        tree,
        parents: vec![tip],
        author: sig.clone(),
        committer: sig,
        message,
    }));
    let branch = format!("revert-{number}-{}", pull.head_ref);
    repo.refs.insert(format!("refs/heads/{branch}"), sha);
    let title = title
        .map(String::from)
        .unwrap_or_else(|| format!("Revert \"{}\"", pull.title));
    let text = body
        .map(String::from)
        .unwrap_or_else(|| format!("Reverts {}#{number}", repo.full_name()));
    let new = open_pull(
        ctx,
        repo,
        &title,
        &branch,
        &pull.base_ref,
        Some(text),
        draft,
    )
    .map_err(|e| e.message)?;
    Ok((new, format!("{}/pull/{new}", ctx.html(repo))))
}
