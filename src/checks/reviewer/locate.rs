//! Where a value sits in a blueprint's canonical file. Canonical files are serde_json's
//! pretty print of a sorted map: every scalar, every empty `{}`/`[]` and every opening
//! and closing bracket of a non-empty container takes exactly one line, and an object
//! key shares the line of its value's first line. So the line of any value follows
//! from the shape of the value alone, without printing or searching the text. A code
//! field (`"script": "…"`) is one JSON line; findings inside it carry that line plus
//! the line within the code (see [`super::Location`]).

use serde_json::Value;

/// One step into a JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// How many lines `value` takes in the canonical file.
pub fn lines_of(value: &Value) -> usize {
    match value {
        Value::Object(map) if !map.is_empty() => 2 + map.values().map(lines_of).sum::<usize>(),
        Value::Array(items) if !items.is_empty() => 2 + items.iter().map(lines_of).sum::<usize>(),
        _ => 1,
    }
}

/// The 1-based line of the value at `path` in the canonical file of `root`, or `None`
/// when there is no such value.
pub fn line_of(root: &Value, path: &[Step<'_>]) -> Option<usize> {
    let mut value = root;
    let mut line = 1;
    for step in path {
        line += 1; // past the opening bracket
        match (step, value) {
            (Step::Key(key), Value::Object(map)) => {
                for (k, child) in map {
                    if k == key {
                        value = child;
                        break;
                    }
                    line += lines_of(child);
                }
                if !map.contains_key(*key) {
                    return None;
                }
            }
            (Step::Index(index), Value::Array(items)) => {
                let child = items.get(*index)?;
                line += items[..*index].iter().map(lines_of).sum::<usize>();
                value = child;
            }
            _ => return None,
        }
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical_bytes;
    use proptest::prelude::*;
    use serde_json::json;

    /// The line where `"key": ` first appears after line `from` (1-based), by search.
    fn search(text: &str, needle: &str, from: usize) -> usize {
        text.lines()
            .enumerate()
            .skip(from - 1)
            .find(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
            .unwrap()
    }

    #[test]
    fn lines_match_the_printed_file() {
        let doc = json!({
            "doctype": "Workflow", "name": "W", "empty": [], "none": {},
            "states": [{"state": "Draft", "allow_edit": "A"}, {"state": "Done"}],
            "transitions": [{"state": "Draft", "action": "Go", "condition": "doc.x > 1"}]
        });
        let text = String::from_utf8(canonical_bytes(&doc)).unwrap();
        assert_eq!(lines_of(&doc), text.lines().count());
        assert_eq!(line_of(&doc, &[]), Some(1));
        assert_eq!(
            line_of(&doc, &[Step::Key("name")]),
            Some(search(&text, "\"name\"", 1))
        );
        let states = search(&text, "\"states\"", 1);
        assert_eq!(
            line_of(
                &doc,
                &[Step::Key("states"), Step::Index(1), Step::Key("state")]
            ),
            Some(search(&text, "\"Done\"", states))
        );
        assert_eq!(
            line_of(
                &doc,
                &[
                    Step::Key("transitions"),
                    Step::Index(0),
                    Step::Key("condition")
                ]
            ),
            Some(search(&text, "\"condition\"", 1))
        );
        assert_eq!(line_of(&doc, &[Step::Key("missing")]), None);
        assert_eq!(line_of(&doc, &[Step::Key("states"), Step::Index(9)]), None);
        assert_eq!(line_of(&doc, &[Step::Key("name"), Step::Key("x")]), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[a-z\n\"]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_line_count_is_the_printed_line_count(doc in arb_json()) {
            let text = String::from_utf8(canonical_bytes(&doc)).unwrap();
            prop_assert_eq!(lines_of(&doc), text.lines().count());
        }

        #[test]
        fn every_top_level_key_is_on_its_line(doc in prop::collection::btree_map("[a-c]{1,2}", arb_json(), 1..5)) {
            let doc = Value::Object(doc.into_iter().collect());
            let text = String::from_utf8(canonical_bytes(&doc)).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for key in doc.as_object().unwrap().keys() {
                let line = line_of(&doc, &[Step::Key(key)]).unwrap();
                let expected = format!("  \"{key}\": ");
                prop_assert!(lines[line - 1].starts_with(&expected));
            }
        }
    }
}
