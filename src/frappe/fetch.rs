//! "Fetch every tracked blueprint of a site", streamed: each page or document is
//! canonicalised as it arrives and handed on as a canonical [`Blueprint`] with its
//! [`Digest`]; nothing raw is kept. It reads with as few requests as Frappe v15
//! allows: kinds without child tables come whole from their list (`fields=["*"]`,
//! which returns every column of the parent, nulls included; the canonical form
//! drops nulls, so a row canonicalises like the one-document read, which leaves
//! them out), in pages planned from `frappe.client.get_count` and read concurrently;
//! only kinds with child tables (a list never returns those) are read one document
//! at a time. Every list sends `order_by` (v15 adds none) and a page length. JSON
//! decoding and canonicalising run on tokio's blocking pool, never on the runtime's
//! workers, so a large read does not starve the tasks that share them (the Socket
//! Mode listener's acks among them). Knows nothing of git or of drift: callers
//! collect ([`SiteReader::fetch_blueprints`]) or compare as they go.

use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::reader::{ListQuery, SiteReader, Target};
use super::FrappeError;
use crate::blueprint::{canonicalize_with_digest, Blueprint, BlueprintSet, Digest, Kind};

/// Rows per list page by default: large enough that 50,000 records take about ten
/// list requests (each page costs the server a sort or an index walk of the whole
/// table, so fewer is cheaper for it), small enough that one answer stays a few
/// megabytes (5,000 Custom Field rows: about 5 MB).
pub const DEFAULT_PAGE_LENGTH: usize = 5_000;

/// How [`SiteReader::fetch_blueprints`] reads a site.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Kinds to read (default: every tracked kind).
    pub kinds: Vec<Kind>,
    /// Rows per list page.
    pub page_length: usize,
    /// Read kinds without child tables from the list (`["*"]`) instead of one
    /// request per record. A list row holds every column of the record, and such
    /// kinds have nothing else, so the canonical result is the same.
    pub bulk_list_flat_kinds: bool,
    /// Extra filters per kind replacing the kind's default tracked filters
    /// (e.g. DocTypes of one module), as Frappe list filters.
    pub filters: Vec<(Kind, Value)>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            kinds: Kind::ALL.to_vec(),
            page_length: DEFAULT_PAGE_LENGTH,
            bulk_list_flat_kinds: true,
            filters: Vec::new(),
        }
    }
}

impl FetchOptions {
    fn filters_for(&self, kind: Kind) -> Value {
        self.filters
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| kind.tracked_filters())
    }

    fn reads_whole_list(&self, kind: Kind) -> bool {
        self.bulk_list_flat_kinds && kind.child_tables().is_empty()
    }
}

/// What a fetch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Blueprints handed on.
    pub blueprints: usize,
    /// HTTP requests sent, retries included.
    pub requests: u64,
}

/// One request of the fetch: a page of a list, or one document.
#[derive(Debug, Clone)]
enum Unit {
    Page {
        kind: Kind,
        filters: Value,
        start: usize,
    },
    Doc {
        kind: Kind,
        name: String,
    },
}

/// What a kind needs once its size is known.
struct Plan {
    kind: Kind,
    filters: Value,
    units: Vec<Unit>,
    /// For a kind read from its list: where paging goes on if the last planned page
    /// comes back full (`get_count` and lists treat NULLs differently, so a count can
    /// fall short of the list).
    continue_at: Option<usize>,
}

impl SiteReader {
    /// Every tracked blueprint of the site, canonical. Requests run at most
    /// `SiteConfig::concurrency` at a time; a record deleted between the list and
    /// its read is skipped.
    pub async fn fetch_blueprints(
        &self,
        options: &FetchOptions,
    ) -> Result<BlueprintSet, FrappeError> {
        let mut set = BlueprintSet::new();
        self.for_each_blueprint(options, |blueprint, digest| {
            set.insert_with_digest(blueprint, digest);
        })
        .await?;
        Ok(set)
    }

