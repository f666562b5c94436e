//! List and count queries with Frappe's semantics (db_query.py): `fields` (incl.
//! `["*"]`, `child.field`, `` `tabChild`.field ``), `filters` / `or_filters` as lists
//! or dicts, child-table filters as a left join returning one row per match,
//! operators, `order_by`, and paging (default 20; 0 means all). Without `order_by`
//! the rows come back in a scrambled order, as an unordered MariaDB query may.

use std::cmp::Ordering;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{Map, Value};

use super::error::SimError;
use super::store::{as_number, as_text, loosely_equal, Doc, SiteData};

/// One joined child row per joined child doctype (None: the LEFT JOIN found none).
type Combo<'a> = Vec<Option<&'a Map<String, Value>>>;

/// NULL handling differs: lists wrap columns in `ifnull(col, '')`, while
/// `frappe.db.count` (query builder) compares raw NULLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    List,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Parent(String),
    Child { doctype: String, field: String },
}

#[derive(Debug, Clone)]
struct FieldSpec {
    column: Option<Column>, // None = "*"
    key: String,
}

#[derive(Debug, Clone)]
struct Filter {
    column: Column,
    op: String,
    value: Value,
}

/// Raw query parameters, as strings from the query string.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub fields: Option<String>,
    pub filters: Option<String>,
    pub or_filters: Option<String>,
    pub order_by: Option<String>,
    pub limit_start: Option<String>,
    pub limit_page_length: Option<String>,
    pub limit: Option<String>,
    /// The parent doctype, required when listing a child doctype.
    pub parent: Option<String>,
}

/// Runs a list query. `scramble_seed` picks the unordered order.
pub fn list(
    site: &SiteData,
    doctype: &str,
    params: &ListParams,
    scramble_seed: u64,
) -> Result<Vec<Value>, SimError> {
    let fields = parse_fields(site, doctype, params.fields.as_deref())?;
    let filters = parse_filters(site, doctype, params.filters.as_deref())?;
    let or_filters = parse_filters(site, doctype, params.or_filters.as_deref())?;
    let order = parse_order(site, doctype, params.order_by.as_deref())?;
    let mut joined: Vec<String> = Vec::new();
    let referenced = fields
        .iter()
        .filter_map(|f| f.column.as_ref())
        .chain(filters.iter().chain(&or_filters).map(|f| &f.column));
    for column in referenced {
        if let Column::Child { doctype: child, .. } = column {
            if !joined.contains(child) {
                joined.push(child.clone());
            }
        }
    }
    let mut rows: Vec<(&Doc, Combo<'_>)> = Vec::new();
    for doc in source_docs(site, doctype, params.parent.as_deref())? {
        for combo in joined_rows(doc, &joined) {
            let get = |c: &Column| lookup(doc, &combo, &joined, c);
            let all = filters
                .iter()
                .all(|f| matches(get(&f.column), &f.op, &f.value, Mode::List));
            let any = or_filters.is_empty()
                || or_filters
                    .iter()
                    .any(|f| matches(get(&f.column), &f.op, &f.value, Mode::List));
            if all && any {
                rows.push((doc, combo));
            }
        }
    }
    if order.is_empty() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(scramble_seed);
        rows.shuffle(&mut rng);
    } else {
        rows.sort_by(|a, b| {
            order
                .iter()
                .map(|(col, desc)| {
                    let ord = compare(
                        lookup(a.0, &a.1, &joined, col),
                        lookup(b.0, &b.1, &joined, col),
                    );
                    if *desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let (start, length) = page(params)?;
    let selected = rows.into_iter().skip(start);
    let selected: Vec<_> = match length {
        Some(n) => selected.take(n).collect(),
        None => selected.collect(),
    };
    Ok(selected
        .into_iter()
        .map(|(doc, combo)| render_row(doc, &combo, &joined, &fields))
        .collect())
}

/// `frappe.client.get_count`: parents matching every filter, with raw NULL rules.
pub fn count(site: &SiteData, doctype: &str, filters: Option<&str>) -> Result<u64, SimError> {
    let filters = parse_filters(site, doctype, filters)?;
    let joined: Vec<String> = filters
        .iter()
        .filter_map(|f| match &f.column {
            Column::Child { doctype, .. } => Some(doctype.clone()),
            _ => None,
        })
        .fold(Vec::new(), |mut acc, d| {
            if !acc.contains(&d) {
                acc.push(d);
            }
            acc
        });
    let counted = site
        .doctype_docs(doctype)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|doc| {
            joined_rows(doc, &joined).iter().any(|combo| {
                filters.iter().all(|f| {
                    matches(
                        lookup(doc, combo, &joined, &f.column),
                        &f.op,
                        &f.value,
                        Mode::Count,
                    )
                })
            })
        })
        .count();
    Ok(counted as u64)
}

/// The records a list reads: a parent doctype's documents, or, for a child
/// doctype, the rows of that doctype inside documents of `parent`.
fn source_docs<'a>(
    site: &'a SiteData,
    doctype: &str,
    parent: Option<&str>,
) -> Result<Vec<&'a Doc>, SimError> {
    if !super::meta::is_core_child_doctype(doctype) || site.doctype_docs(doctype).is_some() {
        return Ok(site
            .doctype_docs(doctype)
            .into_iter()
            .flat_map(|m| m.values())
            .collect());
    }
    let parent = parent
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            SimError::validation(format!(
                "Please specify a valid parent DocType for {doctype}"
            ))
        })?;
    Ok(site
        .doctype_docs(parent)
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|doc| doc.values())
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_object)
        .filter(|row| row.get("doctype").and_then(Value::as_str) == Some(doctype))
        .collect())
}

