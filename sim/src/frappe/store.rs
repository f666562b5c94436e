//! One simulated site's data: raw Frappe-shaped documents (with owner, creation,
//! modified, idx, docstatus and child rows' name/parent/parentfield/parenttype),
//! and the document rules of Frappe that matter to promotion: naming, duplicate
//! and timestamp checks, PUT replacing child tables, Link validation, workflow
//! `doc_status` strings, developer-mode locks, and the Workflow side effects.
//! It knows nothing of HTTP (see `http.rs`) nor of the bot's modules.

use std::collections::BTreeMap;

use rand::Rng;
use serde_json::{Map, Value};

use super::error::SimError;
use super::meta;

pub type Doc = Map<String, Value>;

/// An API key pair and the user it acts as.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub user: String,
    pub key: String,
    pub secret: String,
}

/// One `bench backup`: a full copy of the documents.
#[derive(Debug, Clone)]
pub struct Backup {
    /// `20260503_130000-staging` (the prefix of every file name).
    pub id: String,
    pub taken_at: String,
    pub taken_at_utc: chrono::DateTime<chrono::Utc>,
    /// (kind, path, size in bytes), kinds: config, database, public, private.
    pub files: Vec<(String, String, u64)>,
    pub docs: BTreeMap<String, BTreeMap<String, Doc>>,
}

#[derive(Debug)]
pub struct SiteData {
    pub name: String,
    pub time_zone: String,
    tz: chrono_tz::Tz,
    pub developer_mode: bool,
    docs: BTreeMap<String, BTreeMap<String, Doc>>,
    pub api_users: Vec<ApiUser>,
    pub backups: Vec<Backup>,
    pub fail_next_migrate: Option<String>,
    /// The ids of the backups restored, in order (tests count restores).
    pub restored: Vec<String>,
    last_stamp: String,
}

/// Who is acting: `Administrator`, a user id, or `Guest`.
pub const ADMIN: &str = "Administrator";

impl SiteData {
    pub fn new(name: &str, time_zone: &str, developer_mode: bool) -> Result<SiteData, String> {
        let tz: chrono_tz::Tz = time_zone.parse().map_err(|_| {
            format!("site {name}: unknown time zone {time_zone:?} in _site/site.json")
        })?;
        let mut site = SiteData {
            name: name.to_string(),
            time_zone: time_zone.to_string(),
            tz,
            developer_mode,
            docs: BTreeMap::new(),
            api_users: vec![ApiUser {
                user: ADMIN.into(),
                key: format!("{name}-key"),
                secret: format!("{name}-secret"),
            }],
            backups: Vec::new(),
            fail_next_migrate: None,
            restored: Vec::new(),
            last_stamp: String::new(),
        };
        for role in meta::CORE_ROLES {
            let body = serde_json::json!({"doctype": "Role", "name": role, "role_name": role, "is_custom": 0, "desk_access": 1});
            site.put_raw(body);
        }
        site.put_raw(serde_json::json!({
            "doctype": "User", "name": ADMIN, "email": "admin@example.com", "first_name": ADMIN,
            "enabled": 1, "user_type": "System User",
            "roles": [{"role": "Administrator"}, {"role": "System Manager"}]
        }));
        Ok(site)
    }

    /// Now, in the site's time zone, as Frappe prints datetimes; strictly increasing
    /// so two saves never share a `modified`.
    pub fn now_stamp(&mut self) -> String {
        let mut stamp = self.now_local().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        if stamp <= self.last_stamp {
            stamp = bump_micros(&self.last_stamp);
        }
        self.last_stamp = stamp.clone();
        stamp
    }

    pub fn now_local(&self) -> chrono::DateTime<chrono_tz::Tz> {
        crate_now().with_timezone(&self.tz)
    }

    pub fn doctype_docs(&self, doctype: &str) -> Option<&BTreeMap<String, Doc>> {
        self.docs.get(doctype)
    }

    pub fn all_docs(&self) -> &BTreeMap<String, BTreeMap<String, Doc>> {
        &self.docs
    }

    pub fn replace_all_docs(&mut self, docs: BTreeMap<String, BTreeMap<String, Doc>>) {
        self.docs = docs;
    }

