//! Errors the sim answers with, rendered as Frappe's v1 error envelope
//! (utils/response.py): `exc_type`, `exception`, `exc`, and `_server_messages`
//! (a JSON string of a list of JSON strings). A 404 carries neither `exception`
//! nor `exc`; a database error carries no `_server_messages`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    pub status: u16,
    pub exc_type: &'static str,
    pub message: String,
    /// Raised through `frappe.throw` (so it lands in `_server_messages`).
    pub thrown: bool,
}

impl SimError {
    fn new(status: u16, exc_type: &'static str, message: impl Into<String>) -> SimError {
        SimError {
            status,
            exc_type,
            message: message.into(),
            thrown: true,
        }
    }
    pub fn not_found(doctype: &str, name: &str) -> SimError {
        SimError::new(
            404,
            "DoesNotExistError",
            format!("{doctype} {name} not found"),
        )
    }
    pub fn duplicate(doctype: &str, name: &str) -> SimError {
        SimError::new(
            409,
            "DuplicateEntryError",
            format!("{doctype} {name} already exists"),
        )
    }
    pub fn validation(message: impl Into<String>) -> SimError {
        SimError::new(417, "ValidationError", message)
    }
    pub fn link(message: impl Into<String>) -> SimError {
        SimError::new(417, "LinkValidationError", message)
    }
    pub fn timestamp_mismatch() -> SimError {
        SimError::new(
            417,
            "TimestampMismatchError",
            "Error: Document has been modified after you have opened it. Please refresh to get the latest document.",
        )
    }
    pub fn permission(message: impl Into<String>) -> SimError {
        SimError::new(403, "PermissionError", message)
    }
    pub fn authentication() -> SimError {
        SimError::new(401, "AuthenticationError", "Invalid API key or secret")
    }
    pub fn unknown_column(field: &str) -> SimError {
        SimError {
            status: 500,
            exc_type: "OperationalError",
            message: format!("(1054, \"Unknown column '{field}' in 'field list'\")"),
            thrown: false,
        }
    }
    pub fn method_not_found(method: &str) -> SimError {
        SimError::new(
            417,
            "ValidationError",
            format!(
                "Failed to get method for command {method} with module '{method}' has no attribute"
            ),
        )
    }

    pub fn envelope(&self) -> Value {
        let exception_class = match self.exc_type {
            "OperationalError" => "pymysql.err.OperationalError".to_string(),
            other => format!("frappe.exceptions.{other}"),
        };
        let exception = format!("{exception_class}: {}", self.message);
        let mut body = json!({ "exc_type": self.exc_type });
        if self.status != 404 {
            let traceback = format!(
                "Traceback (most recent call last):\n  File \"apps/frappe/frappe/app.py\", line 114, in application\n    response = frappe.api.handle(request)\n{exception}\n"
            );
            body["exception"] = Value::String(exception);
            body["exc"] = Value::String(json!([traceback]).to_string());
        }
        if self.thrown {
            let inner = json!({"message": self.message, "title": "Message", "indicator": "red", "raise_exception": 1});
            body["_server_messages"] = Value::String(json!([inner.to_string()]).to_string());
        }
        body
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.envelope())).into_response()
    }
}