fn page(params: &ListParams) -> Result<(usize, Option<usize>), SimError> {
    let parse = |name: &str, v: &Option<String>| -> Result<Option<usize>, SimError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse::<usize>().map(Some).map_err(|_| {
                SimError::validation(format!("{name} must be a non-negative integer, got {s:?}"))
            }),
        }
    };
    let start = parse("limit_start", &params.limit_start)?.unwrap_or(0);
    // `limit` counts only when `limit_page_length` is absent.
    let length = match parse("limit_page_length", &params.limit_page_length)? {
        Some(n) => n,
        None => parse("limit", &params.limit)?.unwrap_or(20),
    };
    // 0 means "all rows" and also drops limit_start (db_query add_limit).
    if length == 0 {
        return Ok((0, None));
    }
    Ok((start, Some(length)))
}

fn joined_rows<'a>(doc: &'a Doc, joined: &[String]) -> Vec<Vec<Option<&'a Map<String, Value>>>> {
    let mut combos: Vec<Vec<Option<&Map<String, Value>>>> = vec![Vec::new()];
    for child in joined {
        let rows: Vec<&Map<String, Value>> = doc
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(Value::as_object)
            .filter(|r| r.get("doctype").and_then(Value::as_str) == Some(child.as_str()))
            .collect();
        // LEFT JOIN: a parent without rows still yields one row of NULLs.
        let options: Vec<Option<&Map<String, Value>>> = if rows.is_empty() {
            vec![None]
        } else {
            rows.into_iter().map(Some).collect()
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                options.iter().map(move |o| {
                    let mut next = c.clone();
                    next.push(*o);
                    next
                })
            })
            .collect();
    }
    combos
}

fn lookup<'a>(
    doc: &'a Doc,
    combo: &[Option<&'a Map<String, Value>>],
    joined: &[String],
    column: &Column,
) -> Option<&'a Value> {
    match column {
        Column::Parent(f) => doc.get(f).filter(|v| !v.is_null() && !v.is_array()),
        Column::Child { doctype, field } => {
            let i = joined.iter().position(|j| j == doctype)?;
            combo
                .get(i)
                .copied()
                .flatten()
                .and_then(|row| row.get(field))
                .filter(|v| !v.is_null())
        }
    }
}

