//! Issue 14's findings, each reproduced as an operator or a hostile user met it:
//! the store failing under the running bot, a damaged store, URLs without a scheme,
//! `check` and the store path, an unreachable Slack, user text in messages, the
//! store's growth, slow sites, and a push to `staging` in the middle of a pull.

use crate::harness::{Harness, WAIT};
use crate::rig::Rig;
use lockstep::local::world::REPO;
use lockstep_sim::frappe::{Fault, Gate};
use lockstep_sim::slack::{BotOutput, EphemeralVia};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

/// Finding 1: with the store unwritable, a command is answered at once, straight to
/// the person (not through the outbox), the bot says it is not ready, and it
/// recovers by itself once the disk takes writes again. The failure is injected in
/// the store (`Store::fail_writes`): sled does not surface an immutable folder on
/// every write (it keeps its files open), so chattr or permissions would make the
/// test depend on the machine and on running as root or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_written_is_said_at_once_and_the_bot_recovers_by_itself() {
    let mut rig = Rig::start(|_| {}).await;
    assert!(rig.bot().is_ready());
    let store = rig.bot().store().clone();

    store.fail_writes(true);
    rig.command("status").await;
    let (via, text) = rig.expect_ephemeral().await;
    assert_eq!(via, EphemeralVia::ResponseUrl, "straight to the person");
    assert!(text.contains("cannot record work right now"), "{text}");
    assert!(text.contains("did nothing with `status`"), "{text}");
    assert!(text.contains("Nothing was changed"), "{text}");
    assert!(!rig.bot().is_ready(), "the readiness flag is red");

    // While it lasts, every command is told so in its acknowledgement.
    let (_, ack) = rig.send("diff").await;
    let said = ack.payload.and_then(|p| p.get("text").cloned());
    assert!(
        said.as_ref()
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.contains("cannot record work right now")),
        "{said:?}"
    );
    let (via, _) = rig.expect_ephemeral().await;
    assert_eq!(via, EphemeralVia::AckPayload);

    // The disk is back: the bot recovers without a restart.
    store.fail_writes(false);
    let mut health = store.watch_health();
    tokio::time::timeout(WAIT, health.wait_for(Option::is_none))
        .await
        .expect("the bot recovers by itself")
        .expect("the store is still there");
    assert!(rig.bot().is_ready());
    rig.command("help").await;
    let (_, help) = rig.expect_ephemeral().await;
    assert!(help.contains("status"), "{help}");
    rig.finish().await;
}

/// Finding 2: a store whose `db` file lost its data refuses to start, says what
/// was found and how to restore; the audit log beside it kept every entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_refuses_to_start_and_its_audit_log_survives() {
    let mut rig = Rig::start(|_| {}).await;
    for _ in 0..2 {
        rig.command("diff --site=prod").await;
        rig.expect_job_result().await;
    }
    let entries = rig.bot().store().audit_len();
    assert_eq!(entries, 2, "each diff is audited");
    rig.stop_bot().await;

    let db = rig.store_path().join("db");
    std::fs::File::options()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(0)
        .unwrap();
    let clock = lockstep::clock::Clock::parse_fixed(crate::harness::WEDNESDAY).unwrap();
    let err = match lockstep::app::start(rig.config.clone(), clock).await {
        Ok(_) => panic!("a damaged store started without a word"),
        Err(err) => format!("{err:#}"),
    };
    assert!(err.contains("is damaged"), "{err}");
    assert!(err.contains("commits"), "says what was found: {err}");
    assert!(
        err.contains("Restore the store folder from a backup"),
        "{err}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["audit", "verify", "--store"])
        .arg(rig.store_path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("ok    audit") && out.contains("2 lines"),
        "{out}"
    );

    // A tampered line is named.
    let log = lockstep::store::audit_log::log_path(&rig.store_path());
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replacen("\"actor\":\"U0PM\"", "\"actor\":\"U0EVE\"", 1),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["audit", "verify", "--store"])
        .arg(rig.store_path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("line 2 breaks the chain"), "{out}");
    assert!(out.contains("line 1 was changed"), "{out}");
    rig.finish().await;
}

