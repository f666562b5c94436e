//! One simulated repository: its objects, refs, pull requests with reviews, labels
//! and requested reviewers, branch protection, workflow runs and releases. The rules
//! GitHub applies (fast-forward-only ref updates, review decisions, merge refusals)
//! live here; turning them into HTTP responses is `api.rs`'s job.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::objects::{Commit, FileEntry, Object, ObjectStore, Signature, Tag};

/// A GitHub error: status, message and optional `errors` list.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub errors: Option<Value>,
    pub docs: &'static str,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>, docs: &'static str) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: None,
            docs,
        }
    }

    pub fn not_found() -> Self {
        Self::new(404, "Not Found", "https://docs.github.com/rest")
    }

    pub fn unprocessable(message: impl Into<String>, docs: &'static str) -> Self {
        Self::new(422, message, docs)
    }

    pub fn with_errors(mut self, errors: Value) -> Self {
        self.errors = Some(errors);
        self
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub id: u64,
    pub user: String,
    /// APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    pub state: String,
    pub commit_id: String,
    pub body: String,
    /// The review's comments on lines of the diff.
    pub comments: Vec<LineComment>,
    pub submitted_at: String,
}

/// A review comment on one line of a file in a pull request's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineComment {
    pub id: u64,
    pub path: String,
    /// 1-based line of the file at the review's commit.
    pub line: u32,
    pub body: String,
}

/// A comment on a pull request's conversation (`POST issues/{n}/comments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub head_ref: String,
    pub base_ref: String,
    /// Frozen when the PR closes; open PRs follow their head branch.
    pub closed_head_sha: Option<String>,
    pub state: String,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<String>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub reviews: Vec<Review>,
    /// The conversation's comments, oldest first.
    pub comments: Vec<IssueComment>,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    /// How many more reads report `mergeable: null` (GitHub computes it lazily).
    pub unknown_reads_left: u32,
}

impl Pull {
    pub fn node_id(&self) -> String {
        format!("PR_sim{}", self.id)
    }
}

/// Branch protection as `GET /branches/{b}/protection` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    pub required_approving_review_count: u32,
    pub dismiss_stale_reviews: bool,
    pub require_last_push_approval: bool,
    pub enforce_admins: bool,
}

impl Default for Protection {
    fn default() -> Self {
        Protection {
            required_approving_review_count: 1,
            dismiss_stale_reviews: true,
            require_last_push_approval: false,
            enforce_admins: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub number: u32,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// The command the step runs, shown in its log's `##[group]Run …` header.
    pub script: String,
    /// What the step printed (the hook's output).
    pub log: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub steps: Vec<Step>,
}

/// A workflow run, started by a push (the deploy) or a dispatch (bench).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    pub id: u64,
    pub run_number: u64,
    pub workflow: &'static super::runs::Workflow,
    /// Set by `POST …/cancel`; the run stops at its next step boundary.
    pub cancel_requested: bool,
    pub name: String,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub jobs: Vec<Job>,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub target_commitish: String,
    pub draft: bool,
    pub prerelease: bool,
    /// GitHub documents `created_at` as "the date of the commit used for the release,
    /// and not the date when the release was drafted or published".
    pub created_at: String,
    pub published_at: Option<String>,
}

/// The review decision GitHub's GraphQL `reviewDecision` gives.
/// Only approvals from users with write access (`writers`) count.
/// With `require_last_push_approval`, an approval counts only when it is of the
/// head commit and from someone other than whoever pushed that commit
/// (`last_pusher`).
pub fn review_decision(
    pull: &Pull,
    head_sha: &str,
    protection: Option<&Protection>,
    writers: &BTreeSet<String>,
    last_pusher: Option<&str>,
) -> Option<&'static str> {
    let latest = latest_reviews(pull);
    if latest.values().any(|r| r.state == "CHANGES_REQUESTED") {
        return Some("CHANGES_REQUESTED");
    }
    let protection = protection?;
    let of_head = protection.dismiss_stale_reviews || protection.require_last_push_approval;
    let approvals = latest
        .values()
        .filter(|r| r.state == "APPROVED" && writers.contains(&r.user))
        .filter(|r| !of_head || r.commit_id == head_sha)
        .filter(|r| !protection.require_last_push_approval || Some(r.user.as_str()) != last_pusher)
        .count() as u32;
    if approvals >= protection.required_approving_review_count {
        Some("APPROVED")
    } else {
        Some("REVIEW_REQUIRED")
    }
}