    /// A record by name; names compare case-insensitively, like MariaDB's collation.
    pub fn find(&self, doctype: &str, name: &str) -> Option<(&String, &Doc)> {
        let docs = self.docs.get(doctype)?;
        docs.get_key_value(name)
            .or_else(|| docs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
    }

    pub fn exists(&self, doctype: &str, name: &str) -> bool {
        self.find(doctype, name).is_some()
    }

    /// A DocType exists when it is Frappe's own or stored on the site.
    pub fn doctype_exists(&self, doctype: &str) -> bool {
        meta::is_core_doctype(doctype) || self.exists("DocType", doctype)
    }

    /// Roles of a user (Administrator has them all).
    pub fn user_roles(&self, user: &str) -> Vec<String> {
        self.find("User", user)
            .and_then(|(_, doc)| doc.get("roles"))
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.get("role").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_manager(&self, user: &str) -> bool {
        user == ADMIN
            || self
                .user_roles(user)
                .iter()
                .any(|r| r == "System Manager" || r == "Administrator")
    }

    /// Table fields of a doctype: Frappe's own, then a stored DocType's and its
    /// Custom Fields of type Table.
    pub fn child_tables(&self, doctype: &str) -> Vec<(String, String)> {
        let mut tables = Vec::new();
        let mut consider = |field: &Value| {
            let fieldtype = field_str(field, "fieldtype");
            if fieldtype == "Table" || fieldtype == "Table MultiSelect" {
                if let (Some(name), Some(options)) = (
                    field.get("fieldname").and_then(Value::as_str),
                    field.get("options").and_then(Value::as_str),
                ) {
                    tables.push((name.to_string(), options.to_string()));
                }
            }
        };
        if let Some((_, dt)) = self.find("DocType", doctype) {
            for field in dt
                .get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                consider(field);
            }
        }
        if let Some(custom) = self.docs.get("Custom Field") {
            for cf in custom
                .values()
                .filter(|cf| cf.get("dt").and_then(Value::as_str) == Some(doctype))
            {
                consider(&Value::Object(cf.clone()));
            }
        }
        for probe in [
            "fields",
            "permissions",
            "actions",
            "links",
            "states",
            "transitions",
            "charts",
            "cards",
            "y_axis",
            "roles",
            "columns",
            "filters",
            "block_modules",
            "recipients",
        ] {
            if let Some(child) = meta::core_child_doctype(doctype, probe) {
                tables.push((probe.to_string(), child.to_string()));
            }
        }
        tables
    }

    /// The child doctype of `parent.field`; an unknown table gets a made-up name.
    pub fn child_doctype_for(&self, parent: &str, field: &str) -> String {
        if let Some(core) = meta::core_child_doctype(parent, field) {
            return core.to_string();
        }
        self.child_tables(parent)
            .into_iter()
            .find(|(f, _)| f == field)
            .map(|(_, c)| c)
            .unwrap_or_else(|| format!("{parent} {}", title_case(field)))
    }

    /// Whether `field` is a column of `doctype` (an unknown one is a 500 in Frappe).
    pub fn has_column(&self, doctype: &str, field: &str) -> bool {
        if meta::STANDARD_FIELDS.contains(&field) {
            return true;
        }
        if meta::core_has_column(doctype, field) == Some(true) {
            return true;
        }
        let declared = |fields: Option<&Value>| {
            fields
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|f| f.get("fieldname").and_then(Value::as_str) == Some(field))
        };
        if let Some((_, dt)) = self.find("DocType", doctype) {
            if declared(dt.get("fields")) {
                return true;
            }
        }
        let custom = self.docs.get("Custom Field").map(|m| {
            m.values().any(|cf| {
                cf.get("dt").and_then(Value::as_str) == Some(doctype)
                    && cf.get("fieldname").and_then(Value::as_str) == Some(field)
            })
        });
        if custom == Some(true) {
            return true;
        }
        // Columns the sim's meta forgot still exist when some record carries them.
        let carried_by_parent = self
            .docs
            .get(doctype)
            .is_some_and(|m| m.values().any(|d| d.contains_key(field)));
        let child_parent_field = meta::CHILD_FIELDS.contains(&field);
        carried_by_parent || child_parent_field || self.child_rows_carry(doctype, field)
    }

