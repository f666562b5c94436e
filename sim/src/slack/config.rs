//! What the Slack sim pretends to be: the workspace (team, app, tokens, bot user) and
//! its directory (users, channels, user groups), plus the few knobs tests turn (port,
//! response-URL lifetime, disconnect grace). Plain data with builder methods; it owns no
//! server state and must not touch the network.

use std::fmt;
use std::time::Duration;

/// A person (or bot) in the simulated workspace, as `users.info` describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    pub id: String,
    /// The handle (`name` in `users.info`, `user_name` in slash commands).
    pub name: String,
    pub real_name: String,
    pub display_name: String,
    pub email: String,
    pub tz: String,
    pub is_admin: bool,
    pub is_bot: bool,
    pub deleted: bool,
}

impl SimUser {
    /// A regular member; display name = handle, email `<handle>@example.com`, UTC.
    pub fn new(id: &str, name: &str, real_name: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            real_name: real_name.to_string(),
            display_name: name.to_string(),
            email: format!("{name}@example.com"),
            tz: "UTC".to_string(),
            is_admin: false,
            is_bot: false,
            deleted: false,
        }
    }

    pub fn admin(mut self) -> Self {
        self.is_admin = true;
        self
    }

    pub fn bot(mut self) -> Self {
        self.is_bot = true;
        self
    }

    pub fn deactivated(mut self) -> Self {
        self.deleted = true;
        self
    }

    pub fn with_email(mut self, email: &str) -> Self {
        self.email = email.to_string();
        self
    }

    pub fn with_tz(mut self, tz: &str) -> Self {
        self.tz = tz.to_string();
        self
    }
}

/// A channel and its members. As on Slack, the bot can only post where it is a member:
/// include the bot user (U0BOT by default) in `members`, or chat.postMessage answers
/// `not_in_channel`. Slash commands and response URLs work either way. Reading history
/// of a channel the bot is not in answers `not_in_channel` for a public channel and
/// `channel_not_found` for a private one (the bot cannot know it exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimChannel {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub is_private: bool,
}

impl SimChannel {
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            members: Vec::new(),
            is_private: false,
        }
    }

    /// A private channel (Slack ids them with a `C` too nowadays).
    pub fn private(mut self) -> Self {
        self.is_private = true;
        self
    }

    pub fn with_members(mut self, members: &[&str]) -> Self {
        self.members.extend(members.iter().map(|m| m.to_string()));
        self
    }
}

/// A user group (`S…` id) as `usergroups.users.list` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUserGroup {
    pub id: String,
    pub handle: String,
    pub users: Vec<String>,
}

impl SimUserGroup {
    pub fn new(id: &str, handle: &str, users: &[&str]) -> Self {
        Self {
            id: id.to_string(),
            handle: handle.to_string(),
            users: users.iter().map(|u| u.to_string()).collect(),
        }
    }
}

/// Everything the sim needs to start. `Default` is the demo workspace described in
/// `SimConfig::default`.
#[derive(Clone)]
pub struct SimConfig {
    /// 0 = let the OS pick a free port.
    pub port: u16,
    pub app_token: String,
    pub bot_token: String,
    pub team_id: String,
    pub team_name: String,
    pub team_domain: String,
    pub app_id: String,
    pub bot_user_id: String,
    pub bot_id: String,
    pub bot_name: String,
    pub users: Vec<SimUser>,
    pub channels: Vec<SimChannel>,
    pub usergroups: Vec<SimUserGroup>,
    /// Slack allows 10 Socket Mode connections per app.
    pub max_connections: usize,
    /// Slack: a response URL works for 30 minutes.
    pub response_url_ttl: Duration,
    /// Slack: a response URL works 5 times.
    pub response_url_max_uses: u32,
    /// How long a `warning` disconnect leaves the socket open before the refresh
    /// (`refresh_requested`, then close); Slack warns ~10 s ahead.
    pub warning_grace: Duration,
    /// How long `send_slash_command`/`click_button` wait for an open Socket Mode
    /// connection before giving up (Slack would show the user `dispatch_failed`).
    pub dispatch_wait: Duration,
    /// How long a trigger id stays usable for `views.open` (Slack: 3 s).
    pub trigger_ttl: Duration,
    /// How long `submit_view` waits for the bot's ack before reporting that the bot
    /// never answered (Slack shows an error in the modal after 3 s; the sim waits
    /// longer so a loaded test machine does not turn a slow ack into a failure).
    pub ack_wait: Duration,
}

// Tokens are secrets: Debug shows which workspace this is, never the token values.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("port", &self.port)
            .field("app_token", &"***")
            .field("bot_token", &"***")
            .field("team_id", &self.team_id)
            .field("app_id", &self.app_id)
            .field("bot_user_id", &self.bot_user_id)
            .field("users", &self.users.len())
            .field("channels", &self.channels.len())
            .field("usergroups", &self.usergroups.len())
            .finish_non_exhaustive()
    }
}