/// Per reviewer, the latest review that is not a plain comment.
pub fn latest_reviews(pull: &Pull) -> BTreeMap<&str, &Review> {
    let mut latest = BTreeMap::new();
    for r in &pull.reviews {
        match r.state.as_str() {
            "APPROVED" | "CHANGES_REQUESTED" => {
                latest.insert(r.user.as_str(), r);
            }
            "DISMISSED" => {
                latest.remove(r.user.as_str());
            }
            _ => {}
        }
    }
    latest
}

pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub objects: ObjectStore,
    pub refs: BTreeMap<String, String>,
    pub pulls: Vec<Pull>,
    pub protection: BTreeMap<String, Protection>,
    pub runs: Vec<WorkflowRun>,
    pub releases: Vec<Release>,
    /// The release `make_latest` last marked as the repository's latest.
    pub latest_release: Option<u64>,
    pub collaborators: BTreeSet<String>,
    /// Who moved each branch last (for `require_last_push_approval`).
    pub last_pushers: BTreeMap<String, String>,
    next_id: u64,
}

/// The result of a three-way merge: the merged tree, or a conflict.
pub enum MergeOutcome {
    Clean(String),
    Conflict,
}

impl Repo {
    pub fn new(id: u64, owner: &str, name: &str) -> Repo {
        Repo {
            id,
            owner: owner.into(),
            name: name.into(),
            default_branch: "main".into(),
            objects: ObjectStore::default(),
            refs: BTreeMap::new(),
            pulls: Vec::new(),
            protection: BTreeMap::new(),
            runs: Vec::new(),
            releases: Vec::new(),
            latest_release: None,
            collaborators: BTreeSet::new(),
            last_pushers: BTreeMap::new(),
            next_id: id * 1_000_000,
        }
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// GraphQL's `reviewDecision` for `pull` at `head`.
    pub fn decision(
        &self,
        pull: &Pull,
        head: &str,
        protection: Option<&Protection>,
    ) -> Option<&'static str> {
        let pusher = self.last_pushers.get(&pull.head_ref).map(String::as_str);
        review_decision(pull, head, protection, &self.collaborators, pusher)
    }

