//! Block Kit as Slack's message and view store treats it: what a posted message or a
//! view may contain (the documented limits Slack enforces with `invalid_blocks` /
//! `invalid_arguments` / `msg_too_long`), how Slack stores blocks (a `block_id` on every
//! block, `emoji: true` on plain text), finding a clicked button and a view's text
//! inputs. Pure functions over JSON; no state, no I/O.

use std::collections::HashSet;

use serde_json::{json, Value};

/// Slack truncates or refuses message text longer than this (`msg_too_long`).
pub const MAX_TEXT_CHARS: usize = 40_000;

const MAX_BLOCKS: usize = 50;
const MAX_ID_CHARS: usize = 255;
const MAX_SECTION_TEXT: usize = 3000;
const MAX_SECTION_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2000;
const MAX_HEADER_TEXT: usize = 150;
const MAX_ACTIONS_ELEMENTS: usize = 25;
const MAX_CONTEXT_ELEMENTS: usize = 10;
const MAX_BUTTON_TEXT: usize = 75;
const MAX_BUTTON_VALUE: usize = 2000;

/// Slack allows more blocks in a view (modal, Home tab) than in a message.
pub const MAX_VIEW_BLOCKS: usize = 100;
const MAX_INPUT_LABEL: usize = 2000;
const MAX_INPUT_VALUE: usize = 3000;

/// Checks a message's blocks against Slack's documented Block Kit limits. On failure
/// returns the `response_metadata.messages` Slack would send with `invalid_blocks`, in
/// its "[ERROR] … [json-pointer:/blocks/…]" style.
pub fn validate(blocks: &[Value]) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    validate_into(&mut errors, blocks, MAX_BLOCKS, "/blocks");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks blocks held at `pointer` (e.g. `/view/blocks`), at most `max` of them, adding
/// Slack-style messages to `errors`.
pub fn validate_into(errors: &mut Vec<String>, blocks: &[Value], max: usize, pointer: &str) {
    if blocks.len() > max {
        errors.push(error(&format!("no more than {max} items allowed"), pointer));
    }
    let mut block_ids = HashSet::new();
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("{pointer}/{index}");
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            if !block_ids.insert(id) {
                errors.push(error(
                    &format!("duplicate block_id {id:?}"),
                    &format!("{at}/block_id"),
                ));
            }
            check_len(errors, id, MAX_ID_CHARS, &format!("{at}/block_id"));
        }
        validate_block(errors, block, &at);
    }
}

fn validate_block(errors: &mut Vec<String>, block: &Value, at: &str) {
    match block.get("type").and_then(Value::as_str) {
        Some("section") => {
            let text = block.get("text");
            let fields = block.get("fields").and_then(Value::as_array);
            if text.is_none() && fields.is_none() {
                errors.push(error("must provide either text or fields", at));
            }
            if let Some(text) = text {
                check_text(errors, text, MAX_SECTION_TEXT, &format!("{at}/text"));
            }
            if let Some(fields) = fields {
                if fields.len() > MAX_SECTION_FIELDS {
                    errors.push(error(
                        &format!("no more than {MAX_SECTION_FIELDS} items allowed"),
                        &format!("{at}/fields"),
                    ));
                }
                for (i, field) in fields.iter().enumerate() {
                    check_text(errors, field, MAX_FIELD_TEXT, &format!("{at}/fields/{i}"));
                }
            }
            if let Some(accessory) = block.get("accessory") {
                validate_element(errors, accessory, &format!("{at}/accessory"));
            }
        }
        Some("header") => match block.get("text") {
            Some(text) => check_text(errors, text, MAX_HEADER_TEXT, &format!("{at}/text")),
            None => errors.push(error("missing required field: text", at)),
        },
        Some("actions") => {
            let elements = elements_of(errors, block, MAX_ACTIONS_ELEMENTS, at);
            let mut action_ids = HashSet::new();
            for (i, element) in elements.iter().enumerate() {
                let element_at = format!("{at}/elements/{i}");
                if let Some(id) = element.get("action_id").and_then(Value::as_str) {
                    if !action_ids.insert(id) {
                        errors.push(error(
                            &format!("duplicate action_id {id:?}"),
                            &format!("{element_at}/action_id"),
                        ));
                    }
                }
                validate_element(errors, element, &element_at);
            }
        }
        Some("context") => {
            let elements = elements_of(errors, block, MAX_CONTEXT_ELEMENTS, at);
            for (i, element) in elements.iter().enumerate() {
                // Context elements are text objects or images; only text is limited here.
                if element.get("text").is_some() {
                    check_text(
                        errors,
                        element,
                        MAX_SECTION_TEXT,
                        &format!("{at}/elements/{i}"),
                    );
                }
            }
        }
        Some("input") => {
            match block.get("label") {
                Some(label) if label.get("type").and_then(Value::as_str) == Some("plain_text") => {
                    check_text(errors, label, MAX_INPUT_LABEL, &format!("{at}/label"));
                }
                Some(_) => errors.push(error(
                    "must be a plain_text text object",
                    &format!("{at}/label"),
                )),
                None => errors.push(error("missing required field: label", at)),
            }
            match block.get("element") {
                Some(element) => validate_input_element(errors, element, &format!("{at}/element")),
                None => errors.push(error("missing required field: element", at)),
            }
        }
        Some(_) => {}
        None => errors.push(error("missing required field: type", at)),
    }
}

