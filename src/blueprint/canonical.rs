//! Canonical form of a blueprint (PRODUCT.md §2, reference/frappe.md §3): what is kept
//! of a Frappe document so that exporting the same site twice gives the same bytes,
//! and the `Blueprint` / `BlueprintSet` types built from it. Pure: this module never
//! reads files (that is `files`) and never decides paths (that is `layout`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::kinds::Kind;

/// Which volatile list a key is on (reference/frappe.md §3). Classified by length and
/// a fixed compare so the hot loop calls no `memcmp` and allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyClass {
    /// Kept everywhere.
    Keep,
    /// `doctype`, `name`: identity at the top level, volatile in child rows.
    Identity,
    /// Frappe `default_fields` other than the identity: volatile at every depth.
    Default,
    /// Frappe `child_table_fields` (`parent`, `parentfield`, `parenttype`).
    ChildLink,
    /// Frappe `optional_fields`, `migration_hash`, `last_synced_on` and `__` flags
    /// (`__onload`, `__unsaved`, `__islocal`, `__last_sync_on`): volatile everywhere.
    Bookkeeping,
}

/// A key as its length and first sixteen bytes (zero-padded): every volatile key is at
/// most 14 bytes, so comparing these three numbers decides it without a `memcmp`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey(usize, u64, u64);

const fn short_key(key: &str) -> ShortKey {
    let bytes = key.as_bytes();
    let mut words = [0u64; 2];
    let mut i = 0;
    while i < bytes.len() && i < 16 {
        words[i / 8] |= (bytes[i] as u64) << ((i % 8) * 8);
        i += 1;
    }
    ShortKey(bytes.len(), words[0], words[1])
}

const VOLATILE_KEYS: [(ShortKey, KeyClass); 18] = [
    (short_key("idx"), KeyClass::Default),
    (short_key("owner"), KeyClass::Default),
    (short_key("creation"), KeyClass::Default),
    (short_key("modified"), KeyClass::Default),
    (short_key("docstatus"), KeyClass::Default),
    (short_key("modified_by"), KeyClass::Default),
    (short_key("name"), KeyClass::Identity),
    (short_key("doctype"), KeyClass::Identity),
    (short_key("parent"), KeyClass::ChildLink),
    (short_key("parenttype"), KeyClass::ChildLink),
    (short_key("parentfield"), KeyClass::ChildLink),
    (short_key("migration_hash"), KeyClass::Bookkeeping),
    (short_key("last_synced_on"), KeyClass::Bookkeeping),
    (short_key("_user_tags"), KeyClass::Bookkeeping),
    (short_key("_comments"), KeyClass::Bookkeeping),
    (short_key("_assign"), KeyClass::Bookkeeping),
    (short_key("_liked_by"), KeyClass::Bookkeeping),
    (short_key("_seen"), KeyClass::Bookkeeping),
];

/// Classifies a key and, when it is at most 14 bytes, returns it packed as the digest
/// words [`DigestState::bytes`] would read, so the caller need not read it again.
fn classify_short(bytes: &[u8]) -> (KeyClass, Option<ShortKey>) {
    if bytes.len() > 14 {
        return (KeyClass::Keep, None);
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    let word = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().expect("eight bytes"));
    let short = ShortKey(bytes.len(), word(0), word(8));
    if bytes.len() >= 2 && bytes[0] == b'_' && bytes[1] == b'_' {
        return (KeyClass::Bookkeeping, Some(short));
    }
    let class = VOLATILE_KEYS
        .iter()
        .find(|(candidate, _)| *candidate == short)
        .map_or(KeyClass::Keep, |(_, class)| *class);
    (class, Some(short))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlueprintError {
    #[error("a blueprint must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("the document has no \"doctype\" string; pass the \"data\" object of GET /api/resource/<doctype>/<name>")]
    MissingDoctype,
    #[error("doctype {0:?} is not tracked (tracked: DocType, Custom Field, Property Setter, Workflow, …)")]
    UntrackedDoctype(String),
    #[error("the {0} document has no \"name\" string (or it is empty)")]
    MissingName(String),
}

/// One configuration record: `(kind, name)` and its canonical body, which holds
/// `doctype` and `name` at the top level. Build it with [`canonicalize`] so the body is
/// canonical; the fields are public for reading and pattern matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blueprint {
    pub kind: Kind,
    pub name: String,
    pub body: Value,
}

