//! Typed commands and the parser from tokens to them. Which flags exist comes from
//! the spec table (`spec.rs`); this file turns their values into typed arguments and
//! says clearly what is wrong when it cannot. It renders commands back to text
//! (`Command::to_text`) and never does I/O.

use super::error::{echo, UsageError};
use super::help::{general_usage, usage_line};
use super::lexer::{render_token, tokenize, Segment, Token};
use super::spec::{FlagSpec, Subcommand};
use super::suggest::closest;
use super::values::{
    parse_version, EmergencyReason, EnvName, FamilySlug, FeatureSlug, GitRef, PrNumber, SiteSel,
};

/// Slack's limit on a slash command's text; longer input is refused up front.
pub const MAX_COMMAND_CHARS: usize = 4000;

/// The most audit entries one `audit` may ask for.
pub const MAX_AUDIT_ENTRIES: u32 = 200;

/// The longest window `stats --days` may look back over.
pub const MAX_STATS_DAYS: u32 = 365;

/// Flags people reach for to get past a safeguard; refused by name, never ignored.
pub const FORBIDDEN_FLAGS: [&str; 10] = [
    "--force",
    "--force-merge",
    "--force-push",
    "-f",
    "--admin",
    "--bypass",
    "--bypass-protection",
    "--no-verify",
    "--skip-checks",
    "--skip-diff",
];

/// The longest blueprint name (Frappe's `name` column is 140 characters).
pub const MAX_BLUEPRINT_CHARS: usize = 140;

/// A parsed slash command, one variant per subcommand (PRODUCT.md §3). Stored as
/// typed data (runs keep the command that started them); every value type checks
/// itself again when read back, so a stored command is as valid as a typed one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "subcommand", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Help {
        topic: Option<Subcommand>,
    },
    Status,
    Diff {
        site: SiteSel,
    },
    /// Always the staging site: production changes only through `bench migrate`
    /// of the production branch, so there is nothing else it could capture.
    Pull,
    Push {
        dry_run: bool,
    },
    Review {
        since: Option<GitRef>,
        blueprint: Option<String>,
    },
    Promote {
        /// `Some` for `--emergency --reason="…"`: the reason is required with it.
        emergency: Option<EmergencyReason>,
        /// Empty means every family with changes.
        only: Vec<FamilySlug>,
        feature: Option<FeatureSlug>,
        dry_run: bool,
    },
    Ship {
        version: semver::Version,
        notes_from: Option<PrNumber>,
        dry_run: bool,
    },
    Stats {
        /// `None` lets the handler choose its default.
        days: Option<u32>,
    },
    Rollback {
        git_ref: GitRef,
        dry_run: bool,
    },
    Unlock {
        env: EnvName,
        /// Why the lock is released (audited).
        reason: EmergencyReason,
    },
    Audit {
        /// `None` lets the handler choose its default.
        n: Option<u32>,
    },
}

impl Command {
    pub fn subcommand(&self) -> Subcommand {
        match self {
            Command::Help { .. } => Subcommand::Help,
            Command::Status => Subcommand::Status,
            Command::Diff { .. } => Subcommand::Diff,
            Command::Pull => Subcommand::Pull,
            Command::Push { .. } => Subcommand::Push,
            Command::Review { .. } => Subcommand::Review,
            Command::Promote { .. } => Subcommand::Promote,
            Command::Ship { .. } => Subcommand::Ship,
            Command::Stats { .. } => Subcommand::Stats,
            Command::Rollback { .. } => Subcommand::Rollback,
            Command::Unlock { .. } => Subcommand::Unlock,
            Command::Audit { .. } => Subcommand::Audit,
        }
    }

    /// True when running the command changes nothing anywhere (no site, branch,
    /// lock or release), so it needs no lock and no special right.
    pub fn is_read_only(&self) -> bool {
        match self {
            Command::Help { .. }
            | Command::Status
            | Command::Diff { .. }
            | Command::Review { .. }
            | Command::Stats { .. }
            | Command::Audit { .. } => true,
            Command::Push { dry_run }
            | Command::Promote { dry_run, .. }
            | Command::Ship { dry_run, .. }
            | Command::Rollback { dry_run, .. } => *dry_run,
            Command::Pull | Command::Unlock { .. } => false,
        }
    }