impl Default for SimConfig {
    /// Team T0SIM, app A0SIM, bot U0BOT (`lockstep`, bot id B0SIM); channels C0DEPLOY
    /// `#deploy` and C0RELEASES `#releases`, both with the bot, U0PM (pm, "Priya PM"),
    /// U0DEV (dev, "Dev Singh") and U0ADMIN (admin, "Ada Admin", workspace admin), all
    /// in Asia/Kolkata; user group S0APPROVERS (`approvers`) = [U0DEV].
    fn default() -> Self {
        Self {
            port: 0,
            app_token: "xapp-1-A0SIM-1-simsecret".to_string(),
            bot_token: "xoxb-sim-bot-token".to_string(),
            team_id: "T0SIM".to_string(),
            team_name: "Lockstep Sim".to_string(),
            team_domain: "lockstep-sim".to_string(),
            app_id: "A0SIM".to_string(),
            bot_user_id: "U0BOT".to_string(),
            bot_id: "B0SIM".to_string(),
            bot_name: "lockstep".to_string(),
            users: vec![
                SimUser::new("U0BOT", "lockstep", "lockstep").bot(),
                SimUser::new("U0PM", "pm", "Priya PM").with_tz("Asia/Kolkata"),
                SimUser::new("U0DEV", "dev", "Dev Singh").with_tz("Asia/Kolkata"),
                SimUser::new("U0ADMIN", "admin", "Ada Admin")
                    .admin()
                    .with_tz("Asia/Kolkata"),
            ],
            channels: vec![
                SimChannel::new("C0DEPLOY", "deploy")
                    .with_members(&["U0PM", "U0DEV", "U0ADMIN", "U0BOT"]),
                SimChannel::new("C0RELEASES", "releases")
                    .with_members(&["U0PM", "U0DEV", "U0ADMIN", "U0BOT"]),
            ],
            usergroups: vec![SimUserGroup::new("S0APPROVERS", "approvers", &["U0DEV"])],
            max_connections: 10,
            response_url_ttl: Duration::from_secs(30 * 60),
            response_url_max_uses: 5,
            warning_grace: Duration::from_secs(10),
            dispatch_wait: Duration::from_secs(10),
            trigger_ttl: Duration::from_secs(3),
            ack_wait: Duration::from_secs(10),
        }
    }
}

impl SimConfig {
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Adds a user, replacing one with the same id.
    pub fn with_user(mut self, user: SimUser) -> Self {
        self.users.retain(|u| u.id != user.id);
        self.users.push(user);
        self
    }

    /// Adds a channel, replacing one with the same id.
    pub fn with_channel(mut self, channel: SimChannel) -> Self {
        self.channels.retain(|c| c.id != channel.id);
        self.channels.push(channel);
        self
    }

    /// Makes `user_id` a member of the existing channel `channel_id` (no-op if absent).
    pub fn with_channel_member(mut self, channel_id: &str, user_id: &str) -> Self {
        if let Some(channel) = self.channels.iter_mut().find(|c| c.id == channel_id) {
            if !channel.members.iter().any(|m| m == user_id) {
                channel.members.push(user_id.to_string());
            }
        }
        self
    }

    /// Adds a user group, replacing one with the same id.
    pub fn with_usergroup(mut self, group: SimUserGroup) -> Self {
        self.usergroups.retain(|g| g.id != group.id);
        self.usergroups.push(group);
        self
    }

    pub fn with_response_url_ttl(mut self, ttl: Duration) -> Self {
        self.response_url_ttl = ttl;
        self
    }

    pub fn with_warning_grace(mut self, grace: Duration) -> Self {
        self.warning_grace = grace;
        self
    }

    pub fn with_dispatch_wait(mut self, wait: Duration) -> Self {
        self.dispatch_wait = wait;
        self
    }

    pub fn with_trigger_ttl(mut self, ttl: Duration) -> Self {
        self.trigger_ttl = ttl;
        self
    }

    pub fn with_ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    pub fn user(&self, id: &str) -> Option<&SimUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Finds a channel by id, or by name with or without `#` (chat.postMessage accepts both).
    pub fn channel(&self, id_or_name: &str) -> Option<&SimChannel> {
        let name = id_or_name.trim_start_matches('#');
        self.channels
            .iter()
            .find(|c| c.id == id_or_name)
            .or_else(|| self.channels.iter().find(|c| c.name == name))
    }

    pub fn usergroup(&self, id: &str) -> Option<&SimUserGroup> {
        self.usergroups.iter().find(|g| g.id == id)
    }

    pub fn is_member(&self, channel_id: &str, user_id: &str) -> bool {
        self.channel(channel_id)
            .is_some_and(|c| c.members.iter().any(|m| m == user_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_workspace_matches_the_brief() {
        let config = SimConfig::default();
        assert_eq!(config.app_token, "xapp-1-A0SIM-1-simsecret");
        assert_eq!(config.bot_token, "xoxb-sim-bot-token");
        assert_eq!(config.user("U0PM").unwrap().real_name, "Priya PM");
        assert!(config.is_member("C0DEPLOY", "U0ADMIN"));
        assert!(config.user("U0ADMIN").unwrap().is_admin);
        assert_eq!(config.usergroup("S0APPROVERS").unwrap().users, ["U0DEV"]);
        assert_eq!(config.channel("#deploy").unwrap().id, "C0DEPLOY");
    }

    #[test]
    fn debug_never_shows_tokens() {
        let shown = format!("{:?}", SimConfig::default());
        assert!(!shown.contains("simsecret"));
        assert!(!shown.contains("xoxb"));
    }

    #[test]
    fn builders_replace_and_extend() {
        let config = SimConfig::default()
            .with_user(SimUser::new("U0PM", "pm2", "Other PM"))
            .with_channel(SimChannel::new("C0OPS", "ops"))
            .with_channel_member("C0OPS", "U0DEV")
            .with_usergroup(SimUserGroup::new("S0OPS", "ops", &["U0PM"]));
        assert_eq!(config.user("U0PM").unwrap().name, "pm2");
        assert!(config.is_member("C0OPS", "U0DEV"));
        assert!(!config.is_member("C0OPS", "U0PM"));
        assert_eq!(config.usergroup("S0OPS").unwrap().users, ["U0PM"]);
    }
}