fn render_row(
    doc: &Doc,
    combo: &[Option<&Map<String, Value>>],
    joined: &[String],
    fields: &[FieldSpec],
) -> Value {
    let mut out = Map::new();
    for spec in fields {
        match &spec.column {
            None => {
                // `doctype` is not a table column, so `*` does not return it.
                for (k, v) in doc
                    .iter()
                    .filter(|(k, v)| !v.is_array() && k.as_str() != "doctype")
                {
                    out.insert(k.clone(), v.clone());
                }
            }
            Some(column) => {
                let value = lookup(doc, combo, joined, column)
                    .cloned()
                    .unwrap_or(Value::Null);
                out.insert(spec.key.clone(), value);
            }
        }
    }
    Value::Object(out)
}

/// `a.b` is a table field `a` of the doctype; `` `tabX`.b `` names doctype X.
fn parse_column(site: &SiteData, doctype: &str, text: &str) -> Result<Column, SimError> {
    let text = text.trim();
    let unquote = |s: &str| s.trim().trim_matches('`').trim_matches('"').to_string();
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let column = if let Some((table, field)) = text.split_once('.') {
        let table = unquote(table);
        let field = unquote(field);
        if let Some(dt) = table.strip_prefix("tab") {
            if dt == doctype {
                Column::Parent(field)
            } else {
                Column::Child {
                    doctype: dt.to_string(),
                    field,
                }
            }
        } else {
            let child = site
                .child_tables(doctype)
                .into_iter()
                .find(|(f, _)| *f == table)
                .map(|(_, c)| c)
                .ok_or_else(|| SimError::unknown_column(text))?;
            Column::Child {
                doctype: child,
                field,
            }
        }
    } else {
        Column::Parent(unquote(text))
    };
    let (dt, field) = match &column {
        Column::Parent(f) => (doctype, f.as_str()),
        Column::Child { doctype: c, field } => (c.as_str(), field.as_str()),
    };
    if !valid(field) {
        return Err(SimError::validation(format!(
            "Field not permitted in query: {text}"
        )));
    }
    if !site.has_column(dt, field) {
        return Err(SimError::unknown_column(field));
    }
    Ok(column)
}

fn parse_fields(
    site: &SiteData,
    doctype: &str,
    raw: Option<&str>,
) -> Result<Vec<FieldSpec>, SimError> {
    let list: Vec<String> = match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => vec!["name".to_string()],
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items.iter().map(as_text).collect(),
            Ok(Value::String(s)) => vec![s],
            // An unquoted `fields=*` reaches Frappe as the SQL `select *` string and fails.
            _ if text == "*" => {
                return Err(SimError {
                    status: 500,
                    exc_type: "TypeError",
                    message: "unhashable type: 'list'".into(),
                    thrown: false,
                })
            }
            _ => text.split(',').map(|s| s.trim().to_string()).collect(),
        },
    };
    list.iter()
        .map(|spec| {
            let (expr, alias) = split_alias(spec);
            if expr.trim() == "*" || expr.trim() == format!("`tab{doctype}`.*") {
                return Ok(FieldSpec {
                    column: None,
                    key: "*".into(),
                });
            }
            let column = parse_column(site, doctype, &expr)?;
            let key = alias.unwrap_or_else(|| match &column {
                Column::Parent(f) => f.clone(),
                Column::Child { field, .. } => field.clone(),
            });
            Ok(FieldSpec {
                column: Some(column),
                key,
            })
        })
        .collect()
}

fn split_alias(spec: &str) -> (String, Option<String>) {
    // ASCII lowering keeps byte offsets, so `i` indexes `spec` too.
    let lower = spec.to_ascii_lowercase();
    match lower.find(" as ") {
        Some(i) => (
            spec[..i].to_string(),
            Some(spec[i + 4..].trim().trim_matches('`').to_string()),
        ),
        None => (spec.to_string(), None),
    }
}

