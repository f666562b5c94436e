//! Help text and usage lines, rendered from the spec table. Plain text meant for a
//! Slack code block: lines of at most 72 characters, aligned columns, no markup.
//! Owns layout only; what a subcommand is and takes lives in `spec.rs`.

use super::error::UsageError;
use super::grammar::subcommand_named;
use super::spec::{Subcommand, GLOBAL_FLAGS};

/// Lines are wrapped to this many characters.
pub const WIDTH: usize = 72;

/// `/frappe-stack promote [--emergency …] …` on one line, for error messages.
pub fn usage_line(sub: Subcommand, command_name: &str) -> String {
    format!("{command_name} {}", sub.spec().usage)
}

/// The usage shown when no subcommand is known yet.
pub fn general_usage(command_name: &str) -> String {
    format!("{command_name} <subcommand> [options]   (list them: {command_name} help)")
}

/// For the app manifest's `features.slash_commands[].description` (≤ 2000 chars).
pub const SLASH_DESCRIPTION: &str =
    "Promote Frappe configuration from staging to production through GitHub";

/// For the app manifest's `features.slash_commands[].usage_hint` (≤ 1000 chars),
/// shown by Slack's composer as the person types.
pub fn usage_hint() -> String {
    let names: Vec<&str> = Subcommand::names().collect();
    format!("{} [options]", names.join(" | "))
}

/// The overview (`None`) or one subcommand's usage, options and examples.
pub fn help(topic: Option<Subcommand>, command_name: &str) -> String {
    match topic {
        None => overview(command_name),
        Some(sub) => detail(sub, command_name),
    }
}

/// Help for a topic typed by a person; empty means the overview.
pub fn help_for(topic: &str, command_name: &str) -> Result<String, UsageError> {
    let topic = topic.trim();
    if topic.is_empty() {
        return Ok(overview(command_name));
    }
    let sub = subcommand_named(
        topic,
        "No help for",
        usage_line(Subcommand::Help, command_name),
        command_name,
    )?;
    Ok(detail(sub, command_name))
}

fn overview(command_name: &str) -> String {
    let mut out = String::new();
    out.push_str(
        "lockstep takes Frappe configuration from staging to production\n\
         through reviewed GitHub pull requests.\n\n",
    );
    out.push_str(&format!(
        "Usage: {command_name} <subcommand> [options]\n\nSubcommands:\n"
    ));
    let rows: Vec<(String, &str)> = Subcommand::ALL
        .into_iter()
        .map(|sub| (sub.name().to_string(), sub.spec().summary))
        .collect();
    out.push_str(&table(&rows));
    let help_flag = GLOBAL_FLAGS
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&format!(
        "\nFor one subcommand: {command_name} help <subcommand>\n\
         or add {help_flag} to it, e.g. {command_name} promote {help_flag}\n"
    ));
    out
}

fn detail(sub: Subcommand, command_name: &str) -> String {
    let spec = sub.spec();
    let mut out = String::new();
    for line in wrap(&format!("{}: {}", spec.name, spec.summary), WIDTH) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\nUsage:\n");
    out.push_str(&wrap_usage(command_name, spec.usage));
    out.push('\n');
    for line in wrap(spec.description, WIDTH) {
        out.push_str(&line);
        out.push('\n');
    }
    if !spec.args.is_empty() {
        let rows: Vec<(String, &str)> = spec
            .args
            .iter()
            .map(|arg| {
                let name = if arg.required {
                    arg.name.to_string()
                } else {
                    format!("[{}]", arg.name)
                };
                (name, arg.description)
            })
            .collect();
        out.push_str("\nArguments:\n");
        out.push_str(&table(&rows));
    }
    if !spec.flags.is_empty() {
        let rows: Vec<(String, &str)> = spec
            .flags
            .iter()
            .map(|flag| (flag.display(), flag.description))
            .collect();
        out.push_str("\nOptions:\n");
        out.push_str(&table(&rows));
    }
    out.push_str("\nExamples:\n");
    for example in spec.examples {
        out.push_str(&format!("  {command_name} {example}\n"));
    }
    out
}

/// Two aligned columns, indented by two; descriptions wrap under themselves.
fn table(rows: &[(String, &str)]) -> String {
    let column = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let text_width = WIDTH.saturating_sub(2 + column).max(20);
    let mut out = String::new();
    for (name, description) in rows {
        let lines = wrap(description, text_width);
        for (i, line) in lines.iter().enumerate() {
            let left = if i == 0 { name.as_str() } else { "" };
            out.push_str(format!("  {left:<column$}{line}").trim_end());
            out.push('\n');
        }
    }
    out
}

