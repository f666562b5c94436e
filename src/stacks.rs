//! Several stacks in one bot. A stack is one Frappe staging/production pair with its
//! config repository, runner, access lists and rotation ([`crate::config::StackSection`]);
//! each is bound to its channels, and a command acts on the stack of the channel it
//! was typed in. A single-stack file is one stack named "" that answers everywhere.
//!
//! The stacks share the Slack connection and the store. What keeps them apart: every
//! run records its stack ([`crate::workflow::run::RunHeader::stack`]) and every piece
//! of work carries it to the performers, so a run is stepped with its own stack's
//! configuration and performed with its own adapters; locks and the watcher's digest
//! are stored under the stack's name ([`stack_key`]); and the store is read through
//! [`Scoped`], which shows a stack only its own runs and locks.

use crate::adapters::Adapters;
use crate::config::Config;
use crate::slack::api::SlackApi;
use crate::slack::render::code;
use crate::store::{EnvLock, Store, StoreError};
use crate::workflow::run::Run;
use anyhow::Context;
use std::sync::Arc;

/// One stack: its name, its channels (empty: every channel), the configuration it
/// acts on and its adapters.
pub struct Stack {
    pub name: String,
    pub channels: Vec<String>,
    pub config: Arc<Config>,
    pub adapters: Arc<Adapters>,
}

/// Every configured stack, in name order.
pub struct Stacks {
    stacks: Vec<Arc<Stack>>,
}

/// Why a command found no stack to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoStack(pub String);

