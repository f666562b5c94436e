//! Turns the bot's [`Message`] model into Slack Block Kit with slack-morphism's types.
//!
//! Slack's limits live here and nowhere else: a section holds at most 3,000
//! characters (long code is split at line boundaries), a message at most 50 blocks,
//! and `&`, `<`, `>` must be escaped in mrkdwn so user text cannot forge a mention.

use crate::workflow::effect::{Block, Button, ButtonStyle, Message};
use slack_morphism::prelude::*;

/// Slack rejects section text over 3,000 characters; keep a margin for the fences.
const SECTION_LIMIT: usize = 2_900;
const MAX_BLOCKS: usize = 50;
/// A header block's plain text holds at most 150 characters.
const HEADER_LIMIT: usize = 150;
/// The fallback `text` is truncated by Slack at 40,000; notifications show far less.
const TEXT_LIMIT: usize = 3_000;

pub fn message_content(message: &Message) -> SlackMessageContent {
    let mut blocks: Vec<SlackBlock> = message.blocks.iter().flat_map(render_block).collect();
    if blocks.len() > MAX_BLOCKS {
        blocks.truncate(MAX_BLOCKS - 1);
        blocks.push(context_block(
            "…the rest was cut to fit Slack's 50-block limit.",
        ));
    }
    SlackMessageContent::new()
        .with_text(truncate_chars(&message.text, TEXT_LIMIT))
        .with_blocks(blocks)
}

/// A Home tab (`views.publish`) showing `message`'s blocks: the same Block Kit as a
/// message, within a view's limit of 100 blocks.
pub fn home_view(message: &Message) -> serde_json::Value {
    const MAX_VIEW_BLOCKS: usize = 100;
    let mut blocks: Vec<SlackBlock> = message.blocks.iter().flat_map(render_block).collect();
    if blocks.len() > MAX_VIEW_BLOCKS {
        blocks.truncate(MAX_VIEW_BLOCKS - 1);
        blocks.push(context_block("…the rest was cut to fit the Home tab."));
    }
    serde_json::json!({ "type": "home", "blocks": blocks })
}

fn render_block(block: &Block) -> Vec<SlackBlock> {
    match block {
        Block::Header(text) => vec![SlackBlock::Header(SlackHeaderBlock::new(
            SlackBlockPlainTextOnly::from(truncate_chars(text, HEADER_LIMIT - 1).as_str()),
        ))],
        Block::Section(text) => split_at_lines(text, SECTION_LIMIT)
            .into_iter()
            .map(|chunk| section_block(&chunk))
            .collect(),
        Block::Code(code) => split_at_lines(&escape(code), SECTION_LIMIT - 8)
            .into_iter()
            .map(|chunk| section_block(&format!("```\n{chunk}\n```")))
            .collect(),
        Block::Context(text) => vec![context_block(text)],
        Block::Divider => vec![SlackBlock::Divider(SlackDividerBlock::new())],
        Block::Buttons(buttons) => vec![SlackBlock::Actions(SlackActionsBlock::new(
            buttons.iter().map(button_element).collect(),
        ))],
    }
}

fn section_block(mrkdwn: &str) -> SlackBlock {
    SlackBlock::Section(SlackSectionBlock::new().with_text(SlackBlockText::MarkDown(
        SlackBlockMarkDownText::new(mrkdwn.to_string()),
    )))
}

fn context_block(mrkdwn: &str) -> SlackBlock {
    SlackBlock::Context(SlackContextBlock::new(vec![
        SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(truncate_chars(
            mrkdwn,
            SECTION_LIMIT,
        ))),
    ]))
}

fn button_element(button: &Button) -> SlackActionBlockElement {
    let mut element =
        SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(button.text.as_str()))
            .with_action_id(button.action_id.clone().into())
            .with_value(button.value.clone());
    if let Some(style) = button.style {
        element = element.with_style(match style {
            ButtonStyle::Primary => SlackBlockButtonStyle::Primary,
            ButtonStyle::Danger => SlackBlockButtonStyle::Danger,
        });
    }
    SlackActionBlockElement::Button(element)
}

/// Escapes the three characters Slack's mrkdwn treats as control characters, so
/// text from a person or a remote system (a git ref, a reason, a blueprint name, a
/// site's error message) cannot become a mention (`<!channel>`, `<@U…>`, `<#C…>`)
/// or a link. Every such piece of text goes through this or [`code`].
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text from a person or a remote system as inline code: escaped, on one line, in
/// backticks. A backtick inside would end the span early and unbalance the rest of
/// the message, so such text is set in quotes instead, its backticks shown as `ˋ`.
pub fn code(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let escaped = escape(&one_line);
    if escaped.trim().is_empty() {
        // An empty span would show its two backticks.
        return format!("“{escaped}”");
    }
    if escaped.contains('`') {
        return format!("“{}”", escaped.replace('`', "ˋ"));
    }
    format!("`{escaped}`")
}

