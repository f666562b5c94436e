//! The HTTP face of the sim: Frappe's v1 routes (`/api/…` and `/api/v1/…`) with
//! site selection (`X-Frappe-Site-Name`, else `Host`), token/Basic auth, Guest
//! rules, the error envelope and fault injection. Private control routes live
//! under `/_sim/` (see `control.rs`); Frappe's own routes never reach them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::error::SimError;
use super::query::{self, ListParams};
use super::store::{without_nulls, SiteData};

/// A failure to inject into the next Frappe request(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer normally, but only after this delay.
    Latency(Duration),
    /// Answer with this 5xx status (500 as Frappe's envelope, others as a proxy's HTML page).
    ServerError(u16),
    /// 429 with Frappe's rate-limit envelope.
    RateLimited,
    /// Start a 200 answer and drop the connection mid-body.
    DropConnection,
    /// Answer normally once the gate is released (for tests that must observe a
    /// request in flight without racing a timer).
    Hold(Gate),
}

/// A gate held requests wait at; [`Gate::release`] lets them all through.
#[derive(Debug, Clone)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Gate {
    pub fn new() -> Gate {
        Gate(Arc::new(tokio::sync::watch::Sender::new(false)))
    }

    pub fn release(&self) {
        self.0.send_replace(true);
    }

    async fn passed(&self) {
        let mut open = self.0.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug, Default)]
pub struct Shared {
    pub sites: Mutex<BTreeMap<String, SiteData>>,
    pub faults: Mutex<std::collections::VecDeque<Fault>>,
    pub requests: AtomicU64,
    scramble: AtomicU64,
}

impl Shared {
    pub fn sites(&self) -> MutexGuard<'_, BTreeMap<String, SiteData>> {
        // A poisoned lock only means a panic elsewhere; the data is still usable.
        self.sites.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, std::collections::VecDeque<Fault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Who a request acts as.
enum Caller {
    Guest,
    User(String),
}

/// Every request outside `/_sim/`.
pub async fn frappe_entry(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let fault = shared.faults().pop_front();
    match fault {
        Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::ServerError(status)) => return server_error(status),
        Some(Fault::RateLimited) => {
            return SimErrorWith429::response();
        }
        Some(Fault::DropConnection) => return dropped_connection(),
        Some(Fault::Hold(gate)) => gate.passed().await,
        None => {}
    }
    match handle(&shared, &method, &uri, &headers, &body) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn handle(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, SimError> {
    let path = uri.path();
    let Some(rest) = path
        .strip_prefix("/api/v1/")
        .or_else(|| path.strip_prefix("/api/"))
    else {
        return Ok(html(
            StatusCode::NOT_FOUND,
            "Page Not Found",
            &format!("{path} does not exist"),
        ));
    };
    let site_name = match site_of(shared, headers) {
        Ok(name) => name,
        Err(host) => {
            return Ok(html(
                StatusCode::NOT_FOUND,
                "Not Found",
                &format!("{host} does not exist"),
            ))
        }
    };
    let params = query_params(uri);
    let mut sites = shared.sites();
    let Some(site) = sites.get_mut(&site_name) else {
        return Ok(html(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("{site_name} does not exist"),
        ));
    };
    let caller = authenticate(site, headers)?;
    let segments: Vec<String> = rest.split('/').map(decode).collect();
    match segments.first().map(String::as_str) {
        Some("resource") if segments.len() >= 2 && !segments[1].is_empty() => {
            let doctype = &segments[1];
            let name = (segments.len() > 2)
                .then(|| segments[2..].join("/"))
                .filter(|n| !n.is_empty());
            let scramble = shared.scramble.fetch_add(1, Ordering::Relaxed);
            resource(
                site,
                &caller,
                method,
                doctype,
                name.as_deref(),
                &params,
                body,
                scramble,
            )
        }
        Some("method") if segments.len() == 2 => {
            let mut args = params;
            if *method == Method::POST {
                args.extend(body_params(body));
            }
            call_method(site, &caller, &segments[1], &args)
        }
        _ => Err(SimError::not_found("Page", path)),
    }
}

/// `X-Frappe-Site-Name` wins over `Host` (port stripped).
fn site_of(shared: &Shared, headers: &HeaderMap) -> Result<String, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let wanted = match header("x-frappe-site-name") {
        Some(site) => site.to_string(),
        None => {
            let host = header("host").unwrap_or_default();
            host.rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(host)
                .to_string()
        }
    };
    if shared.sites().contains_key(&wanted) {
        Ok(wanted)
    } else {
        Err(wanted)
    }
}

/// No header: Guest. A bad key or secret: 401 on every route.
fn authenticate(site: &SiteData, headers: &HeaderMap) -> Result<Caller, SimError> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Ok(Caller::Guest);
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let pair = match scheme.to_ascii_lowercase().as_str() {
        "token" => rest.trim().to_string(),
        "basic" => base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(SimError::authentication)?,
        _ => return Err(SimError::authentication()),
    };
    let (key, secret) = pair.split_once(':').ok_or_else(SimError::authentication)?;
    site.api_users
        .iter()
        .find(|u| u.key == key && u.secret == secret)
        .map(|u| Caller::User(u.user.clone()))
        .ok_or_else(SimError::authentication)
}

