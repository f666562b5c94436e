//! manifest.json is what an admin pastes into Slack to create the app: it must pass
//! Slack's own schema and agree with the bot's defaults.

use serde_json::Value;

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("parse {path}: {err}"))
}

fn schema() -> jsonschema::Validator {
    let schema = load("tests/data/slack-manifest-schema/manifest.schema.1.0.0.json");
    jsonschema::draft7::new(&schema).expect("Slack's schema compiles")
}

#[test]
fn manifest_passes_slacks_schema() {
    let validator = schema();
    let manifest = load("manifest.json");
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "manifest.json fails Slack's schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_schema_is_strict_enough_to_catch_mistakes() {
    // Guards the test above: a validator that accepted anything would prove nothing.
    let validator = schema();
    let mut manifest = load("manifest.json");
    manifest["features"]["slash_commands"][0]["command"] = Value::from("frappe-stack");
    assert!(
        !validator.is_valid(&manifest),
        "a command without '/' must fail"
    );

    let mut manifest = load("manifest.json");
    manifest["settings"]["surprise"] = Value::from(true);
    assert!(
        !validator.is_valid(&manifest),
        "an unknown settings key must fail"
    );
}

#[test]
fn manifest_matches_what_the_bot_uses() {
    let manifest = load("manifest.json");
    let command = &manifest["features"]["slash_commands"][0];
    assert_eq!(command["command"], lockstep::config::DEFAULT_COMMAND);
    assert_eq!(command["description"], lockstep::command::SLASH_DESCRIPTION);
    assert_eq!(
        command["usage_hint"],
        lockstep::command::usage_hint().as_str()
    );
    assert_eq!(manifest["settings"]["socket_mode_enabled"], true);
    assert_eq!(manifest["settings"]["interactivity"]["is_enabled"], true);
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scope| scope.as_str().unwrap())
        .collect();
    // commands: the slash command; chat:write: post, update, ephemeral replies;
    // usergroups:read: access lists that name user groups; channels:history and
    // groups:history: conversations.history/replies, which find a message a crash may
    // have posted already (public and private channels). views.open and
    // views.publish need no scope. Nothing else is called.
    assert_eq!(
        scopes,
        [
            "commands",
            "chat:write",
            "usergroups:read",
            "channels:history",
            "groups:history"
        ]
    );
}
