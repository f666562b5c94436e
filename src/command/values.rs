//! Typed argument values of the slash command. Each is checked once, when it is
//! made, and is valid from then on ("parse, don't validate"). Errors are one
//! clause that names the value and what is wrong with it; the grammar adds which
//! flag or argument it came from. Nothing here knows about flags or Slack.

use super::error::echo;
use super::lexer::{is_forbidden_char, is_ignorable_char, Segment};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which site `diff` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SiteSel {
    #[default]
    Staging,
    Prod,
}

impl SiteSel {
    pub fn parse(text: &str) -> Result<Self, String> {
        match EnvName::parse(text)? {
            EnvName::Staging => Ok(SiteSel::Staging),
            EnvName::Production => Ok(SiteSel::Prod),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SiteSel::Staging => "staging",
            SiteSel::Prod => "prod",
        }
    }
}

/// An environment whose lock `unlock` releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EnvName {
    Staging,
    Production,
}

impl EnvName {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_lowercase().as_str() {
            "staging" => Ok(EnvName::Staging),
            "prod" | "production" => Ok(EnvName::Production),
            _ => Err(format!(
                "{} is not an environment; use staging or prod",
                echo(text)
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnvName::Staging => "staging",
            EnvName::Production => "prod",
        }
    }
}

/// A git ref name (branch or tag, by `git check-ref-format` rules) or a commit sha.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GitRef(String);

impl GitRef {
    pub fn parse(text: &str) -> Result<Self, String> {
        match ref_name_problem(text) {
            None => Ok(GitRef(text.to_string())),
            Some(problem) => Err(format!("{} is not a valid git ref: {problem}", echo(text))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 7 to 40 hex digits: most likely a commit, though git would also accept it
    /// as a branch name, so callers resolve it before trusting either reading.
    pub fn looks_like_sha(&self) -> bool {
        (7..=40).contains(&self.0.len()) && self.0.chars().all(|c| c.is_ascii_hexdigit())
    }
}

impl fmt::Display for GitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why `name` is not a ref git would accept, per `git check-ref-format --branch`.
fn ref_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > 255 {
        return Some("it is longer than 255 bytes");
    }
    if name.starts_with('-') {
        return Some("it starts with -");
    }
    if name == "@" {
        return Some("@ alone is not a ref");
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return Some(if c.is_whitespace() {
            "it contains a space"
        } else if c.is_control() {
            "it contains a control character"
        } else {
            "it contains one of ~ ^ : ? * [ \\"
        });
    }
    if name.contains("..") {
        return Some("it contains ..");
    }
    if name.contains("@{") {
        return Some("it contains @{");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("it starts or ends with / or contains //");
    }
    if name.ends_with('.') {
        return Some("it ends with .");
    }
    for component in name.split('/') {
        if component.starts_with('.') {
            return Some("a part of it starts with .");
        }
        if component.ends_with(".lock") {
            return Some("a part of it ends with .lock");
        }
    }
    None
}

/// Slugs: lowercase letters, digits and `-`, 1 to 40 long, not starting or ending
/// with `-` (a leading dash would read as a flag). Input is lowercased first.
fn slug(text: &str, what: &str) -> Result<String, String> {
    let lower = text.to_lowercase();
    let fine = (1..=40).contains(&lower.chars().count())
        && lower
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !lower.starts_with('-')
        && !lower.ends_with('-');
    if fine {
        Ok(lower)
    } else {
        Err(format!(
            "{} is not a {what}: use 1 to 40 lowercase letters, digits and dashes, \
             e.g. beneficiary-approval",
            echo(text)
        ))
    }
}

/// A family of blueprints, named after its root DocType or Dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FamilySlug(String);

impl FamilySlug {
    pub fn parse(text: &str) -> Result<Self, String> {
        slug(text, "family name").map(FamilySlug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FamilySlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The feature name that goes into a promote branch name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeatureSlug(String);

impl FeatureSlug {
    pub fn parse(text: &str) -> Result<Self, String> {
        slug(text, "feature name").map(FeatureSlug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FeatureSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pull request number, written `42` or `#42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct PrNumber(u64);

impl PrNumber {
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix('#').unwrap_or(text);
        match digits.parse::<u64>() {
            Ok(n) if n > 0 && digits.chars().all(|c| c.is_ascii_digit()) => Ok(PrNumber(n)),
            _ => Err(format!(
                "{} is not a pull request number; write it like 42 or #42",
                echo(text)
            )),
        }
    }

    pub fn new(n: u64) -> Option<Self> {
        (n > 0).then_some(PrNumber(n))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A release version; a leading `v` is accepted and dropped.
pub fn parse_version(text: &str) -> Result<semver::Version, String> {
    let bare = text.strip_prefix(['v', 'V']).unwrap_or(text);
    semver::Version::parse(bare).map_err(|_| {
        format!(
            "{} is not a semantic version; write MAJOR.MINOR.PATCH, e.g. 1.4.0",
            echo(text)
        )
    })
}

/// The longest reason we keep; it goes into the PR body, the thread and the audit log.
pub const MAX_REASON_CHARS: usize = 500;

/// Why an emergency promotion cannot wait: non-empty text, mentions kept typed so the
/// bot can show `@ann` in Slack as a live mention and as plain text elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<Segment>", into = "Vec<Segment>")]
pub struct EmergencyReason(Vec<Segment>);

impl EmergencyReason {
    /// Normalises (drops invisible characters, merges text, trims the ends) and
    /// refuses empty, over-long or control-character reasons.
    pub fn from_segments(segments: Vec<Segment>) -> Result<Self, String> {
        let mut merged: Vec<Segment> = Vec::new();
        for segment in segments {
            match (merged.last_mut(), segment) {
                (_, Segment::Text(text)) if text.chars().any(is_forbidden_char) => {
                    return Err("the reason contains a control character; remove it".into());
                }
                (Some(Segment::Text(last)), Segment::Text(text)) => {
                    last.extend(text.chars().filter(|c| !is_ignorable_char(*c)));
                }
                (_, Segment::Text(text)) => {
                    merged.push(Segment::Text(
                        text.chars().filter(|c| !is_ignorable_char(*c)).collect(),
                    ));
                }
                (_, other) => merged.push(other),
            }
        }
        trim_segments(&mut merged);
        let reason = EmergencyReason(merged);
        let length = reason.plain().chars().count();
        if length == 0 {
            Err("the reason is empty; say why this emergency cannot wait".into())
        } else if length > MAX_REASON_CHARS {
            Err(format!(
                "the reason is {length} characters long; keep it under {MAX_REASON_CHARS}"
            ))
        } else {
            Ok(reason)
        }
    }

    pub fn from_text(text: &str) -> Result<Self, String> {
        Self::from_segments(vec![Segment::Text(text.to_string())])
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Readable text with mentions as `@name`, for GitHub and logs.
    pub fn plain(&self) -> String {
        self.0.iter().map(Segment::plain).collect()
    }

    /// Slack markup with live mentions and `& < >` escaped.
    pub fn to_slack(&self) -> String {
        self.0.iter().map(Segment::to_slack).collect()
    }
}

impl fmt::Display for EmergencyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plain())
    }
}

/// Conversions for serde: stored values are checked again when read back.
macro_rules! string_serde {
    ($($type:ty),+ $(,)?) => {$(
        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                <$type>::parse(&text)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.as_str().to_string()
            }
        }
    )+};
}

string_serde!(SiteSel, EnvName, GitRef, FamilySlug, FeatureSlug);

impl TryFrom<u64> for PrNumber {
    type Error = String;
    fn try_from(n: u64) -> Result<Self, String> {
        PrNumber::new(n).ok_or_else(|| "a pull request number is at least 1".to_string())
    }
}

impl From<PrNumber> for u64 {
    fn from(pr: PrNumber) -> u64 {
        pr.0
    }
}

impl TryFrom<Vec<Segment>> for EmergencyReason {
    type Error = String;
    fn try_from(segments: Vec<Segment>) -> Result<Self, String> {
        EmergencyReason::from_segments(segments)
    }
}

impl From<EmergencyReason> for Vec<Segment> {
    fn from(reason: EmergencyReason) -> Vec<Segment> {
        reason.0
    }
}

/// Trim whitespace at both ends of a segment list, dropping text left empty.
fn trim_segments(segments: &mut Vec<Segment>) {
    if let Some(Segment::Text(first)) = segments.first_mut() {
        *first = first.trim_start().to_string();
    }
    if let Some(Segment::Text(last)) = segments.last_mut() {
        *last = last.trim_end().to_string();
    }
    segments.retain(|s| !matches!(s, Segment::Text(t) if t.is_empty()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lexer::Mention;

    #[test]
    fn git_refs_follow_check_ref_format() {
        for good in [
            "main",
            "v1.2.0",
            "release/2024-06",
            "3f2a9c1",
            "feature/ünïcode",
            "a.b",
        ] {
            assert!(GitRef::parse(good).is_ok(), "{good}");
        }
        let cases = [
            ("", "it is empty"),
            ("a..b", "it contains .."),
            ("has space", "it contains a space"),
            ("main~1", "it contains one of ~ ^ : ? * [ \\"),
            ("HEAD^", "it contains one of ~ ^ : ? * [ \\"),
            ("a:b", "it contains one of ~ ^ : ? * [ \\"),
            ("a\\b", "it contains one of ~ ^ : ? * [ \\"),
            ("x.lock", "a part of it ends with .lock"),
            ("x.lock/y", "a part of it ends with .lock"),
            ("dir/", "it starts or ends with / or contains //"),
            ("/dir", "it starts or ends with / or contains //"),
            ("a//b", "it starts or ends with / or contains //"),
            ("a@{1}", "it contains @{"),
            ("@", "@ alone is not a ref"),
            ("a.", "it ends with ."),
            (".hidden", "a part of it starts with ."),
            ("-x", "it starts with -"),
            ("a\u{1}b", "it contains a control character"),
        ];
        for (bad, why) in cases {
            let err = GitRef::parse(bad).unwrap_err();
            assert!(err.ends_with(why), "{bad:?}: {err}");
        }
        assert!(GitRef::parse(&"a".repeat(255)).is_ok());
        assert!(GitRef::parse(&"a".repeat(256)).is_err());
        assert!(GitRef::parse("3f2a9c1").unwrap().looks_like_sha());
        assert!(!GitRef::parse("3f2a9c").unwrap().looks_like_sha());
        assert!(!GitRef::parse("main").unwrap().looks_like_sha());
    }

    #[test]
    fn slugs_are_lowercased_and_checked() {
        assert_eq!(
            FamilySlug::parse("Beneficiary-2").unwrap().as_str(),
            "beneficiary-2"
        );
        assert_eq!(FeatureSlug::parse("intake").unwrap().as_str(), "intake");
        for bad in ["", "-a", "a-", "a_b", "a b", "é", &"a".repeat(41)] {
            assert!(FamilySlug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            FamilySlug::parse("a_b").unwrap_err(),
            "`a_b` is not a family name: use 1 to 40 lowercase letters, digits and dashes, \
             e.g. beneficiary-approval"
        );
    }

    #[test]
    fn pr_numbers() {
        assert_eq!(PrNumber::parse("42").unwrap().get(), 42);
        assert_eq!(PrNumber::parse("#42").unwrap().get(), 42);
        for bad in [
            "0",
            "#0",
            "-1",
            "+1",
            "x",
            "#",
            "",
            "99999999999999999999999",
        ] {
            assert!(PrNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PrNumber::new(0), None);
    }

    #[test]
    fn versions_accept_a_leading_v() {
        assert_eq!(
            parse_version("v0.1.0").unwrap(),
            semver::Version::new(0, 1, 0)
        );
        assert_eq!(
            parse_version("1.4.0-rc.1").unwrap().to_string(),
            "1.4.0-rc.1"
        );
        assert!(parse_version("1.4").is_err());
        assert!(parse_version("vv1.0.0").is_err());
    }

    #[test]
    fn environments() {
        assert_eq!(EnvName::parse("PROD").unwrap(), EnvName::Production);
        assert_eq!(EnvName::parse("production").unwrap(), EnvName::Production);
        assert_eq!(SiteSel::parse("staging").unwrap(), SiteSel::Staging);
        assert_eq!(
            EnvName::parse("qa").unwrap_err(),
            "`qa` is not an environment; use staging or prod"
        );
    }

    #[test]
    fn values_serialise_as_their_text_and_are_checked_when_read() {
        let family = FamilySlug::parse("grant").unwrap();
        assert_eq!(serde_json::to_string(&family).unwrap(), "\"grant\"");
        assert_eq!(
            serde_json::from_str::<FamilySlug>("\"grant\"").unwrap(),
            family
        );
        assert!(serde_json::from_str::<FamilySlug>("\"Not A Slug\"").is_err());
        assert!(serde_json::from_str::<GitRef>("\"a..b\"").is_err());
        assert_eq!(
            serde_json::to_string(&EnvName::Production).unwrap(),
            "\"prod\""
        );
        assert_eq!(
            serde_json::to_string(&PrNumber::new(7).unwrap()).unwrap(),
            "7"
        );
        assert!(serde_json::from_str::<PrNumber>("0").is_err());
        let reason = EmergencyReason::from_segments(vec![
            Segment::Text("fix for ".into()),
            Segment::Mention(Mention::User {
                id: "U1".into(),
                label: None,
            }),
        ])
        .unwrap();
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(
            json,
            r#"[{"text":"fix for "},{"mention":{"user":{"id":"U1","label":null}}}]"#
        );
        assert_eq!(
            serde_json::from_str::<EmergencyReason>(&json).unwrap(),
            reason
        );
        assert!(serde_json::from_str::<EmergencyReason>(r#"[{"text":"  "}]"#).is_err());
    }

    #[test]
    fn reasons_are_trimmed_and_keep_mentions() {
        let reason = EmergencyReason::from_segments(vec![
            Segment::Text("  payroll fix for ".into()),
            Segment::Mention(Mention::User {
                id: "U1".into(),
                label: Some("ann".into()),
            }),
            Segment::Text(" ".into()),
        ])
        .unwrap();
        assert_eq!(reason.plain(), "payroll fix for @ann");
        assert_eq!(reason.to_slack(), "payroll fix for <@U1|ann>");
        assert_eq!(reason.segments().len(), 2);
        assert!(EmergencyReason::from_text("   ").is_err());
        assert!(EmergencyReason::from_text(&"x".repeat(501)).is_err());
        assert!(EmergencyReason::from_text("a\u{0}").is_err());
    }
}
