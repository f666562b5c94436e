//! Release versions: tags are `v` + semver; a new release must be strictly greater
//! than the newest semver tag. Tags that are not semver (`demo`, `before-cleanup`)
//! are ignored, not refused: a repository may carry other tags.

use semver::Version;
use std::fmt;

/// The tag a version is released under: `v0.1.0`.
pub fn tag_name(version: &Version) -> String {
    format!("v{version}")
}

/// The newest release among tag names (`v1.2.0`, `1.3.0`…), by semver order.
pub fn newest_tag<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<(Version, String)> {
    tags.into_iter()
        .filter_map(|tag| {
            let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
            Version::parse(bare).ok().map(|v| (v, tag.to_string()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

/// Why a version cannot be released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRefusal {
    /// The tag already exists.
    Exists { tag: String },
    /// Not greater than the newest release.
    NotGreater { newest: String },
}

impl fmt::Display for VersionRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRefusal::Exists { tag } => write!(
                f,
                "`{tag}` is already a tag of the config repository: a release is made once; pick the next version"
            ),
            VersionRefusal::NotGreater { newest } => write!(
                f,
                "the version must be greater than the newest release, `{newest}`"
            ),
        }
    }
}

/// Whether `wanted` may be released after the repository's `tags`.
pub fn check(wanted: &Version, tags: &[String]) -> Result<(), VersionRefusal> {
    let tag = tag_name(wanted);
    if tags.iter().any(|t| t == &tag || t == &wanted.to_string()) {
        return Err(VersionRefusal::Exists { tag });
    }
    match newest_tag(tags.iter().map(String::as_str)) {
        Some((newest, name)) if &newest >= wanted => {
            Err(VersionRefusal::NotGreater { newest: name })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn a_release_is_strictly_greater_than_the_newest_semver_tag() {
        let tags: Vec<String> = ["v0.1.0", "v0.10.0", "v0.9.0", "demo"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            newest_tag(tags.iter().map(String::as_str)).unwrap().1,
            "v0.10.0"
        );
        assert_eq!(
            check(&v("0.10.0"), &tags),
            Err(VersionRefusal::Exists {
                tag: "v0.10.0".into()
            })
        );
        assert_eq!(
            check(&v("0.9.5"), &tags),
            Err(VersionRefusal::NotGreater {
                newest: "v0.10.0".into()
            })
        );
        assert_eq!(check(&v("0.11.0"), &tags), Ok(()));
        assert_eq!(check(&v("0.1.0"), &[]), Ok(()));
        assert_eq!(tag_name(&v("1.2.3-rc.1")), "v1.2.3-rc.1");
    }
}
