//! The two site types. Both read through a shared [`SiteReader`] (they deref to it);
//! only [`StagingSite`] can write. Production changes only through `bench migrate`.

use std::ops::Deref;

use reqwest::Method;
use serde_json::{Map, Value};

use super::reader::Target;
use super::{FrappeError, SiteConfig, SiteReader};

/// Keys Frappe owns; sending them back is at best ignored and at worst harmful
/// (`modified` → TimestampMismatchError 417; `name` in a PUT body retargets the
/// update to another record).
const PARENT_KEYS_NEVER_SENT: [&str; 5] = ["modified", "creation", "owner", "modified_by", "idx"];
/// Child-row keys never sent. A row `name` that is not in the stored table is
/// silently dropped by Frappe on PUT, so rows go without names and get fresh ones.
const CHILD_KEYS_NEVER_SENT: [&str; 9] = [
    "name",
    "parent",
    "parentfield",
    "parenttype",
    "doctype",
    "modified",
    "creation",
    "owner",
    "modified_by",
];

/// A production site: read-only. There is no way to write through this type:
///
/// ```compile_fail
/// # async fn f(prod: lockstep::frappe::ProductionSite) {
/// prod.insert("Role", &serde_json::json!({"role_name": "X"})).await;
/// # }
/// ```
///
/// ```compile_fail
/// # async fn f(prod: lockstep::frappe::ProductionSite) {
/// prod.update("Role", "X", &serde_json::json!({"disabled": 1})).await;
/// # }
/// ```
///
/// ```compile_fail
/// # async fn f(prod: lockstep::frappe::ProductionSite) {
/// prod.delete("Role", "X").await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ProductionSite {
    reader: SiteReader,
}

impl ProductionSite {
    pub fn new(config: SiteConfig) -> Result<ProductionSite, FrappeError> {
        Ok(ProductionSite {
            reader: SiteReader::new(config)?,
        })
    }

    pub fn reader(&self) -> &SiteReader {
        &self.reader
    }
}

impl Deref for ProductionSite {
    type Target = SiteReader;
    fn deref(&self) -> &SiteReader {
        &self.reader
    }
}

/// A staging site: reads plus insert / update / delete / apply. The same call that
/// does not compile on [`ProductionSite`] compiles here:
///
/// ```no_run
/// # async fn f(staging: lockstep::frappe::StagingSite) {
/// staging.insert("Role", &serde_json::json!({"role_name": "X"})).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StagingSite {
    reader: SiteReader,
}

impl Deref for StagingSite {
    type Target = SiteReader;
    fn deref(&self) -> &SiteReader {
        &self.reader
    }
}

impl StagingSite {
    pub fn new(config: SiteConfig) -> Result<StagingSite, FrappeError> {
        Ok(StagingSite {
            reader: SiteReader::new(config)?,
        })
    }

    pub fn reader(&self) -> &SiteReader {
        &self.reader
    }

    /// `POST /api/v1/resource/<doctype>`. Keeps `name` (Prompt-named doctypes such
    /// as Server Script need it); strips timestamps and child-row identities.
    /// Not retried: a POST is not idempotent.
    pub async fn insert(&self, doctype: &str, doc: &Value) -> Result<Value, FrappeError> {
        // Name the record in errors even when Frappe derives it (role_name, dt-fieldname…).
        let derived =
            crate::blueprint::Kind::from_doctype(doctype).and_then(|k| k.expected_name(doc));
        let record = doc
            .get("name")
            .and_then(Value::as_str)
            .or(derived.as_deref());
        let target = Target {
            operation: "POST",
            doctype: Some(doctype),
            record,
        };
        let body = writable_body(doc, false);
        let request = self
            .reader
            .request(Method::POST, &["api", "v1", "resource", doctype])
            .json(&body);
        let (_, answer) = self.reader.send(&target, request).await?;
        self.data_of(&target, answer)
    }

