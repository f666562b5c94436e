//! A pull request's conversation and diff as the REST API serves them: editing and
//! closing it (`PATCH pulls/{n}`), the files it changes (`GET pulls/{n}/files`, from
//! the merge base of head and base), its conversation comments (`POST`/`GET
//! issues/{n}/comments` — every pull request is an issue) and the reviewers' line
//! comments (`GET pulls/{n}/comments`). Review bodies are served with the reviews in
//! `api.rs`. Handlers take the locked repository.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::api::{body_str, changed_files, pull_json, required, validation_failed, Ctx, Reply};
use super::content::paginate;
use super::repo::{user_json, ApiError, ApiResult, IssueComment, Pull, Repo};

const COMMENTS_DOCS: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";

/// One path a pull request changes, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathChange {
    pub path: String,
    /// added | removed | modified
    pub status: &'static str,
}

/// The files `pull` changes: its head against the merge base with its base.
pub fn pull_changes(repo: &Repo, pull: &Pull) -> Vec<PathChange> {
    let head = repo.head_sha(pull);
    let Some(base) = repo.pull_diff_base(pull) else {
        return Vec::new();
    };
    let before = repo.files_at(&base);
    let after = repo.files_at(&head);
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let status = match (before.get(path), after.get(path)) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(a), Some(b)) if a != b => "modified",
                _ => return None,
            };
            Some(PathChange {
                path: path.clone(),
                status,
            })
        })
        .collect()
}