    /// Moves `branch` to `sha` as `login` did.
    pub fn push_branch(&mut self, branch: &str, sha: &str, login: &str) {
        self.refs
            .insert(format!("refs/heads/{branch}"), sha.to_string());
        self.last_pushers
            .insert(branch.to_string(), login.to_string());
    }

    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        self.refs.get(&format!("refs/heads/{branch}")).cloned()
    }

    /// A commit-ish as GitHub resolves it in URLs: a full sha, a branch, a tag, or a
    /// `heads/`/`tags/`/`refs/` name.
    pub fn resolve(&self, spec: &str) -> Option<String> {
        if spec.len() == 40 && self.objects.get(spec).is_some() {
            return Some(spec.to_string());
        }
        let candidates = [
            spec.to_string(),
            format!("refs/{spec}"),
            format!("refs/heads/{spec}"),
            format!("refs/tags/{spec}"),
        ];
        candidates.iter().find_map(|r| self.refs.get(r).cloned())
    }

    pub fn resolve_commit(&self, spec: &str) -> Option<String> {
        self.objects.peel_to_commit(&self.resolve(spec)?)
    }

    /// What `GET commits/{ref}` accepts: a branch, a tag, a full commit id, or an
    /// abbreviated one that names a single commit.
    pub fn resolve_commitish(&self, spec: &str) -> Option<String> {
        if let Some(sha) = self.resolve_commit(spec) {
            return Some(sha);
        }
        let hex = spec.len() >= 4 && spec.len() < 40 && spec.bytes().all(|b| b.is_ascii_hexdigit());
        match self.objects.commits_with_prefix(&spec.to_ascii_lowercase())[..] {
            [only] if hex => Some(only.to_string()),
            _ => None,
        }
    }

    pub fn tree_of(&self, commit: &str) -> Option<String> {
        self.objects.commit(commit).map(|c| c.tree.clone())
    }

    pub fn files_at(&self, commit: &str) -> BTreeMap<String, FileEntry> {
        self.tree_of(commit)
            .map(|t| self.objects.flatten(&t))
            .unwrap_or_default()
    }

    /// Writes a commit of `files` (path -> bytes) on top of `parent`, replacing the
    /// whole tree when `replace` and otherwise overlaying it (None deletes).
    pub fn commit_files(
        &mut self,
        parent: Option<&str>,
        files: &BTreeMap<String, Option<Vec<u8>>>,
        replace: bool,
        message: &str,
        who: Signature,
    ) -> String {
        let mut flat = match (parent, replace) {
            (Some(p), false) => self.files_at(p),
            _ => BTreeMap::new(),
        };
        for (path, content) in files {
            match content {
                Some(bytes) => {
                    let sha = self.objects.put(Object::Blob(bytes.clone()));
                    flat.insert(
                        path.clone(),
                        FileEntry {
                            mode: "100644".into(),
                            sha,
                        },
                    );
                }
                None => {
                    flat.remove(path);
                }
            }
        }
        let tree = self.objects.write_flat(&flat);
        self.objects.put(Object::Commit(Commit {
            tree,
            parents: parent.map(|p| vec![p.to_string()]).unwrap_or_default(),
            author: who.clone(),
            committer: who,
            message: message.into(),
        }))
    }

    pub fn put_tag(&mut self, tag: Tag) -> String {
        self.objects.put(Object::Tag(tag))
    }

    /// The nearest common ancestor of two commits (breadth-first from `a`).
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        let from_b: BTreeSet<String> = self.objects.ancestors(b).into_iter().collect();
        self.objects
            .ancestors(a)
            .into_iter()
            .find(|c| from_b.contains(c))
    }

    /// Three-way merge of `theirs` into `ours` by whole files.
    pub fn merge_trees(&mut self, ours: &str, theirs: &str) -> MergeOutcome {
        let base = self
            .merge_base(ours, theirs)
            .map(|b| self.files_at(&b))
            .unwrap_or_default();
        let ours_files = self.files_at(ours);
        let theirs_files = self.files_at(theirs);
        let paths: BTreeSet<&String> = base
            .keys()
            .chain(ours_files.keys())
            .chain(theirs_files.keys())
            .collect();
        let mut merged = BTreeMap::new();
        let mut conflicted = false;
        for path in paths {
            let (b, o, t) = (base.get(path), ours_files.get(path), theirs_files.get(path));
            let pick = if o == t || t == b {
                o
            } else if o == b {
                t
            } else {
                conflicted = true;
                continue;
            };
            if let Some(entry) = pick {
                merged.insert(path.clone(), entry.clone());
            }
        }
        if conflicted {
            MergeOutcome::Conflict
        } else {
            MergeOutcome::Clean(self.objects.write_flat(&merged))
        }
    }

    pub fn pull(&self, number: u64) -> ApiResult<&Pull> {
        self.pulls
            .iter()
            .find(|p| p.number == number)
            .ok_or_else(ApiError::not_found)
    }

    pub fn pull_mut(&mut self, number: u64) -> ApiResult<&mut Pull> {
        self.pulls
            .iter_mut()
            .find(|p| p.number == number)
            .ok_or_else(ApiError::not_found)
    }

    pub fn head_sha(&self, pull: &Pull) -> String {
        pull.closed_head_sha
            .clone()
            .or_else(|| self.branch_sha(&pull.head_ref))
            .unwrap_or_default()
    }

    /// `mergeable` and `mergeable_state` as GitHub computes them.
    pub fn mergeability(&mut self, number: u64) -> ApiResult<(Option<bool>, String)> {
        let pull = self.pull(number)?.clone();
        if pull.state != "open" {
            return Ok((None, "unknown".into()));
        }
        let head = self.head_sha(&pull);
        let base = self.branch_sha(&pull.base_ref).unwrap_or_default();
        let clean = matches!(self.merge_trees(&base, &head), MergeOutcome::Clean(_));
        let protection = self.protection.get(&pull.base_ref).cloned();
        let decision = self.decision(&pull, &head, protection.as_ref());
        let state = if pull.draft {
            "draft"
        } else if !clean {
            "dirty"
        } else if protection.is_some() && decision != Some("APPROVED") {
            "blocked"
        } else {
            "clean"
        };
        Ok((Some(clean), state.into()))
    }

    /// A maintainer dismisses `user`'s latest approval or change request: GitHub
    /// turns that review's state to DISMISSED (it stays in the list).
    pub fn dismiss_review(&mut self, number: u64, user: &str) -> ApiResult<()> {
        let pull = self.pull_mut(number)?;
        let review = pull
            .reviews
            .iter_mut()
            .rev()
            .find(|r| r.user == user && (r.state == "APPROVED" || r.state == "CHANGES_REQUESTED"))
            .ok_or_else(ApiError::not_found)?;
        review.state = "DISMISSED".into();
        Ok(())
    }

    /// With `dismiss_stale_reviews` on the base branch, a push to an open PR's head
    /// dismisses the approvals given to earlier commits, as GitHub does.
    pub fn dismiss_stale_approvals(&mut self, branch: &str, sha: &str) {
        let protection = self.protection.clone();
        for pull in self
            .pulls
            .iter_mut()
            .filter(|p| p.state == "open" && p.head_ref == branch)
        {
            if !protection
                .get(&pull.base_ref)
                .is_some_and(|p| p.dismiss_stale_reviews)
            {
                continue;
            }
            for review in pull
                .reviews
                .iter_mut()
                .filter(|r| r.state == "APPROVED" && r.commit_id != sha)
            {
                review.state = "DISMISSED".into();
            }
        }
    }

    /// Why a direct write to `branch` (not through a pull request) is refused, in the
    /// words protection uses; None when the branch is not protected.
    pub fn direct_write_refusal(&self, branch: &str) -> Option<String> {
        let protection = self.protection.get(branch)?;
        let n = protection.required_approving_review_count;
        Some(if n == 0 {
            "Changes must be made through a pull request.".to_string()
        } else {
            let noun = if n == 1 { "review is" } else { "reviews are" };
            format!("At least {n} approving {noun} required by reviewers with write access.")
        })
    }

    /// The commit a pull request's diff starts from: the merge base of its head and
    /// the base it targets (for a merged one, the base as it was before the merge).
    pub fn pull_diff_base(&self, pull: &Pull) -> Option<String> {
        let head = self.head_sha(pull);
        let base = match pull.merge_commit_sha.as_deref().filter(|_| pull.merged) {
            Some(merge) => self.objects.commit(merge)?.parents.first()?.clone(),
            None => self.branch_sha(&pull.base_ref)?,
        };
        self.merge_base(&base, &head)
    }

    /// The latest release as `GET releases/latest` finds it: the one `make_latest`
    /// marked, else the newest published full release by `created_at`.
    pub fn latest_release(&self) -> Option<&Release> {
        let full = |r: &&Release| !r.draft && !r.prerelease;
        self.latest_release
            .and_then(|id| self.releases.iter().find(|r| r.id == id))
            .filter(full)
            .or_else(|| {
                self.releases
                    .iter()
                    .filter(full)
                    .max_by(|a, b| (&a.created_at, a.id).cmp(&(&b.created_at, b.id)))
            })
    }

    /// The text of GitHub's 405 when protection is unmet, or None when it is met.
    pub fn protection_refusal(&self, pull: &Pull, head: &str) -> Option<String> {
        let protection = self.protection.get(&pull.base_ref)?;
        match self.decision(pull, head, Some(protection)) {
            Some("APPROVED") => None,
            Some("CHANGES_REQUESTED") => Some(
                "Changes must be made through a pull request. Review changes requested.".into(),
            ),
            _ => {
                let n = protection.required_approving_review_count;
                let noun = if n == 1 { "review is" } else { "reviews are" };
                Some(format!(
                    "At least {n} approving {noun} required by reviewers with write access."
                ))
            }
        }
    }

    /// The commits in `head` not in `base`, oldest first.
    pub fn commits_between(&self, base: &str, head: &str) -> Vec<String> {
        let in_base: BTreeSet<String> = self.objects.ancestors(base).into_iter().collect();
        let mut out: Vec<String> = self
            .objects
            .ancestors(head)
            .into_iter()
            .filter(|c| !in_base.contains(c))
            .collect();
        out.reverse();
        out
    }

    /// The repository as GitHub's `repository` schema renders it (every required
    /// field; the URL templates point at the sim).
    pub fn summary_json(&self, base_url: &str) -> Value {
        let api = format!("{base_url}/repos/{}", self.full_name());
        let html = format!("{base_url}/{}", self.full_name());
        let mut value = json!({
            "id": self.id,
            "node_id": format!("R_sim{}", self.id),
            "name": self.name,
            "full_name": self.full_name(),
            "private": true,
            "owner": user_json(&self.owner, base_url),
            "html_url": html,
            "url": api,
            "default_branch": self.default_branch,
            "fork": false,
            "description": null,
            "homepage": null,
            "language": null,
            "mirror_url": null,
            "license": null,
            "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0,
            "open_issues": 0, "open_issues_count": 0, "size": 0,
            "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false,
            "has_downloads": false, "archived": false, "disabled": false,
            "pushed_at": "2026-01-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "clone_url": format!("{html}.git"),
            "git_url": format!("git://sim/{}.git", self.full_name()),
            "ssh_url": format!("git@sim:{}.git", self.full_name()),
            "svn_url": html,
        });
        let templates = [
            ("archive_url", "{archive_format}{/ref}"),
            ("assignees_url", "assignees{/user}"),
            ("blobs_url", "git/blobs{/sha}"),
            ("branches_url", "branches{/branch}"),
            ("collaborators_url", "collaborators{/collaborator}"),
            ("comments_url", "comments{/number}"),
            ("commits_url", "commits{/sha}"),
            ("compare_url", "compare/{base}...{head}"),
            ("contents_url", "contents/{+path}"),
            ("contributors_url", "contributors"),
            ("deployments_url", "deployments"),
            ("downloads_url", "downloads"),
            ("events_url", "events"),
            ("forks_url", "forks"),
            ("git_commits_url", "git/commits{/sha}"),
            ("git_refs_url", "git/refs{/sha}"),
            ("git_tags_url", "git/tags{/sha}"),
            ("hooks_url", "hooks"),
            ("issue_comment_url", "issues/comments{/number}"),
            ("issue_events_url", "issues/events{/number}"),
            ("issues_url", "issues{/number}"),
            ("keys_url", "keys{/key_id}"),
            ("labels_url", "labels{/name}"),
            ("languages_url", "languages"),
            ("merges_url", "merges"),
            ("milestones_url", "milestones{/number}"),
            (
                "notifications_url",
                "notifications{?since,all,participating}",
            ),
            ("pulls_url", "pulls{/number}"),
            ("releases_url", "releases{/id}"),
            ("stargazers_url", "stargazers"),
            ("statuses_url", "statuses/{sha}"),
            ("subscribers_url", "subscribers"),
            ("subscription_url", "subscription"),
            ("tags_url", "tags"),
            ("teams_url", "teams"),
            ("trees_url", "git/trees{/sha}"),
        ];
        for (key, tail) in templates {
            value[key] = json!(format!("{api}/{tail}"));
        }
        value
    }
}

pub fn user_json(login: &str, base_url: &str) -> Value {
    let id = login
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        % 10_000_000;
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_sim{id}"),
        "avatar_url": "",
        "gravatar_id": "",
        "url": format!("{base_url}/users/{login}"),
        "html_url": format!("{base_url}/{login}"),
        "type": if login.ends_with("[bot]") { "Bot" } else { "User" },
        "site_admin": false,
        "followers_url": format!("{base_url}/users/{login}/followers"),
        "following_url": format!("{base_url}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{base_url}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{base_url}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base_url}/users/{login}/subscriptions"),
        "organizations_url": format!("{base_url}/users/{login}/orgs"),
        "repos_url": format!("{base_url}/users/{login}/repos"),
        "events_url": format!("{base_url}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{base_url}/users/{login}/received_events"),
    })
}