    fn child_rows_carry(&self, child_doctype: &str, field: &str) -> bool {
        self.docs.values().flat_map(|m| m.values()).any(|doc| {
            doc.values()
                .filter_map(Value::as_array)
                .flatten()
                .any(|row| {
                    row.get("doctype").and_then(Value::as_str) == Some(child_doctype)
                        && row.get(field).is_some()
                })
        })
    }

    /// Stores a document as is, filling in any missing metadata (seeding and the test
    /// API). Replaces a record of the same name.
    pub fn put_raw(&mut self, raw: Value) -> Option<(String, String)> {
        let Value::Object(body) = raw else {
            return None;
        };
        let doctype = body.get("doctype")?.as_str()?.to_string();
        let name = body.get("name")?.as_str()?.to_string();
        let stamp = self.now_stamp();
        let doc = self.decorate(&doctype, &name, body, &stamp, false);
        self.docs
            .entry(doctype.clone())
            .or_default()
            .insert(name.clone(), doc);
        Some((doctype, name))
    }

    /// Adds default fields to a parent and its child rows. `fresh_child_names`
    /// renames every child row (POST does).
    fn decorate(
        &self,
        doctype: &str,
        name: &str,
        body: Doc,
        stamp: &str,
        fresh_child_names: bool,
    ) -> Doc {
        let mut doc = Doc::new();
        for (key, value) in body {
            if value.is_null() {
                continue;
            }
            let value = match value {
                Value::Array(rows) if !rows.is_empty() && rows.iter().all(Value::is_object) => {
                    let child = self.child_doctype_for(doctype, &key);
                    let rows = rows
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            decorate_row(
                                row,
                                doctype,
                                name,
                                &key,
                                &child,
                                i + 1,
                                stamp,
                                fresh_child_names,
                            )
                        })
                        .collect();
                    Value::Array(rows)
                }
                other => other,
            };
            doc.insert(key, value);
        }
        doc.insert("doctype".into(), Value::String(doctype.into()));
        doc.insert("name".into(), Value::String(name.into()));
        for (key, default) in [
            ("owner", Value::String(ADMIN.into())),
            ("creation", Value::String(stamp.into())),
            ("modified", Value::String(stamp.into())),
            ("modified_by", Value::String(ADMIN.into())),
            ("docstatus", Value::from(0)),
            ("idx", Value::from(0)),
        ] {
            doc.entry(key).or_insert(default);
        }
        doc
    }

    /// `POST /api/resource/<doctype>`.
    pub fn insert(&mut self, user: &str, doctype: &str, mut body: Doc) -> Result<Doc, SimError> {
        for key in [
            "owner",
            "creation",
            "modified",
            "modified_by",
            "idx",
            "docstatus",
        ] {
            body.remove(key);
        }
        body.insert("doctype".into(), Value::String(doctype.into()));
        let name = self.new_name(doctype, &body)?;
        if self.exists(doctype, &name) {
            return Err(SimError::duplicate(doctype, &name));
        }
        self.check_locks(doctype, &body)?;
        let stamp = self.now_stamp();
        let mut doc = self.decorate(doctype, &name, body, &stamp, true);
        doc.insert("owner".into(), Value::String(user.into()));
        doc.insert("modified_by".into(), Value::String(user.into()));
        self.validate(doctype, &name, &doc)?;
        self.docs
            .entry(doctype.into())
            .or_default()
            .insert(name.clone(), doc.clone());
        self.after_save(doctype, &doc, user);
        Ok(doc)
    }

    /// `PUT /api/resource/<doctype>/<name>`: `doc.update(body)` then `save()`.
    pub fn update(
        &mut self,
        user: &str,
        doctype: &str,
        name: &str,
        mut body: Doc,
    ) -> Result<Doc, SimError> {
        // A `name` in the body retargets the update (Frappe's doc.update sets it).
        let target = match body.remove("name") {
            Some(Value::String(other)) => other,
            _ => name.to_string(),
        };
        let (stored_name, stored) = match self.find(doctype, &target) {
            Some((n, d)) => (n.clone(), d.clone()),
            None => return Err(SimError::not_found(doctype, &target)),
        };
        if let Some(sent) = body.remove("modified") {
            if sent.as_str() != stored.get("modified").and_then(Value::as_str) {
                return Err(SimError::timestamp_mismatch());
            }
        }
        for key in [
            "doctype",
            "owner",
            "creation",
            "modified_by",
            "idx",
            "docstatus",
        ] {
            body.remove(key);
        }
        let stamp = self.now_stamp();
        let mut doc = stored.clone();
        for (key, value) in body {
            match value {
                Value::Null => {
                    doc.remove(&key);
                }
                Value::Array(rows)
                    if rows.iter().all(Value::is_object)
                        && (is_table(&stored, &key) || !rows.is_empty()) =>
                {
                    let child = self.child_doctype_for(doctype, &key);
                    let merged = replace_table(
                        stored.get(&key),
                        rows,
                        doctype,
                        &stored_name,
                        &key,
                        &child,
                        &stamp,
                    );
                    doc.insert(key, Value::Array(merged));
                }
                other => {
                    doc.insert(key, other);
                }
            }
        }
        self.check_locks(doctype, &doc)?;
        doc.insert("modified".into(), Value::String(stamp));
        doc.insert("modified_by".into(), Value::String(user.into()));
        self.validate(doctype, &stored_name, &doc)?;
        self.docs
            .entry(doctype.into())
            .or_default()
            .insert(stored_name, doc.clone());
        self.after_save(doctype, &doc, user);
        Ok(doc)
    }

    /// `DELETE /api/resource/<doctype>/<name>`.
    pub fn delete(&mut self, doctype: &str, name: &str) -> Result<(), SimError> {
        let stored_name = match self.find(doctype, name) {
            Some((n, _)) => n.clone(),
            None => return Err(SimError::not_found(doctype, name)),
        };
        if let Some(docs) = self.docs.get_mut(doctype) {
            docs.remove(&stored_name);
        }
        Ok(())
    }

    /// What `bench migrate` does with one fixture file: delete the record and insert
    /// it again (`import_file_by_path(force=True)`), Link-validated, then set
    /// `modified` to the file's value when it has one. Controller validation (and so
    /// the Workflow side effects) is skipped, as on import. Report `disabled`,
    /// Notification `enabled` and Print Format `disabled` keep their DB values.
    pub fn import_fixture(&mut self, body: Doc) -> Result<(String, String), SimError> {
        let doctype = field_str(&body, "doctype").to_string();
        let name = field_str(&body, "name").to_string();
        if doctype.is_empty() || name.is_empty() {
            return Err(SimError::validation(
                "a fixture needs both \"doctype\" and \"name\"",
            ));
        }
        let kept_key = match doctype.as_str() {
            "Report" | "Print Format" => Some("disabled"),
            "Notification" => Some("enabled"),
            _ => None,
        };
        let previous = self
            .find(&doctype, &name)
            .map(|(n, d)| (n.clone(), d.clone()));
        let file_modified = body
            .get("modified")
            .and_then(Value::as_str)
            .map(str::to_string);
        let stamp = self.now_stamp();
        let mut clean = body;
        for key in [
            "owner",
            "creation",
            "modified",
            "modified_by",
            "idx",
            "docstatus",
        ] {
            clean.remove(key);
        }
        let mut doc = self.decorate(&doctype, &name, clean, &stamp, true);
        if let (Some(key), Some((_, old))) = (kept_key, &previous) {
            match old.get(key) {
                Some(v) => doc.insert(key.into(), v.clone()),
                None => doc.remove(key),
            };
        }
        if let Some(m) = file_modified {
            doc.insert("modified".into(), Value::String(m));
        }
        self.validate_links(&doctype, &name, &doc)?;
        let docs = self.docs.entry(doctype.clone()).or_default();
        if let Some((old_name, _)) = previous {
            docs.remove(&old_name);
        }
        docs.insert(name.clone(), doc);
        Ok((doctype, name))
    }

    fn new_name(&self, doctype: &str, body: &Doc) -> Result<String, SimError> {
        let text = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let explicit = text("name");
        let name = match doctype {
            "Custom Field" => match (text("dt"), text("fieldname")) {
                (Some(dt), Some(f)) => Some(format!("{dt}-{f}")),
                _ => {
                    return Err(SimError::validation(
                        "Custom Field: Document and Fieldname are mandatory",
                    ))
                }
            },
            "Property Setter" => match (text("doc_type"), text("property")) {
                (Some(dt), Some(p)) => Some(format!(
                    "{dt}-{}-{p}",
                    text("field_name").unwrap_or_else(|| "main".into())
                )),
                _ => {
                    return Err(SimError::validation(
                        "Property Setter: DocType and Property are mandatory",
                    ))
                }
            },
            // Number Card autonames from its label and appends -1, -2… when taken,
            // even when a name is given: a POST of an existing card duplicates it.
            "Number Card" => {
                let base = explicit
                    .or_else(|| text("label"))
                    .ok_or_else(|| SimError::validation("Number Card: Label is mandatory"))?;
                return Ok(self.append_number_if_taken(doctype, &base));
            }
            _ => match meta::name_field(doctype) {
                Some(field) => text(field).or(explicit),
                None => explicit,
            },
        };
        match name {
            Some(n) => Ok(n),
            None if meta::is_core_doctype(doctype) => {
                Err(SimError::validation(format!("{doctype}: Name is required")))
            }
            None => Ok(random_hash()),
        }
    }

    fn append_number_if_taken(&self, doctype: &str, base: &str) -> String {
        if !self.exists(doctype, base) {
            return base.to_string();
        }
        (1..)
            .map(|n| format!("{base}-{n}"))
            .find(|n| !self.exists(doctype, n))
            .unwrap_or_else(random_hash)
    }

    /// Saving standard records is refused outside developer mode.
    fn check_locks(&self, doctype: &str, doc: &Doc) -> Result<(), SimError> {
        if self.developer_mode {
            return Ok(());
        }
        let is = |key: &str, yes: &Value| doc.get(key).is_some_and(|v| loosely_equal(v, yes));
        let locked = match doctype {
            "DocType" => !is("custom", &Value::from(1)),
            "Report" => is("is_standard", &Value::from("Yes")),
            "Print Format" => is("standard", &Value::from("Yes")),
            "Dashboard Chart" | "Notification" | "Number Card" | "Dashboard" => {
                is("is_standard", &Value::from(1))
            }
            _ => false,
        };
        if !locked {
            return Ok(());
        }
        Err(SimError::validation(if doctype == "DocType" {
            "Not in Developer Mode! Set in site_config.json or make 'Custom' DocType.".to_string()
        } else {
            format!("Cannot edit a standard {doctype} outside developer mode. To edit it, set developer_mode in site_config.json")
        }))
    }

    fn validate(&self, doctype: &str, name: &str, doc: &Doc) -> Result<(), SimError> {
        self.validate_links(doctype, name, doc)?;
        if doctype == "Workflow" {
            validate_workflow_doc_status(doc)?;
        }
        Ok(())
    }

    /// Every Link that matters to promotion must name an existing record.
    pub fn validate_links(&self, doctype: &str, name: &str, doc: &Doc) -> Result<(), SimError> {
        self.check_link_fields(doctype, name, doc, "")?;
        for value in doc.values() {
            let Value::Array(rows) = value else { continue };
            for row in rows.iter().filter_map(Value::as_object) {
                let child = field_str(row, "doctype");
                let idx = row.get("idx").and_then(Value::as_u64).unwrap_or(0);
                self.check_link_fields(child, name, row, &format!("Row #{idx}: "))?;
            }
        }
        Ok(())
    }

    fn check_link_fields(
        &self,
        doctype: &str,
        saving: &str,
        doc: &Doc,
        prefix: &str,
    ) -> Result<(), SimError> {
        for link in meta::links_of(doctype) {
            let Some(value) = doc
                .get(link.field)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            else {
                continue;
            };
            if !self.link_target_exists(link.target, value, saving) {
                return Err(SimError::link(format!(
                    "Could not find {prefix}{}: {value}",
                    link.label
                )));
            }
        }
        // Link and Table fields of DocFields / Custom Fields name a DocType in `options`.
        if matches!(doctype, "DocField" | "Custom Field") {
            let fieldtype = field_str(doc, "fieldtype");
            let options = field_str(doc, "options").trim();
            if matches!(fieldtype, "Link" | "Table" | "Table MultiSelect")
                && !options.is_empty()
                && !self.link_target_exists("DocType", options, saving)
            {
                let field = field_str(doc, "fieldname");
                return Err(SimError::link(format!("{prefix}Options must be a valid DocType for field {field}: {options} does not exist")));
            }
        }
        Ok(())
    }

    fn link_target_exists(&self, target: &str, value: &str, saving: &str) -> bool {
        match target {
            "DocType" => self.doctype_exists(value) || value.eq_ignore_ascii_case(saving),
            other => self.exists(other, value),
        }
    }

    /// Workflow save side effects (workflow.py `validate`): the doctype's other
    /// workflows are deactivated, and a hidden Custom Field for the state field is
    /// created when the DocType has none.
    fn after_save(&mut self, doctype: &str, doc: &Doc, user: &str) {
        if doctype != "Workflow" {
            return;
        }
        let name = field_str(doc, "name").to_string();
        let target = field_str(doc, "document_type").to_string();
        let active = doc
            .get("is_active")
            .is_none_or(|v| loosely_equal(v, &Value::from(1)));
        if !active || target.is_empty() {
            return;
        }
        if let Some(workflows) = self.docs.get_mut("Workflow") {
            for (other, wf) in workflows.iter_mut() {
                if *other != name
                    && wf.get("document_type").and_then(Value::as_str) == Some(target.as_str())
                {
                    wf.insert("is_active".into(), Value::from(0));
                }
            }
        }
        let state_field = doc
            .get("workflow_state_field")
            .and_then(Value::as_str)
            .unwrap_or("workflow_state")
            .to_string();
        if self.has_declared_field(&target, &state_field) {
            return;
        }
        let field = serde_json::json!({
            "doctype": "Custom Field", "name": format!("{target}-{state_field}"), "dt": target,
            "fieldname": state_field, "label": title_case(&state_field), "fieldtype": "Link",
            "options": "Workflow State", "hidden": 1, "allow_on_submit": 1, "no_copy": 1,
        });
        if let Some((dt, n)) = self.put_raw(field) {
            if let Some(d) = self.docs.get_mut(&dt).and_then(|m| m.get_mut(&n)) {
                d.insert("owner".into(), Value::String(user.into()));
            }
        }
    }

    fn has_declared_field(&self, doctype: &str, field: &str) -> bool {
        let in_doctype = self.find("DocType", doctype).is_some_and(|(_, dt)| {
            dt.get("fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|f| f.get("fieldname").and_then(Value::as_str) == Some(field))
        });
        in_doctype || self.exists("Custom Field", &format!("{doctype}-{field}"))
    }
}

