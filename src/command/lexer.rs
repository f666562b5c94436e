//! Tokenizer for the text Slack sends after the slash command. It owns quoting
//! (straight and smart quotes, backslash escapes), Slack's escaping (`&amp;`, `&lt;`,
//! `&gt;`) and Slack's references (`<@U…>`, `<#C…|name>`, `<!subteam^S…>`, links),
//! which become typed [`Segment`]s. It knows nothing of subcommands or flags: the
//! grammar decides what a token means. It must never panic, whatever the input.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One piece of a token: plain text, or a reference Slack encoded for us.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Text(String),
    Mention(Mention),
    Link(Link),
}

/// A Slack reference to a person, channel, group or everyone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mention {
    /// `<@U123>` or `<@U123|name>`: a user (`U…`, or `W…` on Enterprise Grid).
    User { id: String, label: Option<String> },
    /// `<#C123|name>`: a channel.
    Channel { id: String, label: Option<String> },
    /// `<!subteam^S123|@team>`: a user group.
    UserGroup { id: String, label: Option<String> },
    /// `<!here>`, `<!channel>`, `<!everyone>`.
    Broadcast(Broadcast),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    Here,
    Channel,
    Everyone,
}

impl Broadcast {
    fn keyword(self) -> &'static str {
        match self {
            Broadcast::Here => "here",
            Broadcast::Channel => "channel",
            Broadcast::Everyone => "everyone",
        }
    }
}

/// `<https://…>` or `<https://…|label>`: Slack wraps anything that looks like a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Link {
    pub url: String,
    pub label: Option<String>,
}

impl Mention {
    /// Readable text without Slack markup, e.g. `@alice` or `@U123`.
    pub fn plain(&self) -> String {
        match self {
            Mention::User { id, label } => format!("@{}", label.as_deref().unwrap_or(id)),
            Mention::Channel { id, label } => format!("#{}", label.as_deref().unwrap_or(id)),
            Mention::UserGroup { id, label } => match label.as_deref() {
                Some(label) if label.starts_with('@') => label.to_string(),
                Some(label) => format!("@{label}"),
                None => format!("@{id}"),
            },
            Mention::Broadcast(b) => format!("@{}", b.keyword()),
        }
    }

    /// What kind of reference this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Mention::User { .. } => "a user mention",
            Mention::Channel { .. } => "a channel mention",
            Mention::UserGroup { .. } => "a user-group mention",
            Mention::Broadcast(_) => "an @here/@channel/@everyone mention",
        }
    }

    /// The form Slack sends, which Slack also renders as a live mention.
    pub fn to_slack(&self) -> String {
        fn with_label(head: String, label: &Option<String>) -> String {
            match label {
                Some(label) => format!("<{head}|{}>", escape_slack(label)),
                None => format!("<{head}>"),
            }
        }
        match self {
            Mention::User { id, label } => with_label(format!("@{id}"), label),
            Mention::Channel { id, label } => with_label(format!("#{id}"), label),
            Mention::UserGroup { id, label } => with_label(format!("!subteam^{id}"), label),
            Mention::Broadcast(b) => format!("<!{}>", b.keyword()),
        }
    }
}

impl Link {
    /// What the person typed: Slack keeps it as the label, or the URL itself.
    pub fn plain(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.url)
    }

    pub fn to_slack(&self) -> String {
        match &self.label {
            Some(label) => format!("<{}|{}>", escape_slack(&self.url), escape_slack(label)),
            None => format!("<{}>", escape_slack(&self.url)),
        }
    }
}

impl Segment {
    pub fn plain(&self) -> String {
        match self {
            Segment::Text(text) => text.clone(),
            Segment::Mention(m) => m.plain(),
            Segment::Link(l) => l.plain().to_string(),
        }
    }

    pub fn to_slack(&self) -> String {
        match self {
            Segment::Text(text) => escape_slack(text),
            Segment::Mention(m) => m.to_slack(),
            Segment::Link(l) => l.to_slack(),
        }
    }
}

/// One whitespace-separated word of the command, quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub segments: Vec<Segment>,
    /// The token began outside quotes and escapes, so a leading `-` makes it a flag;
    /// `"--x"` stays a literal value.
    pub bare_start: bool,
    /// 1-based character position in the input, for error messages.
    pub position: usize,
}

impl Token {
    /// The token's text with references shown readably (`@alice`, `#general`).
    pub fn plain(&self) -> String {
        self.segments.iter().map(Segment::plain).collect()
    }

