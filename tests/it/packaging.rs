//! The Dockerfile and the systemd unit, read as their tools read them (the checks a
//! linter such as hadolint makes, for the rules this project cares about), and the
//! command lines they start run through the real binary's argument parser, so a
//! renamed flag breaks this test and not a deployment. `scripts/check-packaging`
//! adds what needs the machine's tools (systemd-analyze, an image build).

use std::path::Path;
use std::process::Command;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Dockerfile instructions, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((op, rest)) => (op.to_uppercase(), rest.trim().to_string()),
            None => (line.to_uppercase(), String::new()),
        })
        .collect()
}

/// The binary's answer to `args`: its exit code and stderr.
fn lockstep(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .env_remove("SLACK_APP_TOKEN")
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `args` parse: the binary gets as far as reading the (missing) config file.
fn assert_parses(args: &[&str]) {
    let (code, stderr) = lockstep(args);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert!(
        stderr.contains("cannot read the config file"),
        "{args:?} should get past the argument parser: {stderr}"
    );
}

/// `["run", "--config", …]` with the config path moved somewhere that does not exist.
fn with_missing_config(args: Vec<String>) -> Vec<String> {
    let mut args = args;
    if let Some(at) = args.iter().position(|a| a == "--config") {
        args[at + 1] = "/nonexistent/lockstep.toml".to_string();
    }
    args
}

#[test]
fn the_dockerfile_builds_the_production_binary_in_two_stages_and_runs_it_unprivileged() {
    let steps = instructions(&read("Dockerfile"));
    let froms: Vec<&String> = steps
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, rest)| rest)
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    for from in &froms {
        let image = from.split_whitespace().next().unwrap();
        let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "pin every base image: {image}"
        );
    }
    let builds: Vec<&String> = steps
        .iter()
        .filter(|(op, rest)| op == "RUN" && rest.contains("cargo build"))
        .map(|(_, rest)| rest)
        .collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    for flag in ["--release", "--locked", "--no-default-features"] {
        assert!(builds[0].contains(flag), "the build passes {flag}");
    }
    // The runtime stage: everything after the last FROM.
    let last_from = steps.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let runtime = &steps[last_from..];
    let value = |op: &str| {
        runtime
            .iter()
            .rev()
            .find(|(o, _)| o == op)
            .map(|(_, rest)| rest.clone())
            .unwrap_or_else(|| panic!("the runtime stage has no {op}"))
    };
    let user = value("USER");
    assert!(
        !matches!(user.split(':').next(), Some("root" | "0")),
        "non-root: {user}"
    );
    assert!(
        value("COPY").starts_with("--from="),
        "copies the binary from the build stage"
    );
    assert!(
        value("VOLUME").contains("/var/lib/lockstep"),
        "the store is on a volume"
    );
    let entrypoint: Vec<String> = serde_json::from_str(&value("ENTRYPOINT")).unwrap();
    assert_eq!(entrypoint, ["/usr/local/bin/lockstep"]);
    let cmd: Vec<String> = serde_json::from_str(&value("CMD")).unwrap();
    let args = with_missing_config(cmd);
    assert_parses(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        read(".dockerignore")
            .lines()
            .any(|line| line.trim() == "target"),
        "the build context leaves target/ out"
    );
}

/// `key=value` lines of the unit's `[Service]` section.
fn service_settings(unit: &str) -> Vec<(String, String)> {
    let mut in_service = false;
    let mut settings = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service && !line.starts_with('#') {
            if let Some((key, value)) = line.split_once('=') {
                settings.push((key.to_string(), value.to_string()));
            }
        }
    }
    settings
}

#[test]
fn the_systemd_unit_is_hardened_keeps_the_store_in_its_state_directory_and_starts_the_bot() {
    let settings = service_settings(&read("packaging/lockstep.service"));
    let get = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("[Service] has no {key}="))
    };
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "lockstep"),
        ("CapabilityBoundingSet", ""),
        ("RestrictSUIDSGID", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(get(key), value, "{key}");
    }
    let exec: Vec<String> = get("ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(exec[0], "/usr/local/bin/lockstep");
    let args = with_missing_config(exec[1..].to_vec());
    assert_parses(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !settings.iter().any(|(k, _)| k == "Environment"),
        "secrets come from EnvironmentFile=, never from the unit"
    );
}