/// A document as Frappe's one-document read returns it: null keys left out
/// (`as_dict(no_nulls=True)`), child tables inline.
pub fn without_nulls(doc: &Doc) -> Value {
    let mut out = Map::new();
    for (k, v) in doc {
        match v {
            Value::Null => {}
            Value::Array(rows) => {
                let rows = rows
                    .iter()
                    .map(|r| match r {
                        Value::Object(m) => Value::Object(
                            m.iter()
                                .filter(|(_, v)| !v.is_null())
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        ),
                        other => other.clone(),
                    })
                    .collect();
                out.insert(k.clone(), Value::Array(rows));
            }
            other => {
                out.insert(k.clone(), other.clone());
            }
        }
    }
    Value::Object(out)
}

#[allow(clippy::too_many_arguments)]
fn decorate_row(
    row: Value,
    parent_doctype: &str,
    parent: &str,
    field: &str,
    child: &str,
    idx: usize,
    stamp: &str,
    fresh_name: bool,
) -> Value {
    let Value::Object(mut row) = row else {
        return row;
    };
    row.retain(|_, v| !v.is_null());
    if fresh_name || !row.get("name").is_some_and(Value::is_string) {
        row.insert("name".into(), Value::String(random_hash()));
    }
    row.insert("parent".into(), Value::String(parent.into()));
    row.insert("parentfield".into(), Value::String(field.into()));
    row.insert("parenttype".into(), Value::String(parent_doctype.into()));
    row.insert("doctype".into(), Value::String(child.into()));
    row.insert("idx".into(), Value::from(idx));
    for (key, default) in [
        ("owner", Value::String(ADMIN.into())),
        ("creation", Value::String(stamp.into())),
        ("modified", Value::String(stamp.into())),
        ("modified_by", Value::String(ADMIN.into())),
        ("docstatus", Value::from(0)),
    ] {
        row.entry(key).or_insert(default);
    }
    Value::Object(row)
}