    /// Does this token look like `--flag` (or `-x`, a likely mistyped flag)?
    /// `-5` is a (bad) number, not a flag.
    pub fn is_flag_like(&self) -> bool {
        let Some(Segment::Text(text)) = self.segments.first() else {
            return false;
        };
        let mut chars = text.chars();
        self.bare_start
            && chars.next() == Some('-')
            && chars.next().is_some_and(|c| !c.is_ascii_digit())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    UnclosedQuote {
        quote: char,
        position: usize,
        context: String,
    },
    ForbiddenChar {
        ch: char,
        position: usize,
    },
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnclosedQuote {
                quote,
                position,
                context,
            } => {
                let before = if context.is_empty() {
                    " (at the end)".to_string()
                } else {
                    format!(" (before `{context}`)")
                };
                write!(
                    f,
                    "Unclosed quote: the {quote} at character {position}{before} is never \
                     closed. Close it, or write \\{quote} for a literal quote."
                )
            }
            LexError::ForbiddenChar { ch, position } => write!(
                f,
                "The command contains an invisible control character (U+{:04X}) at character \
                 {position}. Remove it and try again.",
                *ch as u32
            ),
        }
    }
}

/// Characters that never belong in a command: control characters other than
/// whitespace, and bidirectional overrides that make text read differently than
/// it is stored (a reason in the audit log must say what it seems to say).
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !c.is_whitespace())
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible characters that some clients paste in; they never carry meaning here,
/// and leaving them in would make `--dry​-run` look right and fail.
pub fn is_ignorable_char(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// Escape text the way Slack does before sending it, so it reads back unchanged.
pub fn escape_slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// `"…"`: closed only by `"`, so smart quotes inside stay literal.
    StraightDouble,
    /// `“…”` (or `”…”`, which some clients produce): closed by any double quote.
    SmartDouble,
    StraightSingle,
    SmartSingle,
}

impl Quote {
    fn opened_by(c: char) -> Option<Quote> {
        match c {
            '"' => Some(Quote::StraightDouble),
            '\u{201C}' | '\u{201D}' => Some(Quote::SmartDouble),
            '\'' => Some(Quote::StraightSingle),
            '\u{2018}' | '\u{2019}' => Some(Quote::SmartSingle),
            _ => None,
        }
    }

    fn closed_by(self, c: char) -> bool {
        match self {
            Quote::StraightDouble => c == '"',
            Quote::SmartDouble => matches!(c, '"' | '\u{201C}' | '\u{201D}'),
            Quote::StraightSingle => c == '\'',
            Quote::SmartSingle => matches!(c, '\'' | '\u{2018}' | '\u{2019}'),
        }
    }

    fn is_single(self) -> bool {
        matches!(self, Quote::StraightSingle | Quote::SmartSingle)
    }
}

struct TokenBuilder {
    segments: Vec<Segment>,
    bare_start: bool,
    position: usize,
}

impl TokenBuilder {
    fn push_char(&mut self, c: char) {
        if let Some(Segment::Text(text)) = self.segments.last_mut() {
            text.push(c);
        } else {
            self.segments.push(Segment::Text(c.to_string()));
        }
    }

    fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push_char(c));
    }

    fn push_segment(&mut self, segment: Segment) {
        match segment {
            Segment::Text(text) => self.push_str(&text),
            other => self.segments.push(other),
        }
    }

    fn finish(self) -> Token {
        Token {
            segments: self.segments,
            bare_start: self.bare_start,
            position: self.position,
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    tokens: Vec<Token>,
    current: Option<TokenBuilder>,
}

impl Lexer {
    /// The token being built, started here if none is.
    fn token(&mut self, at: usize, bare: bool) -> &mut TokenBuilder {
        self.current.get_or_insert_with(|| TokenBuilder {
            segments: Vec::new(),
            bare_start: bare,
            position: at + 1,
        })
    }

    fn end_token(&mut self) {
        if let Some(builder) = self.current.take() {
            self.tokens.push(builder.finish());
        }
    }

    fn char_at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// An apostrophe between two letters (`don't`, `don’t`) is part of the word,
    /// not the start or end of a quote.
    fn is_apostrophe(&self, i: usize) -> bool {
        let c = self.chars[i];
        (c == '\'' || c == '\u{2019}')
            && i > 0
            && self.chars[i - 1].is_alphanumeric()
            && self.char_at(i + 1).is_some_and(char::is_alphanumeric)
    }
}

/// Split Slack's command text into tokens.
pub fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        chars: text.chars().collect(),
        tokens: Vec::new(),
        current: None,
    };
    let mut quote: Option<(Quote, usize)> = None;
    let mut i = 0;
    while i < lx.chars.len() {
        let c = lx.chars[i];
        if is_forbidden_char(c) {
            return Err(LexError::ForbiddenChar {
                ch: c,
                position: i + 1,
            });
        }
        if is_ignorable_char(c) {
            i += 1;
            continue;
        }
        // Slack's own markup means the same inside and outside quotes: a literal
        // `<` or `&` always arrives escaped.
        if let Some((segment, next)) = slack_markup(&lx.chars, i) {
            lx.token(i, true).push_segment(segment);
            i = next;
            continue;
        }
        match quote {
            Some((kind, _)) => {
                if kind.closed_by(c) && !(kind.is_single() && lx.is_apostrophe(i)) {
                    quote = None;
                } else if c == '\\'
                    && lx
                        .char_at(i + 1)
                        .is_some_and(|n| n == '\\' || kind.closed_by(n))
                {
                    let escaped = lx.chars[i + 1];
                    lx.token(i, false).push_char(escaped);
                    i += 1;
                } else {
                    lx.token(i, false).push_char(c);
                }
            }
            None => {
                if c.is_whitespace() {
                    lx.end_token();
                } else if c == '\\' && lx.char_at(i + 1).is_some_and(is_escapable_bare) {
                    let escaped = lx.chars[i + 1];
                    lx.token(i, false).push_char(escaped);
                    i += 1;
                } else if let Some(kind) = Quote::opened_by(c).filter(|_| !lx.is_apostrophe(i)) {
                    lx.token(i, false);
                    quote = Some((kind, i));
                } else if matches!(c, '\u{2014}' | '\u{2013}') && lx.current.is_none() {
                    // Smart punctuation turns a typed `--` into a dash; undo it.
                    lx.token(i, true).push_str("--");
                } else {
                    lx.token(i, true).push_char(c);
                }
            }
        }
        i += 1;
    }
    if let Some((_, at)) = quote {
        return Err(LexError::UnclosedQuote {
            quote: lx.chars[at],
            position: at + 1,
            context: quote_context(&lx.chars[at + 1..]),
        });
    }
    lx.end_token();
    Ok(lx.tokens)
}

/// Up to 20 characters after an unclosed quote, on one line, for the error message.
fn quote_context(after: &[char]) -> String {
    let shown: String = after
        .iter()
        .take(20)
        .map(|&c| match c {
            '`' => '\'',
            c if c.is_whitespace() || c.is_control() => ' ',
            c => c,
        })
        .collect();
    let ellipsis = if after.len() > 20 { "…" } else { "" };
    format!("{}{ellipsis}", shown.trim_end())
}

fn is_escapable_bare(c: char) -> bool {
    c == '\\' || c.is_whitespace() || Quote::opened_by(c).is_some()
}

/// `&amp;` `&lt;` `&gt;` or a `<…>` reference starting at `i`; returns the decoded
/// segment and the index after it. A `<` without a recognisable reference is
/// left to be read as a literal character.
fn slack_markup(chars: &[char], i: usize) -> Option<(Segment, usize)> {
    match chars[i] {
        '&' => html_entity(chars, i).map(|(c, next)| (Segment::Text(c.to_string()), next)),
        '<' => {
            let len = chars[i + 1..]
                .iter()
                .take_while(|&&c| c != '>' && c != '<')
                .count();
            let close = i + 1 + len;
            if chars.get(close) != Some(&'>') {
                return None;
            }
            let inner: String = chars[i + 1..close].iter().collect();
            reference(&inner).map(|segment| (segment, close + 1))
        }
        _ => None,
    }
}

