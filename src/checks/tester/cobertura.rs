//! Cobertura XML as coverage.py writes it (`coverage xml`, and `bench run-tests
//! --coverage` into `sites/coverage.xml`): `<coverage line-rate=…><sources><source>…`
//! then `<packages><package><classes><class filename=…><lines><line number hits/>`.
//! Only `<line>`s directly under a class's `<lines>` count: Cobertura writers that also
//! list lines per method would otherwise count them twice.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{attr, xml_error, ParseError};

/// Line coverage per file.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    /// `<source>` roots the file names are relative to.
    pub sources: Vec<String>,
    /// file name → line number → hits.
    pub files: BTreeMap<String, BTreeMap<u32, u64>>,
    /// The root's `line-rate`, for reports without per-line data.
    pub line_rate: Option<f64>,
}

impl Coverage {
    /// Percent of measured lines hit, over the whole report.
    pub fn overall_percent(&self) -> Option<f64> {
        let (mut valid, mut covered) = (0usize, 0usize);
        for lines in self.files.values() {
            valid += lines.len();
            covered += lines.values().filter(|h| **h > 0).count();
        }
        if valid > 0 {
            return Some(100.0 * covered as f64 / valid as f64);
        }
        self.line_rate.map(|r| r * 100.0)
    }
}

/// Reads a Cobertura XML report.
pub fn parse_cobertura(bytes: &[u8]) -> Result<Coverage, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8(e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut reader = Reader::from_str(text);
    let mut coverage = Coverage::default();
    let mut stack: Vec<String> = Vec::new();
    let mut seen_root = false;
    // The class being read: its file and lines, put into `coverage` when it closes.
    let mut class: Option<(String, BTreeMap<u32, u64>)> = None;
    let mut source = String::new();
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                seen_root = true;
                let local = e.local_name();
                let name = String::from_utf8_lossy(local.as_ref());
                match (stack.last().map(String::as_str), name.as_ref()) {
                    (None, "coverage") => {
                        coverage.line_rate =
                            attr(e, "line-rate")?.and_then(|r| r.trim().parse().ok());
                    }
                    (None, other) => {
                        return Err(ParseError::WrongRoot {
                            expected: "<coverage>",
                            found: other.to_owned(),
                        })
                    }
                    (Some("classes"), "class") => {
                        let name = attr(e, "filename")?.ok_or(ParseError::Missing {
                            element: "class",
                            attribute: "filename",
                        })?;
                        // Writers may split one file over several classes: merge.
                        let lines = coverage.files.remove(&name).unwrap_or_default();
                        if matches!(event, Event::Empty(_)) {
                            coverage.files.insert(name, lines);
                        } else {
                            class = Some((name, lines));
                        }
                    }
                    (Some("lines"), "line")
                        if stack.iter().rev().nth(1).map(String::as_str) == Some("class") =>
                    {
                        if let Some((_, lines)) = class.as_mut() {
                            record_line(e, lines)?;
                        }
                    }
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    if name == "source" {
                        source.clear();
                    }
                    stack.push(name.into_owned());
                }
            }
            Event::Text(t) if stack.last().map(String::as_str) == Some("source") => {
                source.push_str(&String::from_utf8_lossy(t.as_ref()));
            }
            Event::End(_) => {
                let closed = stack.pop();
                match closed.as_deref() {
                    Some("source") => coverage.sources.push(source.trim().to_owned()),
                    Some("class") => {
                        if let Some((file, lines)) = class.take() {
                            coverage.files.insert(file, lines);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::Truncated(open.clone()));
    }
    if !seen_root {
        return Err(ParseError::NoElement);
    }
    Ok(coverage)
}

fn record_line(
    e: &quick_xml::events::BytesStart<'_>,
    lines: &mut BTreeMap<u32, u64>,
) -> Result<(), ParseError> {
    let number = |key: &'static str| -> Result<u64, ParseError> {
        let value = attr(e, key)?.ok_or(ParseError::Missing {
            element: "line",
            attribute: key,
        })?;
        value.trim().parse().map_err(|_| ParseError::BadNumber {
            element: "line",
            attribute: key.to_owned(),
            value,
        })
    };
    let line = u32::try_from(number("number")?).map_err(|_| ParseError::BadNumber {
        element: "line",
        attribute: "number".to_owned(),
        value: "too large".to_owned(),
    })?;
    let hits = number("hits")?;
    let entry = lines.entry(line).or_insert(0);
    *entry = (*entry).max(hits);
    Ok(())
}