fn lockstep_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    command.args(args).env_remove("SLACK_APP_TOKEN");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const TOKENS: [(&str, &str); 3] = [
    ("SLACK_APP_TOKEN", "xapp-1-test"),
    ("SLACK_BOT_TOKEN", "xoxb-test"),
    ("GITHUB_TOKEN", "ghp_test"),
];

/// Finding 4: a URL without a scheme is refused when the config loads, by `check`
/// and by `run`, naming the key and its line; nothing panics.
#[test]
fn a_url_without_a_scheme_is_named_at_load_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    for (key, text) in [
        (
            "github.api_url",
            "[github]\nowner = \"acme\"\nrepo = \"cfg\"\napi_url = \"api.github.com:443\"\n",
        ),
        (
            "sites.staging.url",
            "[sites.staging]\nrole = \"staging\"\nurl = \"localhost:8000\"\n",
        ),
    ] {
        let config = dir.path().join("c.toml");
        std::fs::write(&config, text).unwrap();
        let path = config.to_str().unwrap();
        for args in [
            vec!["check", "--config", path],
            vec!["run", "--config", path],
        ] {
            let (code, out, err) = lockstep_with_env(&args, &TOKENS);
            let all = format!("{out}{err}");
            assert_eq!(code, 1, "{args:?}: {all}");
            assert!(!all.contains("panicked"), "{args:?}: {all}");
            assert!(all.contains(key), "{args:?}: {all}");
            assert!(
                all.contains("line 4") || all.contains("line 3"),
                "{args:?}: {all}"
            );
            assert!(all.contains("has no scheme"), "{args:?}: {all}");
        }
    }
}

/// Finding 5: `check` opens the store path and names what is wrong with it, with
/// advice that fits the cause; `run` gives the same advice.
#[test]
fn check_names_a_store_path_that_cannot_work_with_advice_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mut cases = vec![
        (file.join("store"), "is a file, not a folder"),
        (
            std::path::PathBuf::from("/proc/lockstep-test/store"),
            "/proc",
        ),
    ];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes anywhere: only where permissions bind can this case be shown.
        if std::fs::write(locked.join("probe"), b"").is_err() {
            cases.push((locked.join("store"), "cannot be written by this user"));
        }
    }
    for (store, expected) in cases {
        let config = dir.path().join("c.toml");
        std::fs::write(
            &config,
            format!(
                "[slack]\napi_url = \"http://127.0.0.1:1/api\"\n[store]\npath = {:?}\n",
                store.display().to_string()
            ),
        )
        .unwrap();
        let path = config.to_str().unwrap();
        let (code, out, err) = lockstep_with_env(&["check", "--config", path], &TOKENS);
        assert_eq!(code, 1, "{out}{err}");
        let line = out
            .lines()
            .find(|line| line.contains(" store "))
            .unwrap_or_else(|| panic!("check says nothing of the store: {out}"));
        assert!(line.starts_with("FAIL  store"), "{line}");
        assert!(line.contains(expected), "{line}");
        assert!(!line.contains("backup"), "advice meant for damage: {line}");

        let (code, out, err) = lockstep_with_env(&["run", "--config", path], &TOKENS);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            !err.contains("backup") && !err.contains("panicked"),
            "{err}"
        );
    }
    // A good path: fine, and nothing is left behind by the trial.
    let good = dir.path().join("new").join("store");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\napi_url = \"http://127.0.0.1:1/api\"\n[store]\npath = {:?}\n",
            good.display().to_string()
        ),
    )
    .unwrap();
    let (_, out, _) = lockstep_with_env(&["check", "--config", config.to_str().unwrap()], &TOKENS);
    assert!(out.contains("ok    store"), "{out}");
    assert!(
        !good.exists() && !dir.path().join("new").exists(),
        "check created nothing"
    );
}