fn is_table(stored: &Doc, key: &str) -> bool {
    stored
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(|rows| rows.iter().all(Value::is_object))
}

/// PUT semantics for one table: the sent rows become the table. A row whose `name`
/// is in the stored table keeps it (and its creation); a row without a name gets a
/// new one; a row naming a child that is not in the table is silently lost.
fn replace_table(
    stored: Option<&Value>,
    sent: Vec<Value>,
    parent_doctype: &str,
    parent: &str,
    field: &str,
    child: &str,
    stamp: &str,
) -> Vec<Value> {
    let stored_rows: Vec<&Map<String, Value>> = stored
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let mut out = Vec::new();
    for row in sent {
        let Value::Object(mut row) = row else {
            continue;
        };
        let named = row.get("name").and_then(Value::as_str).map(str::to_string);
        match named {
            Some(n) => match stored_rows
                .iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(n.as_str()))
            {
                Some(old) => {
                    if let Some(c) = old.get("creation") {
                        row.insert("creation".into(), c.clone());
                    }
                }
                None => continue,
            },
            None => {
                row.insert("name".into(), Value::String(random_hash()));
            }
        }
        row.insert("modified".into(), Value::String(stamp.into()));
        out.push(Value::Object(row));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, row)| {
            decorate_row(
                row,
                parent_doctype,
                parent,
                field,
                child,
                i + 1,
                stamp,
                false,
            )
        })
        .collect()
}

