//! The Slack sim's web page: the page and its script are served, the view shows a
//! channel's messages and threads plus the ephemerals of the person looking (and
//! nobody else's), their open modal and their Home tab, the page's modal buttons go
//! through the same path as `submit_view`, and the script's renderers turn mrkdwn,
//! Block Kit, modals and Home views into safe HTML (checked under node, which every
//! machine this project builds on has).

use std::path::Path;
use std::process::Command;

use lockstep_sim::slack::{SimConfig, SlackSim};
use serde_json::{json, Value};

async fn sim() -> SlackSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    SlackSim::start(SimConfig::default())
        .await
        .expect("sim starts")
}

async fn api(sim: &SlackSim, method: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{method}", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn view(sim: &SlackSim, user: &str) -> Value {
    reqwest::get(format!("{}/_sim/view/C0DEPLOY?user={user}", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_page_shows_the_channel_as_the_chosen_person_sees_it() {
    let sim = sim().await;
    let page = reqwest::get(sim.base_url()).await.unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/_sim/page.js"));
    let script = reqwest::get(format!("{}/_sim/page.js", sim.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(script.contains("function renderChannel"));

    let root = api(
        &sim,
        "chat.postMessage",
        json!({"channel": "C0DEPLOY", "text": "Promote: checking"}),
    )
    .await;
    assert_eq!(root["ok"], true, "{root}");
    let ts = root["ts"].as_str().unwrap();
    api(
        &sim,
        "chat.postMessage",
        json!({"channel": "C0DEPLOY", "thread_ts": ts, "text": "step 1 done"}),
    )
    .await;
    api(
        &sim,
        "chat.postEphemeral",
        json!({"channel": "C0DEPLOY", "user": "U0PM", "text": "only for the PM"}),
    )
    .await;

    let pm = view(&sim, "U0PM").await;
    let texts: Vec<(&str, Option<&str>)> = pm["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["text"].as_str().unwrap(), m["thread_ts"].as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![("Promote: checking", None), ("step 1 done", Some(ts))]
    );
    assert_eq!(pm["ephemerals"][0]["text"], "only for the PM");
    assert!(pm["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == "U0DEV"));
    let dev = view(&sim, "U0DEV").await;
    assert_eq!(dev["ephemerals"], json!([]), "nobody else sees it");
    sim.shutdown().await;
}

/// Acks every envelope on a raw Socket Mode connection; a `view_submission` is
/// answered with errors on its "why" block.
async fn acking_socket(sim: &SlackSim) -> tokio::task::JoinHandle<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let opened: Value = reqwest::Client::new()
        .post(format!("{}apps.connections.open", sim.api_url()))
        .bearer_auth(sim.app_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = opened["url"].as_str().unwrap().to_string();
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = socket.next().await {
            let Message::Text(text) = frame else { continue };
            let envelope: Value = serde_json::from_str(text.as_str()).unwrap();
            let Some(id) = envelope["envelope_id"].as_str() else {
                continue;
            };
            let mut ack = json!({"envelope_id": id});
            if envelope["payload"]["type"] == "view_submission" {
                ack["payload"] =
                    json!({"response_action": "errors", "errors": {"why": "Say more"}});
            }
            if socket
                .send(Message::Text(ack.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    })
}

#[tokio::test]
async fn the_view_carries_the_persons_modal_and_home_and_the_page_submits_through_the_sim() {
    let sim = sim().await;
    let socket = acking_socket(&sim).await;
    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/frappe-stack", "promote")
        .await
        .unwrap();
    let modal = json!({
        "type": "modal", "title": {"type": "plain_text", "text": "Promote"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [{"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "Why"},
                    "element": {"type": "plain_text_input", "action_id": "text"}}]
    });
    let opened = api(
        &sim,
        "views.open",
        json!({"trigger_id": sent.trigger_id, "view": modal}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    let view_id = opened["view"]["id"].as_str().unwrap().to_string();
    let published = api(
        &sim,
        "views.publish",
        json!({"user_id": "U0PM", "view": {"type": "home", "blocks": [{"type": "divider"}]}}),
    )
    .await;
    assert_eq!(published["ok"], true, "{published}");

    let pm = view(&sim, "U0PM").await;
    assert_eq!(pm["modal"]["id"], view_id.as_str());
    assert_eq!(pm["modal"]["view"]["title"]["text"], "Promote");
    assert_eq!(pm["home"]["view"]["blocks"][0]["type"], "divider");
    let dev = view(&sim, "U0DEV").await;
    assert_eq!(
        (dev["modal"].clone(), dev["home"].clone()),
        (Value::Null, Value::Null)
    );

    // The page's Submit posts here: the sim delivers view_submission and applies the ack.
    let submitted: Value = reqwest::Client::new()
        .post(format!("{}/_sim/submit_view", sim.base_url()))
        .json(&json!({"user": "U0PM", "view_id": view_id, "values": {"why": {"text": "because"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        submitted["outcome"],
        json!({"kind": "Errors", "errors": {"why": "Say more"}})
    );
    assert_eq!(
        view(&sim, "U0PM").await["modal"]["errors"]["why"],
        "Say more"
    );
    let empty = reqwest::Client::new()
        .post(format!("{}/_sim/submit_view", sim.base_url()))
        .json(&json!({"user": "U0PM", "view_id": view_id, "values": {"why": {"text": ""}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        empty.status(),
        400,
        "an empty required input does not submit"
    );

    // Cancel closes it; opening Home is an event the bot receives.
    let closed = reqwest::Client::new()
        .post(format!("{}/_sim/close_view", sim.base_url()))
        .json(&json!({"user": "U0PM", "view_id": view_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    assert_eq!(view(&sim, "U0PM").await["modal"], Value::Null);
    let event: Value = reqwest::Client::new()
        .post(format!("{}/_sim/open_home", sim.base_url()))
        .json(&json!({"user": "U0PM"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envelope = sim
        .envelope(event["envelope_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(envelope["payload"]["event"]["type"], "app_home_opened");
    socket.abort();
    sim.shutdown().await;
}

#[test]
fn the_page_script_renders_mrkdwn_and_blocks_safely() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/slack/page.js");
    let checks = r#"
const assert = require("assert");
const page = require(process.argv[1]);
const names = { U0PM: "pm", C0DEPLOY: "deploy" };
assert.strictEqual(page.renderMrkdwn("*bold* and `code` for <@U0PM> in <#C0DEPLOY>", names),
  "<b>bold</b> and <code>code</code> for <b>@pm</b> in <b>#deploy</b>");
assert.strictEqual(page.renderMrkdwn("<script>alert(1)</script>", names),
  "&lt;script&gt;alert(1)&lt;/script&gt;");
assert.strictEqual(page.renderMrkdwn("```\na *b*\n```", names), "<pre>a *b*\n</pre>");
assert.strictEqual(page.renderMrkdwn("see <https://x.test/a|the PR>", names),
  'see <a href="https://x.test/a" target="_blank">the PR</a>');
assert.strictEqual(page.renderMrkdwn(":white_check_mark: done :no_such_emoji:", names),
  "\u2705 done :no_such_emoji:");
// Slack's entities stay entities (the browser shows <, > and &), never doubled.
assert.strictEqual(page.renderMrkdwn("Usage: /frappe-stack &lt;sub&gt; &amp; more", names),
  "Usage: /frappe-stack &lt;sub&gt; &amp; more");
assert.strictEqual(page.renderMrkdwn('<javascript:alert(1)|x> <https://a.test/"onclick=x|y>', names),
  '&lt;javascript:alert(1)|x&gt; &lt;https://a.test/&quot;onclick=x|y&gt;');
const buttons = page.renderBlocks([{ type: "actions", elements: [
  { type: "button", action_id: "rollback_apply", value: "run-1", style: "primary",
    text: { type: "plain_text", text: "Apply" } }] }], "1.2", names);
assert.ok(buttons.includes('data-action="rollback_apply"') && buttons.includes('data-ts="1.2"')
  && buttons.includes('class="primary"') && buttons.includes(">Apply</button>"), buttons);
// Modals: inputs carry their ids, everything the bot wrote is escaped, errors show.
const modal = page.renderModal({ id: "V1", errors: { why: "<b>say more</b>" }, view: {
  title: { type: "plain_text", text: "Fix <script>alert(1)</script>" },
  submit: { type: "plain_text", text: "Send" },
  blocks: [
    { type: "section", block_id: "s", text: { type: "mrkdwn", text: "*Run* <@U0PM>" } },
    { type: "input", block_id: "why", label: { type: "plain_text", text: "Why \"now\"?" },
      element: { type: "plain_text_input", action_id: "text", multiline: true,
                 initial_value: "</textarea><img src=x onerror=alert(1)>" } },
    { type: "input", block_id: "note", optional: true, label: { type: "plain_text", text: "Note" },
      element: { type: "plain_text_input", action_id: "text", initial_value: '"><script>x</script>' } },
    { type: "actions", block_id: "a", elements: [{ type: "button", action_id: "b", text: { type: "plain_text", text: "B" } }] },
  ] } }, names);
assert.ok(modal.includes("<h2>Fix &lt;script&gt;alert(1)&lt;/script&gt;</h2>"), modal);
assert.ok(modal.includes('<textarea data-block="why" data-action="text">&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;</textarea>'), modal);
assert.ok(modal.includes('<input type="text" data-block="note" data-action="text" value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">'), modal);
assert.ok(modal.includes('<div class="input-error">&lt;b&gt;say more&lt;/b&gt;</div>'), modal);
assert.ok(modal.includes("Why &quot;now&quot;?") && modal.includes("(optional)"), modal);
assert.ok(modal.includes("<b>Run</b> <b>@pm</b>"), modal);
assert.ok(modal.includes('data-modal="submit" data-view="V1">Send</button>') &&
  modal.includes('data-modal="cancel" data-view="V1">Cancel</button>'), modal);
assert.ok(modal.includes(" disabled "), "buttons in a view are not clickable: " + modal);
assert.ok(!/<script>|<img/.test(modal), modal);
assert.strictEqual(page.renderModal(null, names), "");
// Home: the published blocks, or a note that there is none.
const home = page.renderHome({ id: "V2", view: { blocks: [
  { type: "header", text: { type: "plain_text", text: "Runs <now>" } },
  { type: "section", text: { type: "mrkdwn", text: "<javascript:alert(1)|go>" } }] } }, names);
assert.strictEqual(home, "<h3>Runs &lt;now&gt;</h3><div>&lt;javascript:alert(1)|go&gt;</div>");
assert.ok(page.renderHome(null, names).includes("has not published a Home tab"));
const html = page.renderChannel({ users: [{ id: "U0PM", name: "pm" }], channels: [],
  messages: [{ ts: "2.0", text: "reply", thread_ts: "1.0", bot: true },
             { ts: "1.0", text: "root", bot: true }],
  ephemerals: [{ ts: "3.0", text: "secret" }] });
// The channel shows the root with a link to its thread, not the reply itself.
assert.ok(html.indexOf("root") < html.indexOf('data-thread="1.0">1 reply</a>') &&
  html.indexOf("1 reply") < html.indexOf("Only visible to you"), html);
assert.ok(!html.includes(">reply<"), html);
// The thread opens beside the channel: its root, then its replies.
const thread = page.renderThread({ users: [], channels: [],
  messages: [{ ts: "2.0", text: "reply <b>", thread_ts: "1.0", bot: true },
             { ts: "1.0", text: "root", bot: true }], ephemerals: [] }, "1.0");
assert.ok(thread.indexOf('class="message root"') < thread.indexOf("reply &lt;b&gt;"), thread);
assert.strictEqual(page.renderThread({ users: [], channels: [], messages: [], ephemerals: [] }, "9.0"), "");
// Emoji: Slack's short names, aliases included; code keeps them as written.
assert.strictEqual(page.renderMrkdwn(":+1: :thumbsup: `:tada:` :tada:", names),
  "\ud83d\udc4d \ud83d\udc4d <code>:tada:</code> \ud83c\udf89");
assert.strictEqual(page.renderMrkdwn(":constructor: :__proto__:", names), ":constructor: :__proto__:");
"#;
    let output = Command::new("node")
        .args(["-e", checks])
        .arg(&script)
        .output()
        .expect("node runs (a machine that builds lockstep has node)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
