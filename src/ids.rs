//! Newtypes for identifiers that must not be mixed up. Each is parsed once, at the
//! edge, and is valid from then on.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Slack user (`U…` or, on Enterprise Grid, `W…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlackUserId(String);

/// A Slack user group (`S…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlackGroupId(String);

/// A Slack channel or conversation (`C…`, `G…`, `D…`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SlackChannelId(String);

fn is_slack_id(value: &str, prefixes: &[char]) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some(first) if prefixes.contains(&first))
        && (2..=20).contains(&value.len())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

macro_rules! slack_id {
    ($type:ident, $what:literal, [$($prefix:literal),+]) => {
        impl $type {
            pub fn parse(value: &str) -> Result<Self, String> {
                if is_slack_id(value, &[$($prefix),+]) {
                    Ok(Self(value.to_string()))
                } else {
                    Err(format!(
                        "{value:?} is not a Slack {} id (expected {} followed by capital letters and digits, e.g. {})",
                        $what,
                        [$(format!("`{}`", $prefix)),+].join(" or "),
                        concat!($($prefix,)+ "0ABC123"),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value)
            }
        }

        impl From<$type> for String {
            fn from(id: $type) -> String {
                id.0
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slack_id!(SlackUserId, "user", ['U', 'W']);
slack_id!(SlackGroupId, "user group", ['S']);
slack_id!(SlackChannelId, "channel", ['C', 'G', 'D']);

/// Who may do something: a person or everyone in a user group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Principal {
    User(SlackUserId),
    Group(SlackGroupId),
}

impl Principal {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.starts_with('S') {
            SlackGroupId::parse(value).map(Principal::Group)
        } else {
            SlackUserId::parse(value).map(Principal::User).map_err(|_| {
                format!("{value:?} is neither a Slack user id (U…/W…) nor a user group id (S…)")
            })
        }
    }
}

impl TryFrom<String> for Principal {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<Principal> for String {
    fn from(principal: Principal) -> String {
        match principal {
            Principal::User(id) => id.into(),
            Principal::Group(id) => id.into(),
        }
    }
}

/// A run of the bot's durable state machine (a command in flight, a promotion).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub String);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_by_prefix() {
        assert!(SlackUserId::parse("U0PM").is_ok());
        assert!(SlackUserId::parse("W012ABC").is_ok());
        assert!(SlackUserId::parse("u0pm").is_err());
        assert!(SlackUserId::parse("U").is_err());
        assert!(SlackChannelId::parse("C0DEPLOY").is_ok());
        assert_eq!(
            Principal::parse("S0APPROVERS").unwrap(),
            Principal::Group(SlackGroupId::parse("S0APPROVERS").unwrap())
        );
        let err = Principal::parse("@priya").unwrap_err();
        assert!(err.contains("\"@priya\""), "{err}");
    }
}