/// `PATCH pulls/{n}`: title, body, base, and `state` (`closed` closes it and freezes
/// its head; `open` reopens a closed, unmerged one whose head branch still exists).
pub fn update_pull(ctx: &Ctx, repo: &mut Repo, number: u64, body: &Value) -> ApiResult<Reply> {
    let pull = repo.pull(number)?.clone();
    let invalid = |field: &str| {
        validation_failed(json!([{"resource": "PullRequest", "code": "invalid", "field": field}]))
    };
    let state = body_str(body, "state");
    if state.is_some_and(|s| s != "open" && s != "closed") {
        return Err(invalid("state"));
    }
    if let Some(base) = body_str(body, "base") {
        if repo.branch_sha(base).is_none() {
            return Err(invalid("base"));
        }
    }
    if state == Some("open") && pull.state == "closed" {
        let refusal = if pull.merged {
            Some("state cannot be changed. The pull request has been merged.".to_string())
        } else if repo.branch_sha(&pull.head_ref).is_none() {
            Some(format!(
                "state cannot be changed. The {} branch has been deleted.",
                pull.head_ref
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            return Err(validation_failed(
                json!([{"resource": "PullRequest", "code": "custom",
                "field": "state", "message": message}]),
            ));
        }
    }
    let head = repo.head_sha(&pull);
    let now = ctx.now_iso();
    let p = repo.pull_mut(number)?;
    if let Some(title) = body_str(body, "title") {
        p.title = title.to_string();
    }
    if let Some(text) = body.get("body") {
        p.body = text.as_str().map(str::to_string);
    }
    if let Some(base) = body_str(body, "base") {
        p.base_ref = base.to_string();
    }
    match state {
        Some("closed") if p.state == "open" => {
            p.state = "closed".into();
            p.closed_at = Some(now.clone());
            p.closed_head_sha = Some(head);
        }
        Some("open") if p.state == "closed" => {
            p.state = "open".into();
            p.closed_at = None;
            p.closed_head_sha = None;
        }
        _ => {}
    }
    p.updated_at = now;
    Reply::ok(pull_json(ctx, repo, number, false)?)
}

/// `GET pulls/{n}/files`: the diff entries of the pull request, paged.
pub fn pull_files(
    ctx: &Ctx,
    repo: &Repo,
    number: u64,
    query: &BTreeMap<String, String>,
) -> ApiResult<Reply> {
    let pull = repo.pull(number)?;
    let head = repo.head_sha(pull);
    let files = match repo.pull_diff_base(pull) {
        Some(base) => changed_files(ctx, repo, &base, &head),
        None => Vec::new(),
    };
    Reply::ok(Value::Array(paginate(files, query)))
}

fn issue_comment_json(ctx: &Ctx, repo: &Repo, number: u64, c: &IssueComment) -> Value {
    let api = ctx.api(repo);
    json!({
        "id": c.id,
        "node_id": format!("IC_sim{}", c.id),
        "url": format!("{api}/issues/comments/{}", c.id),
        "html_url": format!("{}/pull/{number}#issuecomment-{}", ctx.html(repo), c.id),
        "body": c.body,
        "user": user_json(&c.user, ctx.base_url),
        "created_at": c.created_at,
        "updated_at": c.created_at,
        "issue_url": format!("{api}/issues/{number}"),
        "author_association": "COLLABORATOR",
        "performed_via_github_app": null,
    })
}

/// `POST issues/{n}/comments` as the token's user (`body` required).
pub fn create_issue_comment(
    ctx: &Ctx,
    repo: &mut Repo,
    number: u64,
    body: &Value,
) -> ApiResult<Reply> {
    let text = required(body, "body", COMMENTS_DOCS)?.to_string();
    add_issue_comment(ctx, repo, number, ctx.login, &text)
        .map(|c| issue_comment_json(ctx, repo, number, &c))
        .and_then(Reply::created)
}

/// Adds a conversation comment by `user` to pull request `number`.
pub fn add_issue_comment(
    ctx: &Ctx,
    repo: &mut Repo,
    number: u64,
    user: &str,
    text: &str,
) -> ApiResult<IssueComment> {
    repo.pull(number)?;
    let comment = IssueComment {
        id: repo.next_id(),
        user: user.to_string(),
        body: text.to_string(),
        created_at: ctx.now_iso(),
    };
    repo.pull_mut(number)?.comments.push(comment.clone());
    Ok(comment)
}

/// `GET issues/{n}/comments`: oldest first, paged.
pub fn issue_comments(
    ctx: &Ctx,
    repo: &Repo,
    number: u64,
    query: &BTreeMap<String, String>,
) -> ApiResult<Reply> {
    let pull = repo.pull(number)?;
    let listed = pull
        .comments
        .iter()
        .map(|c| issue_comment_json(ctx, repo, number, c))
        .collect();
    Reply::ok(Value::Array(paginate(listed, query)))
}

/// `GET pulls/{n}/comments`: every review's line comments, oldest first, each with
/// its path, line, review id and the diff hunk that ends at the line.
pub fn review_comments(
    ctx: &Ctx,
    repo: &Repo,
    number: u64,
    query: &BTreeMap<String, String>,
) -> ApiResult<Reply> {
    let pull = repo.pull(number).map_err(|_| ApiError::not_found())?;
    let api = ctx.api(repo);
    let html = format!("{}/pull/{number}", ctx.html(repo));
    let mut listed = Vec::new();
    for review in &pull.reviews {
        let files = repo.files_at(&review.commit_id);
        for c in &review.comments {
            let text = files
                .get(&c.path)
                .and_then(|f| repo.objects.blob(&f.sha))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let line_text = text.lines().nth(c.line as usize - 1).unwrap_or_default();
            let url = format!("{api}/pulls/comments/{}", c.id);
            let html_url = format!("{html}#discussion_r{}", c.id);
            listed.push(json!({
                "url": url,
                "pull_request_review_id": review.id,
                "id": c.id,
                "node_id": format!("PRRC_sim{}", c.id),
                "diff_hunk": format!("@@ -{line},1 +{line},1 @@\n+{line_text}", line = c.line),
                "path": c.path,
                "position": c.line,
                "original_position": c.line,
                "commit_id": review.commit_id,
                "original_commit_id": review.commit_id,
                "user": user_json(&review.user, ctx.base_url),
                "body": c.body,
                "created_at": review.submitted_at,
                "updated_at": review.submitted_at,
                "html_url": html_url,
                "pull_request_url": format!("{api}/pulls/{number}"),
                "author_association": "COLLABORATOR",
                "_links": {"self": {"href": url}, "html": {"href": html_url},
                           "pull_request": {"href": format!("{api}/pulls/{number}")}},
                "start_line": null,
                "original_start_line": null,
                "start_side": null,
                "line": c.line,
                "original_line": c.line,
                "side": "RIGHT",
                "subject_type": "line",
            }));
        }
    }
    Reply::ok(Value::Array(paginate(listed, query)))
}
