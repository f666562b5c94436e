//! What the bot said in the demo's Slack, read in order and printed for a terminal:
//! a [`Transcript`] follows the Slack sim's record of the bot's outputs with a
//! cursor, prints each new message (and the final edit of a job's message) as a
//! person in the channel would read it, and waits — on the sim's events, never on a
//! sleep — for the output a step of the tour expects. It only reads; what the people
//! do is the tour's business.

use lockstep_sim::slack::{BotOutput, SlackSim};
use serde_json::Value;
use std::time::Duration;

/// Long enough for a loaded machine; a reply normally takes milliseconds, a deploy
/// a few seconds.
pub const REPLY_WAIT: Duration = Duration::from_secs(60);

/// A reader of the bot's outputs that prints what it reads.
pub struct Transcript<'a> {
    slack: &'a SlackSim,
    cursor: usize,
    /// Print edits too (not only new messages).
    pub verbose: bool,
}

impl<'a> Transcript<'a> {
    /// Starts after everything the bot has said so far.
    pub fn new(slack: &'a SlackSim) -> Self {
        Transcript {
            slack,
            cursor: slack.outputs().len(),
            verbose: false,
        }
    }

    /// Reads outputs, printing new messages, until one `wanted` accepts; prints and
    /// returns that one. `what` names it when it does not come.
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&BotOutput) -> bool,
    ) -> anyhow::Result<BotOutput> {
        loop {
            let output = self
                .slack
                .next_output(&mut self.cursor, REPLY_WAIT)
                .await
                .map_err(|err| {
                    anyhow::anyhow!(
                        "the walkthrough expected {what}, and the bot did not say it: {err}"
                    )
                })?;
            let matched = wanted(&output);
            if matched || self.verbose || !matches!(output, BotOutput::Updated { .. }) {
                let channel = self.channel_name(output.channel());
                println!("{}\n", indent(&terminal_text(&output, &channel)));
            }
            if matched {
                return Ok(output);
            }
        }
    }

    /// `#name` of a channel of the workspace (its id when unknown).
    fn channel_name(&self, id: &str) -> String {
        let config = self.slack.config();
        let name = config
            .channels
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.as_str());
        format!("#{}", name.unwrap_or(id))
    }

    /// Waits for a new message or ephemeral whose visible text holds `needle`;
    /// returns its ts and visible text.
    pub async fn wait_for_text(&mut self, needle: &str) -> anyhow::Result<(String, String)> {
        let output = self
            .wait_for(&format!("a message saying {needle:?}"), |o| {
                !matches!(o, BotOutput::Updated { .. }) && shown(o).contains(needle)
            })
            .await?;
        Ok((ts_of(&output), shown(&output)))
    }

    /// Waits for an edit of message `ts` whose visible text holds `needle`.
    pub async fn wait_for_edit(&mut self, ts: &str, needle: &str) -> anyhow::Result<String> {
        let output = self
            .wait_for(&format!("message {ts} edited to say {needle:?}"), |o| {
                matches!(o, BotOutput::Updated { ts: edited, .. } if edited == ts)
                    && shown(o).contains(needle)
            })
            .await?;
        Ok(shown(&output))
    }

    /// The reply to a command: an ephemeral answer, a message, or — for a job — the
    /// last edit of its message (progress notes, which carry an hourglass, skipped).
    pub async fn reply(&mut self) -> anyhow::Result<String> {
        let first = self
            .wait_for("a reply to the command", |o| {
                !matches!(o, BotOutput::Updated { .. })
            })
            .await?;
        let text = shown(&first);
        match &first {
            BotOutput::Posted { ts, .. } if text.contains(":hourglass") => {
                let last = self
                    .wait_for("the job's result", |o| {
                        matches!(o, BotOutput::Updated { ts: edited, .. } if edited == ts)
                            && !shown(o).contains(":hourglass")
                    })
                    .await?;
                Ok(shown(&last))
            }
            _ => Ok(text),
        }
    }
}

/// The ts of a message-like output ("" for a deletion).
pub fn ts_of(output: &BotOutput) -> String {
    match output {
        BotOutput::Posted { ts, .. }
        | BotOutput::Updated { ts, .. }
        | BotOutput::Ephemeral { ts, .. }
        | BotOutput::ResponseInChannel { ts, .. }
        | BotOutput::ResponseReplaced { ts, .. }
        | BotOutput::ResponseDeleted { ts, .. } => ts.clone(),
    }
}