/// Workflow Document State `doc_status` is a Select of the strings "0", "1", "2";
/// transitions may not go from submitted back to draft, from cancelled anywhere, or
/// from draft straight to cancelled (workflow.py `validate_docstatus`).
fn validate_workflow_doc_status(doc: &Doc) -> Result<(), SimError> {
    let states = doc
        .get("states")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut status_of = BTreeMap::new();
    for row in &states {
        let idx = row.get("idx").and_then(Value::as_u64).unwrap_or(0);
        let state = field_str(row, "state");
        match row.get("doc_status") {
            None => {
                status_of.insert(state.to_string(), "0".to_string());
            }
            Some(Value::String(s)) if matches!(s.as_str(), "0" | "1" | "2") => {
                status_of.insert(state.to_string(), s.clone());
            }
            Some(other) => {
                return Err(SimError::validation(format!(
                "Row #{idx}: Doc Status cannot be {other}. It should be one of \"0\", \"1\", \"2\""
            )))
            }
        }
    }
    for row in doc
        .get("transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let from = field_str(row, "state");
        let to = field_str(row, "next_state");
        let (Some(a), Some(b)) = (status_of.get(from), status_of.get(to)) else {
            continue;
        };
        let problem = match (a.as_str(), b.as_str()) {
            ("1", "0") => Some(format!("Submitted Document cannot be converted back to draft. Transition row {from} to {to}")),
            ("2", _) => Some(format!("Cannot change state of Cancelled Document. Transition row {from} to {to}")),
            ("0", "2") => Some(format!("Cannot cancel before submitting. See Transition {from} to {to}")),
            _ => None,
        };
        if let Some(message) = problem {
            return Err(SimError::validation(message));
        }
    }
    Ok(())
}

