//! Rules over the tokens of embedded code: `ignore_permissions`, SQL built from
//! strings, hard-coded secrets, destructive SQL without `WHERE`, and API scripts that
//! never check a permission. Rules see code tokens (comments dropped, strings whole),
//! so a comment or a message that merely mentions a pattern is not a finding. Each
//! hit carries the 1-based line within the code.

use crate::blueprint::Severity;

use super::lexer::{code_tokens, tokenize, Lang, Tok, Token};

/// One hit of a code rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeHit {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub line: usize,
}

fn hit(rule: &'static str, severity: Severity, message: String, line: usize) -> CodeHit {
    CodeHit {
        rule,
        severity,
        message,
        line,
    }
}

/// Runs every code rule that applies to `lang` over `code`. `api_script` is true for a
/// Server Script of type API, which must check permissions itself.
pub fn scan(code: &str, lang: Lang, api_script: bool) -> Vec<CodeHit> {
    let all = tokenize(code, lang);
    let toks = code_tokens(&all);
    let mut hits = Vec::new();
    match lang {
        Lang::Python => {
            ignore_permissions(&toks, &mut hits);
            sql_building(&toks, &mut hits);
            named_secrets(&toks, &mut hits);
            destructive_orm(&toks, &mut hits);
            if api_script {
                api_permission_check(&toks, &mut hits);
            }
        }
        Lang::JavaScript => {
            ignore_permissions(&toks, &mut hits);
            named_secrets(&toks, &mut hits);
        }
        Lang::Sql => destructive_sql(&toks, &mut hits),
    }
    // Known token formats are secrets wherever they are written, comments included.
    secret_formats(&all, &mut hits);
    hits.sort_by_key(|h| (h.line, h.rule));
    hits.dedup();
    hits
}

fn is_true(t: &Token<'_>) -> bool {
    matches!(t.kind, Tok::Name if t.text == "True" || t.text == "true")
        || (t.kind == Tok::Number && t.text == "1")
}

/// `ignore_permissions=True`, `flags.ignore_permissions = 1`,
/// `{"ignore_permissions": True}` — but not `ignore_permissions == True` nor the
/// words in a comment or inside a longer string.
fn ignore_permissions(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for w in toks.windows(3) {
        let named = w[0].is_name("ignore_permissions")
            || (w[0].is_str() && w[0].string_body() == "ignore_permissions");
        if named && (w[1].is_op("=") || w[1].is_op(":")) && is_true(&w[2]) {
            hits.push(hit(
                "ignore-permissions",
                Severity::Critical,
                format!(
                    "ignore_permissions set to {}: the call skips every permission check",
                    w[2].text
                ),
                w[0].line,
            ));
        }
    }
}

const SQL_METHODS: [&str; 3] = ["sql", "sql_list", "multisql"];

/// The tokens of the first argument of the call whose `(` is at `open`.
fn first_argument<'t, 'a>(toks: &'t [Token<'a>], open: usize) -> &'t [Token<'a>] {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open + 1) {
        if t.kind != Tok::Op {
            continue;
        }
        match t.text {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" if depth == 0 => return &toks[open + 1..i],
            ")" | "]" | "}" => depth -= 1,
            "," if depth == 0 => return &toks[open + 1..i],
            _ => {}
        }
    }
    &toks[open + 1..]
}

/// Tokens of `expr` that sit at its top level (not inside brackets).
fn top_level<'t, 'a>(expr: &'t [Token<'a>]) -> impl Iterator<Item = &'t Token<'a>> {
    let mut depth = 0i32;
    expr.iter().filter(move |t| {
        if t.kind == Tok::Op {
            match t.text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ => {}
            }
        }
        depth == 0
    })
}