/// The key of a blueprint in a set: kind first, then name.
pub type BlueprintId = (Kind, String);

impl Blueprint {
    pub fn id(&self) -> BlueprintId {
        (self.kind, self.name.clone())
    }

    /// The file contents the bot writes to git: sorted keys, two-space indent,
    /// UTF-8 as is, trailing newline.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        canonical_bytes(&self.body)
    }
}

/// Serialises a canonical value the one way files are written.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    // serde_json's Map is a BTreeMap in this crate (no `preserve_order`), so keys come
    // out sorted; a test below fails if a dependency ever switches that feature on.
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer_pretty(&mut out, value).expect("writing JSON to a Vec cannot fail");
    out.push(b'\n');
    out
}

/// Canonicalises a raw Frappe document (the `data` object of
/// `GET /api/resource/<DT>/<name>`). A canonical body maps to itself.
pub fn canonicalize(raw: &Value) -> Result<Blueprint, BlueprintError> {
    canonicalize_owned(raw.clone())
}

/// As [`canonicalize`], consuming the document so nothing is copied.
pub fn canonicalize_owned(raw: Value) -> Result<Blueprint, BlueprintError> {
    canonicalize_with_digest(raw).map(|(blueprint, _)| blueprint)
}

/// As [`canonicalize_owned`], also returning the [`Digest`] of the canonical body,
/// taken in the same pass (no second walk).
pub fn canonicalize_with_digest(raw: Value) -> Result<(Blueprint, Digest), BlueprintError> {
    let Value::Object(mut top) = raw else {
        return Err(BlueprintError::NotAnObject(json_type(&raw)));
    };
    let kind = match top.get("doctype") {
        Some(Value::String(doctype)) => Kind::from_doctype(doctype)
            .ok_or_else(|| BlueprintError::UntrackedDoctype(doctype.clone()))?,
        _ => return Err(BlueprintError::MissingDoctype),
    };
    let name = match top.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err(BlueprintError::MissingName(kind.doctype().to_owned())),
    };
    let mut state = DigestState::new();
    normalize_object(&mut top, Depth::Top, &mut state);
    let blueprint = Blueprint {
        kind,
        name,
        body: Value::Object(top),
    };
    Ok((blueprint, state.finish()))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// The document itself: keeps `doctype`, `name` and `parent`-like fields of its own.
    Top,
    /// A child-table row: loses every default and child-table field.
    Row,
    /// An object value that is neither (Frappe has none, JSON fields are strings).
    Nested,
}

/// One pass over a map: drops what is volatile at this depth and nulls, normalises the
/// rest in place, and feeds the digest with what is kept (in key order, as [`digest`]
/// walks a canonical value).
fn normalize_object(map: &mut Map<String, Value>, depth: Depth, state: &mut DigestState) {
    state.word(TAG_OBJECT);
    let mut kept = 0u64;
    map.retain(|key, value| {
        let (class, short) = classify_short(key.as_bytes());
        let drop = match class {
            KeyClass::Keep => false,
            KeyClass::Bookkeeping => true,
            KeyClass::Default => depth != Depth::Nested,
            KeyClass::Identity | KeyClass::ChildLink => depth == Depth::Row,
        };
        if drop || value.is_null() {
            return false;
        }
        match short {
            Some(short) => state.short_key(short),
            None => state.bytes(TAG_KEY, key.as_bytes()),
        }
        normalize_value(value, state);
        kept += 1;
        true
    });
    state.word(TAG_END | kept);
}

