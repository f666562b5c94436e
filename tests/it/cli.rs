//! The operator commands as a person runs them: the real binary, its output and its
//! exit status.

use std::path::Path;
use std::process::Command;

fn lockstep(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .env_remove("SLACK_APP_TOKEN")
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn diff_raw_exits_one_only_when_the_folders_differ() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/sites/prod");
    let dir = tempfile::tempdir().unwrap();
    let (raw, canonical) = (dir.path().join("raw"), dir.path().join("canonical"));
    for folder in ["doctypes", "roles"] {
        copy_folder(&seeds.join(folder), &raw.join(folder));
        copy_folder(&seeds.join(folder), &canonical.join(folder));
    }
    let args = |raw: &Path, canonical: &Path| {
        vec![
            "diff".to_string(),
            "--raw".into(),
            raw.display().to_string(),
            "--against".into(),
            canonical.display().to_string(),
        ]
    };
    let run = |args: Vec<String>| lockstep(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let (code, out, err) = run(args(&raw, &canonical));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Summary: clean. Ready to promote."), "{out}");

    std::fs::remove_file(canonical.join("roles/manager.json")).unwrap();
    let (code, out, _) = run(args(&raw, &canonical));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Role \"Manager\""), "{out}");
}

#[test]
fn bad_invocations_are_named() {
    let (code, _, err) = lockstep(&["diff", "--against", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("--site <name> --url <url>"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[slack]\ncomand = \"/x\"\n").unwrap();
    let (code, out, _) = lockstep(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("FAIL  config") && out.contains("comand") && out.contains("line 2"),
        "{out}"
    );
}

/// `lockstep check` against the local world: every part answers, and a runner
/// workflow the repository lacks is named with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reaches_slack_the_sites_the_repo_and_the_runner_workflow() {
    use lockstep::local::world::{example_sites, LocalWorld};
    use lockstep_sim::frappe::FrappeSim;
    lockstep::tls::install_crypto_provider();
    let world = LocalWorld::start(Default::default(), &example_sites(), None)
        .await
        .expect("the local servers start");
    let dir = tempfile::tempdir().unwrap();
    // A port that is in use, for [metrics]: check notes it rather than failing.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let config = |workflow: &str| {
        let mut text = format!(
            "[slack]\napi_url = \"{}\"\n[store]\npath = \"{}\"\n[metrics]\nlisten = \"{taken_addr}\"\n\
             [freeze]\ntimezone = \"Asia/Kolkata\"\n[watch]\nschedule = \"0 9 * * 1-5\"\nchannel = \"C0DEPLOY\"\n",
            world.slack.api_url(),
            dir.path().join("store").display()
        );
        for (name, role) in [("staging", "staging"), ("prod", "production")] {
            text.push_str(&format!(
                "[sites.{name}]\nurl = \"{}\"\nrole = \"{role}\"\nfrappe_site_name = \"{name}\"\n",
                world.frappe.url()
            ));
        }
        text.push_str(&format!(
            "[github]\napi_url = \"{}\"\nowner = \"acme\"\nrepo = \"frappe-config\"\n[runner]\nworkflow = \"{workflow}\"\n",
            world.github.url()
        ));
        let path = dir.path().join(format!("{workflow}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let check = |path: std::path::PathBuf| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lockstep"));
        command
            .args(["check", "--config", path.to_str().unwrap()])
            .env("SLACK_APP_TOKEN", world.slack.app_token())
            .env("SLACK_BOT_TOKEN", world.slack.bot_token())
            .env("GITHUB_TOKEN", world.github.token())
            // Wednesday 14:30 in Kolkata: the next weekday 09:00 is Thursday's.
            .env("LOCKSTEP_NOW", "2026-11-25T14:30:00+05:30");
        for site in ["staging", "prod"] {
            let upper = site.to_uppercase();
            command
                .env(format!("FRAPPE_{upper}_API_KEY"), FrappeSim::api_key(site))
                .env(
                    format!("FRAPPE_{upper}_API_SECRET"),
                    FrappeSim::api_secret(site),
                );
        }
        async move {
            let output = command.output().await.expect("the binary runs");
            (
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned(),
            )
        }
    };

    let (code, out) = check(config("bench.yml")).await;
    assert_eq!(code, 0, "{out}");
    for line in [
        "ok    slack",
        "ok    socket",
        "ok    site     staging",
        "ok    site     prod",
        "ok    github   acme/frappe-config",
        "ok    runner   workflow bench.yml (\"Bench\", .github/workflows/bench.yml) dispatched on main",
        &format!("note  metrics  {taken_addr}: in use"),
        "ok    watch    `0 9 * * 1-5` in Asia/Kolkata: next run Thu 2026-11-26 09:00 IST, posting in C0DEPLOY",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }

    let (code, out) = check(config("deploy-bench.yml")).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  runner   workflow deploy-bench.yml")
            && out.contains(".github/workflows/deploy-bench.yml"),
        "{out}"
    );
}

