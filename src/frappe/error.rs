//! `FrappeError`: what went wrong talking to a site, decoded from Frappe's v1 error
//! envelope (`exc_type`, `exception`, double-encoded `_server_messages`), with the
//! site, doctype, record, HTTP status and Frappe's own message in every Display.

use std::fmt;

use serde_json::Value;

/// Where an error happened and what Frappe said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    pub site: String,
    /// e.g. `GET list`, `PUT`, `method frappe.auth.get_logged_user`.
    pub operation: String,
    pub doctype: Option<String>,
    pub record: Option<String>,
    pub status: Option<u16>,
    /// Frappe's exception class name (`DuplicateEntryError`), when it sent one.
    pub exc_type: Option<String>,
    /// Frappe's decoded message, or the transport failure.
    pub message: String,
    /// A 429's `Retry-After`, in seconds, when the site sent one.
    pub retry_after_secs: Option<u64>,
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "site {}: {}", self.site, self.operation)?;
        match (&self.doctype, &self.record) {
            (Some(dt), Some(name)) => write!(f, " {dt} {name:?}")?,
            (Some(dt), None) => write!(f, " {dt}")?,
            _ => {}
        }
        if let Some(status) = self.status {
            write!(f, " -> HTTP {status}")?;
        }
        if let Some(exc) = &self.exc_type {
            write!(f, " {exc}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The failure classes a caller branches on.
#[derive(Debug, thiserror::Error)]
pub enum FrappeError {
    #[error("{0} (the API key or secret was refused: check FRAPPE_<SITE>_API_KEY/_API_SECRET)")]
    Unauthorized(Box<ErrorContext>),
    #[error("{0} (the API user lacks the permission: give its user the needed role)")]
    Forbidden(Box<ErrorContext>),
    #[error("{0} (no such record or route)")]
    NotFound(Box<ErrorContext>),
    #[error("{0} (the record already exists: update it instead of inserting)")]
    Duplicate(Box<ErrorContext>),
    #[error("{0} (the record changed on the site since it was read: read it again)")]
    TimestampMismatch(Box<ErrorContext>),
    #[error("{0} (Frappe rejected the document)")]
    Validation(Box<ErrorContext>),
    #[error("{0} (rate limited: retry later)")]
    RateLimited(Box<ErrorContext>),
    #[error("{0} (server error on the site)")]
    Server(Box<ErrorContext>),
    #[error("{0} (timed out: is the site up and reachable?)")]
    Timeout(Box<ErrorContext>),
    #[error("{0} (could not reach the site: check its URL and the network)")]
    Transport(Box<ErrorContext>),
    #[error("{0} (the site's answer is not the JSON Frappe sends)")]
    Decode(Box<ErrorContext>),
}

impl FrappeError {
    pub fn context(&self) -> &ErrorContext {
        match self {
            FrappeError::Unauthorized(c)
            | FrappeError::Forbidden(c)
            | FrappeError::NotFound(c)
            | FrappeError::Duplicate(c)
            | FrappeError::TimestampMismatch(c)
            | FrappeError::Validation(c)
            | FrappeError::RateLimited(c)
            | FrappeError::Server(c)
            | FrappeError::Timeout(c)
            | FrappeError::Transport(c)
            | FrappeError::Decode(c) => c,
        }
    }

    /// Worth retrying a read: rate limits, 5xx, timeouts and dropped connections.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FrappeError::RateLimited(_)
                | FrappeError::Server(_)
                | FrappeError::Timeout(_)
                | FrappeError::Transport(_)
        )
    }

    /// Classifies an HTTP error answer. `exc_type` wins over the status for the
    /// validation family (Frappe answers 417 for every ValidationError subclass).
    pub(crate) fn from_response(mut ctx: ErrorContext, status: u16, body: &str) -> FrappeError {
        let envelope = decode_envelope(body);
        ctx.status = Some(status);
        ctx.exc_type = envelope.exc_type.clone();
        ctx.message = envelope.message;
        let ctx = Box::new(ctx);
        match (status, envelope.exc_type.as_deref()) {
            (_, Some("TimestampMismatchError")) => FrappeError::TimestampMismatch(ctx),
            (_, Some("DuplicateEntryError")) | (409, _) => FrappeError::Duplicate(ctx),
            (401, _) | (_, Some("AuthenticationError")) => FrappeError::Unauthorized(ctx),
            (403, _) => FrappeError::Forbidden(ctx),
            (404, _) => FrappeError::NotFound(ctx),
            (429, _) => FrappeError::RateLimited(ctx),
            (417, _) | (400, _) | (422, _) => FrappeError::Validation(ctx),
            _ => FrappeError::Server(ctx),
        }
    }
}