fn normalize_value(value: &mut Value, state: &mut DigestState) {
    match value {
        Value::Array(items) => normalize_array(items, state),
        Value::Object(map) => normalize_object(map, Depth::Nested, state),
        Value::Number(n) => {
            if let Some(int) = integral_float(n) {
                *value = Value::from(int);
            }
            state.value(value);
        }
        Value::Null | Value::Bool(_) | Value::String(_) => state.value(value),
    }
}

/// `1.0` and `1` are the same value to Frappe (Float fields come back as `1.0` from
/// MariaDB, as `1` from a JSON file); keep one spelling so they compare equal.
fn integral_float(n: &serde_json::Number) -> Option<i64> {
    let float = n.as_f64().filter(|_| n.is_f64())?;
    let in_range = float.fract() == 0.0 && float.abs() < 9.0e15;
    in_range.then_some(float as i64)
}

/// An array of objects is a child table: rows are ordered by `idx` (stable, rows
/// without one keep their place after those with one) and lose every default field.
/// Any other array is kept in order with its items normalised.
fn normalize_array(items: &mut [Value], state: &mut DigestState) {
    state.word(TAG_ARRAY);
    let is_table = !items.is_empty() && items.iter().all(Value::is_object);
    if !is_table {
        items
            .iter_mut()
            .for_each(|item| normalize_value(item, state));
        state.word(TAG_ARRAY_END | items.len() as u64);
        return;
    }
    // One `idx` lookup per row; Frappe already sends rows in order, so sorting is rare.
    let order: Vec<(bool, i64)> = items.iter().map(row_idx).collect();
    if !order.is_sorted() {
        let mut keyed: Vec<((bool, i64), Value)> = order
            .into_iter()
            .zip(items.iter_mut().map(std::mem::take))
            .collect();
        keyed.sort_by_key(|(idx, _)| *idx);
        for (slot, (_, row)) in items.iter_mut().zip(keyed) {
            *slot = row;
        }
    }
    for row in items.iter_mut() {
        if let Value::Object(map) = row {
            normalize_object(map, Depth::Row, state);
        }
    }
    state.word(TAG_ARRAY_END | items.len() as u64);
}

fn row_idx(row: &Value) -> (bool, i64) {
    match row
        .get("idx")
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    {
        Some(idx) => (false, idx),
        None => (true, 0),
    }
}

/// A 64-bit fingerprint of a canonical value, computed in one walk without
/// serialising. Equal values have equal digests. Each step is a bijection of the state,
/// so values that differ in a single word never collide, and two different bodies share
/// a digest with a chance of about 2^-64 — far below any other failure of a deploy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(u64);

pub fn digest(value: &Value) -> Digest {
    let mut state = DigestState::new();
    state.value(value);
    state.finish()
}

struct DigestState(u64);

/// Type tags, in the top byte of the word that also carries a length.
const TAG_NULL: u64 = 1 << 56;
const TAG_FALSE: u64 = 2 << 56;
const TAG_TRUE: u64 = 3 << 56;
const TAG_INT: u64 = 4 << 56;
const TAG_UINT: u64 = 5 << 56;
const TAG_FLOAT: u64 = 6 << 56;
const TAG_STRING: u64 = 7 << 56;
const TAG_ARRAY: u64 = 8 << 56;
const TAG_OBJECT: u64 = 9 << 56;
const TAG_KEY: u64 = 10 << 56;
const TAG_END: u64 = 11 << 56;
const TAG_SMALL_UINT: u64 = 12 << 56;
const TAG_ARRAY_END: u64 = 13 << 56;

impl DigestState {
    fn new() -> Self {
        DigestState(0x243F_6A88_85A3_08D3)
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }

    /// A tagged length, then the bytes eight at a time (the last word zero-padded; the
    /// length tells it apart).
    #[inline]
    fn bytes(&mut self, tag: u64, bytes: &[u8]) {
        self.word(tag | bytes.len() as u64);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.word(u64::from_le_bytes(chunk.try_into().expect("chunks of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(last));
        }
    }

    /// The same words as `bytes(TAG_KEY, key)` for a key of at most 16 bytes.
    #[inline]
    fn short_key(&mut self, ShortKey(len, first, second): ShortKey) {
        self.word(TAG_KEY | len as u64);
        if len > 0 {
            self.word(first);
        }
        if len > 8 {
            self.word(second);
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.word(TAG_NULL),
            Value::Bool(false) => self.word(TAG_FALSE),
            Value::Bool(true) => self.word(TAG_TRUE),
            Value::Number(n) => {
                if let Some(small) = n.as_u64().filter(|u| *u < 1 << 56) {
                    // Check fields, counts, widths: one word, tag and value together.
                    self.word(TAG_SMALL_UINT | small);
                } else if let Some(i) = n.as_i64() {
                    self.word(TAG_INT);
                    self.word(i as u64);
                } else if let Some(u) = n.as_u64() {
                    self.word(TAG_UINT);
                    self.word(u);
                } else {
                    self.word(TAG_FLOAT);
                    self.word(n.as_f64().unwrap_or(f64::NAN).to_bits());
                }
            }
            Value::String(s) => self.bytes(TAG_STRING, s.as_bytes()),
            Value::Array(items) => {
                // The count goes last, as for objects: a reader streaming a file
                // learns it only at the end.
                self.word(TAG_ARRAY);
                items.iter().for_each(|item| self.value(item));
                self.word(TAG_ARRAY_END | items.len() as u64);
            }
            Value::Object(map) => {
                // The count goes last: canonicalisation learns it only after pruning.
                self.word(TAG_OBJECT);
                for (key, item) in map {
                    self.bytes(TAG_KEY, key.as_bytes());
                    self.value(item);
                }
                self.word(TAG_END | map.len() as u64);
            }
        }
    }

    fn finish(self) -> Digest {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        Digest(x ^ (x >> 33))
    }
}

/// The identity and [`Digest`] of a file in canonical form, read without building it:
/// the JSON is walked once and digested as [`canonicalize_with_digest`] would digest
/// it. Answers `None` as soon as the text is not exactly canonical (keys out of order,
/// a null, a volatile key, an integral float, no tracked `doctype` or no `name`), and
/// the caller canonicalises it the slow way; so it never answers a digest that
/// canonicalising would not. For the git side of a large drift, whose files the bot
/// wrote itself: most of the cost of a file was building a tree only to hash it.
pub fn digest_canonical_json(bytes: &[u8]) -> Option<(Kind, String, Digest)> {
    use serde::de::DeserializeSeed;
    let mut state = DigestState::new();
    let mut identity = Identity::default();
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let seed = Walk {
        state: &mut state,
        at: Place::Top,
        identity: Some(&mut identity),
        row_keys: None,
    };
    seed.deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    let kind = Kind::from_doctype(identity.doctype.as_deref()?)?;
    let name = identity.name.filter(|n| !n.is_empty())?;
    Some((kind, name, state.finish()))
}

#[derive(Default)]
struct Identity {
    doctype: Option<String>,
    name: Option<String>,
}

/// Where a value sits, for which keys canonical form keeps there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    /// An item of an array: a table row if every item turns out to be an object.
    Item,
    Nested,
}

/// One value being walked: the digest to feed, where it sits, the identity to fill
/// (top level only), and for an array item whether it held a key a table row drops.
struct Walk<'a> {
    state: &'a mut DigestState,
    at: Place,
    identity: Option<&'a mut Identity>,
    row_keys: Option<&'a mut bool>,
}

/// What a walked value was, for its array.
#[derive(PartialEq, Eq)]
enum Shape {
    Object,
    Other,
}

