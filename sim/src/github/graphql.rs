//! `POST /graphql`: the two operations the bot uses, recognised by their field names
//! and read from `variables` — `repository(owner,name){pullRequest(number){
//! reviewDecision}}` and `revertPullRequest(input:{pullRequestId,title,body,draft})`.
//! Anything else gets a GraphQL error, as GitHub answers an unknown field.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{json, Value};

use super::api;
use super::{json_response, runs, Shared};

fn error(message: &str) -> Response {
    json_response(200, &json!({"errors": [{"message": message}]}))
}

pub(crate) fn handle(shared: &Arc<Shared>, body: &Value) -> Response {
    let query = body["query"].as_str().unwrap_or("");
    let vars = &body["variables"];
    if query.contains("revertPullRequest") {
        return revert(shared, &vars["input"]);
    }
    if query.contains("reviewDecision") {
        return review_decision(shared, vars);
    }
    error(
        "The sim answers only reviewDecision and revertPullRequest (pass arguments as variables).",
    )
}

fn review_decision(shared: &Shared, vars: &Value) -> Response {
    let (Some(owner), Some(name), Some(number)) = (
        vars["owner"].as_str(),
        vars["name"].as_str(),
        vars["number"].as_u64(),
    ) else {
        return error("Variables owner, name and number are required.");
    };
    let repos = shared.repos();
    let Some(repo) = repos.get(&format!("{owner}/{name}")) else {
        return json_response(
            200,
            &json!({"data": {"repository": null}, "errors": [{"type": "NOT_FOUND", "path": ["repository"],
            "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'.")}]}),
        );
    };
    match api::graphql_review_decision(repo, number) {
        Ok(decision) => json_response(
            200,
            &json!({"data": {"repository": {"pullRequest": {"reviewDecision": decision}}}}),
        ),
        Err(_) => json_response(
            200,
            &json!({"data": {"repository": {"pullRequest": null}}, "errors": [{"type": "NOT_FOUND",
            "path": ["repository", "pullRequest"], "message": format!("Could not resolve to a PullRequest with the number of {number}.")}]}),
        ),
    }
}

fn revert(shared: &Arc<Shared>, input: &Value) -> Response {
    let Some(node_id) = input["pullRequestId"].as_str() else {
        return error("input.pullRequestId is required");
    };
    let login = shared.config.bot_login.clone();
    let ctx = shared.ctx(&login);
    let outcome = {
        let mut repos = shared.repos();
        let Some((full, repo)) = repos
            .iter_mut()
            .find(|(_, r)| r.pulls.iter().any(|p| p.node_id() == node_id))
        else {
            return json_response(
                200,
                &json!({"data": {"revertPullRequest": null}, "errors": [{"type": "NOT_FOUND",
                "path": ["revertPullRequest"], "message": format!("Could not resolve to a node with the global id of '{node_id}'")}]}),
            );
        };
        let number = repo
            .pulls
            .iter()
            .find(|p| p.node_id() == node_id)
            .map(|p| p.number)
            .unwrap_or(0);
        let full = full.clone();
        api::revert_pull(
            &ctx,
            repo,
            number,
            input["title"].as_str(),
            input["body"].as_str(),
            input["draft"].as_bool().unwrap_or(false),
        )
        .map(|(n, url)| {
            (
                full,
                n,
                url,
                repo.pulls
                    .iter()
                    .find(|p| p.number == n)
                    .map(|p| p.node_id()),
            )
        })
    };
    match outcome {
        Ok((full, number, url, id)) => {
            let _ = (&full, runs::STEPS);
            json_response(
                200,
                &json!({"data": {"revertPullRequest": {"revertPullRequest": {"id": id, "number": number, "url": url}}}}),
            )
        }
        Err(message) => json_response(
            200,
            &json!({"data": {"revertPullRequest": null}, "errors": [{"type": "UNPROCESSABLE",
            "path": ["revertPullRequest"], "message": message}]}),
        ),
    }
}