    /// The text after the slash command's name that parses back to this command,
    /// escaped as Slack would send it. Defaults are left out.
    pub fn to_text(&self) -> String {
        let mut words = vec![self.subcommand().name().to_string()];
        let flag = |name: &str, value: &[Segment]| format!("{name}={}", render_token(value));
        let text = |value: &str| vec![Segment::Text(value.to_string())];
        match self {
            Command::Help { topic } => words.extend(topic.map(|t| t.name().to_string())),
            Command::Status | Command::Pull => {}
            Command::Diff { site } => {
                if *site != SiteSel::Staging {
                    words.push(flag("--site", &text(site.as_str())));
                }
            }
            Command::Push { dry_run } => words.extend(switch("--dry-run", *dry_run)),
            Command::Review { since, blueprint } => {
                words.extend(since.as_ref().map(|r| flag("--since", &text(r.as_str()))));
                words.extend(blueprint.as_ref().map(|b| flag("--blueprint", &text(b))));
            }
            Command::Promote {
                emergency,
                only,
                feature,
                dry_run,
            } => {
                if let Some(reason) = emergency {
                    words.push("--emergency".into());
                    words.push(flag("--reason", reason.segments()));
                }
                if !only.is_empty() {
                    let list: Vec<&str> = only.iter().map(FamilySlug::as_str).collect();
                    words.push(flag("--only", &text(&list.join(","))));
                }
                words.extend(
                    feature
                        .as_ref()
                        .map(|f| flag("--feature", &text(f.as_str()))),
                );
                words.extend(switch("--dry-run", *dry_run));
            }
            Command::Ship {
                version,
                notes_from,
                dry_run,
            } => {
                words.push(version.to_string());
                words.extend(
                    notes_from.map(|pr| flag("--notes-from", &text(&pr.get().to_string()))),
                );
                words.extend(switch("--dry-run", *dry_run));
            }
            Command::Rollback { git_ref, dry_run } => {
                words.push(render_token(&text(git_ref.as_str())));
                words.extend(switch("--dry-run", *dry_run));
            }
            Command::Unlock { env, reason } => {
                words.push(env.as_str().to_string());
                words.push(flag("--reason", reason.segments()));
            }
            Command::Stats { days } => {
                words.extend(days.map(|d| flag("--days", &text(&d.to_string()))))
            }
            Command::Audit { n } => words.extend(n.map(|n| n.to_string())),
        }
        words.join(" ")
    }
}

fn switch(name: &str, on: bool) -> Option<String> {
    on.then(|| name.to_string())
}

/// Parse the text Slack sends after the slash command. `command_name` (e.g.
/// `/frappe-stack`) is used only to write usage lines. Empty text means `help`.
pub fn parse(text: &str, command_name: &str) -> Result<Command, UsageError> {
    let length = text.chars().count();
    if length > MAX_COMMAND_CHARS {
        return Err(UsageError::new(
            format!(
                "The command is {length} characters long; Slack allows at most \
                 {MAX_COMMAND_CHARS}. Shorten it (a long --reason can be summarised)."
            ),
            general_usage(command_name),
        ));
    }
    let tokens = tokenize(text).map_err(|err| {
        let usage = match first_word(text).and_then(Subcommand::from_name) {
            Some(sub) => usage_line(sub, command_name),
            None => general_usage(command_name),
        };
        UsageError::new(err.to_string(), usage)
    })?;
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(Command::Help { topic: None });
    };
    if first.is_flag_like() && flag_name(first).as_deref() == Some("--help") {
        // `/frappe-stack --help` reads naturally as the overview.
        return Ok(Command::Help { topic: None });
    }
    let sub = subcommand_of(first, command_name)?;
    if rest
        .iter()
        .any(|t| t.is_flag_like() && flag_name(t).as_deref() == Some("--help"))
    {
        return Ok(Command::Help { topic: Some(sub) });
    }
    let parser = Parser { sub, command_name };
    let args = parser.collect(rest)?;
    parser.build(args)
}

fn first_word(text: &str) -> Option<&str> {
    text.split_whitespace().next()
}

/// The flag's name, lowercased, without any `=value`; `None` if it has no text head.
fn flag_name(token: &Token) -> Option<String> {
    match token.segments.first() {
        Some(Segment::Text(head)) => {
            let name = head.split_once('=').map_or(head.as_str(), |(name, _)| name);
            Some(name.to_lowercase())
        }
        _ => None,
    }
}

/// Find a subcommand by name, to explain or to run, suggesting the closest on a miss.
pub fn subcommand_named(
    word: &str,
    what: &str,
    usage: String,
    command_name: &str,
) -> Result<Subcommand, UsageError> {
    Subcommand::from_name(word).ok_or_else(|| {
        let hint = match closest(word, Subcommand::names()) {
            Some(name) => format!("Did you mean `{name}`?"),
            None => format!("`{command_name} help` lists them all."),
        };
        UsageError::new(format!("{what} {}. {hint}", echo(word)), usage)
    })
}