fn validate_input_element(errors: &mut Vec<String>, element: &Value, at: &str) {
    if let Some(id) = element.get("action_id").and_then(Value::as_str) {
        check_len(errors, id, MAX_ID_CHARS, &format!("{at}/action_id"));
    }
    match element.get("type").and_then(Value::as_str) {
        Some("plain_text_input") => {
            if let Some(value) = element.get("initial_value").and_then(Value::as_str) {
                check_len(
                    errors,
                    value,
                    MAX_INPUT_VALUE,
                    &format!("{at}/initial_value"),
                );
            }
            let length = |key: &str| element.get(key).and_then(Value::as_u64);
            if let (Some(min), Some(max)) = (length("min_length"), length("max_length")) {
                if min > max {
                    errors.push(error(
                        "min_length must not exceed max_length",
                        &format!("{at}/min_length"),
                    ));
                }
            }
        }
        Some(_) => {}
        None => errors.push(error("missing required field: type", at)),
    }
}

/// The input blocks of a view that hold a plain-text input: (block_id, action_id,
/// label, optional, initial_value, multiline), in order. Blocks must be normalised
/// (every block has a `block_id`).
pub fn text_inputs(blocks: &[Value]) -> Vec<TextInput> {
    blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("input"))
        .filter_map(|b| {
            let element = b.get("element")?;
            if element.get("type").and_then(Value::as_str) != Some("plain_text_input") {
                return None;
            }
            Some(TextInput {
                block_id: b.get("block_id")?.as_str()?.to_string(),
                action_id: element.get("action_id")?.as_str()?.to_string(),
                label: b["label"]["text"].as_str().unwrap_or_default().to_string(),
                optional: b.get("optional").and_then(Value::as_bool).unwrap_or(false),
                initial_value: element
                    .get("initial_value")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                multiline: element
                    .get("multiline")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// A plain-text input in a view, as a person filling it in sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextInput {
    pub block_id: String,
    pub action_id: String,
    pub label: String,
    pub optional: bool,
    pub initial_value: Option<String>,
    pub multiline: bool,
}

fn elements_of<'a>(
    errors: &mut Vec<String>,
    block: &'a Value,
    max: usize,
    at: &str,
) -> &'a [Value] {
    match block.get("elements").and_then(Value::as_array) {
        Some(elements) => {
            if elements.is_empty() {
                errors.push(error(
                    "must have at least 1 item",
                    &format!("{at}/elements"),
                ));
            }
            if elements.len() > max {
                errors.push(error(
                    &format!("no more than {max} items allowed"),
                    &format!("{at}/elements"),
                ));
            }
            elements
        }
        None => {
            errors.push(error("missing required field: elements", at));
            &[]
        }
    }
}

fn validate_element(errors: &mut Vec<String>, element: &Value, at: &str) {
    if let Some(id) = element.get("action_id").and_then(Value::as_str) {
        check_len(errors, id, MAX_ID_CHARS, &format!("{at}/action_id"));
    }
    if element.get("type").and_then(Value::as_str) != Some("button") {
        return;
    }
    match element.get("text") {
        Some(text) if text.get("type").and_then(Value::as_str) == Some("plain_text") => {
            check_text(errors, text, MAX_BUTTON_TEXT, &format!("{at}/text"));
        }
        Some(_) => errors.push(error(
            "must be a plain_text text object",
            &format!("{at}/text"),
        )),
        None => errors.push(error("missing required field: text", at)),
    }
    if let Some(value) = element.get("value").and_then(Value::as_str) {
        check_len(errors, value, MAX_BUTTON_VALUE, &format!("{at}/value"));
    }
    if let Some(style) = element.get("style").and_then(Value::as_str) {
        if style != "primary" && style != "danger" {
            errors.push(error(
                "must be one of primary, danger",
                &format!("{at}/style"),
            ));
        }
    }
}

/// A text object: `{type: plain_text|mrkdwn, text}` with 1..=max characters.
fn check_text(errors: &mut Vec<String>, text: &Value, max: usize, at: &str) {
    let kind = text.get("type").and_then(Value::as_str);
    if kind != Some("plain_text") && kind != Some("mrkdwn") {
        errors.push(error("must be a text object (plain_text or mrkdwn)", at));
        return;
    }
    match text.get("text").and_then(Value::as_str) {
        Some("") => errors.push(error(
            "must be more than 0 characters",
            &format!("{at}/text"),
        )),
        Some(s) => check_len(errors, s, max, &format!("{at}/text")),
        None => errors.push(error("missing required field: text", at)),
    }
}

fn check_len(errors: &mut Vec<String>, s: &str, max: usize, at: &str) {
    if s.chars().count() > max {
        errors.push(error(
            &format!("must be less than {} characters", max + 1),
            at,
        ));
    }
}

fn error(what: &str, pointer: &str) -> String {
    format!("[ERROR] {what} [json-pointer:{pointer}]")
}

/// Slack assigns short random `block_id`s to blocks posted without one.
pub fn new_block_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Stores blocks as Slack does on post: every block without a `block_id` gets a fresh
/// one, and every `plain_text` object gets `emoji: true` unless it says otherwise.
/// Input elements without an `action_id` get one too, as Slack assigns them in views.
pub fn normalise(blocks: &mut [Value]) {
    for block in blocks.iter_mut() {
        if let Some(object) = block.as_object_mut() {
            if !object.get("block_id").is_some_and(Value::is_string) {
                object.insert("block_id".to_string(), json!(new_block_id()));
            }
            if let Some(element) = object.get_mut("element").and_then(Value::as_object_mut) {
                if !element.get("action_id").is_some_and(Value::is_string) {
                    element.insert("action_id".to_string(), json!(new_block_id()));
                }
            }
        }
        default_plain_text_emoji(block);
    }
}

/// Adds `emoji: true` to every `plain_text` object in `value` that does not say otherwise.
pub fn default_plain_text_emoji(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("type").and_then(Value::as_str) == Some("plain_text") {
                object.entry("emoji").or_insert(Value::Bool(true));
            }
            object.values_mut().for_each(default_plain_text_emoji);
        }
        Value::Array(items) => items.iter_mut().for_each(default_plain_text_emoji),
        _ => {}
    }
}