#[allow(clippy::too_many_arguments)]
fn resource(
    site: &mut SiteData,
    caller: &Caller,
    method: &Method,
    doctype: &str,
    name: Option<&str>,
    params: &BTreeMap<String, String>,
    body: &Bytes,
    scramble: u64,
) -> Result<Response, SimError> {
    let Caller::User(user) = caller else {
        return Err(SimError::permission(format!("No permission for {doctype}")));
    };
    let writing = *method != Method::GET;
    if writing && !site.is_manager(user) {
        return Err(SimError::permission(format!(
            "Insufficient Permission for {doctype}"
        )));
    }
    if !site.doctype_exists(doctype) && site.doctype_docs(doctype).is_none() {
        return Err(SimError::not_found("DocType", doctype));
    }
    match (method.clone(), name) {
        (Method::GET, None) => {
            let list_params = ListParams {
                fields: params.get("fields").cloned(),
                filters: params.get("filters").cloned(),
                or_filters: params.get("or_filters").cloned(),
                order_by: params.get("order_by").cloned(),
                limit_start: params.get("limit_start").cloned(),
                limit_page_length: params.get("limit_page_length").cloned(),
                limit: params.get("limit").cloned(),
                parent: params.get("parent").cloned(),
            };
            let rows = query::list(site, doctype, &list_params, scramble)?;
            Ok(Json(json!({ "data": rows })).into_response())
        }
        (Method::GET, Some(name)) => {
            let (_, doc) = site
                .find(doctype, name)
                .ok_or_else(|| SimError::not_found(doctype, name))?;
            Ok(Json(json!({ "data": without_nulls(doc) })).into_response())
        }
        (Method::POST, None) => {
            let doc = site.insert(user, doctype, request_doc(body)?)?;
            Ok(Json(json!({ "data": without_nulls(&doc) })).into_response())
        }
        (Method::PUT, Some(name)) => {
            let doc = site.update(user, doctype, name, request_doc(body)?)?;
            Ok(Json(json!({ "data": without_nulls(&doc) })).into_response())
        }
        (Method::DELETE, Some(name)) => {
            site.delete(doctype, name)?;
            Ok((StatusCode::ACCEPTED, Json(json!({ "data": "ok" }))).into_response())
        }
        (other, _) => Err(SimError::validation(format!(
            "Method {other} is not allowed on this route"
        ))),
    }
}

/// The document of a POST/PUT: a JSON body, or a form field `data` holding JSON.
fn request_doc(body: &Bytes) -> Result<Map<String, Value>, SimError> {
    let parsed = serde_json::from_slice::<Value>(body).ok().or_else(|| {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "data")
            .and_then(|(_, v)| serde_json::from_str(&v).ok())
    });
    match parsed {
        Some(Value::Object(map)) => Ok(map),
        Some(Value::String(s)) => match serde_json::from_str(&s) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(SimError::validation(
                "the request body must be a JSON object",
            )),
        },
        _ => Err(SimError::validation(
            "the request body must be a JSON object",
        )),
    }
}

fn call_method(
    site: &mut SiteData,
    caller: &Caller,
    method: &str,
    args: &BTreeMap<String, String>,
) -> Result<Response, SimError> {
    let message = |value: Value| Ok(Json(json!({ "message": value })).into_response());
    let logged_in = |c: &Caller| match c {
        Caller::User(u) => Ok(u.clone()),
        Caller::Guest => Err(SimError::permission("Not permitted")),
    };
    match method {
        "ping" => message(json!("pong")),
        "frappe.client.get_time_zone" => message(json!({ "time_zone": site.time_zone })),
        "frappe.auth.get_logged_user" => message(json!(logged_in(caller)?)),
        "frappe.client.get_count" => {
            logged_in(caller)?;
            let doctype = args
                .get("doctype")
                .ok_or_else(|| SimError::validation("get_count: doctype is required"))?;
            if !site.doctype_exists(doctype) && site.doctype_docs(doctype).is_none() {
                return Err(SimError::not_found("DocType", doctype));
            }
            message(json!(query::count(
                site,
                doctype,
                args.get("filters").map(String::as_str)
            )?))
        }
        "frappe.utils.backups.fetch_latest_backups" => {
            let user = logged_in(caller)?;
            if !site.is_manager(&user) {
                return Err(SimError::permission("You are not permitted to access this resource. Function fetch_latest_backups is restricted to System Manager"));
            }
            message(latest_backups(site))
        }
        "frappe.desk.doctype.number_card.number_card.get_result" => {
            logged_in(caller)?;
            message(number_card_result(site, args)?)
        }
        other => Err(SimError::method_not_found(other)),
    }
}

