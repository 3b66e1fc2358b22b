//! Splits a filter or `order_by` string into tokens, with byte spans for messages.
//!
//! The lexer knows quoting but not meaning: identifiers (`tags."a.b"`,
//! `` metrics.`my metric` ``), strings, numbers, comparison operators and
//! punctuation. Keywords (`AND`, `LIKE`, `IS`, ...) come out as one-part
//! identifiers; the parser decides what they are.

use super::FilterError;

/// One dot-separated piece of an identifier, with its quotes removed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Part {
    pub text: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// `a.b`, `` `a b`.c ``, `tags."x.y"`: parts in order.
    Ident(Vec<Part>),
    /// A quoted string at the start of a token; `double` because a lone
    /// double-quoted token may also name a column (`"run name" = 'x'`).
    Str {
        text: String,
        double: bool,
    },
    Num(f64),
    /// A run of `<`, `>`, `=`, `!`; validated against the field later, so the
    /// message can list what that field accepts.
    Op(String),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token is this keyword (case-insensitive), written bare.
    pub fn is_keyword(&self, word: &str) -> bool {
        match &self.tok {
            Tok::Ident(parts) => parts.len() == 1 && !parts[0].quoted && parts[0].text.eq_ignore_ascii_case(word),
            Tok::Str { .. } | Tok::Num(_) | Tok::Op(_) | Tok::LParen | Tok::RParen | Tok::Comma => false,
        }
    }
}

/// Characters allowed in an unquoted identifier part after its first one.
fn is_bare(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | ':')
}

fn is_op(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// Shortens user input quoted back in an error, so a huge filter does not
/// make a huge message.
pub(super) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push_str("...");
        out
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, f: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        &self.src[start..self.pos]
    }

    fn error_at(&self, start: usize, what: &str) -> FilterError {
        FilterError(format!("Invalid filter '{}': {what} at position {start}", excerpt(self.src)))
    }

    /// Reads a quoted run after its opening `quote`. A doubled quote or a
    /// backslash before the quote stands for the quote; `\\` for one
    /// backslash; any other backslash is kept, so LIKE escapes survive.
    /// Backticks only know the doubled form, as in SQL.
    fn quoted(&mut self, quote: char, start: usize) -> Result<String, FilterError> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error_at(start, "unterminated quoted string")),
                Some(c) if c == quote => {
                    if self.peek() == Some(quote) {
                        self.bump();
                        out.push(quote);
                    } else {
                        return Ok(out);
                    }
                }
                Some('\\') if quote != '`' => match self.peek() {
                    Some(n) if n == quote || n == '\\' => {
                        self.bump();
                        out.push(n);
                    }
                    Some(_) | None => out.push('\\'),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<Tok, FilterError> {
        if matches!(self.peek(), Some('-' | '+')) {
            self.bump();
        }
        self.eat_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') {
            self.bump();
            self.eat_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.bump();
            if matches!(self.peek(), Some('-' | '+')) {
                self.bump();
            }
            if self.eat_while(|c| c.is_ascii_digit()).is_empty() {
                self.pos = save;
            }
        }
        let text = &self.src[start..self.pos];
        if self.peek().is_some_and(|c| is_bare(c) || c == '.') {
            let rest = self.eat_while(|c| is_bare(c) || c == '.');
            let culprit = format!("{text}{rest}");
            return Err(self.error_at(start, &format!("invalid number '{}'", excerpt(&culprit))));
        }
        text.parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| self.error_at(start, &format!("invalid number '{}'", excerpt(text))))
    }

    /// Reads `.part` continuations after an identifier's first part.
    fn ident_rest(&mut self, mut parts: Vec<Part>, start: usize) -> Result<Tok, FilterError> {
        while self.peek() == Some('.') {
            self.bump();
            let part_start = self.pos;
            let part = match self.peek() {
                Some(q @ ('`' | '"')) => {
                    self.bump();
                    Part { text: self.quoted(q, part_start)?, quoted: true }
                }
                Some(c) if is_bare(c) => Part { text: self.eat_while(is_bare).to_owned(), quoted: false },
                Some(_) | None => {
                    let text = &self.src[start..self.pos];
                    let what = format!("expected a name after '.' in '{}'", excerpt(text));
                    return Err(self.error_at(start, &what));
                }
            };
            parts.push(part);
        }
        Ok(Tok::Ident(parts))
    }

    fn next_token(&mut self) -> Option<Result<Token, FilterError>> {
        self.eat_while(char::is_whitespace);
        let start = self.pos;
        let c = self.peek()?;
        let tok = match c {
            '(' => {
                self.bump();
                Ok(Tok::LParen)
            }
            ')' => {
                self.bump();
                Ok(Tok::RParen)
            }
            ',' => {
                self.bump();
                Ok(Tok::Comma)
            }
            '\'' => {
                self.bump();
                self.quoted('\'', start).map(|text| Tok::Str { text, double: false })
            }
            '"' => {
                self.bump();
                self.quoted('"', start).and_then(|text| {
                    if self.peek() == Some('.') {
                        self.ident_rest(vec![Part { text, quoted: true }], start)
                    } else {
                        Ok(Tok::Str { text, double: true })
                    }
                })
            }
            '`' => {
                self.bump();
                self.quoted('`', start).and_then(|text| self.ident_rest(vec![Part { text, quoted: true }], start))
            }
            c if is_op(c) => Ok(Tok::Op(self.eat_while(is_op).to_owned())),
            c if c.is_ascii_digit() => self.number(start),
            '-' | '+' | '.' if self.peek2().is_some_and(|n| n.is_ascii_digit() || n == '.') => self.number(start),
            c if c.is_alphabetic() || c == '_' => {
                let text = self.eat_while(is_bare).to_owned();
                self.ident_rest(vec![Part { text, quoted: false }], start)
            }
            c => {
                self.bump();
                Err(self.error_at(start, &format!("unexpected character '{c}'")))
            }
        };
        Some(tok.map(|tok| Token { tok, start, end: self.pos }))
    }
}

/// Tokenises the whole input, or reports the first thing it cannot read.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    while let Some(token) = lexer.next_token() {
        out.push(token?);
    }
    Ok(out)
}