/// MariaDB-style loose equality: numbers compare as numbers, text case-insensitively.
pub fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => as_text(a).to_lowercase() == as_text(b).to_lowercase(),
    }
}

pub fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|_| !s.trim().is_empty()),
        _ => None,
    }
}

/// Documents and child rows, as maps or as values.
trait Fields {
    fn field(&self, key: &str) -> Option<&Value>;
}

impl Fields for Doc {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl Fields for Value {
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// A string field of a document or row, or "" when absent or not a string.
fn field_str<'a>(doc: &'a impl Fields, key: &str) -> &'a str {
    doc.field(key).and_then(Value::as_str).unwrap_or_default()
}

pub fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.to_string(),
    }
}

pub fn random_hash() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn title_case(field: &str) -> String {
    field
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn bump_micros(stamp: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.6f") {
        Ok(t) => (t + chrono::Duration::microseconds(1))
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        Err(_) => stamp.to_string(),
    }
}

/// The sim's clock honours `LOCKSTEP_NOW` (RFC 3339) like the bot, so demos and
/// tests see the same time on both sides.
pub fn crate_now() -> chrono::DateTime<chrono::Utc> {
    std::env::var("LOCKSTEP_NOW")
        .ok()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn site() -> SiteData {
        let mut s = SiteData::new("t", "Asia/Kolkata", false).unwrap();
        s.put_raw(json!({"doctype": "DocType", "name": "Grant", "custom": 1, "module": "Custom", "fields": [{"fieldname": "amount", "fieldtype": "Currency"}]}));
        s
    }

    fn obj(v: Value) -> Doc {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn put_keeps_named_rows_renames_new_ones_and_drops_foreign_names() {
        let mut s = site();
        let stored = s.find("DocType", "Grant").unwrap().1.clone();
        let keep = stored["fields"][0]["name"].as_str().unwrap().to_string();
        let body = obj(json!({"fields": [
            {"name": keep, "fieldname": "amount", "fieldtype": "Currency"},
            {"fieldname": "purpose", "fieldtype": "Data"},
            {"name": "not-in-table", "fieldname": "lost", "fieldtype": "Data"}
        ]}));
        let doc = s.update(ADMIN, "DocType", "Grant", body).unwrap();
        let rows = doc["fields"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], keep.as_str());
        assert_ne!(rows[1]["name"], "not-in-table");
        assert_eq!(rows[1]["idx"], 2);
    }

    #[test]
    fn stale_modified_is_a_timestamp_mismatch() {
        let mut s = site();
        let err = s
            .update(
                ADMIN,
                "DocType",
                "Grant",
                obj(json!({"modified": "2000-01-01 00:00:00.000000"})),
            )
            .unwrap_err();
        assert_eq!((err.status, err.exc_type), (417, "TimestampMismatchError"));
    }

    #[test]
    fn number_card_post_duplicates_under_a_new_name() {
        let mut s = site();
        let card = json!({"label": "Open Grants", "document_type": "Grant", "function": "Count"});
        assert_eq!(
            s.insert(ADMIN, "Number Card", obj(card.clone())).unwrap()["name"],
            "Open Grants"
        );
        assert_eq!(
            s.insert(ADMIN, "Number Card", obj(card)).unwrap()["name"],
            "Open Grants-1"
        );
    }

    #[test]
    fn workflow_needs_its_doctype_and_string_doc_status() {
        let mut s = site();
        s.put_raw(json!({"doctype": "Workflow State", "name": "Draft"}));
        let missing = json!({"workflow_name": "W", "document_type": "Nope", "states": []});
        assert_eq!(
            s.insert(ADMIN, "Workflow", obj(missing))
                .unwrap_err()
                .exc_type,
            "LinkValidationError"
        );
        let numeric = json!({"workflow_name": "W", "document_type": "Grant", "states": [{"state": "Draft", "doc_status": 0, "allow_edit": "System Manager"}]});
        let err = s.insert(ADMIN, "Workflow", obj(numeric)).unwrap_err();
        assert_eq!(err.exc_type, "ValidationError", "{err:?}");
        let ok = json!({"workflow_name": "W", "document_type": "Grant", "states": [{"state": "Draft", "doc_status": "0", "allow_edit": "System Manager"}]});
        s.insert(ADMIN, "Workflow", obj(ok)).unwrap();
        assert!(
            s.exists("Custom Field", "Grant-workflow_state"),
            "workflow side effect"
        );
    }

    #[test]
    fn standard_doctype_needs_developer_mode() {
        let mut s = site();
        let err = s
            .insert(
                ADMIN,
                "DocType",
                obj(json!({"name": "Core Thing", "custom": 0})),
            )
            .unwrap_err();
        assert!(err.message.contains("Developer Mode"));
    }

    #[test]
    fn stamps_strictly_increase() {
        let mut s = site();
        let a = s.now_stamp();
        let b = s.now_stamp();
        assert!(b > a);
    }
}