    /// `PUT /api/v1/resource/<doctype>/<name>`: `doc.update(body)` + `save()`.
    /// `name` and `modified` are stripped; a child-table key replaces that table.
    pub async fn update(
        &self,
        doctype: &str,
        name: &str,
        doc: &Value,
    ) -> Result<Value, FrappeError> {
        let target = Target {
            operation: "PUT",
            doctype: Some(doctype),
            record: Some(name),
        };
        let body = writable_body(doc, true);
        let request = self
            .reader
            .request(Method::PUT, &["api", "v1", "resource", doctype, name])
            .json(&body);
        let (_, answer) = self.reader.send(&target, request).await?;
        self.data_of(&target, answer)
    }

    /// `DELETE /api/v1/resource/<doctype>/<name>` (202 `{"data":"ok"}` in v15).
    pub async fn delete(&self, doctype: &str, name: &str) -> Result<(), FrappeError> {
        let target = Target {
            operation: "DELETE",
            doctype: Some(doctype),
            record: Some(name),
        };
        let request = self
            .reader
            .request(Method::DELETE, &["api", "v1", "resource", doctype, name]);
        self.reader.send(&target, request).await.map(|_| ())
    }

    /// Creates or overwrites one record from a document holding `doctype` and `name`:
    /// PUT when the record exists (a POST would duplicate a Number Card as
    /// `<name>-1`), POST otherwise. Returns the stored document.
    pub async fn upsert(&self, doc: &Value) -> Result<Value, FrappeError> {
        let doctype = doc
            .get("doctype")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = doc.get("name").and_then(Value::as_str).unwrap_or_default();
        if doctype.is_empty() || name.is_empty() {
            let target = Target {
                operation: "apply",
                doctype: Some(doctype),
                record: Some(name),
            };
            let mut ctx = self.reader.context(&target);
            ctx.message = "the document needs both \"doctype\" and \"name\"".into();
            return Err(FrappeError::Validation(Box::new(ctx)));
        }
        match self.reader.get_doc(doctype, name).await {
            Ok(_) => self.update(doctype, name, doc).await,
            Err(FrappeError::NotFound(_)) => self.insert(doctype, doc).await,
            Err(other) => Err(other),
        }
    }

    /// Applies one blueprint (canonical body) to the site; see [`StagingSite::upsert`].
    pub async fn apply_blueprint(
        &self,
        blueprint: &crate::blueprint::Blueprint,
    ) -> Result<Value, FrappeError> {
        self.upsert(&blueprint.body).await
    }

    fn data_of(&self, target: &Target<'_>, answer: Value) -> Result<Value, FrappeError> {
        match answer {
            Value::Object(mut map) => map.remove("data").ok_or_else(|| {
                self.reader
                    .decode_error(target, "the answer has no \"data\" key".into())
            }),
            other => Err(self
                .reader
                .decode_error(target, format!("expected a JSON object, got {other}"))),
        }
    }
}

/// The body actually sent: Frappe-owned keys removed at every depth.
fn writable_body(doc: &Value, for_update: bool) -> Value {
    let Value::Object(map) = doc else {
        return doc.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let skip = PARENT_KEYS_NEVER_SENT.contains(&key.as_str()) || (for_update && key == "name");
        if skip {
            continue;
        }
        let value = match value {
            Value::Array(rows) if rows.iter().all(Value::is_object) && !rows.is_empty() => {
                Value::Array(rows.iter().map(child_row_body).collect())
            }
            other => other.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn child_row_body(row: &Value) -> Value {
    let Value::Object(map) = row else {
        return row.clone();
    };
    let kept = map
        .iter()
        .filter(|(k, _)| !CHILD_KEYS_NEVER_SENT.contains(&k.as_str()) && k.as_str() != "idx")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_body_drops_name_modified_and_child_identities() {
        let doc = json!({"doctype": "Workflow", "name": "W", "modified": "2024-01-01 00:00:00", "is_active": 1,
            "states": [{"name": "abc", "parent": "W", "idx": 1, "state": "Draft", "doc_status": "0"}]});
        let body = writable_body(&doc, true);
        assert_eq!(
            body,
            json!({"doctype": "Workflow", "is_active": 1, "states": [{"state": "Draft", "doc_status": "0"}]})
        );
    }

    #[test]
    fn insert_body_keeps_name() {
        let body = writable_body(
            &json!({"doctype": "Server Script", "name": "S", "owner": "x"}),
            false,
        );
        assert_eq!(body, json!({"doctype": "Server Script", "name": "S"}));
    }
}
