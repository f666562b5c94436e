//! The one error the grammar gives back: what is wrong, and the usage to follow.
//! Plain text (no Slack markup beyond backticks); the Slack layer escapes `& < >`
//! before sending it.

/// A command that cannot be run as typed. `Display` prints the problem on one line,
/// then `Usage: …` on the next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}\nUsage: {usage}")]
pub struct UsageError {
    /// The problem, one line, naming what to change.
    pub message: String,
    /// The usage line to follow, starting with the slash command's name.
    pub usage: String,
}

impl UsageError {
    pub fn new(message: impl Into<String>, usage: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: usage.into(),
        }
    }
}

/// Show a piece of what the person typed inside a one-line message: at most 40
/// characters, no line breaks, no backticks to break the surrounding quoting.
pub fn echo(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(40)
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    if text.chars().count() > 40 {
        shown.push('…');
    }
    format!("`{shown}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_problem_then_usage() {
        let err = UsageError::new("Missing <version>.", "/frappe-stack ship <version>");
        assert_eq!(
            err.to_string(),
            "Missing <version>.\nUsage: /frappe-stack ship <version>"
        );
    }

    #[test]
    fn echo_is_short_and_one_line() {
        assert_eq!(echo("a\nb`c"), "`a b'c`");
        let long = "x".repeat(100);
        assert_eq!(echo(&long), format!("`{}…`", "x".repeat(40)));
    }
}