fn parse_filters(
    site: &SiteData,
    doctype: &str,
    raw: Option<&str>,
) -> Result<Vec<Filter>, SimError> {
    let Some(text) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| SimError::validation(format!("filters must be JSON: {e}")))?;
    let entries: Vec<(Option<String>, String, String, Value)> = match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Array(parts) => match parts.as_slice() {
                    [f, op, v] => Ok((None, as_text(f), as_text(op), v.clone())),
                    [dt, f, op, v] | [dt, f, op, v, _] => {
                        Ok((Some(as_text(dt)), as_text(f), as_text(op), v.clone()))
                    }
                    _ => Err(SimError::validation(format!(
                        "Filter must have 3 or 4 values: {}",
                        Value::Array(parts.clone())
                    ))),
                },
                other => Err(SimError::validation(format!(
                    "Filter must be a list: {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Value::Object(map) => map
            .into_iter()
            .map(|(f, v)| match v {
                Value::Array(parts) if parts.len() == 2 => {
                    (None, f, as_text(&parts[0]), parts[1].clone())
                }
                other => (None, f, "=".to_string(), other),
            })
            .collect(),
        Value::Null => Vec::new(),
        other => {
            return Err(SimError::validation(format!(
                "filters must be a list or an object, got {other}"
            )))
        }
    };
    entries
        .into_iter()
        .map(|(dt, field, op, value)| {
            let column = match dt {
                Some(dt) if dt != doctype => {
                    if !site.child_tables(doctype).iter().any(|(_, c)| *c == dt) {
                        return Err(SimError::unknown_column(&format!("tab{dt}.{field}")));
                    }
                    parse_column(site, doctype, &format!("`tab{dt}`.`{field}`"))?
                }
                _ => parse_column(site, doctype, &field)?,
            };
            let op = op.trim().to_lowercase();
            if !KNOWN_OPERATORS.contains(&op.as_str()) {
                return Err(SimError::validation(format!(
                    "Operator must be one of {}",
                    KNOWN_OPERATORS.join(", ")
                )));
            }
            Ok(Filter { column, op, value })
        })
        .collect()
}

const KNOWN_OPERATORS: [&str; 13] = [
    "=", "!=", "<>", ">", "<", ">=", "<=", "like", "not like", "in", "not in", "is", "between",
];

fn parse_order(
    site: &SiteData,
    doctype: &str,
    raw: Option<&str>,
) -> Result<Vec<(Column, bool)>, SimError> {
    let Some(text) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|part| {
            let mut words = part.split_whitespace();
            let column = words.next().unwrap_or_default();
            let desc = match words.next().map(str::to_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(SimError::validation(format!(
                        "order_by direction must be asc or desc, got {other}"
                    )))
                }
            };
            Ok((parse_column(site, doctype, column)?, desc))
        })
        .collect()
}

