//! A small tokenizer for the code embedded in blueprints — Python (Server Scripts,
//! conditions), JavaScript (Client Scripts, `depends_on`) and SQL (Report queries) —
//! so that rules look at code, never at comments or the inside of strings: a comment
//! saying `ignore_permissions=True` is a comment. It knows strings (Python prefixes,
//! triple quotes and f-strings with nested quotes in their `{…}`; JS template
//! literals; SQL doubled quotes), comments, names, numbers and operators. It never
//! fails: unterminated strings and comments run to the end of their line or of the
//! text, and anything it does not know becomes a one-character operator. A JavaScript
//! `/` starts a regex literal where an expression may start (after an operator or a
//! keyword such as `return`), and divides elsewhere.

/// The language of a piece of embedded code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Python,
    JavaScript,
    Sql,
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok {
    Name,
    Number,
    /// A string literal; `interpolated` for f-strings and JS template literals.
    Str {
        interpolated: bool,
    },
    Op,
    Comment,
    /// A JavaScript regular-expression literal (`/ab+c/gi`).
    Regex,
}

/// One token: its kind, its exact source text and the 1-based line it starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Tok,
    pub text: &'a str,
    pub line: usize,
}

impl Token<'_> {
    pub fn is_name(&self, name: &str) -> bool {
        self.kind == Tok::Name && self.text == name
    }

    pub fn is_op(&self, op: &str) -> bool {
        self.kind == Tok::Op && self.text == op
    }

    pub fn is_str(&self) -> bool {
        matches!(self.kind, Tok::Str { .. })
    }

    /// The inside of a string literal (prefix and quotes removed, escapes left as
    /// written); the text itself for other tokens.
    pub fn string_body(&self) -> &str {
        if !self.is_str() {
            return self.text;
        }
        let text = self
            .text
            .trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let Some(quote) = text.chars().next() else {
            return text;
        };
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        let width = if text.starts_with(&triple) { 3 } else { 1 };
        let inner = &text[width..];
        let closing = &text[..width];
        inner.strip_suffix(closing).unwrap_or(inner)
    }
}

/// Operators of more than one character, longest first.
const MULTI_OPS: [&str; 33] = [
    "===", "!==", "**=", "//=", ">>=", "<<=", "...", "==", "!=", "<=", ">=", "->", "=>", "+=",
    "-=", "*=", "/=", "%=", "&=", "|=", "^=", "**", "//", ":=", "<<", ">>", "&&", "||", "??", "?.",
    "<>", "++", "--",
];