/// A log sink for one test: what was written, and a wake-up on every write.
#[derive(Clone, Default)]
struct Captured {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    written: std::sync::Arc<tokio::sync::Notify>,
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.lock().unwrap().extend_from_slice(buf);
        self.written.notify_waiters();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    async fn wait_for(&self, what: impl Fn(&str) -> bool) {
        tokio::time::timeout(WAIT, async {
            loop {
                let written = self.written.notified();
                if what(&self.text()) {
                    return;
                }
                written.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the log never said it: {}", self.text()));
    }
}

/// Finding 6: an unreachable Slack at start is named (slack.api_url, what to
/// check) on the first failure, then tried again with backoff, a line per attempt;
/// the bot does not claim to be listening meanwhile.
#[tokio::test]
async fn an_unreachable_slack_is_named_and_retried_with_backoff() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    lockstep::tls::install_crypto_provider();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = lockstep::config::FileConfig::parse(
        &format!("[slack]\napi_url = \"http://127.0.0.1:{port}/api\"\n"),
        "c.toml",
    )
    .unwrap();
    let env: BTreeMap<String, String> = TOKENS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = lockstep::config::Config {
        secrets: lockstep::config::Secrets::from_env(&file, &env).unwrap(),
        file,
        base_dir: dir.path().to_path_buf(),
    };
    config.file.store.path = dir.path().join("store");
    let clock = lockstep::clock::Clock::parse_fixed(crate::harness::WEDNESDAY).unwrap();
    let start = tokio::spawn(lockstep::app::start(config, clock));

    captured
        .wait_for(|log| log.matches("still cannot reach Slack").count() >= 2)
        .await;
    assert!(!start.is_finished(), "no start while Slack is unreachable");
    start.abort();
    let log = captured.text();
    let first = log
        .lines()
        .find(|line| line.contains("cannot reach Slack"))
        .unwrap();
    assert!(
        first.contains(&format!(
            "cannot reach Slack at http://127.0.0.1:{port}/api"
        )),
        "{first}"
    );
    assert!(
        first.contains("check slack.api_url and the network"),
        "{first}"
    );
    assert!(!log.contains("lockstep is listening"), "{log}");
    let waits: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("still cannot reach Slack"))
        .collect();
    assert!(
        waits[0].contains("attempt=2") && waits[1].contains("attempt=3"),
        "{log}"
    );
}

/// Every text a message showed, blocks and fallback alike.
fn all_text(output: &BotOutput) -> String {
    serde_json::to_string(output).unwrap()
}

/// Finding 7: what Slack sends when someone types `<!channel>` (or a ref with a
/// backtick) comes back escaped and inside a code span that holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_text_comes_back_escaped_and_cannot_break_code_spans() {
    let mut h = Harness::start().await;
    h.command("rollback &lt;!channel&gt; --dry-run").await;
    let (ts, _) = h.expect_post().await;
    let text = h.expect_edits_of(&ts).await;
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    for output in &h.world.slack.outputs() {
        let shown = all_text(output);
        assert!(!shown.contains("<!channel>"), "a raw broadcast: {shown}");
    }

    h.command("rollback a`b --dry-run").await;
    let (ts, first) = h.expect_post().await;
    let last = h.expect_edits_of(&ts).await;
    for text in [&first, &last] {
        for line in text.lines() {
            assert_eq!(
                line.matches('`').count() % 2,
                0,
                "an unbalanced code span: {line}"
            );
        }
    }
    assert!(last.contains("“aˋb”"), "{last}");
    h.finish().await;
}

/// Finding 8: `status` says how big the store and its audit log are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_store_size() {
    let mut h = Harness::start().await;
    h.command("status").await;
    let (_, status) = h.expect_post().await;
    assert!(status.contains("Store: "), "{status}");
    assert!(status.contains("on disk"), "{status}");
    assert!(status.contains("audit log"), "{status}");
    h.finish().await;
}

