//! Property tests over the bot's parsers of outside input, where the modules' own
//! tests do not already hold the same property: no panic on arbitrary input, with
//! a bounded number of cases so CI time stays flat. The others live beside their
//! code (`proptest!` in command/grammar_tests, blueprint/canonical, checks/tester,
//! runner/parse, frappe/error, slack/render, slack/listener).

use lockstep::blueprint::canonicalize;
use lockstep::checks::tester;
use lockstep::command::lexer::{render_token, tokenize};
use lockstep::workflow::run::ButtonValue;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Any JSON at all: Frappe answers are outside input.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("doctype".to_string()),
            Just("name".to_string()),
            Just("fields".to_string()),
            Just("idx".to_string()),
            Just("states".to_string()),
            Just("modified".to_string()),
            "\\PC{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A Frappe document with the identity keys, and anything else.
fn any_document() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("DocType"),
            Just("Custom Field"),
            Just("Workflow"),
            Just("Report"),
            Just("Nope")
        ],
        "\\PC{0,20}",
        prop::collection::btree_map("[a-z_]{1,10}", any_json(), 0..8),
    )
        .prop_map(|(doctype, name, rest)| {
            let mut doc: Map<String, Value> = rest.into_iter().collect();
            doc.insert("doctype".into(), json!(doctype));
            doc.insert("name".into(), json!(name));
            Value::Object(doc)
        })
}

/// Pieces of what Slack sends after the command: text, its markup and escapes,
/// quotes of every kind.
fn lexer_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,3}",
        prop::sample::select(vec![
            "<@U1>",
            "<@U1|ann>",
            "<#C1|deploy>",
            "<!channel>",
            "<!here>",
            "<!subteam^S1|@team>",
            "<https://x.io/a?b=1&amp;c=2|x.io>",
            "<mailto:a@b|a>",
            "<",
            ">",
            "&lt;",
            "&gt;",
            "&amp;",
            "&",
            "\"",
            "“",
            "”",
            "'",
            "‘",
            "’",
            "\\",
            "--",
            "=",
            " ",
            "\u{200b}",
            "\u{202e}",
            "\n",
        ])
        .prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The lexer alone, on anything a person (or a client) can send, including
    /// Slack's markup and escapes; what it reads back renders without panicking.
    #[test]
    fn the_lexer_never_panics(pieces in prop::collection::vec(lexer_piece(), 0..40)) {
        let text: String = pieces.concat();
        if let Ok(tokens) = tokenize(&text) {
            for token in &tokens {
                let _ = render_token(&token.segments);
            }
        }
    }

    /// The canonicaliser on arbitrary documents: a blueprint or an error, never a
    /// panic; and canonical output canonicalises to itself.
    #[test]
    fn the_canonicaliser_never_panics(doc in any_document(), other in any_json()) {
        let _ = canonicalize(&other);
        if let Ok(blueprint) = canonicalize(&doc) {
            let again = canonicalize(&blueprint.body).expect("canonical output is a document");
            prop_assert_eq!(again.body, blueprint.body);
        }
    }

    /// Test reports come from the bench host: the JUnit and Cobertura readers take
    /// any text.
    #[test]
    fn the_report_parsers_never_panic(text in "(<testsuites>|<testsuite name=\"a\" tests=\"[0-9]{1,4}\" failures=\"[0-9-]{1,3}\">|<testcase classname=\"c\" name=\"n\">|<failure message=\"m\"/>|<error/>|<skipped/>|</testcase>|</testsuite>|</testsuites>|<coverage line-rate=\"[0-9.e-]{1,6}\">|<class filename=\"\\PC{0,6}\">|<line number=\"[0-9]{1,20}\" hits=\"[0-9-]{1,4}\"/>|</coverage>|<![CDATA[|]]>|&[a-z#0-9]{0,6};|\\PC){0,40}") {
        let _ = tester::parse_junit(text.as_bytes());
        let _ = tester::parse_cobertura(text.as_bytes());
    }

    /// A button's value is outside input (anyone can craft a payload).
    #[test]
    fn button_values_never_panic(value in "(run-|\\PC|:|[0-9]){0,50}") {
        if let Some(decoded) = ButtonValue::decode(&value) {
            prop_assert_eq!(ButtonValue::decode(&decoded.encode()), Some(decoded));
        }
    }
}