/// `number_card.get_result(doc, filters)` as Frappe v15 computes it: the card's
/// function (Count, Sum, Average, Minimum, Maximum) over its document type, with
/// the card's filters and the given ones; a float, 0 when nothing matches.
fn number_card_result(site: &SiteData, args: &BTreeMap<String, String>) -> Result<Value, SimError> {
    let doc: Value = args
        .get("doc")
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| SimError::validation("get_result: doc is required"))?;
    let doctype = doc["document_type"]
        .as_str()
        .ok_or_else(|| SimError::validation("Document Type is required for a Number Card"))?;
    if !site.doctype_exists(doctype) && site.doctype_docs(doctype).is_none() {
        return Err(SimError::not_found("DocType", doctype));
    }
    let mut filters: Vec<Value> = Vec::new();
    for text in [
        doc["filters_json"].as_str(),
        args.get("filters").map(String::as_str),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(Value::Array(list)) = serde_json::from_str::<Value>(text) {
            filters.extend(list);
        }
    }
    let filters = Value::Array(filters).to_string();
    let function = doc["function"].as_str().unwrap_or("Count");
    if function == "Count" {
        return Ok(json!(query::count(site, doctype, Some(&filters))? as f64));
    }
    let field = doc["aggregate_function_based_on"]
        .as_str()
        .ok_or_else(|| SimError::validation("Aggregate Field is required for this function"))?;
    let params = query::ListParams {
        fields: Some(json!([field]).to_string()),
        filters: Some(filters),
        order_by: Some("name asc".into()),
        limit_page_length: Some("0".into()),
        ..Default::default()
    };
    let values: Vec<f64> = query::list(site, doctype, &params, 0)?
        .iter()
        .filter_map(|row| row[field].as_f64())
        .collect();
    let result = match (function, values.is_empty()) {
        (_, true) => 0.0,
        ("Sum", _) => values.iter().sum(),
        ("Average", _) => values.iter().sum::<f64>() / values.len() as f64,
        ("Minimum", _) => values.iter().cloned().fold(f64::INFINITY, f64::min),
        ("Maximum", _) => values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        (other, _) => {
            return Err(SimError::validation(format!(
                "{other} is not a Number Card function"
            )))
        }
    };
    Ok(json!(result))
}

/// Newest backup files of the last 30 days, by kind.
fn latest_backups(site: &SiteData) -> Value {
    let cutoff = super::store::crate_now() - chrono::Duration::days(30);
    let mut out = json!({"database": null, "public": null, "private": null, "config": null});
    for backup in site.backups.iter().filter(|b| b.taken_at_utc >= cutoff) {
        for (kind, path, _) in &backup.files {
            out[kind.as_str()] = Value::String(path.clone());
        }
    }
    out
}

fn query_params(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn body_params(body: &Bytes) -> BTreeMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return map
            .into_iter()
            .map(|(k, v)| (k, super::store::as_text(&v)))
            .collect();
    }
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let page = format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>");
    (status, [("content-type", "text/html; charset=utf-8")], page).into_response()
}

fn server_error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == 500 {
        let err = SimError {
            status: 500,
            exc_type: "Exception",
            message: "simulated server error".into(),
            thrown: false,
        };
        return err.into_response();
    }
    let reason = code.canonical_reason().unwrap_or("Error");
    html(code, &format!("{status} {reason}"), "nginx")
}

struct SimErrorWith429;
impl SimErrorWith429 {
    fn response() -> Response {
        let err = SimError {
            status: 429,
            exc_type: "RateLimitExceededError",
            message:
                "You hit the rate limit because of too many requests. Please try after sometime."
                    .into(),
            thrown: true,
        };
        let mut response = err.into_response();
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        response
    }
}

/// Headers go out, then the body stream fails: hyper aborts the connection, and
/// the client sees a connection closed before the message completed.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("content-length", "1024")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