/// Greedy word wrap; a word longer than the width gets a line of its own.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The usage line, broken between bracketed groups and aligned after the name.
fn wrap_usage(command_name: &str, usage: &str) -> String {
    let mut groups = usage_groups(usage).into_iter();
    let head = format!("  {command_name} {}", groups.next().unwrap_or_default());
    let indent = head.chars().count() + 1;
    let mut out = String::new();
    let mut line = head;
    for group in groups {
        if line.chars().count() + 1 + group.chars().count() > WIDTH && line.trim().contains(' ') {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent - 1);
        }
        line.push(' ');
        line.push_str(&group);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Split a usage string at spaces outside brackets and quotes.
fn usage_groups(usage: &str) -> Vec<String> {
    let mut groups = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in usage.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '<' if !quoted => depth += 1,
            ']' | '>' if !quoted => depth = depth.saturating_sub(1),
            ' ' if depth == 0 && !quoted => {
                groups.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    groups.push(current);
    groups.retain(|g| !g.is_empty());
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &str = "/frappe-stack";

    #[test]
    fn overview_snapshot() {
        insta::assert_snapshot!("help_overview", help(None, CMD));
    }

    #[test]
    fn promote_snapshot() {
        insta::assert_snapshot!("help_promote", help(Some(Subcommand::Promote), CMD));
    }

    #[test]
    fn ship_snapshot() {
        insta::assert_snapshot!("help_ship", help(Some(Subcommand::Ship), CMD));
    }

    #[test]
    fn overview_lists_every_subcommand_with_its_summary() {
        let text = help(None, CMD);
        for sub in Subcommand::ALL {
            let row = format!("  {:<10}{}", sub.name(), sub.spec().summary);
            assert!(text.contains(&row), "missing {row:?}");
        }
    }

    #[test]
    fn every_detail_shows_usage_flags_args_and_examples() {
        for sub in Subcommand::ALL {
            let text = help(Some(sub), CMD);
            let spec = sub.spec();
            for flag in spec.flags {
                assert!(
                    text.contains(&format!("  {}", flag.display())),
                    "{sub}: {}",
                    flag.name
                );
            }
            for arg in spec.args {
                assert!(text.contains(arg.name), "{sub}: {}", arg.name);
            }
            for example in spec.examples {
                assert!(
                    text.contains(&format!("  {CMD} {example}\n")),
                    "{sub}: {example}"
                );
            }
        }
    }

    #[test]
    fn lines_are_short_and_have_no_trailing_space() {
        let mut texts = vec![help(None, CMD)];
        texts.extend(Subcommand::ALL.map(|sub| help(Some(sub), CMD)));
        for text in texts {
            for line in text.lines() {
                assert!(line.chars().count() <= WIDTH, "too long: {line:?}");
                assert_eq!(line, line.trim_end(), "trailing space: {line:?}");
            }
        }
    }

    #[test]
    fn command_name_is_used_everywhere() {
        let text = help(Some(Subcommand::Promote), "/stack");
        assert!(text.contains("  /stack promote"));
        assert!(!text.contains("/frappe-stack"));
        assert_eq!(
            usage_line(Subcommand::Unlock, "/stack"),
            "/stack unlock <env> --reason=\"…\""
        );
    }

    #[test]
    fn help_for_topics() {
        assert_eq!(
            help_for("promote", CMD).unwrap(),
            help(Some(Subcommand::Promote), CMD)
        );
        assert_eq!(
            help_for(" PROMOTE ", CMD).unwrap(),
            help(Some(Subcommand::Promote), CMD)
        );
        assert_eq!(help_for("", CMD).unwrap(), help(None, CMD));
        let err = help_for("pormote", CMD).unwrap_err();
        assert_eq!(
            err.to_string(),
            "No help for `pormote`. Did you mean `promote`?\nUsage: /frappe-stack help [<subcommand>]"
        );
        let err = help_for("nonsense", CMD).unwrap_err();
        assert_eq!(
            err.message,
            "No help for `nonsense`. `/frappe-stack help` lists them all."
        );
    }

    #[test]
    fn manifest_texts_fit_slack_limits() {
        let hint = usage_hint();
        assert!(
            hint.len() <= 1000 && hint.starts_with("help | status | diff"),
            "{hint}"
        );
        assert!(Subcommand::ALL.iter().all(|s| hint.contains(s.name())));
        assert!(!SLASH_DESCRIPTION.is_empty() && SLASH_DESCRIPTION.len() <= 2000);
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 10), Vec::<String>::new());
        assert_eq!(
            usage_groups("promote [--emergency --reason=\"… x\"] [--only=<a b>,…]"),
            [
                "promote",
                "[--emergency --reason=\"… x\"]",
                "[--only=<a b>,…]"
            ]
        );
    }
}