/// The button that was clicked: its block and element as stored in the message.
#[derive(Clone, Debug)]
pub struct ClickedButton {
    pub block_id: String,
    pub element: Value,
}

/// Finds the button with `action_id` (and `value`, when given) in an `actions` block's
/// elements or a `section` block's accessory.
pub fn find_button(
    blocks: &[Value],
    action_id: &str,
    value: Option<&str>,
) -> Option<ClickedButton> {
    blocks.iter().find_map(|block| {
        let block_id = block.get("block_id")?.as_str()?.to_string();
        let elements = block
            .get("elements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(block.get("accessory"));
        elements
            .filter(|e| e.get("type").and_then(Value::as_str) == Some("button"))
            .find(|e| {
                e.get("action_id").and_then(Value::as_str) == Some(action_id)
                    && value.is_none_or(|v| e.get("value").and_then(Value::as_str) == Some(v))
            })
            .map(|element| ClickedButton {
                block_id: block_id.clone(),
                element: element.clone(),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn approval_blocks() -> Vec<Value> {
        vec![
            json!({"type": "section", "block_id": "summary",
                   "text": {"type": "mrkdwn", "text": "Promote *Beneficiary*?"}}),
            json!({"type": "actions", "block_id": "decide", "elements": [
                {"type": "button", "action_id": "approve", "value": "run-1", "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": "reject", "value": "run-1",
                 "text": {"type": "plain_text", "text": "Reject"}}
            ]}),
        ]
    }

    #[test]
    fn find_button_matches_action_and_value() {
        let blocks = approval_blocks();
        assert_eq!(
            find_button(&blocks, "approve", None).unwrap().block_id,
            "decide"
        );
        assert!(find_button(&blocks, "approve", Some("run-1")).is_some());
        assert!(find_button(&blocks, "approve", Some("run-2")).is_none());
        assert!(find_button(&blocks, "missing", None).is_none());
        let accessory = vec![json!({"type": "section", "block_id": "b",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": {"type": "button", "action_id": "open", "text": {"type": "plain_text", "text": "Open"}}})];
        assert_eq!(find_button(&accessory, "open", None).unwrap().block_id, "b");
    }

    #[test]
    fn normalise_adds_block_ids_and_emoji() {
        let mut blocks = vec![
            json!({"type": "divider"}),
            json!({"type": "divider", "block_id": "keep"}),
            json!({"type": "actions", "elements": [
                {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "A"}},
                {"type": "button", "action_id": "b", "text": {"type": "plain_text", "text": "B", "emoji": false}}
            ]}),
        ];
        normalise(&mut blocks);
        assert_eq!(blocks[0]["block_id"].as_str().unwrap().len(), 5);
        assert_eq!(blocks[1]["block_id"], "keep");
        assert_eq!(blocks[2]["elements"][0]["text"]["emoji"], true);
        assert_eq!(blocks[2]["elements"][1]["text"]["emoji"], false);
    }

    #[test]
    fn valid_blocks_pass() {
        assert_eq!(validate(&approval_blocks()), Ok(()));
        assert_eq!(validate(&[json!({"type": "divider"})]), Ok(()));
    }

    #[test]
    fn limits_are_enforced_with_slack_style_messages() {
        let long_section =
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}});
        assert_eq!(
            validate(&[long_section]).unwrap_err(),
            ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
        let too_many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
        assert_eq!(validate(&too_many).unwrap_err().len(), 1);
        let duplicate = [
            json!({"type": "divider", "block_id": "x"}),
            json!({"type": "divider", "block_id": "x"}),
        ];
        assert!(validate(&duplicate).unwrap_err()[0].contains("duplicate block_id"));
        let bad_button = json!({"type": "actions", "elements": [
            {"type": "button", "action_id": "a", "style": "green",
             "text": {"type": "mrkdwn", "text": "A"}},
            {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x".repeat(76)}}
        ]});
        let errors = validate(&[bad_button]).unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
        let empty_header = json!({"type": "header", "text": {"type": "plain_text", "text": ""}});
        assert!(validate(&[empty_header]).unwrap_err()[0].contains("more than 0 characters"));
    }

    proptest! {
        #[test]
        fn validate_and_normalise_never_panic(text in ".{0,40}", n in 0usize..60) {
            let mut blocks: Vec<Value> = (0..n)
                .map(|i| json!({"type": if i % 2 == 0 { "section" } else { "actions" }, "text": {"type": "mrkdwn", "text": text}, "elements": [i]}))
                .collect();
            let _ = validate(&blocks);
            normalise(&mut blocks);
            let _ = find_button(&blocks, &text, Some(&text));
        }
    }
}