/// `lockstep check` with two stacks: each is checked under a line naming it and its
/// channels, its watcher posts to its own channel, and a stack whose repository is
/// missing fails on its own line while the other passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_covers_every_stack() {
    use lockstep::local::world::{example_sites, LocalWorld};
    use lockstep_sim::frappe::FrappeSim;
    lockstep::tls::install_crypto_provider();
    let world = LocalWorld::start(Default::default(), &example_sites(), None)
        .await
        .expect("the local servers start");
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[slack]\napi_url = \"{}\"\n[store]\npath = \"{}\"\n\
         [freeze]\ntimezone = \"Asia/Kolkata\"\n[watch]\nschedule = \"0 9 * * 1-5\"\n",
        world.slack.api_url(),
        dir.path().join("store").display()
    );
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lockstep"));
    for (stack, channel, repo) in [
        ("hr", "C0HR", "frappe-config"),
        ("ops", "C0OPS", "ops-config"),
    ] {
        text.push_str(&format!("[stacks.{stack}]\nchannels = [\"{channel}\"]\n"));
        for (site, role) in [("staging", "staging"), ("prod", "production")] {
            text.push_str(&format!(
                "[stacks.{stack}.sites.{stack}_{site}]\nurl = \"{}\"\nrole = \"{role}\"\nfrappe_site_name = \"{site}\"\n",
                world.frappe.url()
            ));
            let var = |part: &str| format!("FRAPPE_{stack}_{site}_API_{part}").to_uppercase();
            command
                .env(var("KEY"), FrappeSim::api_key(site))
                .env(var("SECRET"), FrappeSim::api_secret(site));
        }
        text.push_str(&format!(
            "[stacks.{stack}.github]\napi_url = \"{}\"\nowner = \"acme\"\nrepo = \"{repo}\"\n",
            world.github.url()
        ));
    }
    let path = dir.path().join("stacks.toml");
    std::fs::write(&path, text).unwrap();
    let output = command
        .args(["check", "--config", path.to_str().unwrap()])
        .env("SLACK_APP_TOKEN", world.slack.app_token())
        .env("SLACK_BOT_TOKEN", world.slack.bot_token())
        .env("GITHUB_TOKEN", world.github.token())
        .env("LOCKSTEP_NOW", "2026-11-25T14:30:00+05:30")
        .output()
        .await
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let (hr, ops) = out
        .split_once("ok    stack    ops")
        .expect("ops is checked after hr");
    for line in [
        "ok    stack    hr: commands typed in C0HR act on it",
        "posting in C0HR",
        "ok    site     hr_staging",
        "ok    site     hr_prod",
        "ok    github   acme/frappe-config",
    ] {
        assert!(hr.contains(line), "{line:?} in hr's part:\n{out}");
    }
    for line in [
        ": commands typed in C0OPS act on it",
        "posting in C0OPS",
        "ok    site     ops_staging",
        "FAIL  github   acme/ops-config",
    ] {
        assert!(ops.contains(line), "{line:?} in ops's part:\n{out}");
    }
}

/// The demo's tour with `--log-format json` and debug logs: every line on stderr is
/// one JSON object; the Frappe reads (which the tour does only in its runs' work)
/// log inside a span naming the run; and a line that names a run (`run-` and ten
/// hex digits) was logged inside that run's span.
#[test]
fn json_logs_are_one_object_a_line_and_name_their_run() {
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["demo", "--script-only", "--log-format", "json"])
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("LOCKSTEP_NOW")
        .env("RUST_LOG", "lockstep=debug")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let mut site_reads = 0;
    for line in stderr.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not one JSON object ({err}): {line}"));
        let spans: Vec<&str> = value["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|span| span["run_id"].as_str())
            .collect();
        if value["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("lockstep::frappe"))
        {
            site_reads += 1;
            assert!(!spans.is_empty(), "a site read outside a run: {line}");
        }
        for named in run_ids_in(&value["fields"].to_string()) {
            assert!(
                spans.contains(&named),
                "a line about {named} outside its run's span: {line}"
            );
        }
    }
    assert!(site_reads > 0, "the tour logged no site read:\n{stderr}");
}

/// Every `run-` followed by ten hex digits in `text`.
fn run_ids_in(text: &str) -> Vec<&str> {
    text.match_indices("run-")
        .filter_map(|(at, _)| text.get(at..at + 14))
        .filter(|id| id[4..].chars().all(|c| c.is_ascii_hexdigit()))
        .collect()
}