/// Tokenizes `code` as `lang`.
pub fn tokenize(code: &str, lang: Lang) -> Vec<Token<'_>> {
    let mut lexer = Lexer {
        src: code,
        bytes: code.as_bytes(),
        pos: 0,
        line: 1,
        lang,
        out: Vec::new(),
    };
    lexer.run();
    lexer.out
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    lang: Lang,
    out: Vec<Token<'a>>,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 || b == b'$'
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes[self.pos..].starts_with(s.as_bytes())
    }

    fn push(&mut self, kind: Tok, start: usize, line: usize) {
        // Every token boundary is an ASCII byte or the end of the text, so slicing at
        // it is always on a char boundary.
        self.out.push(Token {
            kind,
            text: &self.src[start..self.pos],
            line,
        });
    }

    /// Moves over one byte, counting newlines.
    fn bump(&mut self) {
        if self.bytes[self.pos] == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn run(&mut self) {
        while let Some(b) = self.peek(0) {
            let (start, line) = (self.pos, self.line);
            if b.is_ascii_whitespace() {
                self.bump();
            } else if self.at_line_comment() {
                self.skip_to_eol();
                self.push(Tok::Comment, start, line);
            } else if self.lang != Lang::Python && self.starts_with("/*") {
                self.block_comment();
                self.push(Tok::Comment, start, line);
            } else if self.lang == Lang::JavaScript && b == b'/' && self.regex_allowed() {
                self.regex();
                self.push(Tok::Regex, start, line);
            } else if self.lang == Lang::Python && b == b'\\' {
                self.bump(); // line continuation
            } else if self.quote_at(self.pos) {
                let interpolated = self.lang == Lang::JavaScript && b == b'`';
                self.string(interpolated);
                self.push(Tok::Str { interpolated }, start, line);
            } else if b.is_ascii_digit()
                || (b == b'.' && self.peek(1).is_some_and(|c| c.is_ascii_digit()))
            {
                self.number();
                self.push(Tok::Number, start, line);
            } else if is_ident_byte(b) {
                while self.peek(0).is_some_and(is_ident_byte) {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                if self.lang == Lang::Python && is_string_prefix(word) && self.quote_at(self.pos) {
                    let f = word.contains(['f', 'F']);
                    self.string(f);
                    self.push(Tok::Str { interpolated: f }, start, line);
                } else {
                    self.push(Tok::Name, start, line);
                }
            } else if self.lang == Lang::Sql && b == b'`' {
                self.pos += 1;
                while self.peek(0).is_some_and(|c| c != b'`' && c != b'\n') {
                    self.pos += 1;
                }
                if self.peek(0) == Some(b'`') {
                    self.pos += 1;
                }
                self.push(Tok::Name, start, line);
            } else {
                // Every multi-character operator has one of these second bytes; most
                // operators are single, so look no further for them.
                let may_be_longer = self.peek(1).is_some_and(|c| b"=*/><.&|?+-".contains(&c));
                let width = if may_be_longer {
                    MULTI_OPS
                        .iter()
                        .find(|op| self.starts_with(op))
                        .map_or(1, |op| op.len())
                } else {
                    1
                };
                // A non-ASCII byte is consumed by the identifier arm above, so a single
                // operator byte is always ASCII.
                self.pos += width;
                self.push(Tok::Op, start, line);
            }
        }
    }

    /// Whether a `/` here starts a regex rather than a division: after an operator,
    /// at the start, or after a keyword that takes an expression.
    fn regex_allowed(&self) -> bool {
        const KEYWORDS: [&str; 10] = [
            "return", "typeof", "case", "in", "of", "new", "delete", "void", "throw", "else",
        ];
        match self.out.iter().rev().find(|t| t.kind != Tok::Comment) {
            None => true,
            Some(t) => match t.kind {
                Tok::Op => !matches!(t.text, ")" | "]" | "}"),
                Tok::Name => KEYWORDS.contains(&t.text),
                _ => false,
            },
        }
    }

    /// A regex literal: to the closing unescaped `/` outside a `[…]` class, then its
    /// flags; a newline ends an unterminated one.
    fn regex(&mut self) {
        self.pos += 1;
        let mut in_class = false;
        while let Some(c) = self.peek(0) {
            match c {
                b'\n' => return,
                b'\\' => {
                    self.pos += 1;
                    if self.peek(0).is_some_and(|n| n != b'\n') {
                        self.pos += 1;
                    }
                    continue;
                }
                b'[' => in_class = true,
                b']' => in_class = false,
                b'/' if !in_class => {
                    self.pos += 1;
                    while self.peek(0).is_some_and(|f| f.is_ascii_alphabetic()) {
                        self.pos += 1;
                    }
                    return;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn at_line_comment(&self) -> bool {
        match self.lang {
            Lang::Python => self.peek(0) == Some(b'#'),
            Lang::JavaScript => self.starts_with("//"),
            Lang::Sql => self.starts_with("--") || self.peek(0) == Some(b'#'),
        }
    }

    fn skip_to_eol(&mut self) {
        while self.peek(0).is_some_and(|c| c != b'\n') {
            self.pos += 1;
        }
    }

    fn block_comment(&mut self) {
        self.pos += 2;
        while self.peek(0).is_some() && !self.starts_with("*/") {
            self.bump();
        }
        if self.starts_with("*/") {
            self.pos += 2;
        }
    }

    fn quote_at(&self, at: usize) -> bool {
        match self.bytes.get(at) {
            Some(b'\'' | b'"') => true,
            Some(b'`') => self.lang == Lang::JavaScript,
            _ => false,
        }
    }

    fn number(&mut self) {
        let mut prev = 0u8;
        while let Some(c) = self.peek(0) {
            let exponent_sign = (c == b'+' || c == b'-') && (prev == b'e' || prev == b'E');
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exponent_sign {
                prev = c;
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Scans a string literal starting at the opening quote.
    fn string(&mut self, interpolated: bool) {
        let quote = self.bytes[self.pos];
        let triple =
            self.lang == Lang::Python && self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        let multiline = triple || quote == b'`';
        self.pos += if triple { 3 } else { 1 };
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            // A backslash keeps the next character in the string, in raw Python
            // strings too (r"\"" is one string).
            if c == b'\\' {
                self.bump();
                if self.peek(0).is_some() {
                    self.bump();
                }
                continue;
            }
            if c == b'\n' && !multiline {
                return; // unterminated: the line ends the string
            }
            if interpolated && self.lang == Lang::JavaScript {
                if c == b'$' && self.peek(1) == Some(b'{') {
                    depth += 1;
                    self.pos += 2;
                    continue;
                }
                if depth > 0 {
                    match c {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b'\'' | b'"' | b'`' => {
                            // A string, or a template of its own, inside `${…}`.
                            self.string(c == b'`');
                            continue;
                        }
                        _ => {}
                    }
                    self.bump();
                    continue;
                }
            }
            if interpolated && self.lang == Lang::Python {
                if c == b'{' && self.peek(1) == Some(b'{') && depth == 0 {
                    self.pos += 2;
                    continue;
                }
                if c == b'{' {
                    depth += 1;
                } else if c == b'}' && depth > 0 {
                    depth -= 1;
                } else if depth > 0 && (c == b'\'' || c == b'"') {
                    // A string inside a replacement field may reuse the quote (3.12).
                    self.string(false);
                    continue;
                }
            }
            if depth == 0 && c == quote {
                if !triple {
                    self.pos += 1;
                    // SQL escapes a quote by doubling it.
                    if self.lang == Lang::Sql && self.peek(0) == Some(quote) {
                        self.pos += 1;
                        continue;
                    }
                    return;
                }
                if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.pos += 3;
                    return;
                }
            }
            self.bump();
        }
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "f" | "b" | "br" | "rb" | "fr" | "rf"
    )
}

/// The tokens that are code: comments dropped.
pub fn code_tokens<'a>(tokens: &[Token<'a>]) -> Vec<Token<'a>> {
    tokens
        .iter()
        .copied()
        .filter(|t| t.kind != Tok::Comment)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(code: &str, lang: Lang) -> Vec<(Tok, &str)> {
        tokenize(code, lang)
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    const S: Tok = Tok::Str {
        interpolated: false,
    };
    const F: Tok = Tok::Str { interpolated: true };

    #[test]
    fn python_comments_and_strings_are_whole_tokens() {
        let code = "x = 'a#b'  # ignore_permissions=True\ny = \"q\\\"uote\"";
        assert_eq!(
            kinds(code, Lang::Python),
            vec![
                (Tok::Name, "x"),
                (Tok::Op, "="),
                (S, "'a#b'"),
                (Tok::Comment, "# ignore_permissions=True"),
                (Tok::Name, "y"),
                (Tok::Op, "="),
                (S, "\"q\\\"uote\""),
            ]
        );
    }

    #[test]
    fn triple_quoted_strings_span_lines_and_keep_line_numbers() {
        let code = "doc = '''one\nignore_permissions=True\n'''\nz = 1";
        let toks = tokenize(code, Lang::Python);
        assert_eq!(toks[2].kind, S);
        assert_eq!(toks[2].string_body(), "one\nignore_permissions=True\n");
        assert_eq!(toks[3].text, "z");
        assert_eq!(toks[3].line, 4);
    }

    #[test]
    fn prefixes_and_f_strings() {
        assert_eq!(
            kinds("f\"{a}\" rb'x' Rf'{b}' fr", Lang::Python),
            vec![
                (F, "f\"{a}\""),
                (S, "rb'x'"),
                (F, "Rf'{b}'"),
                (Tok::Name, "fr")
            ]
        );
        // Python 3.12 lets a replacement field reuse the quote.
        let toks = kinds("f\"{d[\"k\"]} and {{literal}}\" + x", Lang::Python);
        assert_eq!(toks[0], (F, "f\"{d[\"k\"]} and {{literal}}\""));
        assert_eq!(toks[1], (Tok::Op, "+"));
        let body = tokenize("f'''{x}\n'''", Lang::Python)[0];
        assert_eq!(body.string_body(), "{x}\n");
    }

    #[test]
    fn operators_are_greedy_so_equality_is_not_assignment() {
        assert_eq!(
            kinds("a == 1 != b := c ** 2", Lang::Python)
                .into_iter()
                .filter(|(k, _)| *k == Tok::Op)
                .map(|(_, t)| t)
                .collect::<Vec<_>>(),
            vec!["==", "!=", ":=", "**"]
        );
    }

    #[test]
    fn javascript_comments_and_templates() {
        assert_eq!(
            kinds("// a\nlet s = `x ${y}`; /* b\n c */ q", Lang::JavaScript),
            vec![
                (Tok::Comment, "// a"),
                (Tok::Name, "let"),
                (Tok::Name, "s"),
                (Tok::Op, "="),
                (F, "`x ${y}`"),
                (Tok::Op, ";"),
                (Tok::Comment, "/* b\n c */"),
                (Tok::Name, "q"),
            ]
        );
    }

    #[test]
    fn javascript_templates_nest() {
        let toks = kinds("a = `x ${ `in ${b}` + '}' } y`; c", Lang::JavaScript);
        assert_eq!(toks[2], (F, "`x ${ `in ${b}` + '}' } y`"));
        assert_eq!(toks[3], (Tok::Op, ";"));
        assert_eq!(toks[4], (Tok::Name, "c"));
    }

    #[test]
    fn javascript_regex_literals_and_division() {
        assert_eq!(
            kinds("let q = /it's \\/ [/]/g; x = a / b / c", Lang::JavaScript),
            vec![
                (Tok::Name, "let"),
                (Tok::Name, "q"),
                (Tok::Op, "="),
                (Tok::Regex, "/it's \\/ [/]/g"),
                (Tok::Op, ";"),
                (Tok::Name, "x"),
                (Tok::Op, "="),
                (Tok::Name, "a"),
                (Tok::Op, "/"),
                (Tok::Name, "b"),
                (Tok::Op, "/"),
                (Tok::Name, "c"),
            ]
        );
        assert_eq!(
            kinds("return /'/.test(s)", Lang::JavaScript)[1],
            (Tok::Regex, "/'/")
        );
        assert_eq!(kinds("(a) / 2", Lang::JavaScript)[3], (Tok::Op, "/"));
    }

    #[test]
    fn sql_comments_doubled_quotes_and_backticks() {
        assert_eq!(
            kinds(
                "select `tabGrant`.name -- note\nwhere a = 'it''s' # x",
                Lang::Sql
            ),
            vec![
                (Tok::Name, "select"),
                (Tok::Name, "`tabGrant`"),
                (Tok::Op, "."),
                (Tok::Name, "name"),
                (Tok::Comment, "-- note"),
                (Tok::Name, "where"),
                (Tok::Name, "a"),
                (Tok::Op, "="),
                (S, "'it''s'"),
                (Tok::Comment, "# x"),
            ]
        );
    }

    #[test]
    fn unterminated_things_end_cleanly() {
        assert_eq!(
            kinds("'abc\nx", Lang::Python),
            vec![(S, "'abc"), (Tok::Name, "x")]
        );
        assert_eq!(kinds("\"\"\"abc", Lang::Python), vec![(S, "\"\"\"abc")]);
        assert_eq!(kinds("/* open", Lang::Sql), vec![(Tok::Comment, "/* open")]);
        assert_eq!(kinds("'\\", Lang::Python), vec![(S, "'\\")]);
        assert_eq!(tokenize("'''x'", Lang::Python)[0].string_body(), "x'");
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("1000 1e-3 0x1F .5 1_000", Lang::Python)
                .into_iter()
                .map(|(_, t)| t)
                .collect::<Vec<_>>(),
            vec!["1000", "1e-3", "0x1F", ".5", "1_000"]
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_tokens_are_in_order(code in "\\PC{0,200}", which in 0u8..3) {
            let lang = [Lang::Python, Lang::JavaScript, Lang::Sql][which as usize];
            let toks = tokenize(&code, lang);
            let mut last_line = 1;
            for t in &toks {
                prop_assert!(!t.text.is_empty());
                prop_assert!(t.line >= last_line);
                last_line = t.line;
                let _ = t.string_body();
            }
        }

        #[test]
        fn quote_heavy_text_never_panics(code in "[\"'`#{}\\\\fr\\n a=/*-]{0,80}", which in 0u8..3) {
            let lang = [Lang::Python, Lang::JavaScript, Lang::Sql][which as usize];
            for t in tokenize(&code, lang) {
                let _ = t.string_body();
            }
        }
    }
}
