//! Performs the outbox's effects, oldest first, at least once and idempotently.
//!
//! An effect leaves the outbox only after it was performed (or failed for good), in
//! the same transaction that records the Slack message it posted; a post whose key
//! already has a message edits it instead of posting again. One window remains: a
//! crash between Slack's answer to `chat.postMessage` and our flush repeats that one
//! post on restart (closing it needs Slack message metadata, not used yet). Transient failures (Slack unreachable, still rate-limited) keep
//! the effect at the head of the outbox and retry with backoff.

use crate::slack::api::{Posted, SlackApi, SlackApiError};
use crate::store::{PendingEffect, PostedMessage, Store};
use crate::workflow::effect::{Effect, Message, Post, Reply, Requester, Update};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Executor {
    store: Store,
    slack: SlackApi,
    wake: Arc<Notify>,
}

/// What became of one effect.
enum Done {
    Performed(Option<(String, PostedMessage)>),
    /// Retrying cannot help (Slack refused it); logged and dropped.
    GaveUp,
}

impl Executor {
    pub fn new(store: Store, slack: SlackApi) -> Self {
        Self {
            store,
            slack,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Tell the executor that new effects are in the outbox.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Drains the outbox whenever woken, until `shutdown` resolves. Starts with a
    /// drain, which replays whatever a previous process left behind.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let wait = match self.drain().await {
                Ok(()) => {
                    backoff = FIRST_BACKOFF;
                    None
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "effect failed; will retry");
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    Some(wait)
                }
            };
            let notified = self.wake.notified();
            // After a failure, retry when the backoff ends; otherwise only when woken.
            let retry = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = notified => {}
                _ = retry => {}
            }
        }
    }

    /// Performs every pending effect in order; stops at the first transient failure.
    pub async fn drain(&self) -> anyhow::Result<()> {
        for PendingEffect { id, effect } in self.store.pending_effects()? {
            match self.perform(&effect).await {
                Ok(Done::Performed(posted)) => {
                    let posted = posted
                        .as_ref()
                        .map(|(key, message)| (key.as_str(), message.clone()));
                    self.store.complete_effect(id, posted).await?;
                }
                Ok(Done::GaveUp) => self.store.complete_effect(id, None).await?,
                Err(err) => return Err(anyhow::anyhow!("{}: {err}", effect.describe())),
            }
        }
        Ok(())
    }

    async fn perform(&self, effect: &Effect) -> Result<Done, SlackApiError> {
        let result = match effect {
            Effect::Respond(reply) => self.respond(reply).await.map(|()| None),
            Effect::Post(post) => self.post(post).await.map(Some),
            Effect::Update(update) => self.update(update).await.map(|()| None),
        };
        match result {
            Ok(posted) => Ok(Done::Performed(posted)),
            Err(err) if err.is_transient() => Err(err),
            Err(err) => {
                tracing::error!(effect = %effect.describe(), error = %err, "Slack refused an effect; dropping it");
                if let Effect::Post(Post {
                    channel,
                    on_refusal: Some(requester),
                    ..
                }) = effect
                {
                    self.explain_refusal(channel, requester, &err).await;
                }
                Ok(Done::GaveUp)
            }
        }
    }

    /// Tells the person privately why the channel did not get the message.
    async fn explain_refusal(&self, channel: &str, requester: &Requester, err: &SlackApiError) {
        let hint = match err {
            SlackApiError::Refused { code, .. }
                if code == "not_in_channel" || code == "channel_not_found" =>
            {
                " Invite me with `/invite @lockstep` and try again."
            }
            SlackApiError::Refused { code, .. } if code == "is_archived" => {
                " The channel is archived."
            }
            _ => "",
        };
        let reply = requester.reply(Message::text(format!(
            "I could not post in <#{channel}>: {err}.{hint}"
        )));
        if let Err(second) = self.respond(&reply).await {
            tracing::error!(error = %second, "could not tell the person about a refused post either");
        }
    }

    async fn respond(&self, reply: &Reply) -> Result<(), SlackApiError> {
        match self
            .slack
            .respond(&reply.response_url, &reply.message, reply.replace_original)
            .await
        {
            // Response URLs expire after 30 minutes or five uses; the person still
            // deserves the answer, so fall back to an ephemeral post.
            Err(SlackApiError::ResponseUrlGone { .. }) => {
                self.slack
                    .post_ephemeral(&reply.channel, &reply.user, &reply.message)
                    .await
            }
            other => other,
        }
    }

    async fn post(&self, post: &Post) -> Result<(String, PostedMessage), SlackApiError> {
        if let Some(existing) = self.posted(&post.key) {
            // A post re-issued under a key that already has a message (a re-run
            // step): edit that message rather than add a second one.
            self.slack
                .update_message(&existing.channel, &existing.ts, &post.message)
                .await?;
            return Ok((post.key.clone(), existing));
        }
        let thread_ts = post
            .thread_of
            .as_deref()
            .and_then(|parent| self.posted(parent))
            .map(|parent| parent.ts);
        let Posted { channel, ts } = self
            .slack
            .post_message(&post.channel, thread_ts.as_deref(), &post.message)
            .await?;
        Ok((post.key.clone(), PostedMessage { channel, ts }))
    }

    async fn update(&self, update: &Update) -> Result<(), SlackApiError> {
        match self.posted(&update.key) {
            Some(existing) => {
                self.slack
                    .update_message(&existing.channel, &existing.ts, &update.message)
                    .await
            }
            None => {
                tracing::warn!(key = %update.key, "update for a message that was never posted; skipping");
                Ok(())
            }
        }
    }

    fn posted(&self, key: &str) -> Option<PostedMessage> {
        self.store.posted(key).unwrap_or_else(|err| {
            tracing::error!(key, error = %err, "cannot read a posted message record");
            None
        })
    }
}