fn subcommand_of(first: &Token, command_name: &str) -> Result<Subcommand, UsageError> {
    if first.is_flag_like() {
        let name = flag_name(first).unwrap_or_default();
        let owners: Vec<&str> = Subcommand::ALL
            .into_iter()
            .filter(|sub| sub.spec().flags.iter().any(|f| f.name == name))
            .map(Subcommand::name)
            .collect();
        let message = if owners.is_empty() {
            format!("Start with a subcommand, not the flag {}.", echo(&name))
        } else {
            format!(
                "Start with a subcommand: {} goes after {}.",
                echo(&name),
                or_list(&owners)
            )
        };
        return Err(UsageError::new(message, general_usage(command_name)));
    }
    subcommand_named(
        &first.plain(),
        "Unknown subcommand",
        general_usage(command_name),
        command_name,
    )
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Flags and positional arguments as typed, before their values are checked.
struct Args {
    flags: Vec<(&'static FlagSpec, Option<Vec<Segment>>)>,
    positionals: Vec<Token>,
}

impl Args {
    fn switch(&self, name: &str) -> bool {
        self.flags.iter().any(|(flag, _)| flag.name == name)
    }

    fn value(&self, name: &str) -> Option<&[Segment]> {
        self.flags
            .iter()
            .find(|(flag, _)| flag.name == name)
            .and_then(|(_, value)| value.as_deref())
    }
}

struct Parser<'a> {
    sub: Subcommand,
    command_name: &'a str,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> UsageError {
        UsageError::new(message, usage_line(self.sub, self.command_name))
    }

    /// Sort tokens into known flags (with their values) and positionals.
    fn collect(&self, tokens: &[Token]) -> Result<Args, UsageError> {
        let mut args = Args {
            flags: Vec::new(),
            positionals: Vec::new(),
        };
        let mut rest = tokens.iter().peekable();
        while let Some(token) = rest.next() {
            if !token.is_flag_like() {
                args.positionals.push(token.clone());
                continue;
            }
            let (flag, inline) = self.split_flag(token)?;
            if args.flags.iter().any(|(seen, _)| seen.name == flag.name) {
                return Err(self.error(format!(
                    "{} is given more than once; give it once.",
                    flag.name
                )));
            }
            let value = match (flag.takes_value(), inline) {
                (true, Some(value)) => Some(value),
                (true, None) => match rest.next_if(|next| !next.is_flag_like()) {
                    Some(next) => Some(next.segments.clone()),
                    None => {
                        return Err(self.error(format!(
                            "{} needs a value, e.g. {}.",
                            flag.name,
                            flag.display()
                        )))
                    }
                },
                (false, Some(_)) => {
                    return Err(self.error(format!(
                        "{} takes no value (found {}); write just {}.",
                        flag.name,
                        echo(&token.plain()),
                        flag.name
                    )))
                }
                (false, None) => None,
            };
            args.flags.push((flag, value));
        }
        Ok(args)
    }

    /// The known flag a token names, and its `=value` if written inline.
    fn split_flag(
        &self,
        token: &Token,
    ) -> Result<(&'static FlagSpec, Option<Vec<Segment>>), UsageError> {
        let (name, inline) = match token.segments.split_first() {
            Some((Segment::Text(head), tail)) => match head.split_once('=') {
                Some((name, value)) => {
                    let mut segments = vec![Segment::Text(value.to_string())];
                    segments.extend(tail.iter().cloned());
                    segments.retain(|s| !matches!(s, Segment::Text(t) if t.is_empty()));
                    (name.to_lowercase(), Some(segments))
                }
                None if tail.is_empty() => (head.to_lowercase(), None),
                None => (token.plain(), None),
            },
            _ => (token.plain(), None),
        };
        match self.sub.flag(&name) {
            Some(flag) => Ok((flag, inline)),
            None => Err(self.unknown_flag(&name)),
        }
    }

    fn unknown_flag(&self, name: &str) -> UsageError {
        let sub = self.sub;
        if FORBIDDEN_FLAGS.contains(&name) {
            return self.error(format!(
                "{} is refused: lockstep has no way to force a merge, bypass branch protection, force-push or skip the checklist. Production changes only through a reviewed, protected merge.",
                echo(name)
            ));
        }
        let problem = format!("Unknown flag {} for {sub}.", echo(name));
        if let Some(near) = closest(name, sub.flags().map(|f| f.name)) {
            return self.error(format!("{problem} Did you mean `{near}`?"));
        }
        let owners: Vec<&str> = Subcommand::ALL
            .into_iter()
            .filter(|other| other.spec().flags.iter().any(|f| f.name == name))
            .map(Subcommand::name)
            .collect();
        if !owners.is_empty() {
            return self.error(format!(
                "{problem} Only {} take{} {name}.",
                or_list(&owners).replace(" or ", " and "),
                if owners.len() == 1 { "s" } else { "" }
            ));
        }
        if sub.spec().flags.is_empty() {
            return self.error(format!("{problem} {sub} takes no flags."));
        }
        self.error(problem)
    }

    /// A value that must be plain text: links count as what was typed, mentions do not.
    fn plain(&self, what: &str, segments: &[Segment]) -> Result<String, UsageError> {
        if let Some(mention) = segments.iter().find_map(|s| match s {
            Segment::Mention(m) => Some(m),
            _ => None,
        }) {
            return Err(self.error(format!(
                "{what} expects plain text, but got {} ({}).",
                mention.kind(),
                echo(&mention.plain())
            )));
        }
        let text: String = segments.iter().map(Segment::plain).collect();
        if text.trim().is_empty() {
            return Err(self.error(format!("{what} is empty.")));
        }
        Ok(text)
    }

    /// A flag's value parsed by `parse`, with the flag named in any error.
    fn typed<T>(
        &self,
        args: &Args,
        flag: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, UsageError> {
        let Some(segments) = args.value(flag) else {
            return Ok(None);
        };
        let text = self.plain(flag, segments)?;
        parse(&text)
            .map(Some)
            .map_err(|why| self.error(format!("Invalid {flag}: {why}.")))
    }

    /// The positional arguments, checked against the spec's count.
    fn positionals(&self, args: &Args) -> Result<Vec<String>, UsageError> {
        let spec = self.sub.spec();
        if let Some(extra) = args.positionals.get(spec.args.len()) {
            return Err(self.error(self.extra_argument(args, extra)));
        }
        let mut values = Vec::new();
        for (arg, token) in spec.args.iter().zip(&args.positionals) {
            values.push(self.plain(arg.name, &token.segments)?);
        }
        if let Some(missing) = spec.args.get(values.len()).filter(|arg| arg.required) {
            return Err(self.error(format!(
                "Missing {}: {}.",
                missing.name,
                lower_first(missing.description)
            )));
        }
        Ok(values)
    }

    fn extra_argument(&self, args: &Args, extra: &Token) -> String {
        let spec = self.sub.spec();
        let problem = format!("Unexpected argument {}", echo(&extra.plain()));
        if self.sub == Subcommand::Promote
            && args.switch("--emergency")
            && args.value("--reason").is_none()
        {
            return format!("{problem}: give the reason as --reason=\"…\".");
        }
        if args.value("--only").is_some() {
            return format!("{problem}: list families with commas and no spaces, e.g. --only=a,b.");
        }
        let names: Vec<&str> = spec.args.iter().map(|a| a.name).collect();
        match names.as_slice() {
            [] => format!("{problem}: {} takes no arguments.", self.sub),
            [one] => format!("{problem}: {} takes only {one}.", self.sub),
            many => format!("{problem}: {} takes only {}.", self.sub, many.join(" ")),
        }
    }

    /// Turn sorted arguments into the typed command. Exhaustive: a new subcommand
    /// does not compile until it is parsed here.
    fn build(&self, args: Args) -> Result<Command, UsageError> {
        let positionals = self.positionals(&args)?;
        let positional = |i: usize| positionals.get(i).map(String::as_str);
        let command = match self.sub {
            Subcommand::Help => Command::Help {
                topic: positional(0)
                    .map(|word| {
                        let usage = usage_line(Subcommand::Help, self.command_name);
                        subcommand_named(word, "No help for", usage, self.command_name)
                    })
                    .transpose()?,
            },
            Subcommand::Status => Command::Status,
            Subcommand::Diff => Command::Diff {
                site: self
                    .typed(&args, "--site", SiteSel::parse)?
                    .unwrap_or_default(),
            },
            Subcommand::Pull => {
                if self.typed(&args, "--site", SiteSel::parse)? == Some(SiteSel::Prod) {
                    return Err(self.error(
                        "pull captures only the staging site: production changes only through \
                         bench migrate of the production branch (promote). To see drift on \
                         production, use diff --site=prod.",
                    ));
                }
                Command::Pull
            }
            Subcommand::Push => {
                if self.typed(&args, "--site", SiteSel::parse)? == Some(SiteSel::Prod) {
                    return Err(self.error(
                        "push writes only to the staging site: the bot never writes to \
                         production, which changes only through bench migrate of the \
                         production branch (promote).",
                    ));
                }
                Command::Push {
                    dry_run: args.switch("--dry-run"),
                }
            }
            Subcommand::Review => Command::Review {
                since: self.typed(&args, "--since", GitRef::parse)?,
                blueprint: self.typed(&args, "--blueprint", blueprint_name)?,
            },
            Subcommand::Promote => self.promote(&args)?,
            Subcommand::Ship => Command::Ship {
                version: self.positional_value("<version>", positional(0), parse_version)?,
                notes_from: self.typed(&args, "--notes-from", PrNumber::parse)?,
                dry_run: args.switch("--dry-run"),
            },
            Subcommand::Stats => Command::Stats {
                days: self.typed(&args, "--days", stats_days)?,
            },
            Subcommand::Rollback => Command::Rollback {
                git_ref: self.positional_value("<git-ref>", positional(0), GitRef::parse)?,
                dry_run: args.switch("--dry-run"),
            },
            Subcommand::Unlock => Command::Unlock {
                env: self.positional_value("<env>", positional(0), EnvName::parse)?,
                reason: match args.value("--reason") {
                    Some(segments) => EmergencyReason::from_segments(segments.to_vec())
                        .map_err(|why| self.error(format!("Invalid --reason: {why}.")))?,
                    None => return Err(self.error(
                        "unlock needs --reason=\"…\" saying why the lock can go (it is audited).",
                    )),
                },
            },
            Subcommand::Audit => Command::Audit {
                n: positional(0)
                    .map(|text| self.positional_value("<n>", Some(text), audit_count))
                    .transpose()?,
            },
        };
        Ok(command)
    }

    fn positional_value<T>(
        &self,
        name: &str,
        text: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, UsageError> {
        // `positionals` has already refused a missing required argument.
        let text = text.ok_or_else(|| self.error(format!("Missing {name}.")))?;
        parse(text).map_err(|why| self.error(format!("Invalid {name}: {why}.")))
    }

    fn promote(&self, args: &Args) -> Result<Command, UsageError> {
        let emergency = match (args.switch("--emergency"), args.value("--reason")) {
            (true, Some(segments)) => Some(
                EmergencyReason::from_segments(segments.to_vec())
                    .map_err(|why| self.error(format!("Invalid --reason: {why}.")))?,
            ),
            (true, None) => {
                return Err(
                    self.error("--emergency needs --reason=\"…\" saying why this cannot wait.")
                )
            }
            (false, Some(_)) => {
                return Err(self
                    .error("--reason is only for emergencies: add --emergency, or drop --reason."))
            }
            (false, None) => None,
        };
        Ok(Command::Promote {
            emergency,
            only: self.typed(args, "--only", family_list)?.unwrap_or_default(),
            feature: self.typed(args, "--feature", FeatureSlug::parse)?,
            dry_run: args.switch("--dry-run"),
        })
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `a,b, c` → families in order, duplicates dropped.
fn family_list(text: &str) -> Result<Vec<FamilySlug>, String> {
    let mut families: Vec<FamilySlug> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!(
                "{} has an empty family name; separate families with single commas",
                echo(text)
            ));
        }
        let family = FamilySlug::parse(item)?;
        if !families.contains(&family) {
            families.push(family);
        }
    }
    Ok(families)
}

fn blueprint_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.chars().count() > MAX_BLUEPRINT_CHARS {
        return Err(format!(
            "{} is longer than {MAX_BLUEPRINT_CHARS} characters, the longest name Frappe allows",
            echo(name)
        ));
    }
    Ok(name.to_string())
}

fn audit_count(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n)
            if (1..=MAX_AUDIT_ENTRIES).contains(&n) && text.chars().all(|c| c.is_ascii_digit()) =>
        {
            Ok(n)
        }
        _ => Err(format!(
            "{} is not a number from 1 to {MAX_AUDIT_ENTRIES}",
            echo(text)
        )),
    }
}

fn stats_days(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_STATS_DAYS).contains(&n) && text.chars().all(|c| c.is_ascii_digit()) => {
            Ok(n)
        }
        _ => Err(format!(
            "{} is not a number of days from 1 to {MAX_STATS_DAYS}",
            echo(text)
        )),
    }
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