/// Splits text into chunks of at most `limit` characters, at line ends where possible.
fn split_at_lines(text: &str, limit: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let mut line = line;
        loop {
            let line_len = line.chars().count();
            if current_len + line_len <= limit {
                current.push_str(line);
                current_len += line_len;
                break;
            }
            if current_len > 0 {
                chunks.push(std::mem::take(&mut current));
                current_len = 0;
                continue;
            }
            // One line longer than the limit: cut it at a character boundary.
            let cut = line
                .char_indices()
                .nth(limit)
                .map(|(at, _)| at)
                .unwrap_or(line.len());
            chunks.push(line[..cut].to_string());
            line = &line[cut..];
        }
    }
    if current_len > 0 || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .map(|chunk| chunk.trim_end_matches('\n').to_string())
        .collect()
}

fn truncate_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_help_message_renders_as_block_kit() {
        let message = Message {
            text: "lockstep help".into(),
            blocks: vec![
                Block::Section("*lockstep* commands".into()),
                Block::Code("/frappe-stack status   runs in flight <now>".into()),
                Block::Context("Ask in #deploy".into()),
                Block::Divider,
                Block::Buttons(vec![Button {
                    action_id: "merge".into(),
                    text: "Merge & deploy".into(),
                    value: "run-1".into(),
                    style: Some(ButtonStyle::Primary),
                }]),
            ],
        };
        let json = serde_json::to_value(message_content(&message)).unwrap();
        insta::assert_yaml_snapshot!(json);
    }

    #[test]
    fn long_code_is_split_into_sections_under_the_limit() {
        let code: String = (0..400)
            .map(|n| format!("line {n:04} of a long report\n"))
            .collect();
        let blocks = render_block(&Block::Code(code));
        assert!(blocks.len() > 1);
        for block in blocks {
            let json = serde_json::to_value(block).unwrap();
            let text = json["text"]["text"].as_str().unwrap();
            assert!(text.chars().count() <= 3_000, "{}", text.len());
            assert!(text.starts_with("```\n") && text.ends_with("\n```"));
        }
    }

    #[test]
    fn user_text_cannot_forge_mentions() {
        assert_eq!(
            escape("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }

    #[test]
    fn code_spans_survive_backticks_and_empty_text() {
        assert_eq!(code("v1.2"), "`v1.2`");
        assert_eq!(code("<!channel>"), "`&lt;!channel&gt;`");
        assert_eq!(code("a`b"), "“aˋb”");
        assert_eq!(code(""), "“”");
        assert_eq!(code("two\nlines"), "`two lines`");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever a person types, what reaches a message has no Slack markup of
        /// its own: no `<` or `>` at all, and a code span that opens and closes
        /// around it (or none).
        #[test]
        fn user_text_never_becomes_markup(text in "(\\PC|<|>|&|`|<!channel>|<@U1>|<#C1>|&lt;|\n){0,40}") {
            let escaped = escape(&text);
            proptest::prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
            let coded = code(&text);
            proptest::prop_assert!(!coded.contains('<') && !coded.contains('>'));
            proptest::prop_assert!(!coded.contains('\n'));
            let ticks = coded.matches('`').count();
            proptest::prop_assert!(ticks == 0 || (ticks == 2 && coded.starts_with('`') && coded.ends_with('`')), "{coded}");
            // Rendered in a section, the text still carries no mention.
            let message = Message::text(format!("Rollback to {coded}: {escaped}"));
            let json = serde_json::to_string(&message_content(&message)).unwrap();
            for forged in ["<!", "<@", "<#"] {
                proptest::prop_assert!(!json.contains(forged), "{json}");
            }
        }
    }

    #[test]
    fn a_single_overlong_line_is_cut() {
        let chunks = split_at_lines(&"x".repeat(7_000), 3_000);
        assert_eq!(
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [3_000, 3_000, 1_000]
        );
    }

    #[test]
    fn too_many_blocks_are_cut_with_a_note() {
        let message = Message {
            text: "many".into(),
            blocks: (0..80)
                .map(|n| Block::Section(format!("row {n}")))
                .collect(),
        };
        let content = message_content(&message);
        let blocks = content.blocks.unwrap();
        assert_eq!(blocks.len(), 50);
        let last = serde_json::to_value(&blocks[49]).unwrap();
        assert!(last.to_string().contains("50-block limit"));
    }
}
