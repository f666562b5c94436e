//! "Fetch every tracked blueprint of a site": list each kind's tracked records
//! (always ordered, paged), read each document with bounded concurrency, and
//! canonicalise it into a `BlueprintSet`. Kinds without child tables come whole
//! from the list itself (`fields=["*"]`), which saves one request per record.

use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::reader::{ListQuery, SiteReader, Target};
use super::FrappeError;
use crate::blueprint::{canonicalize_owned, BlueprintSet, Kind};

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
            page_length: 500,
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
}

impl SiteReader {
    /// Every tracked blueprint of the site, canonical. Document reads run at most
    /// `SiteConfig::concurrency` at a time; a record deleted between the list and
    /// its read is skipped.
    pub async fn fetch_blueprints(
        &self,
        options: &FetchOptions,
    ) -> Result<BlueprintSet, FrappeError> {
        let mut set = BlueprintSet::new();
        let mut to_read: Vec<(Kind, String)> = Vec::new();
        for &kind in &options.kinds {
            let filters = options.filters_for(kind);
            if options.bulk_list_flat_kinds && kind.child_tables().is_empty() {
                let query = ListQuery::new("name asc")
                    .fields(["*"])
                    .filters(filters)
                    .page_length(options.page_length);
                for row in self.list_all(kind.doctype(), &query).await? {
                    self.add_canonical(&mut set, kind, row_as_document(kind, row))?;
                }
            } else {
                let names = self
                    .list_names(kind.doctype(), &filters, options.page_length)
                    .await?;
                to_read.extend(names.into_iter().map(|n| (kind, n)));
            }
        }
        let concurrency = self.config().concurrency.max(1);
        let docs: Vec<(Kind, Option<Value>)> = stream::iter(to_read)
            .map(|(kind, name)| async move {
                match self.get_doc(kind.doctype(), &name).await {
                    Ok(doc) => Ok((kind, Some(doc))),
                    Err(FrappeError::NotFound(_)) => Ok((kind, None)),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        for (kind, doc) in docs {
            if let Some(doc) = doc {
                self.add_canonical(&mut set, kind, doc)?;
            }
        }
        Ok(set)
    }

    fn add_canonical(
        &self,
        set: &mut BlueprintSet,
        kind: Kind,
        doc: Value,
    ) -> Result<(), FrappeError> {
        let name = doc.get("name").and_then(Value::as_str).map(str::to_string);
        match canonicalize_owned(doc) {
            Ok(blueprint) => {
                set.insert(blueprint);
                Ok(())
            }
            Err(e) => {
                let target = Target {
                    operation: "canonicalize",
                    doctype: Some(kind.doctype()),
                    record: name.as_deref(),
                };
                Err(self.decode_error(&target, e.to_string()))
            }
        }
    }
}

/// A list row has no `doctype` key (it is not a column); the document does.
fn row_as_document(kind: Kind, mut row: Map<String, Value>) -> Value {
    row.insert("doctype".into(), Value::String(kind.doctype().into()));
    Value::Object(row)
}
