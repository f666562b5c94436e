//! The standalone Slack sim (`lockstep sim slack`): its arguments, `serve` (start, print
//! where to point the bot, run until Ctrl-C), and the small HTTP control surface under
//! `/_sim/` that lets other tools play the human side (run a command, click a button,
//! submit or cancel a modal, open the Home tab, read the transcript). `/_sim/` never collides with Slack's own paths. Must not
//! implement any Slack behaviour itself: it calls the same functions as `SlackSim`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::config::SimConfig;
use super::socket::{self, DisconnectReason};
use super::state::Shared;
use super::{views, SlackSim};

/// `lockstep sim slack` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimSlackArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 3001)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
}

/// Runs the sim with the default workspace until Ctrl-C.
pub async fn serve(args: SimSlackArgs) -> anyhow::Result<()> {
    let sim = SlackSim::start_on(args.bind, SimConfig::default().with_port(args.port)).await?;
    let base = sim.base_url();
    // These are the sim's own fixed, fake tokens: printing them is the point.
    println!("Slack sim listening on {base}  (open it in a browser to see the channels)");
    println!("  Web API:        {}", sim.api_url());
    println!("  app token:      {}", sim.app_token());
    println!("  bot token:      {}", sim.bot_token());
    println!(
        "  control:        POST {base}/_sim/command {{\"user\",\"channel\",\"command\",\"text\"}}"
    );
    println!("                  POST {base}/_sim/click {{\"user\",\"channel\",\"message_ts\",\"action_id\",\"value\"?}}");
    println!("                  GET  {base}/_sim/outputs   GET {base}/_sim/channels/<id>/messages");
    println!("                  POST {base}/_sim/disconnect {{\"reason\":\"refresh_requested\"}}");
    println!("                  POST {base}/_sim/submit_view {{\"user\",\"view_id\",\"values\":{{block:{{action:text}}}}}}");
    println!("                  POST {base}/_sim/close_view {{\"user\",\"view_id\"}}   POST {base}/_sim/open_home {{\"user\"}}");
    println!("Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| anyhow::anyhow!("while waiting for Ctrl-C: {e}"))?;
    sim.shutdown().await;
    Ok(())
}

pub(crate) fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/command", post(command))
        .route("/_sim/click", post(click))
        .route("/_sim/outputs", get(outputs))
        .route("/_sim/channels/{channel}/messages", get(channel_messages))
        .route("/_sim/disconnect", post(disconnect))
        .route("/_sim/submit_view", post(submit_view))
        .route("/_sim/close_view", post(close_view))
        .route("/_sim/open_home", post(open_home))
}

#[derive(Debug, Deserialize)]
struct SubmitViewRequest {
    user: String,
    view_id: String,
    /// block_id -> action_id -> text
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct CloseViewRequest {
    user: String,
    view_id: String,
}

#[derive(Debug, Deserialize)]
struct OpenHomeRequest {
    user: String,
}

async fn submit_view(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<SubmitViewRequest>,
) -> Response {
    match views::submit_view(&shared, &request.user, &request.view_id, &request.values).await {
        Ok(submitted) => Json(submitted).into_response(),
        Err(error) => refused(error),
    }
}

async fn close_view(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<CloseViewRequest>,
) -> Response {
    match views::close_view(&shared, &request.user, &request.view_id).await {
        Ok(envelope_id) => {
            Json(json!({"ok": true, "view_closed_envelope": envelope_id})).into_response()
        }
        Err(error) => refused(error),
    }
}

async fn open_home(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<OpenHomeRequest>,
) -> Response {
    match views::open_home(&shared, &request.user).await {
        Ok(sent) => Json(sent).into_response(),
        Err(error) => refused(error),
    }
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    user: String,
    channel: String,
    command: String,
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct ClickRequest {
    user: String,
    channel: String,
    message_ts: String,
    action_id: String,
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DisconnectRequest {
    reason: DisconnectReason,
}

fn refused(error: anyhow::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": format!("{error:#}")})),
    )
        .into_response()
}

async fn command(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<CommandRequest>,
) -> Response {
    match socket::send_slash_command(
        &shared,
        &request.user,
        &request.channel,
        &request.command,
        &request.text,
    )
    .await
    {
        Ok(sent) => Json(sent).into_response(),
        Err(error) => refused(error),
    }
}

async fn click(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<ClickRequest>,
) -> Response {
    let sent = socket::click_button(
        &shared,
        &request.user,
        &request.channel,
        &request.message_ts,
        &request.action_id,
        request.value.as_deref(),
    )
    .await;
    match sent {
        Ok(sent) => Json(sent).into_response(),
        Err(error) => refused(error),
    }
}

async fn outputs(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    Json(shared.lock().outputs.clone()).into_response()
}

async fn channel_messages(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(channel): Path<String>,
) -> Response {
    Json(shared.lock().channel_messages(&channel)).into_response()
}

async fn disconnect(
    AxumState(shared): AxumState<Arc<Shared>>,
    Json(request): Json<DisconnectRequest>,
) -> Response {
    socket::disconnect_all(&shared, request.reason, shared.config.warning_grace);
    Json(json!({"ok": true})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: SimSlackArgs,
    }

    #[test]
    fn args_default_to_local_port_3001() {
        let parsed = Wrapper::try_parse_from(["sim"]).unwrap().args;
        assert_eq!(parsed.port, 3001);
        assert_eq!(parsed.bind.to_string(), "127.0.0.1");
        let custom = Wrapper::try_parse_from(["sim", "--port", "4000", "--bind", "0.0.0.0"])
            .unwrap()
            .args;
        assert_eq!(
            (custom.port, custom.bind.to_string().as_str()),
            (4000, "0.0.0.0")
        );
        assert!(Wrapper::try_parse_from(["sim", "--bind", "not-an-ip"]).is_err());
    }
}