/// How an expression builds a string from values, if it does. Every `%` or `+` at the
/// top level of a query counts: a query is text, so they can only splice text.
fn string_building(expr: &[Token<'_>]) -> Option<&'static str> {
    if placeholder_expansion(expr) {
        return None;
    }
    if expr
        .iter()
        .any(|t| t.kind == Tok::Str { interpolated: true })
    {
        return Some("an f-string");
    }
    if expr
        .windows(2)
        .any(|w| w[0].is_op(".") && w[1].is_name("format"))
    {
        return Some(".format()");
    }
    if top_level(expr).any(|t| t.is_op("%")) {
        return Some("% formatting");
    }
    if top_level(expr).any(|t| t.is_op("+")) {
        return Some("string concatenation");
    }
    None
}

/// The safe idiom for `IN (…)`: the query is formatted with nothing but a run of
/// `%s` placeholders (`", ".join(["%s"] * len(names))`) and the values go as
/// parameters. Every formatted-in piece of such an expression is string literals, the
/// `join`, `len` and the `*` — no value can reach the SQL text.
fn placeholder_expansion(expr: &[Token<'_>]) -> bool {
    let placeholder = expr.iter().any(|t| {
        t.kind
            == (Tok::Str {
                interpolated: false,
            })
            && matches!(t.string_body(), "%s" | "%s, " | ", %s")
    });
    placeholder && only_placeholder_names(expr)
}

/// Every name in `expr` is `format`, `join` or `len`, or sits inside `len(…)`.
fn only_placeholder_names(expr: &[Token<'_>]) -> bool {
    let mut depth = 0usize;
    let mut inside_len: Option<usize> = None;
    for (i, t) in expr.iter().enumerate() {
        match t.kind {
            Tok::Str { interpolated: true } => return false,
            Tok::Op if t.text == "(" => {
                depth += 1;
                if i > 0 && expr[i - 1].is_name("len") && inside_len.is_none() {
                    inside_len = Some(depth);
                }
            }
            Tok::Op if t.text == ")" => {
                if inside_len == Some(depth) {
                    inside_len = None;
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Name if inside_len.is_none() && !matches!(t.text, "format" | "join" | "len") => {
                return false
            }
            _ => {}
        }
    }
    true
}

/// One expression that goes into a query: what follows `=` or `+=`, or the argument.
struct QueryPart<'t, 'a> {
    tokens: &'t [Token<'a>],
    /// Appended with `+=`: anything but plain literals splices values in.
    appended: bool,
}

/// The statement's tokens after the assignment operator at `op`: up to the first token
/// on a later line outside brackets.
fn assigned_tokens<'t, 'a>(toks: &'t [Token<'a>], op: usize, before: usize) -> &'t [Token<'a>] {
    let start = op + 1;
    let mut depth = 0i32;
    let mut end = start;
    while end < before {
        let t = &toks[end];
        if t.line > toks[op].line && depth <= 0 {
            break;
        }
        if t.kind == Tok::Op {
            match t.text {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ => {}
            }
        }
        end += 1;
    }
    &toks[start..end]
}

/// What makes up the query of the call whose `(` is at `open`: its first argument,
/// and when that is a bare name, everything assigned or appended to that name before.
fn query_parts<'t, 'a>(toks: &'t [Token<'a>], open: usize) -> Vec<QueryPart<'t, 'a>> {
    let arg = first_argument(toks, open);
    let [only] = arg else {
        return vec![QueryPart {
            tokens: arg,
            appended: false,
        }];
    };
    if only.kind != Tok::Name {
        return vec![QueryPart {
            tokens: arg,
            appended: false,
        }];
    }
    (0..open.saturating_sub(1))
        .filter(|&i| {
            toks[i].is_name(only.text) && (toks[i + 1].is_op("=") || toks[i + 1].is_op("+="))
        })
        .map(|i| QueryPart {
            tokens: assigned_tokens(toks, i + 1, open),
            appended: toks[i + 1].is_op("+="),
        })
        .collect()
}

/// The calls of the `frappe.db.sql` family: the index of the method name.
fn sql_calls<'t>(toks: &'t [Token<'_>]) -> impl Iterator<Item = usize> + 't {
    (2..toks.len().saturating_sub(1)).filter(|&i| {
        toks[i].kind == Tok::Name
            && SQL_METHODS.contains(&toks[i].text)
            && toks[i - 1].is_op(".")
            && toks[i - 2].is_name("db")
            && toks[i + 1].is_op("(")
    })
}

/// `frappe.db.sql(f"… {x}")`, `.format`, `%` or `+` in the query, directly or through
/// a variable it was assigned or appended to; and queries that destroy every row.
fn sql_building(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for i in sql_calls(toks) {
        let method = toks[i].text;
        let parts = query_parts(toks, i + 1);
        let how = parts.iter().find_map(|part| {
            string_building(part.tokens).or_else(|| {
                let literal_only = part.tokens.iter().all(|t| {
                    t.kind
                        == Tok::Str {
                            interpolated: false,
                        }
                });
                (part.appended && !literal_only).then_some("string concatenation (+=)")
            })
        });
        if let Some(how) = how {
            hits.push(hit(
                "sql-string-building",
                Severity::Critical,
                format!("SQL built with {how} in frappe.db.{method}: pass values as parameters (%s with a tuple or %(name)s with a dict)"),
                toks[i].line,
            ));
        }
        destructive_query(&parts, toks[i].line, hits);
    }
}

/// Parts of a name that say it holds a secret.
const SECRET_WORDS: [&str; 9] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
];
/// Parts of a name that say it holds something about a secret, not the secret.
const NOT_SECRET_WORDS: [&str; 15] = [
    "field", "label", "type", "name", "url", "doctype", "length", "policy", "template", "message",
    "msg", "title", "hint", "route", "method",
];

fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
        && !NOT_SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// A literal that looks like a credential rather than a placeholder: 8+ characters,
/// no spaces, and at least two of lowercase, uppercase, digits and symbols.
fn looks_like_credential(value: &str) -> bool {
    if value.chars().count() < 8 || value.chars().any(char::is_whitespace) {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if [
        "xxx",
        "***",
        "<",
        "{",
        "example",
        "placeholder",
        "your_",
        "your-",
    ]
    .iter()
    .any(|p| lower.contains(p))
    {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|c| **c).count() >= 2
}

/// `api_key = "…"`, `password="…"`, `{"token": "…"}` with a credential-like literal.
fn named_secrets(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for w in toks.windows(3) {
        let name = match w[0].kind {
            Tok::Name => w[0].text,
            Tok::Str {
                interpolated: false,
            } => w[0].string_body(),
            _ => continue,
        };
        let assigns = w[1].is_op("=") || w[1].is_op(":");
        if assigns
            && secret_name(name)
            && w[2].kind
                == (Tok::Str {
                    interpolated: false,
                })
            && looks_like_credential(w[2].string_body())
        {
            hits.push(hit(
                "hardcoded-secret",
                Severity::Critical,
                format!("hard-coded secret in {name} (value not shown): read it from site config or a Password field"),
                w[0].line,
            ));
        }
    }
}

/// Known credential formats, found in any string or comment.
fn secret_formats(all: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for t in all.iter().filter(|t| t.is_str() || t.kind == Tok::Comment) {
        if let Some(what) = credential_format(t.text) {
            hits.push(hit(
                "hardcoded-secret",
                Severity::Critical,
                format!(
                    "hard-coded {what} (value not shown): revoke it and read it from site config"
                ),
                t.line,
            ));
        }
    }
}

fn run_len(text: &str, from: usize, ok: impl Fn(char) -> bool) -> usize {
    text[from..].chars().take_while(|c| ok(*c)).count()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Runs of `[A-Za-z0-9_-]` with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let base = text.as_ptr() as usize;
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
        // Each word is a slice of `text`, so its address gives its exact byte offset.
        .map(move |w| (w.as_ptr() as usize - base, w))
}

/// Token formats with a fixed prefix: (prefix, least characters after it, what it is).
const PREFIXED: [(&str, usize, &str); 9] = [
    ("sk_live_", 16, "Stripe secret key"),
    ("rk_live_", 16, "Stripe restricted key"),
    ("ghp_", 30, "GitHub token"),
    ("gho_", 30, "GitHub token"),
    ("github_pat_", 30, "GitHub token"),
    ("xoxb-", 20, "Slack token"),
    ("xoxp-", 20, "Slack token"),
    ("xapp-", 20, "Slack token"),
    ("AIza", 30, "Google API key"),
];

/// The kind of credential `text` holds in a known format, if any. One pass over its
/// words: this runs on every string and comment of every script.
fn credential_format(text: &str) -> Option<&'static str> {
    if text.len() < 20 {
        return None; // every format below is longer
    }
    for (at, word) in words(text) {
        for (prefix, min, what) in PREFIXED {
            if word.len() >= prefix.len() + min && word.starts_with(prefix) {
                return Some(what);
            }
        }
        if let Some(rest) = word.strip_prefix("AKIA") {
            if run_len(rest, 0, |c| c.is_ascii_uppercase() || c.is_ascii_digit()) >= 16 {
                return Some("AWS access key");
            }
        }
        // Frappe's own header: `token <api_key>:<api_secret>`.
        if word == "token" && text.get(at + 5..).is_some_and(|r| r.starts_with(' ')) {
            let rest = &text[at + 6..];
            let key = run_len(rest, 0, |c| c.is_ascii_alphanumeric());
            if key >= 10
                && rest[key..].starts_with(':')
                && run_len(rest, key + 1, |c| c.is_ascii_alphanumeric()) >= 10
            {
                return Some("Frappe API key and secret");
            }
        }
    }
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some("private key");
    }
    None
}

/// The statement keywords that destroy data, and whether a WHERE makes them safe.
fn destructive_statement(toks: &[Token<'_>]) -> Option<(&'static str, usize)> {
    let first = toks.iter().find(|t| t.kind == Tok::Name)?;
    let verb = first.text.to_ascii_uppercase();
    let has_where = toks
        .iter()
        .any(|t| t.kind == Tok::Name && t.text.eq_ignore_ascii_case("where"));
    match verb.as_str() {
        "DELETE" if !has_where => Some(("DELETE without WHERE", first.line)),
        "TRUNCATE" => Some(("TRUNCATE", first.line)),
        "DROP" => Some(("DROP", first.line)),
        _ => None,
    }
}

fn destructive_sql(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for statement in toks.split(|t| t.is_op(";")) {
        if let Some((what, line)) = destructive_statement(statement) {
            hits.push(hit(
                "destructive-sql",
                Severity::Critical,
                format!("{what}: it removes every row"),
                line,
            ));
        }
    }
}

/// The query text of a call, its literals joined in order (a WHERE may sit in a
/// literal of its own), checked for statements that destroy every row.
fn destructive_query(parts: &[QueryPart<'_, '_>], line: usize, hits: &mut Vec<CodeHit>) {
    let text: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.tokens.iter())
        .filter(|t| t.is_str())
        .map(Token::string_body)
        .collect();
    let text = text.join(" ");
    let sql = tokenize(&text, Lang::Sql);
    let sql = code_tokens(&sql);
    for statement in sql.split(|t| t.is_op(";")) {
        if let Some((what, _)) = destructive_statement(statement) {
            hits.push(hit(
                "destructive-sql",
                Severity::Critical,
                format!("{what} in a query: it removes every row"),
                line,
            ));
        }
    }
}

/// `frappe.db.delete("Grant")` with no filters deletes every row; `frappe.db.truncate`
/// always does.
fn destructive_orm(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    for i in 2..toks.len().saturating_sub(1) {
        let db_call = toks[i - 1].is_op(".") && toks[i - 2].is_name("db") && toks[i + 1].is_op("(");
        if !db_call {
            continue;
        }
        let first = first_argument(toks, i + 1);
        let after = i + 2 + first.len();
        let single_argument = toks.get(after).is_some_and(|t| t.is_op(")"));
        let what = match toks[i].text {
            "truncate" => "frappe.db.truncate",
            "delete" if single_argument => "frappe.db.delete without filters",
            _ => continue,
        };
        hits.push(hit(
            "destructive-sql",
            Severity::Critical,
            format!("{what}: it removes every row"),
            toks[i].line,
        ));
    }
}

/// Calls that check the caller's permission in an API script.
const PERMISSION_CHECKS: [&str; 3] = ["has_permission", "check_permission", "only_for"];

fn api_permission_check(toks: &[Token<'_>], hits: &mut Vec<CodeHit>) {
    let checks = toks.windows(2).any(|w| {
        w[0].kind == Tok::Name && PERMISSION_CHECKS.contains(&w[0].text) && w[1].is_op("(")
    });
    if !checks {
        hits.push(hit(
            "api-without-permission-check",
            Severity::High,
            "API script never calls frappe.has_permission / check_permission: anyone logged in can call it".to_owned(),
            1,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(code: &str, lang: Lang) -> Vec<(&'static str, usize)> {
        scan(code, lang, false)
            .into_iter()
            .map(|h| (h.rule, h.line))
            .collect()
    }

    fn py(code: &str) -> Vec<(&'static str, usize)> {
        rules(code, Lang::Python)
    }

    #[test]
    fn ignore_permissions_positive() {
        assert_eq!(
            py("doc.insert(ignore_permissions=True)"),
            vec![("ignore-permissions", 1)]
        );
        assert_eq!(
            py("x = 1\ndoc.flags.ignore_permissions = 1"),
            vec![("ignore-permissions", 2)]
        );
        assert_eq!(
            py("frappe.get_all('Grant', **{\"ignore_permissions\": True})"),
            vec![("ignore-permissions", 1)]
        );
        assert_eq!(
            py("doc.save(\n    ignore_permissions = True,\n)"),
            vec![("ignore-permissions", 2)]
        );
    }

    #[test]
    fn ignore_permissions_in_comments_strings_or_false_is_not_a_finding() {
        for code in [
            "# doc.insert(ignore_permissions=True)",
            "doc.insert()  # never ignore_permissions=True here",
            "frappe.msgprint('do not use ignore_permissions=True')",
            "'''\nignore_permissions=True\n'''",
            "doc.insert(ignore_permissions=False)",
            "doc.insert(ignore_permissions=0)",
            "if doc.flags.ignore_permissions == True: pass",
            "f\"ignore_permissions={True}\"",
        ] {
            assert_eq!(py(code), vec![], "{code}");
        }
    }

    #[test]
    fn sql_building_positive() {
        for (code, line) in [
            (
                "frappe.db.sql(f\"select name from tabGrant where owner = '{user}'\")",
                1,
            ),
            (
                "frappe.db.sql(\"select * from tabGrant where name = '{}'\".format(name))",
                1,
            ),
            (
                "frappe.db.sql(\"select * from tabGrant where name = '%s'\" % name)",
                1,
            ),
            (
                "frappe.db.sql(\"select * from tabGrant where name = '\" + name + \"'\")",
                1,
            ),
            (
                "q = f\"delete from tabX where a = {a}\"\nrows = frappe.db.sql(q)",
                2,
            ),
            ("frappe.db.sql_list(\n  f'select {col} from tabGrant'\n)", 1),
            ("frappe.db.sql(query % values)", 1),
            (
                "frappe.db.sql(\"select 1 from t where n in ({}) and o = '{}'\".format(\", \".join([\"%s\"] * len(ns)), user), ns)",
                1,
            ),
            (
                "q = \"select name from tabGrant\"\nif status:\n    q += \" where status = '\" + status + \"'\"\nfrappe.db.sql(q)",
                4,
            ),
            ("q = \"select 1\"\nq += cond\nfrappe.db.sql(q, as_dict=1)", 3),
        ] {
            assert_eq!(py(code), vec![("sql-string-building", line)], "{code}");
        }
    }

    #[test]
    fn sql_building_negative() {
        for code in [
            "frappe.db.sql(\"select * from tabGrant where name = %s\", (name,))",
            "frappe.db.sql(\"select * from tabGrant where name = %(n)s\", {\"n\": name})",
            "frappe.db.sql(\"\"\"select name\n from tabGrant\"\"\", as_dict=True)",
            "# frappe.db.sql(f\"select {x}\")",
            "msg = f\"{n} rows\"\nfrappe.db.sql(\"select 1\", values=msg)",
            "q = \"select 1\"\nfrappe.db.sql(q)",
            "frappe.db.get_all('Grant', filters={'owner': user})",
            "frappe.db.sql(get_query(limit + 1), values)",
            "frappe.db.sql(\"select name from tabGrant where name in ({})\".format(\", \".join([\"%s\"] * len(names))), names)",
            "frappe.db.sql(\"select name from tabGrant where name in (%s)\" % \", \".join([\"%s\"] * len(names)), tuple(names))",
            "q = \"select name\"\nq += \" from tabGrant where owner = %s\"\nfrappe.db.sql(q, (user,))",
        ] {
            assert_eq!(py(code), vec![], "{code}");
        }
    }

    #[test]
    fn secrets_positive_and_the_value_is_never_shown() {
        let cases = [
            "api_key = \"a8f5f167f44f4964e6c9\"",
            "headers = {\"Authorization\": \"token 1a2b3c4d5e6f:9f8e7d6c5b4a\"}",
            "requests.post(url, data={\"password\": \"S3cr3t!pass\"})",
            "STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'",
            "# old key: AKIAIOSFODNN7EXAMPLEX",
            "slack = \"xoxb-123456789012-abcdefghijkl\"",
        ];
        for code in cases {
            let found = scan(code, Lang::Python, false);
            assert_eq!(found.len(), 1, "{code}: {found:?}");
            assert_eq!(found[0].rule, "hardcoded-secret");
            assert!(!found[0].message.contains("S3cr3t") && !found[0].message.contains("a8f5"));
        }
        let js = scan("const token = 'Zx81_kk2LmQ9';", Lang::JavaScript, false);
        assert_eq!(js[0].rule, "hardcoded-secret");
    }

    #[test]
    fn credential_formats_after_non_ascii_text() {
        assert_eq!(
            credential_format("clé é: token 1a2b3c4d5e6f:9f8e7d6c5b4a"),
            Some("Frappe API key and secret")
        );
        assert_eq!(
            credential_format("ünïcode AKIAIOSFODNN7EXAMPLE1 tail"),
            Some("AWS access key")
        );
        assert_eq!(credential_format("mytoken 1a2b3c4d5e6f:9f8e7d6c5b4a"), None);
        assert_eq!(credential_format("xoxb-short and nothing else here"), None);
    }

    proptest::proptest! {
        #[test]
        fn credential_format_never_panics(text in "\\PC{0,80}") {
            let _ = credential_format(&text);
        }
    }

    #[test]
    fn secrets_negative() {
        for code in [
            "api_key = frappe.conf.get('api_key')",
            "password = frappe.utils.password.get_decrypted_password('Settings', 'Settings', 'password')",
            "token = ''",
            "password = '********'",
            "password_field = 'new_password_123'",
            "token_type = 'Bearer'",
            "password_reset_template = 'Reset-Password-v2'",
            "secret = 'changeme'",
            "api_key = '<your-api-key>'",
            "frappe.throw('token expired, log in again')",
        ] {
            assert_eq!(py(code), vec![], "{code}");
        }
    }

    #[test]
    fn destructive_sql_in_reports_and_strings() {
        assert_eq!(
            rules("DELETE FROM `tabGrant`", Lang::Sql),
            vec![("destructive-sql", 1)]
        );
        assert_eq!(
            rules("select 1;\ntruncate table `tabGrant`", Lang::Sql),
            vec![("destructive-sql", 2)]
        );
        assert_eq!(
            rules("drop table tabX", Lang::Sql),
            vec![("destructive-sql", 1)]
        );
        assert_eq!(
            rules("delete from `tabGrant` where status = 'Draft'", Lang::Sql),
            vec![]
        );
        assert_eq!(
            rules("select * from tabGrant -- delete from x", Lang::Sql),
            vec![]
        );
        assert_eq!(
            rules("select 'drop table' as t from tabGrant", Lang::Sql),
            vec![]
        );
        assert_eq!(
            py("x = 1\nfrappe.db.sql(\"delete from `tabGrant Log`\")"),
            vec![("destructive-sql", 2)]
        );
        assert_eq!(
            py("frappe.db.sql(\"delete from tabX where name=%s\", n)"),
            vec![]
        );
        assert_eq!(py("frappe.msgprint(\"Delete this grant?\")"), vec![]);
        assert_eq!(
            py("def purge():\n    \"\"\"Delete from the cache every stale row.\"\"\"\n    pass"),
            vec![]
        );
        assert_eq!(
            py("q = \"delete from `tabGrant Log` \"\nq2 = 1\nfrappe.db.sql(q)"),
            vec![("destructive-sql", 3)]
        );
        assert_eq!(
            py("frappe.db.sql(\"delete from `tabGrant Log` \"\n  \"where creation < %s\", (cutoff,))"),
            vec![]
        );
        assert_eq!(
            py("frappe.db.delete('Grant Log')"),
            vec![("destructive-sql", 1)]
        );
        assert_eq!(
            py("frappe.db.delete('Grant Log', {'status': 'Old'})"),
            vec![]
        );
        assert_eq!(
            py("frappe.db.truncate('Grant Log')"),
            vec![("destructive-sql", 1)]
        );
    }

    #[test]
    fn api_scripts_must_check_permissions() {
        let open = "frappe.response['message'] = frappe.get_all('Grant')";
        assert_eq!(
            scan(open, Lang::Python, true)
                .iter()
                .map(|h| h.rule)
                .collect::<Vec<_>>(),
            vec!["api-without-permission-check"]
        );
        let checked = "if not frappe.has_permission('Grant', 'read'):\n    frappe.throw('no')\n";
        assert_eq!(scan(checked, Lang::Python, true), vec![]);
        let mentioned = "# TODO frappe.has_permission('Grant')\nfrappe.response['x'] = 1";
        assert_eq!(scan(mentioned, Lang::Python, true).len(), 1);
        // Not an API script: no check required.
        assert_eq!(scan(open, Lang::Python, false), vec![]);
    }
}
