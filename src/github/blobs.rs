//! Blob bytes: decoding GitHub's `git/blobs/{sha}` answer, and the caches by blob
//! id: recent blobs, and what blobs digested to. A blob id never changes meaning,
//! so nothing cached is ever stale; both caches are bounded by the bytes they hold
//! (not by count), so reading a 50,000-file tree keeps a few megabytes of blobs and
//! its digests, not the tree. Decoding is plain CPU work, kept free of tokio so
//! callers can run it on the blocking pool.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use base64::Engine as _;

use crate::blueprint::{Digest, Kind};

/// Bytes of blobs the cache holds at most: the files a `show` or a push reads again
/// soon after fit; a whole tree does not, and is not meant to.
pub const BLOB_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Recently read blobs, oldest evicted first once their bytes pass the budget.
pub type BlobCache = Fifo<Arc<Vec<u8>>>;

/// What blobs digested to (kind, name, digest), by blob id: a few dozen bytes a
/// blob, so a second read of a 50,000-file branch, or of main beside staging (which
/// share most blobs), downloads only the blobs it has not seen.
pub type DigestCache = Fifo<(Kind, String, Digest)>;

/// Bytes the digest cache holds at most: about 150,000 blobs.
pub const DIGEST_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// What one digest costs the cache, by estimate: its id, its name, the rest.
pub fn digest_weight(sha: &str, name: &str) -> usize {
    sha.len() + name.len() + 96
}

/// A cache by blob id, bounded by the bytes its values weigh, oldest out first.
#[derive(Debug)]
pub struct Fifo<V> {
    budget: usize,
    held: usize,
    entries: HashMap<String, (V, usize)>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
}

impl<V: Clone> Fifo<V> {
    pub fn new(budget: usize) -> Self {
        Fifo {
            budget,
            held: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&self, sha: &str) -> Option<V> {
        self.entries.get(sha).map(|(value, _)| value.clone())
    }

    /// Keeps a value weighing `weight` bytes, evicting the oldest until it fits.
    /// One heavier than the whole budget is not kept.
    pub fn insert(&mut self, sha: &str, value: V, weight: usize) {
        if weight > self.budget || self.entries.contains_key(sha) {
            return;
        }
        while self.held + weight > self.budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, gone)) = self.entries.remove(&oldest) {
                self.held -= gone;
            }
        }
        self.held += weight;
        self.order.push_back(sha.to_owned());
        self.entries.insert(sha.to_owned(), (value, weight));
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// The answer of `GET git/blobs/{sha}`; only what is read of it.
#[derive(serde::Deserialize)]
struct BlobReply<'a> {
    #[serde(borrow, default)]
    content: std::borrow::Cow<'a, str>,
    #[serde(default)]
    encoding: Option<std::borrow::Cow<'a, str>>,
}

/// A blob's bytes from its JSON answer, or why they cannot be read.
pub fn decode_blob(reply: &[u8]) -> Result<Vec<u8>, String> {
    let reply: BlobReply = serde_json::from_slice(reply).map_err(|e| e.to_string())?;
    match reply.encoding.as_deref() {
        // GitHub wraps base64 at 60 columns.
        Some("base64") => {
            let packed: Vec<u8> = reply
                .content
                .bytes()
                .filter(|b| !matches!(b, b'\n' | b'\r'))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(packed)
                .map_err(|e| e.to_string())
        }
        _ => Ok(reply.content.into_owned().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Arc<Vec<u8>> {
        Arc::new(vec![0; n])
    }

    #[test]
    fn the_cache_evicts_the_oldest_to_stay_within_its_bytes() {
        let mut cache = BlobCache::new(10);
        cache.insert("a", bytes(4), 4);
        cache.insert("b", bytes(4), 4);
        assert_eq!(cache.held(), 8);
        cache.insert("c", bytes(4), 4);
        assert!(cache.get("a").is_none(), "the oldest goes first");
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!(cache.held(), 8);
        cache.insert("huge", bytes(11), 11);
        assert!(
            cache.get("huge").is_none(),
            "larger than the budget: not kept"
        );
        assert_eq!(cache.held(), 8);
        cache.insert("b", bytes(4), 4);
        assert_eq!(cache.held(), 8, "a blob id is kept once");
    }

    #[test]
    fn blobs_decode_from_wrapped_base64_or_plain_text() {
        let reply = br#"{"sha": "x", "content": "eyJhIjo\nxfQ==\n", "encoding": "base64"}"#;
        assert_eq!(decode_blob(reply).unwrap(), br#"{"a":1}"#);
        let reply = br#"{"content": "plain \"text\"", "encoding": "utf-8"}"#;
        assert_eq!(decode_blob(reply).unwrap(), br#"plain "text""#);
        assert!(decode_blob(br#"{"content": "!!", "encoding": "base64"}"#).is_err());
        assert!(decode_blob(b"not json").is_err());
    }
}