/// Any error ends the walk: the file is simply not in canonical form.
fn not_canonical<E: serde::de::Error>() -> E {
    E::custom("not in canonical form")
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = Shape;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a blueprint in canonical form")
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Shape, E> {
        self.state.value(&Value::Bool(b));
        Ok(Shape::Other)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Shape, E> {
        self.state.value(&Value::from(n));
        Ok(Shape::Other)
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Shape, E> {
        self.state.value(&Value::from(n));
        Ok(Shape::Other)
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Shape, E> {
        let number = serde_json::Number::from_f64(f).ok_or_else(not_canonical)?;
        if integral_float(&number).is_some() {
            return Err(not_canonical());
        }
        self.state.value(&Value::Number(number));
        Ok(Shape::Other)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Shape, E> {
        self.state.bytes(TAG_STRING, s.as_bytes());
        Ok(Shape::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Shape, E> {
        // Canonical form keeps a null only as an item of an array.
        if self.at != Place::Item {
            return Err(not_canonical());
        }
        self.state.word(TAG_NULL);
        Ok(Shape::Other)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        self.state.word(TAG_ARRAY);
        let (mut len, mut objects, mut row_keys) = (0u64, 0u64, false);
        loop {
            let item = Walk {
                state: &mut *self.state,
                at: Place::Item,
                identity: None,
                row_keys: Some(&mut row_keys),
            };
            match seq.next_element_seed(item)? {
                Some(shape) => {
                    len += 1;
                    objects += u64::from(shape == Shape::Object);
                }
                None => break,
            }
        }
        // A table's rows lose their identity and bookkeeping: a file that still has
        // them is not canonical. (Canonical rows have no `idx`, so order is as read.)
        if len > 0 && objects == len && row_keys {
            return Err(not_canonical());
        }
        self.state.word(TAG_ARRAY_END | len);
        Ok(Shape::Other)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let Walk {
            state,
            at,
            mut identity,
            row_keys,
        } = self;
        state.word(TAG_OBJECT);
        let mut previous: Option<String> = None;
        let mut kept = 0u64;
        let mut drops_in_row = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if previous.as_deref().is_some_and(|p| p >= key.as_ref()) {
                return Err(not_canonical());
            }
            let (class, _) = classify_short(key.as_bytes());
            match (class, at) {
                (KeyClass::Keep, _) => {}
                (KeyClass::Bookkeeping, _) | (KeyClass::Default, Place::Top) => {
                    return Err(not_canonical())
                }
                (KeyClass::Default | KeyClass::Identity | KeyClass::ChildLink, Place::Item) => {
                    drops_in_row = true
                }
                (KeyClass::Default | KeyClass::Identity | KeyClass::ChildLink, _) => {}
            }
            state.bytes(TAG_KEY, key.as_bytes());
            let capture = match (&mut identity, key.as_ref()) {
                (Some(id), "doctype") => Some(&mut id.doctype),
                (Some(id), "name") => Some(&mut id.name),
                _ => None,
            };
            match capture {
                Some(slot) => {
                    let text: String = map.next_value()?;
                    state.bytes(TAG_STRING, text.as_bytes());
                    *slot = Some(text);
                }
                None => {
                    map.next_value_seed(Walk {
                        state: &mut *state,
                        at: Place::Nested,
                        identity: None,
                        row_keys: None,
                    })?;
                }
            }
            kept += 1;
            previous = Some(key.into_owned());
        }
        if let Some(flag) = row_keys {
            *flag |= drops_in_row;
        }
        state.word(TAG_END | kept);
        Ok(Shape::Object)
    }
}

/// Blueprints ordered by `(kind, name)`; at most one per key. Nested by kind so a
/// lookup by `(Kind, &str)` needs no allocation. Each entry keeps the [`Digest`] of its
/// body, taken on insert (bodies cannot be changed in place), so `diff` compares two
/// sets without walking equal bodies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlueprintSet {
    by_kind: BTreeMap<Kind, KindMap>,
    len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    blueprint: Blueprint,
    digest: Digest,
}

type KindMap = BTreeMap<String, Entry>;

impl BlueprintSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a blueprint, returning the one it replaces.
    pub fn insert(&mut self, blueprint: Blueprint) -> Option<Blueprint> {
        let digest = digest(&blueprint.body);
        self.insert_with_digest(blueprint, digest)
    }

    /// The digest must be the one `canonicalize_with_digest` returned for this body.
    pub(crate) fn insert_with_digest(
        &mut self,
        blueprint: Blueprint,
        digest: Digest,
    ) -> Option<Blueprint> {
        let names = self.by_kind.entry(blueprint.kind).or_default();
        let replaced = names.insert(blueprint.name.clone(), Entry { blueprint, digest });
        if replaced.is_none() {
            self.len += 1;
        }
        replaced.map(|e| e.blueprint)
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&Blueprint> {
        self.entry(kind, name).map(|e| &e.blueprint)
    }

    /// The digest of a blueprint's body.
    pub fn digest(&self, kind: Kind, name: &str) -> Option<Digest> {
        self.entry(kind, name).map(|e| e.digest)
    }

    fn entry(&self, kind: Kind, name: &str) -> Option<&Entry> {
        self.by_kind.get(&kind)?.get(name)
    }

    pub fn remove(&mut self, kind: Kind, name: &str) -> Option<Blueprint> {
        let names = self.by_kind.get_mut(&kind)?;
        let removed = names.remove(name)?;
        if names.is_empty() {
            self.by_kind.remove(&kind);
        }
        self.len -= 1;
        Some(removed.blueprint)
    }

    pub fn contains(&self, kind: Kind, name: &str) -> bool {
        self.entry(kind, name).is_some()
    }

    /// Blueprints in `(kind, name)` order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Blueprint> + Clone {
        self.entries().map(|e| &e.blueprint)
    }

    /// Blueprints with their digests, in `(kind, name)` order.
    pub(crate) fn iter_digests(&self) -> impl Iterator<Item = (&Blueprint, Digest)> {
        self.entries().map(|e| (&e.blueprint, e.digest))
    }

    fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + Clone {
        self.by_kind.values().flat_map(KindMap::values)
    }

    /// Blueprints of one kind, in name order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Blueprint> {
        self.by_kind
            .get(&kind)
            .into_iter()
            .flat_map(KindMap::values)
            .map(|e| &e.blueprint)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl FromIterator<Blueprint> for BlueprintSet {
    fn from_iter<I: IntoIterator<Item = Blueprint>>(iter: I) -> Self {
        let mut set = BlueprintSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<Blueprint> for BlueprintSet {
    fn extend<I: IntoIterator<Item = Blueprint>>(&mut self, iter: I) {
        for blueprint in iter {
            self.insert(blueprint);
        }
    }
}

impl IntoIterator for BlueprintSet {
    type Item = Blueprint;
    type IntoIter = Box<dyn Iterator<Item = Blueprint>>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(
            self.by_kind
                .into_values()
                .flat_map(KindMap::into_values)
                .map(|e| e.blueprint),
        )
    }
}

impl<'a> IntoIterator for &'a BlueprintSet {
    type Item = &'a Blueprint;
    type IntoIter = Box<dyn Iterator<Item = &'a Blueprint> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn raw_doctype() -> Value {
        json!({
            "name": "Beneficiary", "owner": "Administrator", "creation": "2024-05-03 13:00:00.123456",
            "modified": "2024-05-04 09:00:00.5", "modified_by": "a@example.com", "docstatus": 0,
            "idx": 0, "doctype": "DocType", "module": "Programs", "custom": 1, "migration_hash": "abc",
            "_user_tags": null, "_liked_by": "[]", "__onload": {"x": 1}, "description": null,
            "fields": [
                {"name": "r2", "owner": "Administrator", "creation": "x", "modified": "y",
                 "modified_by": "z", "docstatus": 0, "idx": 2, "parent": "Beneficiary",
                 "parentfield": "fields", "parenttype": "DocType", "doctype": "DocField",
                 "fieldname": "age", "fieldtype": "Int", "non_negative": 1, "precision": null},
                {"name": "r1", "idx": 1, "parent": "Beneficiary", "parentfield": "fields",
                 "parenttype": "DocType", "doctype": "DocField", "fieldname": "full_name",
                 "fieldtype": "Data", "reqd": 1, "__unsaved": 1}
            ]
        })
    }

    #[test]
    fn strips_volatile_fields_and_orders_rows() {
        let bp = canonicalize(&raw_doctype()).unwrap();
        assert_eq!(bp.kind, Kind::DocType);
        assert_eq!(bp.name, "Beneficiary");
        assert_eq!(
            bp.body,
            json!({
                "custom": 1, "doctype": "DocType", "module": "Programs", "name": "Beneficiary",
                "fields": [
                    {"fieldname": "full_name", "fieldtype": "Data", "reqd": 1},
                    {"fieldname": "age", "fieldtype": "Int", "non_negative": 1}
                ]
            })
        );
    }

    #[test]
    fn canonical_bytes_are_sorted_pretty_and_end_with_newline() {
        let bp = canonicalize(
            &json!({"name": "Zoë", "doctype": "Role", "role_name": "Zoë", "desk_access": 1}),
        )
        .unwrap();
        let text = String::from_utf8(bp.to_canonical_bytes()).unwrap();
        assert_eq!(
            text,
            "{\n  \"desk_access\": 1,\n  \"doctype\": \"Role\",\n  \"name\": \"Zoë\",\n  \"role_name\": \"Zoë\"\n}\n"
        );
    }

    #[test]
    fn integral_floats_and_integers_are_one_value() {
        let a = canonicalize(&json!({"name": "C", "doctype": "Number Card", "x": 1.0, "y": 2.5}))
            .unwrap();
        let b = canonicalize(&json!({"name": "C", "doctype": "Number Card", "x": 1, "y": 2.5}))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn classify_knows_every_volatile_key_and_nothing_else() {
        for (key, class) in [
            ("idx", KeyClass::Default),
            ("modified_by", KeyClass::Default),
            ("name", KeyClass::Identity),
            ("parentfield", KeyClass::ChildLink),
            ("migration_hash", KeyClass::Bookkeeping),
            ("_seen", KeyClass::Bookkeeping),
            ("__onload", KeyClass::Bookkeeping),
            ("__x", KeyClass::Bookkeeping),
            ("names", KeyClass::Keep),
            ("nam", KeyClass::Keep),
            ("_seen_by", KeyClass::Keep),
            ("migration_hashes", KeyClass::Keep),
            ("fieldname", KeyClass::Keep),
            ("", KeyClass::Keep),
        ] {
            assert_eq!(classify_short(key.as_bytes()).0, class, "{key}");
        }
    }

    #[test]
    fn digests_tell_values_apart() {
        let a = json!({"fields": [{"fieldname": "age", "non_negative": 1}]});
        let b = json!({"fields": [{"fieldname": "age", "non_negative": 0}]});
        let c = json!({"fields": [{"fieldname": "age"}, {}]});
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
        assert_ne!(digest(&json!("")), digest(&json!(null)));
        assert_ne!(digest(&json!(["ab"])), digest(&json!(["a", "b"])));
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            canonicalize(&json!([])),
            Err(BlueprintError::NotAnObject("an array"))
        );
        assert_eq!(
            canonicalize(&json!({"name": "x"})),
            Err(BlueprintError::MissingDoctype)
        );
        assert_eq!(
            canonicalize(&json!({"name": "x", "doctype": "User"})),
            Err(BlueprintError::UntrackedDoctype("User".into()))
        );
        assert_eq!(
            canonicalize(&json!({"name": "", "doctype": "Role"})),
            Err(BlueprintError::MissingName("Role".into()))
        );
    }

    #[test]
    fn set_is_ordered_by_kind_then_name() {
        let set: BlueprintSet = [
            json!({"doctype": "Role", "name": "b"}),
            json!({"doctype": "DocType", "name": "z"}),
            json!({"doctype": "Role", "name": "a"}),
        ]
        .iter()
        .map(|v| canonicalize(v).unwrap())
        .collect();
        let ids: Vec<_> = set.iter().map(|b| (b.kind, b.name.as_str())).collect();
        assert_eq!(
            ids,
            vec![(Kind::DocType, "z"), (Kind::Role, "a"), (Kind::Role, "b")]
        );
        assert_eq!(set.of_kind(Kind::Role).count(), 2);
        assert!(set.contains(Kind::Role, "a"));
    }

    /// Arbitrary JSON shaped like Frappe documents: nested objects, child tables with
    /// idx and volatile keys, nulls, floats.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            Just(Value::from(3.0)),
            "[a-zé _]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            let key = prop_oneof![
                Just("idx".to_string()),
                Just("name".to_string()),
                Just("modified".to_string()),
                Just("_seen".to_string()),
                Just("__onload".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonicalisation_is_idempotent(extra in prop::collection::btree_map("[a-z_]{1,8}", arb_json(), 0..6)) {
            let mut doc: Map<String, Value> = extra.into_iter().collect();
            doc.insert("doctype".into(), json!("Workflow"));
            doc.insert("name".into(), json!("W"));
            let doc_copy = doc.clone();
            let once = canonicalize(&Value::Object(doc)).unwrap();
            let twice = canonicalize(&once.body).unwrap();
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(once.to_canonical_bytes(), twice.to_canonical_bytes());
            let reparsed: Value = serde_json::from_slice(&once.to_canonical_bytes()).unwrap();
            prop_assert_eq!(canonicalize(&reparsed).unwrap(), once.clone());
            let (_, fused) = canonicalize_with_digest(Value::Object(doc_copy)).unwrap();
            prop_assert_eq!(fused, digest(&once.body));
        }

        #[test]
        fn a_canonical_file_digests_without_being_built(extra in prop::collection::btree_map("[a-z_]{1,8}", arb_json(), 0..6)) {
            let mut doc: Map<String, Value> = extra.into_iter().collect();
            doc.insert("doctype".into(), json!("Workflow"));
            doc.insert("name".into(), json!("W"));
            let raw = Value::Object(doc);
            let (blueprint, expected) = canonicalize_with_digest(raw.clone()).unwrap();
            // Written canonical, it streams to the same identity and digest.
            let streamed = digest_canonical_json(&blueprint.to_canonical_bytes());
            prop_assert_eq!(streamed, Some((Kind::Workflow, "W".to_string(), expected)));
            // Anything else streams to that digest too, or is refused: never another.
            let raw_bytes = serde_json::to_vec(&raw).unwrap();
            if let Some((_, _, d)) = digest_canonical_json(&raw_bytes) {
                prop_assert_eq!(d, expected);
            }
        }
    }

    #[test]
    fn non_canonical_files_are_refused_not_misdigested() {
        for text in [
            r#"{"name": "W", "doctype": "Workflow"}"#,
            r#"{"doctype": "Workflow", "modified": "x", "name": "W"}"#,
            r#"{"doctype": "Workflow", "name": "W", "x": null}"#,
            r#"{"doctype": "Workflow", "name": "W", "x": 1.0}"#,
            r#"{"doctype": "Workflow", "name": "W", "states": [{"idx": 1, "state": "A"}]}"#,
            r#"{"doctype": "Workflow", "name": "W", "x": {"_seen": 1}}"#,
            r#"{"doctype": "User", "name": "W"}"#,
            r#"{"doctype": "Workflow", "name": ""}"#,
            r#"{"doctype": "Workflow", "name": "W"} x"#,
        ] {
            assert_eq!(digest_canonical_json(text.as_bytes()), None, "{text}");
        }
        // Kept where canonical form keeps them: identity in a mixed array, nulls in one.
        let text = r#"{"doctype": "Workflow", "name": "W", "x": [{"name": "n"}, null, 2.5]}"#;
        let (_, expected) = canonicalize_with_digest(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(
            digest_canonical_json(text.as_bytes()),
            Some((Kind::Workflow, "W".into(), expected))
        );
    }
}