/// What an error body says, decoded.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Envelope {
    pub exc_type: Option<String>,
    pub message: String,
}

/// Decodes Frappe's v1 error envelope. `_server_messages` is a JSON string holding a
/// JSON list of JSON strings, each `{message, title, indicator, raise_exception}`.
/// Falls back to `exception` (last traceback line), then `message`, then the raw body.
pub(crate) fn decode_envelope(body: &str) -> Envelope {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) else {
        return Envelope {
            exc_type: None,
            message: shorten(&strip_html(body)),
        };
    };
    let exc_type = map
        .get("exc_type")
        .and_then(Value::as_str)
        .map(str::to_string);
    let from_server_messages = map
        .get("_server_messages")
        .and_then(Value::as_str)
        .map(decode_server_messages)
        .filter(|m| !m.is_empty());
    let from_exception = map.get("exception").and_then(Value::as_str).map(|e| {
        // "frappe.exceptions.ValidationError: the message" -> "the message"
        match e.split_once(": ") {
            Some((_, rest)) => rest.to_string(),
            None => e.to_string(),
        }
    });
    let from_message = map.get("message").and_then(|m| match m {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    let message = from_server_messages
        .or(from_exception)
        .or(from_message)
        .unwrap_or_else(|| exc_type.clone().unwrap_or_default());
    Envelope {
        exc_type,
        message: shorten(&strip_html(&message)),
    }
}

fn decode_server_messages(encoded: &str) -> String {
    let Ok(items) = serde_json::from_str::<Vec<String>>(encoded) else {
        return encoded.to_string();
    };
    items
        .iter()
        .map(|item| match serde_json::from_str::<Value>(item) {
            Ok(Value::Object(m)) => m
                .get("message")
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_default(),
            Ok(Value::String(s)) => s,
            _ => item.clone(),
        })
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut tag: Option<String> = None;
    for c in text.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(name), '>') => {
                // Block tags separate words; inline ones (<b>, <a>) do not.
                let name = name.trim_start_matches('/').to_ascii_lowercase();
                let block = [
                    "p", "br", "div", "li", "tr", "td", "h1", "h2", "h3", "h4", "title", "body",
                ];
                if block
                    .iter()
                    .any(|b| name == *b || name.starts_with(&format!("{b} ")))
                {
                    out.push(' ');
                }
                tag = None;
            }
            (Some(name), c) => name.push(c),
            (None, c) => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> ErrorContext {
        ErrorContext {
            site: "staging".into(),
            operation: "PUT".into(),
            doctype: Some("Number Card".into()),
            record: Some("Open Grants".into()),
            status: None,
            exc_type: None,
            message: String::new(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn decodes_double_encoded_server_messages() {
        let inner = serde_json::json!({"message": "Could not find <b>Document Type</b>: Grant", "title": "Message", "indicator": "red", "raise_exception": 1});
        let list = serde_json::to_string(&vec![inner.to_string()]).unwrap();
        let body = serde_json::json!({"exc_type": "LinkValidationError", "_server_messages": list})
            .to_string();
        let env = decode_envelope(&body);
        assert_eq!(env.exc_type.as_deref(), Some("LinkValidationError"));
        assert_eq!(env.message, "Could not find Document Type: Grant");
    }

    #[test]
    fn classifies_and_names_everything() {
        let body = r#"{"exc_type":"TimestampMismatchError","exception":"frappe.exceptions.TimestampMismatchError: Document has been modified after you have opened it"}"#;
        let err = FrappeError::from_response(ctx(), 417, body);
        assert!(matches!(err, FrappeError::TimestampMismatch(_)));
        let shown = err.to_string();
        for part in [
            "staging",
            "Number Card",
            "Open Grants",
            "417",
            "TimestampMismatchError",
            "Document has been modified",
        ] {
            assert!(shown.contains(part), "{shown} lacks {part}");
        }
    }

    #[test]
    fn html_bodies_become_short_text() {
        let env = decode_envelope(
            "<html><body><h1>Not Found</h1><p>x.local does not exist</p></body></html>",
        );
        assert_eq!(env.message, "Not Found x.local does not exist");
    }

    proptest! {
        #[test]
        fn decoding_never_panics(body in "\\PC{0,300}") {
            let _ = decode_envelope(&body);
        }
    }
}