impl Stacks {
    /// Resolves every stack's adapters from the configuration (no network).
    pub fn resolve(config: &Config, slack: &SlackApi) -> anyhow::Result<Self> {
        let stacks = config
            .stacks()
            .into_iter()
            .map(|stack| {
                let adapters =
                    Adapters::resolve(&stack.config, slack.clone()).with_context(|| {
                        if stack.name.is_empty() {
                            "while setting up the adapters".to_string()
                        } else {
                            format!("while setting up the adapters of [stacks.{}]", stack.name)
                        }
                    })?;
                Ok(Arc::new(Stack {
                    name: stack.name,
                    channels: stack.channels,
                    config: Arc::new(stack.config),
                    adapters: Arc::new(adapters),
                }))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Stacks { stacks })
    }

    /// The first stack by name (there is always one).
    pub fn first(&self) -> &Arc<Stack> {
        &self.stacks[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Stack>> {
        self.stacks.iter()
    }

    /// The stack of `name` (a run's), or None when the file no longer has it.
    pub fn named(&self, name: &str) -> Option<&Arc<Stack>> {
        self.stacks.iter().find(|stack| stack.name == name)
    }

    /// The stack a command typed in `channel` acts on, or what to tell the person.
    pub fn for_channel(&self, channel: &str) -> Result<&Arc<Stack>, NoStack> {
        if let Some(single) = self.stacks.iter().find(|stack| stack.name.is_empty()) {
            return Ok(single);
        }
        self.stacks
            .iter()
            .find(|stack| stack.channels.iter().any(|c| c == channel))
            .ok_or_else(|| NoStack(self.unbound_channel()))
    }

    /// The answer in a channel no stack is bound to: which stacks answer where.
    fn unbound_channel(&self) -> String {
        let bound: Vec<String> = self
            .stacks
            .iter()
            .map(|stack| {
                let channels: Vec<String> =
                    stack.channels.iter().map(|c| format!("<#{c}>")).collect();
                format!("{} in {}", code(&stack.name), channels.join(", "))
            })
            .collect();
        format!(
            ":information_source: This channel is not bound to any stack, so I cannot tell which sites you mean. Stacks: {}. Type the command in its stack's channel, or ask an admin to add this channel to `channels` in the stack's `[stacks.<name>]` table. Nothing was changed.",
            bound.join("; ")
        )
    }
}

/// The store key of `name` (an environment's lock, the watcher's digest) in `stack`:
/// `production` for a single stack (as before stacks existed), `hr/production` for
/// stack `hr`.
pub fn stack_key(stack: &str, name: &str) -> String {
    if stack.is_empty() {
        name.to_string()
    } else {
        format!("{stack}/{name}")
    }
}

/// The store as one stack sees it: its runs and its locks (named by environment,
/// without the stack's prefix).
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
    pub store: &'a Store,
    pub stack: &'a str,
}

impl<'a> Scoped<'a> {
    pub fn new(store: &'a Store, stack: &'a str) -> Self {
        Scoped { store, stack }
    }

    /// The stack's runs, in flight and kept as history.
    pub fn runs(&self) -> Result<Vec<Run>, StoreError> {
        Ok(self
            .store
            .runs()?
            .into_iter()
            .filter(|run| run.header().stack == self.stack)
            .collect())
    }

    /// The stack's environment locks, by environment name.
    pub fn locks(&self) -> Result<Vec<(String, EnvLock)>, StoreError> {
        Ok(self
            .store
            .locks()?
            .into_iter()
            .filter_map(|(key, lock)| Some((self.env_of(&key)?, lock)))
            .collect())
    }

    /// The environment a lock key names, when the key is this stack's.
    fn env_of(&self, key: &str) -> Option<String> {
        if self.stack.is_empty() {
            return (!key.contains('/')).then(|| key.to_string());
        }
        key.strip_prefix(self.stack)?
            .strip_prefix('/')
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_of_one_stack_are_not_seen_by_another() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hr = Scoped::new(&store, "hr");
        let ops = Scoped::new(&store, "ops");
        let single = Scoped::new(&store, "");
        assert_eq!(hr.env_of("hr/production").as_deref(), Some("production"));
        assert_eq!(ops.env_of("hr/production"), None);
        assert_eq!(single.env_of("hr/production"), None);
        assert_eq!(single.env_of("production").as_deref(), Some("production"));
        assert_eq!(hr.env_of("production"), None);
        // A stack whose name is another's prefix does not see its locks.
        assert_eq!(Scoped::new(&store, "h").env_of("hr/production"), None);
        assert_eq!(stack_key("", "production"), "production");
        assert_eq!(stack_key("hr", "production"), "hr/production");
    }

    /// `toml` with every secret it calls for set to a placeholder.
    fn config(toml: &str) -> Config {
        use crate::config::{site_env_var, FileConfig, Secrets};
        let file = FileConfig::parse(toml, "t.toml").unwrap();
        let mut env = std::collections::BTreeMap::from([
            ("SLACK_APP_TOKEN".to_string(), "xapp-1".to_string()),
            ("SLACK_BOT_TOKEN".to_string(), "xoxb-1".to_string()),
        ]);
        for site in file.all_sites() {
            env.insert(site_env_var(site, "KEY"), "k".into());
            env.insert(site_env_var(site, "SECRET"), "s".into());
        }
        let secrets = Secrets::from_env(&file, &env).unwrap();
        Config {
            file,
            secrets,
            base_dir: ".".into(),
        }
    }

    fn stacks_config() -> Config {
        config(
            r#"
[stacks.hr]
channels = ["C0HR"]
[stacks.hr.sites.hr_staging]
url = "http://127.0.0.1:1"
role = "staging"
[stacks.ops]
channels = ["C0OPS", "C0OPS2"]
[stacks.ops.sites.ops_staging]
url = "http://127.0.0.1:2"
role = "staging"
"#,
        )
    }

    #[tokio::test]
    async fn a_command_acts_on_the_stack_of_its_channel() {
        let config = stacks_config();
        let stacks = Stacks::resolve(&config, &SlackApi::new(&config)).unwrap();
        let names: Vec<&str> = stacks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["hr", "ops"]);
        assert_eq!(stacks.for_channel("C0HR").unwrap().name, "hr");
        assert_eq!(stacks.for_channel("C0OPS2").unwrap().name, "ops");
        let NoStack(answer) = stacks.for_channel("C0ELSE").err().unwrap();
        assert!(answer.contains("`hr` in <#C0HR>"), "{answer}");
        assert!(answer.contains("`ops` in <#C0OPS>, <#C0OPS2>"), "{answer}");
        assert!(answer.contains("Nothing was changed"), "{answer}");
        let hr = stacks.named("hr").unwrap();
        assert_eq!(
            hr.config.file.sites.keys().collect::<Vec<_>>(),
            ["hr_staging"]
        );
        assert!(hr
            .adapters
            .gaps()
            .iter()
            .any(|gap| gap.contains("[github]")));
        assert!(stacks.named("").is_none());
    }

    #[tokio::test]
    async fn a_single_stack_answers_in_every_channel() {
        let config = config("[sites.staging]\nurl = \"http://127.0.0.1:1\"\nrole = \"staging\"\n");
        let stacks = Stacks::resolve(&config, &SlackApi::new(&config)).unwrap();
        assert_eq!(stacks.iter().count(), 1);
        assert_eq!(stacks.for_channel("C0ANY").unwrap().name, "");
    }
}
