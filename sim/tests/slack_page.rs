//! The Slack sim's web page: the page and its script are served, the view shows a
//! channel's messages and threads plus the ephemerals of the person looking (and
//! nobody else's), and the script's renderers turn mrkdwn and Block Kit into safe
//! HTML (checked under node, which every machine this project builds on has).

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
const html = page.renderChannel({ users: [{ id: "U0PM", name: "pm" }], channels: [],
  messages: [{ ts: "2.0", text: "reply", thread_ts: "1.0", bot: true },
             { ts: "1.0", text: "root", bot: true }],
  ephemerals: [{ ts: "3.0", text: "secret" }] });
assert.ok(html.indexOf("root") < html.indexOf('class="thread"') &&
  html.indexOf('class="thread"') < html.indexOf("reply") &&
  html.indexOf("reply") < html.indexOf("Only visible to you"), html);
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