fn html_entity(chars: &[char], i: usize) -> Option<(char, usize)> {
    for (name, decoded) in [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')] {
        let len = name.chars().count();
        if chars.len() >= i + len && chars[i..i + len].iter().copied().eq(name.chars()) {
            return Some((decoded, i + len));
        }
    }
    None
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Read the inside of `<…>` as Slack defines it; `None` for anything unrecognised.
fn reference(inner: &str) -> Option<Segment> {
    let (head, label) = match inner.split_once('|') {
        Some((head, label)) => (head, Some(decode_entities(label))),
        None => (inner, None),
    };
    if let Some(id) = head.strip_prefix('@') {
        return is_slack_id(id, &['U', 'W']).then(|| {
            Segment::Mention(Mention::User {
                id: id.to_string(),
                label,
            })
        });
    }
    if let Some(id) = head.strip_prefix('#') {
        return is_slack_id(id, &['C', 'G', 'D']).then(|| {
            Segment::Mention(Mention::Channel {
                id: id.to_string(),
                label,
            })
        });
    }
    if let Some(id) = head.strip_prefix("!subteam^") {
        return is_slack_id(id, &['S']).then(|| {
            Segment::Mention(Mention::UserGroup {
                id: id.to_string(),
                label,
            })
        });
    }
    if let Some(rest) = head.strip_prefix('!') {
        return match rest {
            "here" => Some(Segment::Mention(Mention::Broadcast(Broadcast::Here))),
            "channel" => Some(Segment::Mention(Mention::Broadcast(Broadcast::Channel))),
            "everyone" => Some(Segment::Mention(Mention::Broadcast(Broadcast::Everyone))),
            // `<!date^…|fallback>`: the fallback is what the person sees.
            _ if rest.starts_with("date^") => label.map(Segment::Text),
            _ => None,
        };
    }
    has_url_scheme(head).then(|| {
        Segment::Link(Link {
            url: decode_entities(head),
            label,
        })
    })
}

/// Slack ids: a kind letter then capital letters and digits (same rule as `ids.rs`).
pub fn is_slack_id(id: &str, prefixes: &[char]) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(first) if prefixes.contains(&first))
        && (2..=20).contains(&id.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn has_url_scheme(text: &str) -> bool {
    match text.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Characters a value may contain and still be written without quotes.
fn is_bare_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '-' | '/' | ',' | ':' | '+' | '@' | '#' | '=')
}