    /// Streams every tracked blueprint of the site through `visit`, each as soon as
    /// its page or document has arrived and been canonicalised, in no set order. A
    /// caller that compares as it goes (a drift against git) never holds the site.
    pub async fn for_each_blueprint(
        &self,
        options: &FetchOptions,
        mut visit: impl FnMut(Blueprint, Digest),
    ) -> Result<FetchStats, FrappeError> {
        let before = self.requests_sent();
        let concurrency = self.config().concurrency.max(1);
        let page_length = options.page_length.max(1);
        let plans: Vec<Plan> = stream::iter(options.kinds.iter().copied())
            .map(|kind| self.plan(options, kind, page_length))
            .buffered(concurrency)
            .try_collect()
            .await?;
        tracing::debug!(site = %self.site(), "planned the reads");
        // Pages first: they are the heavy answers, and the documents fill in behind.
        let (pages, docs): (Vec<Unit>, Vec<Unit>) = plans
            .iter()
            .flat_map(|plan| plan.units.iter().cloned())
            .partition(|unit| matches!(unit, Unit::Page { .. }));
        let mut blueprints = 0;
        let mut full_last_pages = Vec::new();
        let mut results = stream::iter(pages.into_iter().chain(docs))
            .map(|unit| self.read_unit(unit, page_length))
            .buffer_unordered(concurrency);
        while let Some(result) = results.next().await {
            let (unit, rows, canonical) = result?;
            if let Unit::Page { kind, start, .. } = &unit {
                if rows == page_length {
                    full_last_pages.push((*kind, *start));
                }
            }
            for (blueprint, digest) in canonical {
                blueprints += 1;
                visit(blueprint, digest);
            }
        }
        drop(results);
        tracing::debug!(site = %self.site(), blueprints, "read the planned units");
        // Rare: more rows than counted. Page on from the last planned page, in order.
        for plan in plans {
            let Some(mut start) = plan.continue_at else {
                continue;
            };
            if !full_last_pages.contains(&(plan.kind, start - page_length)) {
                continue;
            }
            loop {
                let unit = Unit::Page {
                    kind: plan.kind,
                    filters: plan.filters.clone(),
                    start,
                };
                let (_, rows, canonical) = self.read_unit(unit, page_length).await?;
                for (blueprint, digest) in canonical {
                    blueprints += 1;
                    visit(blueprint, digest);
                }
                if rows < page_length {
                    break;
                }
                start += page_length;
            }
        }
        Ok(FetchStats {
            blueprints,
            requests: self.requests_sent() - before,
        })
    }

    /// What to read for one kind: its list pages (from a count) or its documents
    /// (from the list of names).
    async fn plan(
        &self,
        options: &FetchOptions,
        kind: Kind,
        page_length: usize,
    ) -> Result<Plan, FrappeError> {
        let filters = options.filters_for(kind);
        if options.reads_whole_list(kind) {
            let count = self.get_count(kind.doctype(), &filters).await? as usize;
            let pages = count.div_ceil(page_length).max(1);
            let units = (0..pages)
                .map(|page| Unit::Page {
                    kind,
                    filters: filters.clone(),
                    start: page * page_length,
                })
                .collect();
            return Ok(Plan {
                kind,
                filters,
                units,
                continue_at: Some(pages * page_length),
            });
        }
        let names = self
            .list_names(kind.doctype(), &filters, page_length)
            .await?;
        let units = names
            .into_iter()
            .map(|name| Unit::Doc { kind, name })
            .collect();
        Ok(Plan {
            kind,
            filters,
            units,
            continue_at: None,
        })
    }

    /// Reads one unit and canonicalises it on the blocking pool. Answers the unit,
    /// the rows it held, and its blueprints (none for a document deleted meanwhile).
    async fn read_unit(
        &self,
        unit: Unit,
        page_length: usize,
    ) -> Result<(Unit, usize, Vec<(Blueprint, Digest)>), FrappeError> {
        let (kind, body) = match &unit {
            Unit::Page {
                kind,
                filters,
                start,
            } => {
                let mut query = ListQuery::new("name asc")
                    .fields(["*"])
                    .filters(filters.clone())
                    .page_length(page_length);
                query.limit_start = *start;
                let target = Target {
                    operation: "GET list",
                    doctype: Some(kind.doctype()),
                    record: None,
                };
                let path = ["api", "v1", "resource", kind.doctype()];
                let body = self.read_bytes(&target, &path, &query.params()).await?;
                (*kind, body)
            }
            Unit::Doc { kind, name } => {
                let target = Target {
                    operation: "GET",
                    doctype: Some(kind.doctype()),
                    record: Some(name),
                };
                let path = ["api", "v1", "resource", kind.doctype(), name.as_str()];
                match self.read_bytes(&target, &path, &[]).await {
                    Ok(body) => (*kind, body),
                    Err(FrappeError::NotFound(_)) => return Ok((unit, 0, Vec::new())),
                    Err(err) => return Err(err),
                }
            }
        };
        let is_page = matches!(unit, Unit::Page { .. });
        let decoded = tokio::task::spawn_blocking(move || decode(kind, is_page, &body))
            .await
            .map_err(|join| {
                let target = Target {
                    operation: "canonicalize",
                    doctype: Some(kind.doctype()),
                    record: None,
                };
                self.decode_error(&target, format!("the decoding task failed: {join}"))
            })?;
        let (rows, canonical) = decoded.map_err(|(record, message)| {
            let record = record.or_else(|| match &unit {
                Unit::Doc { name, .. } => Some(name.clone()),
                Unit::Page { .. } => None,
            });
            let target = Target {
                operation: if is_page { "GET list" } else { "GET" },
                doctype: Some(kind.doctype()),
                record: record.as_deref(),
            };
            self.decode_error(&target, message)
        })?;
        Ok((unit, rows, canonical))
    }
}