/// Finding 9: a read on a site that answers every request in 10 s ends at the
/// command's deadline, saying which side is too slow and that nothing changed,
/// after progress edits that show it is still working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_site_ends_a_read_at_its_deadline_with_progress_on_the_way() {
    let mut rig = Rig::start(|config| {
        config.file.commands.deadline_secs = 3;
        config.file.commands.progress_secs = 1;
    })
    .await;
    rig.world
        .frappe
        .inject_times(Fault::Latency(Duration::from_secs(10)), 200);
    rig.command("diff").await;
    let (ts, first) = rig.expect_post().await;
    assert!(first.contains(":hourglass"), "{first}");
    let (last, notes) = rig.expect_edits_of(&ts).await;
    assert!(!notes.is_empty(), "the message said it was still working");
    assert!(notes[0].contains("Still working on diff"), "{notes:?}");
    assert!(
        last.contains("The staging site is too slow: diff had no complete answer within 3 s"),
        "{last}"
    );
    assert!(last.contains("Nothing was changed."), "{last}");
    rig.finish().await;
}

/// Finding 10: someone pushes to `staging` between the pull's plan and its commit.
/// The pull says the branch moved, plans again and lands on the new head; their
/// commit stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_staging_during_a_pull_replans_and_lands_on_the_new_head() {
    let mut h = Harness::start().await;
    // A hand edit on the staging site, so the pull has something to commit.
    let frappe = &h.world.frappe;
    let mut doc = frappe.get_doc("staging", "DocType", "Beneficiary").unwrap();
    for field in doc["fields"].as_array_mut().unwrap() {
        if field["fieldname"] == "age" {
            field["non_negative"] = json!(0);
        }
    }
    frappe.set_doc("staging", doc).unwrap();
    let repo = h.world.github.repo(REPO);
    let before = repo.branch_sha("staging").unwrap();

    let gate = Gate::new();
    h.world.frappe.inject(Fault::Hold(gate.clone()));
    h.world.github.clear_calls();
    h.command("pull").await;
    let (ts, first) = h.expect_post().await;
    assert!(first.contains(":hourglass"), "{first}");
    // The plan has read the branch (its head is `before`) and waits for the site.
    let read_branch = || {
        h.world
            .github
            .calls()
            .iter()
            .any(|call| call.method == "GET" && call.path.contains("/git/trees/"))
    };
    tokio::time::timeout(WAIT, async {
        while !read_branch() {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the plan reads the branch");

    let mut files = BTreeMap::new();
    files.insert(
        "README.md".to_string(),
        Some(b"# Config\nPushed by a person mid-pull.\n".to_vec()),
    );
    let theirs = repo
        .push_commit("staging", files, "A person's commit")
        .unwrap();
    assert_ne!(theirs, before);
    gate.release();

    let mut edits = Vec::new();
    let last = loop {
        match h.next_output().await {
            BotOutput::Updated {
                ts: edited,
                text,
                blocks,
                ..
            } if edited == ts => {
                let text = crate::harness::visible_text(&text, &blocks);
                if !text.contains(":hourglass") {
                    break text;
                }
                edits.push(text);
            }
            other => panic!("expected an edit of the pull's message, got {other:?}"),
        }
    };
    assert!(
        edits
            .iter()
            .any(|e| e.contains("`staging` moved while I was committing")),
        "the reply says staging moved: {edits:?}"
    );
    assert!(last.contains("Pull: committed"), "{last}");
    let head = repo.branch_sha("staging").unwrap();
    let (_, raw) = h
        .world
        .github
        .repo(REPO)
        .raw_object(&head)
        .expect("the head commit");
    let commit = String::from_utf8_lossy(&raw);
    assert!(
        commit.contains(&format!("parent {theirs}")),
        "the pull lands on the new head: {commit}"
    );
    let files = repo.files_at("staging");
    assert!(files.contains_key("README.md"), "their commit stays");
    assert!(!last.contains("Something went wrong"), "{last}");
    h.command("audit 3").await;
    let (_, audit) = h.expect_post().await;
    assert!(audit.contains("committed"), "{audit}");
    assert_eq!(
        audit.matches("committed").count(),
        1,
        "one commit recorded: {audit}"
    );
    h.finish().await;
}
