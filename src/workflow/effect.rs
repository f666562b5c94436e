//! Effects: the outside-world actions the bot has decided on, as plain serde data so
//! they can wait in the store's outbox across a restart. Slack effects (replies,
//! posts, edits) are performed in order and report nothing back; a [`Work`] effect
//! (a read, a GitHub or site write, a bench command, a timer) is performed for its
//! run and its outcome comes back to the run's `step`. Also the small message model
//! the commands write in; `slack::render` turns it into Block Kit.

use crate::ids::RunId;
use crate::workflow::op::Op;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// A reply only the invoking person sees, through the command's `response_url`
    /// (falling back to `chat.postEphemeral` when the URL has expired).
    Respond(Reply),
    /// A message in a channel or thread, posted once under `key`: if the effect runs
    /// again after a crash, the message already posted under that key is edited instead.
    Post(Post),
    /// New content for the message posted earlier under `key`.
    Update(Update),
    /// Something a run needs done in the world; its outcome is fed back to the run.
    Work(Work),
    /// A modal for the person whose press carried the trigger (Slack takes a
    /// trigger once, within 3 seconds of the press).
    OpenModal(Modal),
    /// A person's App Home tab, published whole (`views.publish`; publishing the
    /// same view again changes nothing).
    Home(HomeView),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Modal {
    /// The press's own Slack trigger id.
    pub trigger_id: String,
    /// The view as Slack's JSON (`type: "modal"`).
    pub view: serde_json::Value,
    /// Who hears it, privately, when Slack will not open it.
    pub tell: Option<Requester>,
}

/// `user`'s Home tab: Slack's view JSON (`type: "home"`), built by the commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomeView {
    pub user: String,
    pub view: serde_json::Value,
}

/// One operation of a run, keyed `<run>/<step>/<n>`: the key is what makes it
/// idempotent (the performer checks whether it already happened before acting) and
/// what the run's `step` matches the outcome against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Work {
    pub key: String,
    pub run_id: RunId,
    /// The run's stack: whose adapters perform the work ("" for a single stack).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack: String,
    pub op: Op,
    /// Not before this time (a poll's wait): the executor holds it until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
}

impl Effect {
    /// A short name for logs (never the message text, which may quote user input).
    pub fn describe(&self) -> String {
        match self {
            Effect::Respond(reply) => {
                format!("ephemeral reply to {} in {}", reply.user, reply.channel)
            }
            Effect::Post(post) => format!("post `{}` in {}", post.key, post.channel),
            Effect::Update(update) => format!("update `{}`", update.key),
            Effect::Work(work) => format!("{} `{}`", work.op.name(), work.key),
            Effect::OpenModal(modal) => format!(
                "modal for {}",
                modal
                    .tell
                    .as_ref()
                    .map(|t| t.user.as_str())
                    .unwrap_or("someone")
            ),
            Effect::Home(home) => format!("Home tab of {}", home.user),
        }
    }

    /// The run the effect belongs to, read from its key (`<run>/<step>/<n>`);
    /// `None` for replies and for a command's own answer (`command/…`).
    pub fn run_id(&self) -> Option<&str> {
        if let Effect::Work(work) = self {
            return Some(&work.run_id.0);
        }
        let run = self.key()?.split('/').next()?;
        run.starts_with("run-").then_some(run)
    }

    /// The key under which the effect is idempotent, where it has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Effect::Respond(_) | Effect::OpenModal(_) | Effect::Home(_) => None,
            Effect::Post(post) => Some(&post.key),
            Effect::Update(update) => Some(&update.key),
            Effect::Work(work) => Some(&work.key),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub response_url: String,
    pub channel: String,
    pub user: String,
    pub message: Message,
    #[serde(default)]
    pub replace_original: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Idempotency key, unique per message: `<run>/<step>/<n>`.
    pub key: String,
    pub channel: String,
    /// Key of an earlier post to reply under, making this a thread reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_of: Option<String>,
    pub message: Message,
    /// A thread reply that is also shown in the channel (failures, so nobody misses them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
    /// Who to tell, privately, if Slack refuses the post for good (the bot is not
    /// in the channel, the channel is archived…), so a refusal is never silent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_refusal: Option<Requester>,
}

/// The person who asked, and how to answer them privately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    pub response_url: String,
    pub channel: String,
    pub user: String,
}

impl Requester {
    pub fn reply(&self, message: Message) -> Reply {
        Reply {
            response_url: self.response_url.clone(),
            channel: self.channel.clone(),
            user: self.user.clone(),
            message,
            replace_original: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    pub key: String,
    pub message: Message,
}

/// What a message says: a plain-text fallback (notifications, screen readers) and
/// the blocks people see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    #[serde(default)]
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Block {
    /// A large plain-text title (Slack's header block: 150 characters at most).
    Header(String),
    /// Slack mrkdwn text.
    Section(String),
    /// Monospaced text (a report, a usage line), shown in a code block.
    Code(String),
    /// Small grey print under the main content.
    Context(String),
    Divider,
    Buttons(Vec<Button>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub action_id: String,
    pub text: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<ButtonStyle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    Primary,
    Danger,
}

impl Message {
    /// A message that is one paragraph of mrkdwn.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            blocks: vec![Block::Section(text.clone())],
            text,
        }
    }

    /// A headline followed by a monospaced body (reports, help, usage errors).
    pub fn with_code(headline: impl Into<String>, body: impl Into<String>) -> Self {
        let headline = headline.into();
        Self {
            blocks: vec![Block::Section(headline.clone()), Block::Code(body.into())],
            text: headline,
        }
    }
}
