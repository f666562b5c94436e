//! How records are encoded on disk: JSON, so an operator can inspect a store with any
//! sled tool, and so a damaged record is reported by tree and key instead of being
//! skipped.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// A record that cannot be read back: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Corrupt {
    pub tree: &'static str,
    pub key: String,
    pub problem: String,
}

impl Corrupt {
    pub fn new(tree: &'static str, key: &str, problem: &str) -> Self {
        Self {
            tree,
            key: key.to_string(),
            problem: problem.to_string(),
        }
    }
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {:?} in tree `{}` cannot be read ({})",
            self.key, self.tree, self.problem
        )
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our records are plain data (strings, numbers, maps with string keys), which
    // serde_json always encodes.
    serde_json::to_vec(value).expect("store records always encode as JSON")
}

pub fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    value: &[u8],
) -> Result<T, Corrupt> {
    serde_json::from_slice(value).map_err(|err| {
        let key = if key.len() == 8 && !key.iter().all(u8::is_ascii_graphic) {
            format!(
                "#{}",
                u64::from_be_bytes(key.try_into().expect("length checked"))
            )
        } else {
            String::from_utf8_lossy(key).into_owned()
        };
        Corrupt {
            tree,
            key,
            problem: err.to_string(),
        }
    })
}
