//! What the world page's panels show, read afresh from the sims on every request:
//! the config repository through the GitHub sim's test API (branches, pull requests
//! with files, reviews, merge state and the Actions run of their merge, tags,
//! releases), and each Frappe site's blueprints through Frappe's REST API as any
//! client reads them, with its backups and restores from the Frappe sim and its last
//! migrate from the deploy runs that migrated it. Nothing is cached or made up.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::frappe::FrappeSim;
use crate::github::{Review, WorkflowRun};
use crate::world::{LocalWorld, PRODUCTION_BRANCH, PRODUCTION_SITE, REPO, REVIEWERS};

/// The blueprint doctypes a site panel lists, with the list filter that picks the
/// team's own records among Frappe's (PRODUCT.md §2's table, as a person
/// browsing the desk would pick them).
const BLUEPRINT_DOCTYPES: [(&str, &str); 15] = [
    ("DocType", r#"[["custom","=",1]]"#),
    ("Custom Field", "[]"),
    ("Property Setter", "[]"),
    ("Workflow", "[]"),
    ("Workflow State", "[]"),
    ("Workflow Action Master", "[]"),
    ("Role", ROLE_FILTER),
    ("Dashboard", r#"[["is_standard","=",0]]"#),
    ("Dashboard Chart", r#"[["is_standard","=",0]]"#),
    ("Number Card", r#"[["is_standard","=",0]]"#),
    ("Report", r#"[["is_standard","=","No"]]"#),
    ("Server Script", "[]"),
    ("Client Script", "[]"),
    ("Notification", r#"[["is_standard","=",0]]"#),
    ("Print Format", r#"[["standard","=","No"]]"#),
];

/// Roles every Frappe site has; the others are the team's.
const ROLE_FILTER: &str = r#"[["name","not in",["Administrator","System Manager","Guest","All","Desk User","Script Manager","Report Manager","Dashboard Manager","Workspace Manager","Website Manager","Knowledge Base Contributor","Knowledge Base Editor","Newsletter Manager","Blogger","Inbox User","Prepared Report User"]]]"#;

/// The whole state the panels render.
pub async fn read(world: &LocalWorld, http: &reqwest::Client) -> Value {
    let runs = world.github.workflow_runs();
    let sites = join_all(
        world
            .frappe
            .site_names()
            .into_iter()
            .map(|site| read_site(world, http, site, &runs)),
    )
    .await;
    json!({"repo": read_repo(world, &runs), "sites": sites})
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn read_repo(world: &LocalWorld, runs: &[WorkflowRun]) -> Value {
    let repo = world.github.repo(REPO);
    let refs = repo.refs();
    let branches: Vec<Value> = refs
        .iter()
        .filter_map(|(name, sha)| {
            let branch = name.strip_prefix("refs/heads/")?;
            Some(json!({"name": branch, "sha": short(sha),
                        "production": branch == PRODUCTION_BRANCH}))
        })
        .collect();
    let mut pulls: Vec<Value> = repo
        .pulls()
        .into_iter()
        .map(|pull| {
            let reviews = repo.reviews(pull.number);
            let head = refs
                .get(&format!("refs/heads/{}", pull.head_ref))
                .map(String::as_str);
            let files: Vec<Value> = repo
                .pull_files(pull.number)
                .into_iter()
                .map(|(path, status)| json!({"path": path, "status": status}))
                .collect();
            let actions: Vec<Value> = pull
                .merge_commit_sha
                .as_deref()
                .map(|sha| {
                    runs.iter()
                        .filter(|r| r.head_sha == sha)
                        .map(run_json)
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "number": pull.number,
                "title": pull.title,
                "state": pull.state,
                "merged": pull.merged,
                "head": pull.head_ref,
                "base": pull.base_ref,
                "labels": pull.labels,
                "requested_reviewers": pull.requested_reviewers,
                "body": pull.body.unwrap_or_default(),
                "merge_commit": pull.merge_commit_sha.as_deref().map(short),
                "merge_state": merge_state(pull.state.as_str(), pull.merged, &reviews, head),
                "files": files,
                "reviews": reviews.iter().map(review_json).collect::<Vec<_>>(),
                "actions": actions,
            })
        })
        .collect();
    // Newest first: the PR a person is looking at is the latest.
    pulls.reverse();
    let tags: Vec<Value> = repo
        .tags()
        .into_iter()
        .map(|t| json!({"name": t.name, "commit": short(&t.commit), "message": t.message}))
        .collect();
    let releases: Vec<Value> = repo
        .releases()
        .into_iter()
        .rev()
        .map(|r| {
            json!({"tag": r.tag_name, "name": r.name, "body": r.body, "draft": r.draft,
                   "latest": r.latest})
        })
        .collect();
    json!({
        "name": REPO,
        "reviewers": REVIEWERS,
        "branches": branches,
        "pulls": pulls,
        "runs": runs.iter().rev().map(run_json).collect::<Vec<_>>(),
        "tags": tags,
        "releases": releases,
    })
}

fn review_json(review: &Review) -> Value {
    json!({
        "user": review.user,
        "state": review.state,
        "body": review.body,
        "commit": short(&review.commit_id),
        "at": review.submitted_at,
        "comments": review.comments.iter()
            .map(|c| json!({"path": c.path, "line": c.line, "body": c.body}))
            .collect::<Vec<_>>(),
    })
}

/// Where a pull request stands, as GitHub's page sums it up: merged or closed, else
/// each reviewer's latest verdict on it (approvals only count on the current head).
fn merge_state(state: &str, merged: bool, reviews: &[Review], head: Option<&str>) -> Value {
    if merged {
        return json!({"kind": "merged", "text": "Merged"});
    }
    if state != "open" {
        return json!({"kind": "closed", "text": "Closed without merging"});
    }
    let mut latest: Vec<&Review> = Vec::new();
    for review in reviews.iter().filter(|r| r.state != "COMMENTED") {
        latest.retain(|r| r.user != review.user);
        latest.push(review);
    }
    let approved: Vec<&str> = latest
        .iter()
        .filter(|r| r.state == "APPROVED" && Some(r.commit_id.as_str()) == head)
        .map(|r| r.user.as_str())
        .collect();
    let blocking: Vec<&str> = latest
        .iter()
        .filter(|r| r.state == "CHANGES_REQUESTED")
        .map(|r| r.user.as_str())
        .collect();
    if !blocking.is_empty() {
        json!({"kind": "changes", "text": format!("Changes requested by {}", blocking.join(", "))})
    } else if !approved.is_empty() {
        json!({"kind": "approved", "text": format!("Approved by {}; ready to merge", approved.join(", "))})
    } else {
        json!({"kind": "review", "text": "Review required"})
    }
}

fn run_json(run: &WorkflowRun) -> Value {
    let steps: Vec<Value> = run
        .jobs
        .iter()
        .flat_map(|job| job.steps.iter())
        .map(|s| json!({"name": s.name, "status": s.status, "conclusion": s.conclusion, "log": s.log}))
        .collect();
    json!({
        "id": run.id,
        "name": run.name,
        "number": run.run_number,
        "branch": run.head_branch,
        "sha": short(&run.head_sha),
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "steps": steps,
    })
}

async fn read_site(
    world: &LocalWorld,
    http: &reqwest::Client,
    site: String,
    runs: &[WorkflowRun],
) -> Value {
    let lists = join_all(
        BLUEPRINT_DOCTYPES
            .iter()
            .map(|(doctype, filters)| list_names(world, http, &site, doctype, filters)),
    )
    .await;
    let mut blueprints = Vec::new();
    let mut errors = Vec::new();
    for ((doctype, _), names) in BLUEPRINT_DOCTYPES.iter().zip(lists) {
        match names {
            Ok(names) if names.is_empty() => {}
            Ok(names) => blueprints.push(json!({"doctype": doctype, "names": names})),
            Err(error) => errors.push(format!("{doctype}: {error}")),
        }
    }
    let backups: Vec<Value> = world
        .frappe
        .backups(&site)
        .iter()
        .rev()
        .map(|path| json!(path.rsplit('/').next().unwrap_or(path)))
        .collect();
    json!({
        "name": site,
        "production": site == PRODUCTION_SITE,
        "blueprints": blueprints,
        "errors": errors,
        "last_migrate": if site == PRODUCTION_SITE { last_migrate(runs) } else { Value::Null },
        "backups": backups,
        "restores": world.frappe.restores(&site),
    })
}

/// The record names of `doctype` on `site` that `filters` picks, sorted.
async fn list_names(
    world: &LocalWorld,
    http: &reqwest::Client,
    site: &str,
    doctype: &str,
    filters: &str,
) -> Result<Vec<String>, String> {
    let url = url::Url::parse_with_params(
        &format!("{}/api/resource/{doctype}", world.frappe.url()),
        [
            ("fields", r#"["name"]"#),
            ("filters", filters),
            ("limit_page_length", "0"),
            ("order_by", "name asc"),
        ],
    )
    .map_err(|e| e.to_string())?;
    let answer = http
        .get(url)
        .header("X-Frappe-Site-Name", site)
        .header(
            "Authorization",
            format!(
                "token {}:{}",
                FrappeSim::api_key(site),
                FrappeSim::api_secret(site)
            ),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let body: Value = answer.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}"));
    }
    Ok(body["data"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// The production site's last migrate: the migrate step of the latest deploy run
/// that reached it, with what bench printed.
fn last_migrate(runs: &[WorkflowRun]) -> Value {
    runs.iter()
        .rev()
        .find_map(|run| {
            let step = run
                .jobs
                .iter()
                .flat_map(|j| j.steps.iter())
                .find(|s| s.name == "migrate" && s.started_at.is_some())?;
            Some(json!({
                "run": run.run_number,
                "sha": short(&run.head_sha),
                "status": step.status,
                "conclusion": step.conclusion,
                "at": step.completed_at.clone().or_else(|| step.started_at.clone()),
                "log": step.log,
            }))
        })
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(user: &str, state: &str, commit: &str) -> Review {
        Review {
            id: 1,
            user: user.into(),
            state: state.into(),
            commit_id: commit.into(),
            body: String::new(),
            comments: Vec::new(),
            submitted_at: String::new(),
        }
    }

    #[test]
    fn merge_state_counts_each_reviewers_latest_verdict_on_the_head() {
        let approved = [review("alice", "APPROVED", "h1")];
        assert_eq!(
            merge_state("open", false, &approved, Some("h1"))["kind"],
            "approved"
        );
        assert_eq!(
            merge_state("open", false, &approved, Some("h2"))["kind"],
            "review",
            "an approval of an older head does not count"
        );
        let changed = [
            review("alice", "CHANGES_REQUESTED", "h1"),
            review("alice", "COMMENTED", "h1"),
        ];
        assert_eq!(
            merge_state("open", false, &changed, Some("h1"))["text"],
            "Changes requested by alice"
        );
        let then_ok = [
            review("alice", "CHANGES_REQUESTED", "h1"),
            review("alice", "APPROVED", "h1"),
        ];
        assert_eq!(
            merge_state("open", false, &then_ok, Some("h1"))["kind"],
            "approved"
        );
        assert_eq!(merge_state("closed", true, &[], None)["kind"], "merged");
        assert_eq!(merge_state("closed", false, &[], None)["kind"], "closed");
    }
}