/// One condition. In list mode NULL reads as '' (or 0 against a number).
pub fn matches(stored: Option<&Value>, op: &str, value: &Value, mode: Mode) -> bool {
    if op == "is" {
        let wants_set = as_text(value).trim().eq_ignore_ascii_case("set");
        let is_set = match (stored, mode) {
            (None, _) => false,
            (Some(v), Mode::List) => !as_text(v).is_empty(),
            (Some(_), Mode::Count) => true,
        };
        return is_set == wants_set;
    }
    let null_default = if as_number(value).is_some()
        || (op.contains("in") && list_values(value).iter().all(|v| as_number(v).is_some()))
    {
        Value::from(0)
    } else {
        Value::String(String::new())
    };
    let left = match (stored, mode) {
        (Some(v), _) => v.clone(),
        (None, Mode::List) => null_default,
        (None, Mode::Count) => return false,
    };
    match op {
        "=" => loosely_equal(&left, value),
        "!=" | "<>" => !loosely_equal(&left, value),
        "in" => list_values(value).iter().any(|v| loosely_equal(&left, v)),
        "not in" => !list_values(value).iter().any(|v| loosely_equal(&left, v)),
        "like" => like(&as_text(&left), &as_text(value)),
        "not like" => !like(&as_text(&left), &as_text(value)),
        ">" => compare(Some(&left), Some(value)) == Ordering::Greater,
        "<" => compare(Some(&left), Some(value)) == Ordering::Less,
        ">=" => compare(Some(&left), Some(value)) != Ordering::Less,
        "<=" => compare(Some(&left), Some(value)) != Ordering::Greater,
        "between" => match list_values(value).as_slice() {
            [lo, hi] => {
                compare(Some(&left), Some(lo)) != Ordering::Less
                    && compare(Some(&left), Some(hi)) != Ordering::Greater
            }
            _ => false,
        },
        _ => false,
    }
}

fn list_values(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::String(s) => s
            .split(',')
            .map(|p| Value::String(p.trim().to_string()))
            .collect(),
        other => vec![other.clone()],
    }
}

/// SQL LIKE, case-insensitive: `%` any run, `_` one character.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

/// Sort order: NULLs first, numbers numerically, text case-insensitively.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => match (as_number(x), as_number(y)) {
            (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
            _ => as_text(x).to_lowercase().cmp(&as_text(y).to_lowercase()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn null_rules_differ_between_lists_and_counts() {
        let empty = json!("");
        assert!(matches(None, "!=", &json!("x"), Mode::List));
        assert!(!matches(None, "!=", &json!("x"), Mode::Count));
        assert!(!matches(Some(&empty), "is", &json!("set"), Mode::List));
        assert!(matches(Some(&empty), "is", &json!("set"), Mode::Count));
        assert!(matches(None, "=", &json!(0), Mode::List));
    }

    #[test]
    fn like_and_comparisons() {
        assert!(like("Beneficiary-age", "beneficiary-%"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(matches(Some(&json!("10")), ">", &json!(9), Mode::List));
        assert!(matches(
            Some(&json!("Manager")),
            "in",
            &json!(["manager", "X"]),
            Mode::List
        ));
    }

    fn small_site() -> SiteData {
        let mut site = SiteData::new("t", "UTC", false).unwrap();
        site.put_raw(json!({"doctype": "User", "name": "a@example.com", "enabled": 1, "roles": [{"role": "All"}]}));
        site
    }

    proptest! {
        #[test]
        fn list_and_count_never_panic_on_any_parameters(
            fields in proptest::option::of("\\PC{0,40}"),
            filters in proptest::option::of(prop_oneof!["\\PC{0,40}", Just(r#"[["Has Role","role","in","a,b"]]"#.to_string()), Just(r#"{"enabled": ["!=", 0]}"#.to_string())]),
            order_by in proptest::option::of("\\PC{0,20}"),
            start in proptest::option::of("\\PC{0,5}"),
            length in proptest::option::of("\\PC{0,5}"),
        ) {
            let site = small_site();
            let params = ListParams { fields, filters: filters.clone(), order_by, limit_start: start, limit_page_length: length, ..Default::default() };
            let _ = list(&site, "User", &params, 7);
            let _ = count(&site, "User", filters.as_deref());
        }

        #[test]
        fn like_with_only_percent_matches_everything(s in "\\PC{0,40}") {
            prop_assert!(like(&s, "%"));
            let pattern = format!("%{}%", s);
            prop_assert!(like(&s, &pattern));
        }

        #[test]
        fn like_without_wildcards_is_case_insensitive_equality(a in "[a-zA-Z0-9 -]{0,20}", b in "[a-zA-Z0-9 -]{0,20}") {
            prop_assert_eq!(like(&a, &b), a.to_lowercase() == b.to_lowercase());
        }
    }
}