/// Why an answer could not be canonicalised: the record, when known, and what.
type Failure = (Option<String>, String);

/// Decodes one answer (`{"data": [rows]}` or `{"data": {doc}}`) and canonicalises
/// what it holds. Runs on the blocking pool. A page is canonicalised row by row as it
/// is parsed, so its raw rows never exist all at once. Answers the number of rows and
/// the blueprints, or the record and message of what went wrong.
fn decode(
    kind: Kind,
    is_page: bool,
    body: &Bytes,
) -> Result<(usize, Vec<(Blueprint, Digest)>), Failure> {
    let not_json =
        |e: serde_json::Error| (None, format!("HTTP 200 with a body that is not JSON ({e})"));
    if !is_page {
        let answer: Value = serde_json::from_slice(body).map_err(not_json)?;
        let data = match answer {
            Value::Object(mut map) => map
                .remove("data")
                .ok_or_else(|| (None, "the answer has no \"data\" key".to_string()))?,
            other => return Err((None, format!("expected a JSON object, got {other}"))),
        };
        return canonical(data).map(|pair| (1, vec![pair]));
    }
    let mut page = Page {
        kind,
        rows: 0,
        blueprints: Vec::new(),
        failed: None,
        has_data: false,
    };
    let mut reader = serde_json::Deserializer::from_slice(body);
    serde::de::DeserializeSeed::deserialize(&mut page, &mut reader)
        .and_then(|()| reader.end())
        .map_err(|e| match page.failed.take() {
            Some(failure) => failure,
            None => not_json(e),
        })?;
    if !page.has_data {
        return Err((None, "the answer has no \"data\" list".to_string()));
    }
    Ok((page.rows, page.blueprints))
}

/// A list answer being read: `{"data": [row, …]}`, each row canonicalised as soon as
/// it is parsed.
struct Page {
    kind: Kind,
    rows: usize,
    blueprints: Vec<(Blueprint, Digest)>,
    /// Why a row could not be canonicalised (the parse is stopped with an error).
    failed: Option<Failure>,
    has_data: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut Page {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut Page {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Frappe list answer {\"data\": [...]}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "data" {
                self.has_data = true;
                map.next_value_seed(Rows(&mut *self))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `data` list of a [`Page`].
struct Rows<'a>(&'a mut Page);

impl<'de> serde::de::DeserializeSeed<'de> for Rows<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Rows<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of rows under \"data\"")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let page = self.0;
        while let Some(row) = seq.next_element::<Value>()? {
            page.rows += 1;
            let Value::Object(row) = row else {
                continue;
            };
            match canonical(row_as_document(page.kind, row)) {
                Ok(pair) => page.blueprints.push(pair),
                Err(failure) => {
                    page.failed = Some(failure);
                    return Err(serde::de::Error::custom("a row is not a blueprint"));
                }
            }
        }
        Ok(())
    }
}

fn canonical(doc: Value) -> Result<(Blueprint, Digest), Failure> {
    let name = doc.get("name").and_then(Value::as_str).map(str::to_string);
    canonicalize_with_digest(doc).map_err(|e| (name, e.to_string()))
}

/// A list row has no `doctype` key (it is not a column); the document does.
fn row_as_document(kind: Kind, mut row: Map<String, Value>) -> Value {
    row.insert("doctype".into(), Value::String(kind.doctype().into()));
    Value::Object(row)
}