/// Render segments as one token that [`tokenize`] reads back to the same segments:
/// bare when that is unambiguous, otherwise double-quoted with escapes.
pub fn render_token(segments: &[Segment]) -> String {
    let bare = match segments {
        [Segment::Text(text)] => {
            !text.is_empty() && !text.starts_with('-') && text.chars().all(is_bare_safe)
        }
        _ => false,
    };
    if bare {
        return segments[0].to_slack();
    }
    let mut out = String::from("\"");
    for segment in segments {
        match segment {
            Segment::Text(text) => {
                for c in escape_slack(text).chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            other => out.push_str(&other.to_slack()),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<String> {
        tokenize(input).unwrap().iter().map(Token::plain).collect()
    }

    fn text(s: &str) -> Segment {
        Segment::Text(s.to_string())
    }

    #[test]
    fn splits_on_any_whitespace() {
        assert_eq!(
            texts("  promote\t--dry-run \n x\u{a0}y "),
            ["promote", "--dry-run", "x", "y"]
        );
        assert!(tokenize("").unwrap().is_empty());
        assert!(tokenize("   ").unwrap().is_empty());
    }

    #[test]
    fn double_and_single_quotes_group_words() {
        assert_eq!(
            texts(r#"--reason="db patch" x"#),
            ["--reason=db patch", "x"]
        );
        assert_eq!(texts(r#"--reason "db patch""#), ["--reason", "db patch"]);
        assert_eq!(texts("--reason='db patch'"), ["--reason=db patch"]);
        assert_eq!(texts(r#"a"b c"d"#), ["ab cd"]);
    }

    #[test]
    fn smart_quotes_work_like_straight_ones() {
        assert_eq!(texts("--reason=“db patch”"), ["--reason=db patch"]);
        assert_eq!(texts("--reason=”db patch”"), ["--reason=db patch"]);
        assert_eq!(texts("--reason=‘db patch’"), ["--reason=db patch"]);
        // Inside straight quotes, smart quotes are just characters.
        assert_eq!(texts(r#""he said “hi”""#), ["he said “hi”"]);
    }

    #[test]
    fn apostrophes_inside_words_are_not_quotes() {
        assert_eq!(texts("--reason=don't"), ["--reason=don't"]);
        assert_eq!(texts("--reason=‘don’t stop’"), ["--reason=don’t stop"]);
        assert_eq!(texts("don’t"), ["don’t"]);
    }

    #[test]
    fn backslash_escapes_quotes() {
        assert_eq!(texts(r#""say \"hi\" \\ now""#), [r#"say "hi" \ now"#]);
        assert_eq!(texts(r#"'it\'s'"#), ["it's"]);
        assert_eq!(texts(r#"a\"b"#), [r#"a"b"#]);
        assert_eq!(texts(r"a\ b"), ["a b"]);
        // A backslash before anything else is itself.
        assert_eq!(texts(r#""c:\temp""#), [r"c:\temp"]);
    }

    #[test]
    fn empty_quotes_make_an_empty_token() {
        let tokens = tokenize(r#"--reason """#).unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens[1].segments.is_empty());
        assert!(!tokens[1].bare_start);
    }

    #[test]
    fn unbalanced_quote_is_a_clear_error() {
        let err = tokenize(r#"promote --reason="db patch"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unclosed quote: the \" at character 18 (before `db patch`) is never closed. \
             Close it, or write \\\" for a literal quote."
        );
        assert!(matches!(
            tokenize("'abc"),
            Err(LexError::UnclosedQuote { position: 1, .. })
        ));
        assert_eq!(
            tokenize("--reason=dogs'").unwrap_err().to_string(),
            "Unclosed quote: the ' at character 14 (at the end) is never closed. \
             Close it, or write \\' for a literal quote."
        );
    }

    #[test]
    fn slack_entities_are_decoded() {
        assert_eq!(texts("a&amp;b &lt;x&gt; &quot;"), ["a&b", "<x>", "&quot;"]);
        assert_eq!(texts(r#""R&amp;D""#), ["R&D"]);
    }

    #[test]
    fn mentions_become_typed_segments() {
        let tokens =
            tokenize("<@U123> <@W9|ann lee> <#C42|general> <!subteam^S7|@ops> <!here>").unwrap();
        let segs: Vec<_> = tokens.into_iter().map(|t| t.segments).collect();
        assert_eq!(
            segs,
            vec![
                vec![Segment::Mention(Mention::User {
                    id: "U123".into(),
                    label: None
                })],
                vec![Segment::Mention(Mention::User {
                    id: "W9".into(),
                    label: Some("ann lee".into())
                })],
                vec![Segment::Mention(Mention::Channel {
                    id: "C42".into(),
                    label: Some("general".into())
                })],
                vec![Segment::Mention(Mention::UserGroup {
                    id: "S7".into(),
                    label: Some("@ops".into())
                })],
                vec![Segment::Mention(Mention::Broadcast(Broadcast::Here))],
            ]
        );
    }

    #[test]
    fn mentions_inside_quoted_values_stay_typed() {
        let tokens = tokenize(r#"--reason="asked by <@U1|ann>, ok""#).unwrap();
        assert_eq!(
            tokens[0].segments,
            vec![
                text("--reason=asked by "),
                Segment::Mention(Mention::User {
                    id: "U1".into(),
                    label: Some("ann".into())
                }),
                text(", ok"),
            ]
        );
        assert_eq!(tokens[0].plain(), "--reason=asked by @ann, ok");
    }

    #[test]
    fn links_and_dates_are_read() {
        let tokens =
            tokenize("<https://x.io/a?b=1&amp;c=2|x.io> <!date^1392734382^{date}|Feb 18>").unwrap();
        assert_eq!(
            tokens[0].segments,
            vec![Segment::Link(Link {
                url: "https://x.io/a?b=1&c=2".into(),
                label: Some("x.io".into())
            })]
        );
        assert_eq!(tokens[1].plain(), "Feb 18");
    }

    #[test]
    fn unrecognised_angle_brackets_are_literal() {
        assert_eq!(
            texts("<@lower> <nope> <@U1"),
            ["<@lower>", "<nope>", "<@U1"]
        );
    }

    #[test]
    fn flags_are_bare_dashes_and_smart_dashes_are_undone() {
        let tokens = tokenize(r#"--a "--b" —c –d -e x-y -5 -"#).unwrap();
        let flags: Vec<_> = tokens.iter().map(Token::is_flag_like).collect();
        assert_eq!(flags, [true, false, true, true, true, false, false, false]);
        assert_eq!(tokens[2].plain(), "--c");
        assert_eq!(tokens[3].plain(), "--d");
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        assert_eq!(
            tokenize("status\u{7}").unwrap_err(),
            LexError::ForbiddenChar {
                ch: '\u{7}',
                position: 7
            }
        );
        assert!(tokenize("a\u{202E}b").is_err());
        assert_eq!(texts("--dry\u{200B}-run"), ["--dry-run"]);
    }

    #[test]
    fn render_token_reads_back() {
        let cases = vec![
            vec![text("plain")],
            vec![text("two words")],
            vec![],
            vec![text("-leading-dash")],
            vec![text(r#"q"uo\te'’“"#)],
            vec![text("a<b>&c")],
            vec![
                text("by "),
                Segment::Mention(Mention::User {
                    id: "U1".into(),
                    label: Some("a|b>c".into()),
                }),
                Segment::Link(Link {
                    url: "https://a.b/?x&y".into(),
                    label: None,
                }),
            ],
        ];
        for segments in cases {
            let rendered = render_token(&segments);
            let tokens = tokenize(&rendered).unwrap();
            assert_eq!(tokens.len(), 1, "{rendered}");
            assert_eq!(tokens[0].segments, segments, "{rendered}");
        }
    }
}