/// What a person sees of an output: its blocks' text, or its text without blocks.
pub fn shown(output: &BotOutput) -> String {
    match output {
        BotOutput::Posted { text, blocks, .. }
        | BotOutput::Updated { text, blocks, .. }
        | BotOutput::Ephemeral { text, blocks, .. }
        | BotOutput::ResponseInChannel { text, blocks, .. }
        | BotOutput::ResponseReplaced { text, blocks, .. } => visible_text(text, blocks),
        BotOutput::ResponseDeleted { .. } => String::new(),
    }
}

/// The action ids of the buttons in an output's blocks, in order.
pub fn buttons(output: &BotOutput) -> Vec<String> {
    let blocks = match output {
        BotOutput::Posted { blocks, .. }
        | BotOutput::Updated { blocks, .. }
        | BotOutput::Ephemeral { blocks, .. }
        | BotOutput::ResponseInChannel { blocks, .. }
        | BotOutput::ResponseReplaced { blocks, .. } => blocks.as_slice(),
        BotOutput::ResponseDeleted { .. } => &[],
    };
    blocks
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

/// The text of blocks (sections, fields, context, button labels as `[label]`), or
/// `text` when there are none.
pub fn visible_text(text: &str, blocks: &[Value]) -> String {
    if blocks.is_empty() {
        return text.to_string();
    }
    blocks
        .iter()
        .filter_map(block_text)
        .collect::<Vec<_>>()
        .join("\n")
}

fn block_text(block: &Value) -> Option<String> {
    if let Some(text) = block["text"]["text"].as_str() {
        return Some(text.to_string());
    }
    let elements = block["elements"].as_array()?;
    let parts: Vec<String> = elements
        .iter()
        .filter_map(|e| match (e["type"].as_str(), e["text"].as_str()) {
            (Some("button"), _) => e["text"]["text"].as_str().map(|t| format!("[{t}]")),
            (_, Some(text)) => Some(text.to_string()),
            _ => None,
        })
        .collect();
    let fields: Vec<String> = block["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let all = [parts, fields].concat();
    (!all.is_empty()).then(|| all.join(" "))
}

/// How an output reads in a terminal: where it went (`channel`: its `#name`), then
/// its text with Slack's entities and code fences undone.
pub fn terminal_text(output: &BotOutput, channel: &str) -> String {
    let label = match output {
        BotOutput::Posted {
            thread_ts: Some(_), ..
        } => format!("in a thread in {channel}"),
        BotOutput::Posted { .. } | BotOutput::ResponseInChannel { .. } => format!("in {channel}"),
        BotOutput::Updated { .. } => "edited".to_string(),
        BotOutput::Ephemeral { .. } => "only you can see this".to_string(),
        BotOutput::ResponseReplaced { .. } => "replaced".to_string(),
        BotOutput::ResponseDeleted { .. } => return "[a message was deleted]".to_string(),
    };
    let text = shown(output)
        .replace("```\n", "")
        .replace("\n```", "")
        .replace("```", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    format!("[{label}]\n{text}")
}

pub fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_read_as_a_person_reads_them() {
        let blocks = [
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "*Promotion* &lt;x&gt;"}}),
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "by <@U0PM>"}]}),
            json!({"type": "actions", "elements": [
                {"type": "button", "action_id": "promote_merge", "text": {"type": "plain_text", "text": "Merge & deploy"}},
                {"type": "button", "action_id": "promote_hold", "text": {"type": "plain_text", "text": "Hold"}}]}),
        ];
        let output = BotOutput::Posted {
            channel: "C".into(),
            ts: "1.0".into(),
            thread_ts: Some("0.5".into()),
            text: "fallback".into(),
            blocks: blocks.to_vec(),
            reply_broadcast: false,
        };
        assert_eq!(
            shown(&output),
            "*Promotion* &lt;x&gt;\nby <@U0PM>\n[Merge & deploy] [Hold]"
        );
        assert_eq!(buttons(&output), ["promote_merge", "promote_hold"]);
        assert!(terminal_text(&output, "#deploy")
            .starts_with("[in a thread in #deploy]\n*Promotion* <x>"));
        assert_eq!(visible_text("plain", &[]), "plain");
    }
}
