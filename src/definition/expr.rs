//! `if:` expressions: a small language over a run's inputs and outputs, parsed here and
//! evaluated by a pure function. Never by a shell: the text is only ever read by this parser.
//!
//! ```text
//! expr    := or
//! or      := and ( "||" and )*
//! and     := cmp ( "&&" cmp )*
//! cmp     := unary ( ("==" | "!=" | "<" | "<=" | ">" | ">=") unary )?
//! unary   := "!" unary | primary
//! primary := "(" expr ")" | STRING | NUMBER | "true" | "false" | reference
//! reference := "inputs." NAME
//!            | ("steps" | "phases") ( "." NAME | "[" STRING "]" ) [ "[" INDEX "]" ] ".outputs." KEY
//! ```
//!
//! Strings are quoted with `'` (a quote inside doubled: `'it''s'`) or `"` (with `\"` and `\\`);
//! numbers are decimal (`3`, `-1.5`, `2e3`) and compared exactly, never as doubles
//! (`9007199254740993 > 9007199254740992`; a `number` input, a double, as the shortest
//! decimal that reads back as it). `!` binds tighter than a comparison, as in C:
//! write `!(a == b)`. A step name with characters other than letters, digits, `_` and `-`
//! is written in brackets: `steps['Run tests'].outputs.passed`; the outputs of one item of a
//! `foreach:` step as `steps.deploy[0].outputs.url`.
//!
//! Values are strings, numbers and booleans. Inputs have their declared type; outputs are
//! text, and an output that was not recorded reads as `''`. `==` and `!=` compare a number
//! with a string that reads as a number as numbers (outputs are text: `steps.s.outputs.n == 3`
//! works), a boolean with the string `'true'` or `'false'` as booleans; other mixed pairs are
//! unequal, but a number against a boolean is an error. `<`, `<=`, `>`, `>=` compare numbers
//! (and strings that read as numbers) as numbers, other strings by their bytes; a boolean or a
//! string against a number it does not read as is an error. `!`, `&&`, `||` and the whole
//! condition take booleans (or the strings `'true'` and `'false'`); anything else is an error,
//! never a guess. `&&` and `||` stop at the first operand that decides.

use std::fmt;

use super::template::Reference;

/// The longest expression, in bytes: a condition is a line, not a program.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// The deepest nesting of parentheses and `!`: the parser recurses, and no real condition
/// needs more.
pub const MAX_EXPRESSION_DEPTH: usize = 64;

/// A value an expression computes with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(Number),
    Bool(bool),
}

impl Value {
    /// A JSON value (an input) as an expression value: strings, numbers and booleans as they
    /// are; anything else as its JSON text.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                Number::from_json(n).map_or(Value::Str(n.to_string()), Value::Num)
            }
            serde_json::Value::Null => Value::Str(String::new()),
            other => Value::Str(other.to_string()),
        }
    }

    /// As shown in a reason: strings quoted, numbers and booleans as they are.
    pub fn shown(&self) -> String {
        match self {
            Value::Str(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Num(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Num(_) => "a number",
            Value::Bool(_) => "a boolean",
        }
    }
}

/// A number, exactly: a decimal `0.DIGITS × 10^exponent`, never rounded to a double, so that
/// integers past 2^53 (`9007199254740993`), numeric text of any length and a literal compare
/// by their exact values. The numbers are those a double can hold the magnitude of (`1e400`
/// is none, as before); only their digits are kept exactly. Normalized (no leading or
/// trailing zero digit, zero has no digits and no sign), so equal numbers are equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

/// How far below 1 a number's first digit may stand (`1e-1100`): past every double.
const MIN_EXPONENT: i64 = 1100;

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// A decimal text (`3`, `-1.5`, `2e3`, `.5`, `+7`), as a double reads it, but exactly;
    /// none for other text or a magnitude no double can hold.
    pub fn parse(text: &str) -> Option<Number> {
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return None;
        }
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, "0"),
        };
        // `inf`, `nan` and the like read as doubles but are not decimals.
        if !mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let exp: i64 = exp.parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let exponent = exp.checked_add(i64::try_from(int.len()).ok()?)?;
        let n = Number::normalized(negative, digits, exponent);
        // A double reads `1e-99999` as 0: kept exactly, its plain form would be that many
        // zeros. Far below the smallest double (5e-324) is no number cortex holds.
        (n.exponent >= -MIN_EXPONENT).then_some(n)
    }

    fn normalized(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Number {
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        exponent -= lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Number::zero();
        }
        Number {
            negative,
            digits,
            exponent,
        }
    }

    /// A double, as the shortest decimal that reads back as it (`0.1`, not its binary
    /// expansion).
    pub fn from_f64(n: f64) -> Option<Number> {
        Number::parse(&format!("{n:e}"))
    }

    /// A JSON number exactly: an integer as its digits, a fraction as `from_f64`.
    pub fn from_json(n: &serde_json::Number) -> Option<Number> {
        if n.is_i64() || n.is_u64() {
            Number::parse(&n.to_string())
        } else {
            n.as_f64().and_then(Number::from_f64)
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whole and not negative: a name made of digits (`steps.3.outputs.k`) or an item number.
    fn whole(&self) -> Option<String> {
        (!self.negative && self.exponent >= self.digits.len() as i64 && self.exponent < 4096)
            .then(|| self.plain())
    }

    /// Digits without an exponent: `1500`, `0.0015`, `-2.5`.
    fn plain(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let ds: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        let len = self.digits.len() as i64;
        if self.exponent >= len {
            format!("{sign}{ds}{}", "0".repeat((self.exponent - len) as usize))
        } else if self.exponent > 0 {
            let (a, b) = ds.split_at(self.exponent as usize);
            format!("{sign}{a}.{b}")
        } else {
            format!("{sign}0.{}{ds}", "0".repeat((-self.exponent) as usize))
        }
    }

    /// With an exponent: `1.5e3`, `1e-300`.
    fn scientific(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let ds: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        let (first, rest) = ds.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{sign}{first}{dot}{rest}e{}", self.exponent - 1)
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if self.is_zero() {
            return Ordering::Equal;
        }
        // Same sign: compare magnitudes, by the place of the first digit, then digit by digit.
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    /// As written back: a whole number of up to 21 digits as digits, else the shorter of its
    /// plain and its exponent form (`1e300`, not three hundred digits); either reads back as
    /// the same number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.plain();
        if self.whole().is_some() && plain.len() <= 21 {
            return f.write_str(&plain);
        }
        let scientific = self.scientific();
        f.write_str(if scientific.len() < plain.len() {
            &scientific
        } else {
            &plain
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// `<`, `<=`, `>`, `>=`: an order, not an equality.
    pub fn orders(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// What it reads, and how it is written (canonically: `steps['a b'].outputs.k`).
    Ref(Reference, String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
}

impl fmt::Display for Expr {
    /// The expression in canonical form, which `parse` reads back as the same expression:
    /// references as written, strings in single quotes, numbers exactly, and only the
    /// parentheses the grammar needs (`&&` and `||` group from the left, `&&` binds tighter,
    /// a comparison takes two unary operands).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `e`, in parentheses when `bare` says it cannot stand there without them.
        struct Operand<'a>(&'a Expr, bool);
        impl fmt::Display for Operand<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.1 {
                    write!(f, "{}", self.0)
                } else {
                    write!(f, "({})", self.0)
                }
            }
        }
        let unary = |e: &Expr| matches!(e, Expr::Literal(_) | Expr::Ref(..) | Expr::Not(_));
        match self {
            Expr::Literal(v) => f.write_str(&v.shown()),
            Expr::Ref(_, written) => f.write_str(written),
            Expr::Not(e) => write!(f, "!{}", Operand(e, unary(e))),
            Expr::And(a, b) => write!(
                f,
                "{} && {}",
                Operand(a, !matches!(**a, Expr::Or(..))),
                Operand(b, !matches!(**b, Expr::Or(..) | Expr::And(..)))
            ),
            Expr::Or(a, b) => write!(f, "{} || {}", a, Operand(b, !matches!(**b, Expr::Or(..)))),
            Expr::Compare(op, a, b) => write!(
                f,
                "{} {} {}",
                Operand(a, unary(a)),
                op.text(),
                Operand(b, unary(b))
            ),
        }
    }
}

/// Why an expression does not parse: what, and at which character (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// Position in characters from the start of the expression.
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

/// Why an expression could not be evaluated: a value of the wrong kind for what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an evaluation saw and concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Each reference read, in the order read, as written, with the value it had (`None`: not
    /// recorded, read as `''`).
    pub seen: Vec<(Reference, String, Option<Value>)>,
    pub result: Result<bool, EvalError>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Num(Number),
    /// A word: `true`, `false`, `inputs`, `steps`, a name segment, a key.
    Word(String),
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Not,
    And,
    Or,
    Cmp(CmpOp),
}

fn describe(t: &Token) -> String {
    match t {
        Token::Str(s) => format!("the string '{s}'"),
        Token::Num(n) => format!("the number {n}"),
        Token::Word(w) => format!("`{w}`"),
        Token::Dot => "`.`".into(),
        Token::LBracket => "`[`".into(),
        Token::RBracket => "`]`".into(),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Not => "`!`".into(),
        Token::And => "`&&`".into(),
        Token::Or => "`||`".into(),
        Token::Cmp(op) => format!("`{}`", op.text()),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Split an expression into tokens, each with its character position.
fn tokens(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |message: String, at: usize| Err(ParseError { message, at });
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return err("a string opened with `'` is never closed".into(), start);
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Token::Str(s), start));
                continue;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return err("a string opened with `\"` is never closed".into(), start);
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some(&e @ ('"' | '\\')) => {
                                s.push(e);
                                i += 2;
                            }
                            _ => {
                                return err(
                                    "in a string in `\"`, `\\` escapes only `\"` and `\\`".into(),
                                    i,
                                );
                            }
                        },
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Token::Str(s), start));
                continue;
            }
            '.' => out.push((Token::Dot, i)),
            '[' => out.push((Token::LBracket, i)),
            ']' => out.push((Token::RBracket, i)),
            '(' => out.push((Token::LParen, i)),
            ')' => out.push((Token::RParen, i)),
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push((Token::And, i));
                i += 1;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push((Token::Or, i));
                i += 1;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push((Token::Cmp(CmpOp::Eq), i));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push((Token::Cmp(CmpOp::Ne), i));
                i += 1;
            }
            '!' => out.push((Token::Not, i)),
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                out.push((Token::Cmp(op), i));
                if eq {
                    i += 1;
                }
            }
            '=' => return err("`=` alone is not an operator; compare with `==`".into(), i),
            '&' => return err("`&` alone is not an operator; write `&&`".into(), i),
            '|' => return err("`|` alone is not an operator; write `||`".into(), i),
            c if c.is_ascii_digit()
                || (c == '-'
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                    && !matches!(out.last(), Some((Token::Dot, _)))) =>
            {
                // A number: digits, an optional fraction and exponent.
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                if chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit)
                {
                    j += 1;
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                if matches!(chars.get(j), Some('e' | 'E')) {
                    let mut k = j + 1;
                    if matches!(chars.get(k), Some('+' | '-')) {
                        k += 1;
                    }
                    if chars.get(k).is_some_and(char::is_ascii_digit) {
                        while k < chars.len() && chars[k].is_ascii_digit() {
                            k += 1;
                        }
                        j = k;
                    }
                }
                // Digits run into letters (`3x`): a name, not a number (a step may be `3x`).
                if j < chars.len() && is_word_char(chars[j]) && chars[j] != '-' {
                    let mut k = j;
                    while k < chars.len() && is_word_char(chars[k]) {
                        k += 1;
                    }
                    out.push((Token::Word(chars[i..k].iter().collect()), i));
                    i = k;
                    continue;
                }
                let text: String = chars[i..j].iter().collect();
                match Number::parse(&text) {
                    Some(n) => out.push((Token::Num(n), i)),
                    None => return err(format!("`{text}` is not a number cortex can hold"), i),
                }
                i = j;
                continue;
            }
            c if is_word_char(c) => {
                let mut j = i;
                while j < chars.len() && is_word_char(chars[j]) {
                    j += 1;
                }
                // A name then `(` is a call, never anything else here: said as such, not as
                // the `,` of its arguments being "not part of the expression language".
                let mut k = j;
                while k < chars.len() && chars[k].is_whitespace() {
                    k += 1;
                }
                if chars.get(k) == Some(&'(') {
                    let name: String = chars[i..j].iter().collect();
                    return err(
                        format!(
                            "`{name}(...)` is a function call, and the expression language has no functions; it has values ('text', numbers, true, false, inputs.NAME, steps.STEP.outputs.KEY), comparisons (== != < <= > >=), !, &&, || and parentheses — for any other test, use `if: {{run: COMMAND}}`, whose exit 0 runs the step"
                        ),
                        i,
                    );
                }
                out.push((Token::Word(chars[i..j].iter().collect()), i));
                i = j;
                continue;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                return err(
                    "an `if:` is an expression already: write it without `${{ }}`".into(),
                    i,
                );
            }
            other => {
                return err(
                    format!(
                        "`{}` is not part of the expression language",
                        other.escape_debug()
                    ),
                    i,
                );
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    /// Where the text ends, for errors at its end.
    end: usize,
    depth: usize,
}

const WHAT_A_VALUE_IS: &str = "a string in quotes, a number, true, false, inputs.NAME, steps.STEP.outputs.KEY or (in a scenario) phases.PHASE.outputs.KEY";

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            at: self.at(),
        })
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn deeper(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return self.fail(format!(
                "the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels"
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.cmp()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            let right = self.cmp()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let left = self.unary()?;
        if let Some(Token::Cmp(op)) = self.peek().cloned() {
            self.pos += 1;
            let right = self.unary()?;
            if let Some(Token::Cmp(_)) = self.peek() {
                return self
                    .fail("comparisons do not chain: join them with `&&` (`a < b && b < c`)");
            }
            return Ok(Expr::Compare(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.at();
        match self.next() {
            None => {
                self.pos -= 1;
                self.fail(format!(
                    "the expression ends where a value was expected ({WHAT_A_VALUE_IS})"
                ))
            }
            Some(Token::LParen) => {
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    _ => {
                        self.pos -= 1;
                        self.fail("`(` is never closed with `)`")
                    }
                }
            }
            Some(Token::Str(s)) => Ok(Expr::Literal(Value::Str(s))),
            Some(Token::Num(n)) => Ok(Expr::Literal(Value::Num(n))),
            Some(Token::Word(w)) => match w.as_str() {
                "true" => Ok(Expr::Literal(Value::Bool(true))),
                "false" => Ok(Expr::Literal(Value::Bool(false))),
                "inputs" => self.input(),
                "steps" | "phases" => self.output(&w),
                "and" | "or" | "not" => {
                    self.pos -= 1;
                    let op = match w.as_str() {
                        "and" => "&&",
                        "or" => "||",
                        _ => "!",
                    };
                    self.fail(format!("`{w}` is not an operator here; write `{op}`"))
                }
                "item" => {
                    self.pos -= 1;
                    self.fail("`item` is not known to `if:`: the condition of a `foreach:` step is checked once, before its items")
                }
                "env" | "secrets" | "github" | "matrix" | "needs" | "vars" => {
                    self.pos -= 1;
                    self.fail(format!("`{w}` is not something an expression can read; it reads inputs.NAME, steps.STEP.outputs.KEY and phases.PHASE.outputs.KEY"))
                }
                _ => {
                    self.pos -= 1;
                    self.fail(format!("`{w}` is not a value: write {WHAT_A_VALUE_IS} (strings go in quotes: '{w}')"))
                }
            },
            Some(t) => {
                self.pos -= 1;
                let _ = at;
                self.fail(format!(
                    "expected a value ({WHAT_A_VALUE_IS}), found {}",
                    describe(&t)
                ))
            }
        }
    }

    fn expect_dot(&mut self, after: &str) -> Result<(), ParseError> {
        match self.next() {
            Some(Token::Dot) => Ok(()),
            _ => {
                self.pos -= 1;
                self.fail(format!("expected `.` after `{after}`"))
            }
        }
    }

    fn word(&mut self, what: &str) -> Result<String, ParseError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            // `steps.3.outputs.k`: a name made of digits was read as a number.
            Some(Token::Num(n)) if n.whole().is_some() => Ok(n.to_string()),
            _ => {
                self.pos -= 1;
                self.fail(format!("expected {what}"))
            }
        }
    }

    fn input(&mut self) -> Result<Expr, ParseError> {
        self.expect_dot("inputs")?;
        let name = self.word("an input name after `inputs.`")?;
        Ok(Expr::Ref(
            Reference::Input(name.clone()),
            format!("inputs.{name}"),
        ))
    }

    fn output(&mut self, root: &str) -> Result<Expr, ParseError> {
        // The step: `.NAME` or `['NAME']`.
        let (step, written) = match self.next() {
            Some(Token::Dot) => {
                let name = self.word(&format!(
                    "a {} name after `{root}.`",
                    &root[..root.len() - 1]
                ))?;
                (name.clone(), format!("{root}.{name}"))
            }
            Some(Token::LBracket) => {
                let name = match self.next() {
                    Some(Token::Str(s)) => s,
                    _ => {
                        self.pos -= 1;
                        return self.fail(format!("expected a name in quotes after `{root}[`"));
                    }
                };
                self.close_bracket()?;
                let w = format!("{root}['{}']", name.replace('\'', "''"));
                (name, w)
            }
            _ => {
                self.pos -= 1;
                return self.fail(format!("expected `.` or `[` after `{root}`"));
            }
        };
        // An item of a `foreach:` step: `[N]`.
        let (unit, written) = if self.peek() == Some(&Token::LBracket) {
            self.pos += 1;
            let n = match self.next() {
                Some(Token::Num(n))
                    if let Some(n) = n
                        .whole()
                        .and_then(|w| w.parse::<u64>().ok())
                        .filter(|n| *n < 1_000_000_000) =>
                {
                    n
                }
                _ => {
                    self.pos -= 1;
                    return self.fail("expected an item number (0, 1, ...) in `[ ]`");
                }
            };
            self.close_bracket()?;
            (format!("{step}[{n}]"), format!("{written}[{n}]"))
        } else {
            (step, written)
        };
        // `steps.Run tests.outputs.k`: a name with a space (or a quote) is written in
        // brackets, as a template may write it too; said, not only "expected `.`".
        if !written.contains('[')
            && matches!(
                self.peek(),
                Some(Token::Word(_) | Token::Num(_) | Token::Str(_))
            )
        {
            return self.fail(format!(
                "expected `.` after `{written}`; a {} name with spaces or characters other than letters, digits, `_` and `-` is written in brackets: `{root}['Run tests'].outputs.KEY`",
                &root[..root.len() - 1]
            ));
        }
        self.expect_dot(&written)?;
        match self.next() {
            Some(Token::Word(w)) if w == "outputs" => {}
            _ => {
                self.pos -= 1;
                return self.fail(format!("expected `outputs` after `{written}.`"));
            }
        }
        self.expect_dot("outputs")?;
        let key = self.word("an output key after `outputs.`")?;
        Ok(Expr::Ref(
            Reference::StepOutput {
                step: unit,
                key: key.clone(),
            },
            format!("{written}.outputs.{key}"),
        ))
    }

    fn close_bracket(&mut self) -> Result<(), ParseError> {
        match self.next() {
            Some(Token::RBracket) => Ok(()),
            _ => {
                self.pos -= 1;
                self.fail("expected `]`")
            }
        }
    }
}

/// Parse an `if:` expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err(ParseError {
            message: format!(
                "the expression is {} bytes long; an `if:` is at most {MAX_EXPRESSION_BYTES}",
                text.len()
            ),
            at: 0,
        });
    }
    let tokens = tokens(text)?;
    if tokens.is_empty() {
        return Err(ParseError {
            message: "the expression is empty".into(),
            at: 0,
        });
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        end: text.chars().count(),
        depth: 0,
    };
    let expr = p.or()?;
    if let Some(t) = p.peek().cloned() {
        let hint = match t {
            Token::Word(ref w) if w == "and" || w == "or" => {
                format!("; write `{}`", if w == "and" { "&&" } else { "||" })
            }
            _ => "; join conditions with `&&` or `||`".to_string(),
        };
        return p.fail(format!(
            "unexpected {} after a complete expression{hint}",
            describe(&t)
        ));
    }
    Ok(expr)
}

/// Every reference an expression reads, in order, each with how it is written.
pub fn references(expr: &Expr) -> Vec<(&Reference, &str)> {
    let mut out = Vec::new();
    fn walk<'a>(e: &'a Expr, out: &mut Vec<(&'a Reference, &'a str)>) {
        match e {
            Expr::Literal(_) => {}
            Expr::Ref(r, w) => out.push((r, w)),
            Expr::Not(a) => walk(a, out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
        }
    }
    walk(expr, &mut out);
    out
}

/// The comparisons of `expr` that can never be decided, whatever the values, as messages:
/// those between literals and inputs whose declared type fixes their kind (`kind_of`: a
/// sample value of input NAME's type — a number for `integer`/`number`, a boolean for
/// `boolean` — or none when its kind depends on the value). E.g. an integer input ordered
/// against `'abc'`, a boolean input ordered at all, a number compared with `true`. Also those
/// whose verdict the kinds alone fix: `==`/`!=` between a number input and text that is no
/// number (`inputs.n == 'two'`: always false), or a boolean input and text other than
/// `'true'`/`'false'`; and a literal or typed input where a boolean is taken (an operand of
/// `!`, `&&`, `||`, or the whole condition) that can never be one (`inputs.n == 3 || 'x'`).
pub fn type_problems(expr: &Expr, kind_of: &dyn Fn(&str) -> Option<Value>) -> Vec<String> {
    // What kind of value `e` always is: a literal's, a typed input's, and a boolean for `!`,
    // `&&`, `||` and a comparison (when they are decided at all).
    fn known(e: &Expr, kind_of: &dyn Fn(&str) -> Option<Value>) -> Option<Value> {
        match e {
            Expr::Literal(v) => Some(v.clone()),
            Expr::Ref(Reference::Input(name), _) => kind_of(name),
            Expr::Ref(..) => None,
            Expr::Not(_) | Expr::And(..) | Expr::Or(..) | Expr::Compare(..) => {
                Some(Value::Bool(false))
            }
        }
    }
    fn said(e: &Expr, v: &Value) -> String {
        match e {
            Expr::Ref(_, w) => format!("{} ({} input)", super::code_span(w), v.kind()),
            Expr::Literal(_) => v.shown(),
            _ => format!("{} ({})", super::code_span(&e.to_string()), v.kind()),
        }
    }
    // `e`, where a boolean is taken (`truth`), if it can never be one whatever the values:
    // a literal or a typed input of another kind.
    fn not_boolean(e: &Expr, kind_of: &dyn Fn(&str) -> Option<Value>, out: &mut Vec<String>) {
        let Some(v) = known(e, kind_of) else {
            return;
        };
        if truth(&v, e).is_err() {
            out.push(match e {
                Expr::Ref(_, w) => format!(
                    "{} is {} input where true or false is needed: it can never be decided; compare it, e.g. {}",
                    super::code_span(w),
                    v.kind(),
                    super::code_span(&format!("{w} == {}", v.shown()))
                ),
                _ => format!(
                    "{} is {} where true or false is needed: it can never be decided",
                    v.shown(),
                    v.kind()
                ),
            });
        }
    }
    // `==`/`!=` between a typed input and a literal of a kind it is never equal to: decided
    // by the kinds alone, whatever the input's value.
    // `typed` is the input's sample value, `literal` the literal's.
    fn never_equal(typed: &Value, literal: &Value) -> bool {
        match (typed, literal) {
            (Value::Num(_), Value::Str(s)) => as_number(s).is_none(),
            (Value::Bool(_), Value::Str(s)) => s != "true" && s != "false",
            _ => false,
        }
    }
    fn walk(e: &Expr, kind_of: &dyn Fn(&str) -> Option<Value>, out: &mut Vec<String>) {
        match e {
            Expr::Literal(_) | Expr::Ref(..) => {}
            Expr::Not(a) => {
                not_boolean(a, kind_of, out);
                walk(a, kind_of, out);
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                not_boolean(a, kind_of, out);
                not_boolean(b, kind_of, out);
                walk(a, kind_of, out);
                walk(b, kind_of, out);
            }
            Expr::Compare(op, a, b) => {
                // Every operand, however deep: `(!inputs.n) == 3` takes `inputs.n` as a boolean.
                walk(a, kind_of, out);
                walk(b, kind_of, out);
                let (Some(l), Some(r)) = (known(a, kind_of), known(b, kind_of)) else {
                    return;
                };
                if let Err(EvalError(why)) = compare(*op, &l, &r, a, b) {
                    let why = why.rsplit_once("): ").map_or(why.as_str(), |(_, w)| w);
                    out.push(format!(
                        "`{}` between {} and {} can never be decided: {why}",
                        op.text(),
                        said(a, &l),
                        said(b, &r)
                    ));
                    return;
                }
                let input = |x: &Expr| matches!(x, Expr::Ref(..));
                let literal = |x: &Expr| matches!(x, Expr::Literal(_));
                let (typed_expr, typed, other, lit) = if input(a) && literal(b) {
                    (a, &l, b, &r)
                } else if input(b) && literal(a) {
                    (b, &r, a, &l)
                } else {
                    return;
                };
                if matches!(op, CmpOp::Eq | CmpOp::Ne) && never_equal(typed, lit) {
                    let verdict = *op == CmpOp::Ne;
                    let why = match typed {
                        Value::Num(_) => "a number is never equal to text that is no number",
                        _ => "a boolean equals only `'true'` or `'false'`",
                    };
                    out.push(format!(
                        "`{}` between {} and {} is always {verdict}, whatever the input's value: {why}",
                        op.text(),
                        said(typed_expr, typed),
                        said(other, lit)
                    ));
                }
            }
        }
    }
    let mut out = Vec::new();
    not_boolean(expr, kind_of, &mut out);
    walk(expr, kind_of, &mut out);
    out
}

/// The references `expr` takes as true or false themselves (an operand of `!`, `&&`, `||`, or
/// the whole condition), as written: what has no value when it is not there.
pub fn bare_operands(expr: &Expr) -> Vec<(&Reference, &str)> {
    fn walk<'e>(e: &'e Expr, taken: bool, out: &mut Vec<(&'e Reference, &'e str)>) {
        match e {
            Expr::Ref(r, w) if taken => out.push((r, w.as_str())),
            Expr::Literal(_) | Expr::Ref(..) => {}
            Expr::Not(a) => walk(a, true, out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                walk(a, true, out);
                walk(b, true, out);
            }
            Expr::Compare(_, a, b) => {
                walk(a, false, out);
                walk(b, false, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(expr, true, &mut out);
    out
}

/// Every comparison in `expr`, outermost first: its operator and its two operands (what
/// validation asks of a secret compared: with what, and how).
pub fn comparisons(expr: &Expr) -> Vec<(CmpOp, &Expr, &Expr)> {
    fn walk<'e>(e: &'e Expr, out: &mut Vec<(CmpOp, &'e Expr, &'e Expr)>) {
        match e {
            Expr::Literal(_) | Expr::Ref(..) => {}
            Expr::Not(a) => walk(a, out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Compare(op, a, b) => {
                out.push((*op, a, b));
                walk(a, out);
                walk(b, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

/// Evaluate `expr`, reading references with `resolve` (`None`: not recorded). Pure: the same
/// values always give the same verdict.
pub fn evaluate(expr: &Expr, resolve: &dyn Fn(&Reference) -> Option<Value>) -> Evaluation {
    let mut seen = Vec::new();
    let result = truth_in(expr, resolve, &mut seen);
    Evaluation { seen, result }
}

/// `e` where true or false is taken (an operand of `!`, `&&`, `||`, or the whole condition).
/// A reference with no value is said to have none, and why, with a way that works: before, it
/// read as the text `''` ("a string (''), not true or false; compare it, e.g. `inputs.flag ==
/// ''`") though the input was declared boolean, only not given.
fn truth_in(
    e: &Expr,
    resolve: &dyn Fn(&Reference) -> Option<Value>,
    seen: &mut Vec<(Reference, String, Option<Value>)>,
) -> Result<bool, EvalError> {
    let Expr::Ref(r, written) = e else {
        return truth(&eval(e, resolve, seen)?, e);
    };
    let v = resolve(r);
    seen.push((r.clone(), written.clone(), v.clone()));
    match v {
        Some(v) => truth(&v, e),
        None => Err(EvalError(absent(r, written))),
    }
}

/// Why reference `r` (written `w`) has no value where true or false is needed, and what to do.
pub fn absent(r: &Reference, w: &str) -> String {
    match r {
        Reference::Input(name) => format!(
            "`{w}` has no value: input `{name}` was not given and has no `default:`; give it when starting a new run (`--input {name}=true` or `--input {name}=false`), or give the input a `default:` (a resume takes no inputs)"
        ),
        Reference::StepOutput { step, key } => format!(
            "{} has no value ({} recorded no output {}), not true or false; compare it, e.g. {}, which is false when it has none",
            super::code_span(w),
            super::code_span(step),
            super::code_span(key),
            super::code_span(&format!("{w} == 'true'"))
        ),
        Reference::Item => format!("`{w}` has no value, not true or false"),
    }
}

/// How an operand is named in an error: its reference, or its literal.
fn name_of(e: &Expr) -> String {
    match e {
        Expr::Ref(_, w) => super::code_span(w),
        Expr::Literal(v) => v.shown(),
        _ => "the condition".to_string(),
    }
}

fn truth(v: &Value, from: &Expr) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) if s == "true" => Ok(true),
        Value::Str(s) if s == "false" => Ok(false),
        other => {
            let hint = match from {
                Expr::Ref(_, w) => format!(
                    "; compare it, e.g. {}",
                    super::code_span(&format!("{w} == {}", other.shown()))
                ),
                _ => String::new(),
            };
            Err(EvalError(format!(
                "{} is {} ({}), not true or false{hint}",
                name_of(from),
                other.kind(),
                other.shown()
            )))
        }
    }
}

fn eval(
    e: &Expr,
    resolve: &dyn Fn(&Reference) -> Option<Value>,
    seen: &mut Vec<(Reference, String, Option<Value>)>,
) -> Result<Value, EvalError> {
    Ok(match e {
        Expr::Literal(v) => v.clone(),
        Expr::Ref(r, written) => {
            let v = resolve(r);
            seen.push((r.clone(), written.clone(), v.clone()));
            v.unwrap_or(Value::Str(String::new()))
        }
        Expr::Not(a) => Value::Bool(!truth_in(a, resolve, seen)?),
        Expr::And(a, b) => Value::Bool(truth_in(a, resolve, seen)? && truth_in(b, resolve, seen)?),
        Expr::Or(a, b) => Value::Bool(truth_in(a, resolve, seen)? || truth_in(b, resolve, seen)?),
        Expr::Compare(op, a, b) => {
            let l = eval(a, resolve, seen)?;
            let r = eval(b, resolve, seen)?;
            Value::Bool(compare(*op, &l, &r, a, b)?)
        }
    })
}

fn as_number(s: &str) -> Option<Number> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    Number::parse(t)
}

fn compare(op: CmpOp, l: &Value, r: &Value, le: &Expr, re: &Expr) -> Result<bool, EvalError> {
    use std::cmp::Ordering;
    let mixed = |what: &str| {
        Err(EvalError(format!(
            "{} is {} ({}) and {} is {} ({}): {what}",
            name_of(le),
            l.kind(),
            l.shown(),
            name_of(re),
            r.kind(),
            r.shown()
        )))
    };
    if matches!(op, CmpOp::Eq | CmpOp::Ne) {
        let equal = match (l, r) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Num(a), Value::Num(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Num(n), Value::Str(s)) | (Value::Str(s), Value::Num(n)) => {
                as_number(s).is_some_and(|m| m == *n)
            }
            (Value::Bool(b), Value::Str(s)) | (Value::Str(s), Value::Bool(b)) => {
                s == if *b { "true" } else { "false" }
            }
            (Value::Num(_), Value::Bool(_)) | (Value::Bool(_), Value::Num(_)) => {
                return mixed("a number and a boolean cannot be compared");
            }
        };
        return Ok(equal == (op == CmpOp::Eq));
    }
    let ordering = match (l, r) {
        (Value::Bool(_), _) | (_, Value::Bool(_)) => {
            return mixed(&format!("booleans have no order for `{}`", op.text()));
        }
        (Value::Num(a), Value::Num(b)) => a.partial_cmp(b),
        (Value::Num(a), Value::Str(s)) => match as_number(s) {
            Some(b) => a.partial_cmp(&b),
            None => return mixed("the string does not read as a number"),
        },
        (Value::Str(s), Value::Num(b)) => match as_number(s) {
            Some(a) => a.partial_cmp(b),
            None => return mixed("the string does not read as a number"),
        },
        // Two texts that read as numbers are ordered as numbers (outputs are text: `count >
        // '9'` means ten is more), equal numbers written differently by their text: so that
        // `a <= b && a >= b` is exactly `a == b`, which compares two texts as text (before,
        // '007' was both <= and >= '7' but not == '7').
        (Value::Str(a), Value::Str(b)) => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .map(|o| o.then_with(|| a.as_bytes().cmp(b.as_bytes()))),
            _ => Some(a.as_bytes().cmp(b.as_bytes())),
        },
    };
    let ordering = ordering.unwrap_or(Ordering::Equal);
    Ok(match op {
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Eq | CmpOp::Ne => unreachable!("handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An input that was not given (no value at all) where true or false is needed: the
    /// error names that cause and a way that works on a new run, not "a string ('')" with
    /// a hint to compare it with `''`.
    #[test]
    fn an_input_not_given_taken_as_a_boolean_names_the_missing_input() {
        let nothing = |_: &Reference| None;
        for condition in ["inputs.flag", "!inputs.flag", "true && inputs.flag"] {
            let error = evaluate(&parse(condition).unwrap(), &nothing)
                .result
                .unwrap_err()
                .0;
            assert!(
                error.contains("input `flag` was not given and has no `default:`")
                    && error.contains("--input flag=true")
                    && !error.contains("a string"),
                "{condition}: {error}"
            );
        }
        // Compared, it is decided: false.
        let compared = evaluate(&parse("inputs.flag == true").unwrap(), &nothing);
        assert_eq!(compared.result, Ok(false));
    }

    /// For any two texts, `a <= b && a >= b` holds exactly when `a == b` does, and exactly one
    /// of `<`, `==`, `>` holds: the order of texts agrees with their equality, numeric
    /// texts included ('007' against '7', '1.0' against '1').
    #[test]
    fn the_order_of_two_texts_agrees_with_their_equality() {
        let texts = [
            "007", "7", "1.0", "1", "1.10", "1.1", "abc", "", " 7", "-0", "0", "1e2", "100",
        ];
        let holds = |expr: &str, a: &str, b: &str| {
            let values = |r: &Reference| match r {
                Reference::Input(n) if n == "a" => Some(Value::Str(a.to_string())),
                Reference::Input(n) if n == "b" => Some(Value::Str(b.to_string())),
                _ => None,
            };
            evaluate(&parse(expr).unwrap(), &values).result.unwrap()
        };
        for a in texts {
            for b in texts {
                let eq = holds("inputs.a == inputs.b", a, b);
                assert_eq!(
                    holds("inputs.a <= inputs.b && inputs.a >= inputs.b", a, b),
                    eq,
                    "{a:?} {b:?}"
                );
                let one = [
                    holds("inputs.a < inputs.b", a, b),
                    eq,
                    holds("inputs.a > inputs.b", a, b),
                ];
                assert_eq!(
                    one.iter().filter(|h| **h).count(),
                    1,
                    "{a:?} {b:?}: {one:?}"
                );
            }
        }
        assert!(
            holds("inputs.a > inputs.b", "10", "9"),
            "numbers by their value"
        );
    }

    #[test]
    fn comparisons_that_no_value_can_decide_are_found_before_the_run() {
        let kind_of = |name: &str| match name {
            "n" => Some(Value::Num(Number::zero())),
            "f" => Some(Value::Bool(false)),
            _ => None,
        };
        let problems = |text: &str| type_problems(&parse(text).unwrap(), &kind_of);
        assert_eq!(problems("inputs.n > 'abc'").len(), 1);
        assert_eq!(problems("inputs.f >= false").len(), 1);
        assert_eq!(problems("inputs.n != false || 1 < 'x'").len(), 2);
        // Decided by the kinds alone: never equal, or never a boolean.
        assert_eq!(problems("inputs.n == 'two'").len(), 1);
        assert!(problems("inputs.n != 'two'")[0].contains("always true"));
        assert!(problems("'two' == inputs.n")[0].contains("always false"));
        assert_eq!(problems("inputs.f == 'yes'").len(), 1);
        assert_eq!(problems("inputs.n == 3 || 'x'").len(), 1);
        assert_eq!(problems("!inputs.n").len(), 1);
        // Inside a comparison too, at any depth: `!` binds tighter than `==`.
        assert_eq!(
            problems("inputs.n > 1 && !inputs.n == 3").len(),
            2,
            "{:?}",
            problems("inputs.n > 1 && !inputs.n == 3")
        );
        assert_eq!(problems("(!(inputs.n)) != false").len(), 1);
        assert_eq!(problems("(!inputs.f) < 3").len(), 1);
        assert!(problems("!inputs.f == true").is_empty());
        assert_eq!(problems("'x'").len(), 1);
        assert_eq!(problems("inputs.s && 2").len(), 1);
        for fine in [
            "inputs.n > '2'",
            "inputs.n == '2'",
            "inputs.s == 'abc'",
            "inputs.f == 'true'",
            "inputs.f && 'true'",
            "inputs.s || inputs.f",
            "steps.a.outputs.x == 'abc'",
            "inputs.f == 'true'",
            "inputs.s > 'abc'",
            "steps.a.outputs.x > 'abc'",
        ] {
            assert!(problems(fine).is_empty(), "{fine}");
        }
    }

    fn values(r: &Reference) -> Option<Value> {
        match r {
            Reference::Input(n) if n == "env" => Some(Value::Str("prod".into())),
            Reference::Input(n) if n == "count" => Some(Value::Num(Number::parse("3").unwrap())),
            Reference::Input(n) if n == "dry_run" => Some(Value::Bool(false)),
            Reference::StepOutput { step, key } if step == "build" && key == "changed" => {
                Some(Value::Str("true".into()))
            }
            Reference::StepOutput { step, key } if step == "Run tests" && key == "n" => {
                Some(Value::Str("10".into()))
            }
            Reference::StepOutput { step, key } if step == "deploy[1]" && key == "url" => {
                Some(Value::Str("https://b".into()))
            }
            _ => None,
        }
    }

    fn run(text: &str) -> Result<bool, String> {
        let e = parse(text).map_err(|e| e.to_string())?;
        evaluate(&e, &values).result.map_err(|e| e.0)
    }

    #[test]
    fn the_brief_s_example_holds() {
        assert_eq!(
            run("inputs.env == 'prod' && steps.build.outputs.changed != 'false'"),
            Ok(true)
        );
    }

    #[test]
    fn operators_literals_and_precedence() {
        assert_eq!(run("true || false && false"), Ok(true));
        assert_eq!(run("(true || false) && false"), Ok(false));
        assert_eq!(run("!false"), Ok(true));
        assert_eq!(run("!(inputs.env == 'dev')"), Ok(true));
        assert_eq!(run("inputs.count >= 3 && inputs.count < 3.5"), Ok(true));
        assert_eq!(
            run("inputs.count == '3'"),
            Ok(true),
            "numbers compare with numeric text"
        );
        assert_eq!(run("steps['Run tests'].outputs.n > 9"), Ok(true));
        assert_eq!(
            run("steps['Run tests'].outputs.n > '9'"),
            Ok(true),
            "numeric text compares as numbers"
        );
        assert_eq!(run("'abc' < 'abd'"), Ok(true));
        assert_eq!(run("\"it's\" == 'it''s'"), Ok(true));
        assert_eq!(
            run("steps.build.outputs.changed"),
            Ok(true),
            "the text 'true' is true"
        );
        assert_eq!(run("inputs.dry_run == false"), Ok(true));
        assert_eq!(run("inputs.dry_run == 'false'"), Ok(true));
        assert_eq!(run("steps.deploy[1].outputs.url == 'https://b'"), Ok(true));
        assert_eq!(run("-1.5e1 < -14"), Ok(true));
    }

    #[test]
    fn missing_outputs_read_as_empty_and_are_reported_seen() {
        let e = parse("steps.lint.outputs.ok == ''").unwrap();
        let ev = evaluate(&e, &values);
        assert_eq!(ev.result, Ok(true));
        assert_eq!(ev.seen.len(), 1);
        assert_eq!(ev.seen[0].1, "steps.lint.outputs.ok");
        assert_eq!(ev.seen[0].2, None);
    }

    #[test]
    fn short_circuit_reads_only_what_decides() {
        let e = parse("inputs.env == 'dev' && steps.build.outputs.changed").unwrap();
        let ev = evaluate(&e, &values);
        assert_eq!(ev.result, Ok(false));
        assert_eq!(ev.seen.len(), 1);
    }

    #[test]
    fn values_of_the_wrong_kind_are_errors_not_guesses() {
        assert!(run("inputs.env").unwrap_err().contains("not true or false"));
        assert!(run("inputs.count && true").is_err());
        assert!(run("inputs.dry_run < 1").unwrap_err().contains("no order"));
        assert!(
            run("inputs.env > 3")
                .unwrap_err()
                .contains("does not read as a number")
        );
        assert!(run("inputs.count == true").is_err());
    }

    #[test]
    fn parse_errors_say_what_and_where() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(e("inputs.env = 'prod'").at, 11);
        assert!(e("inputs.env = 'prod'").message.contains("`==`"));
        assert!(e("inputs.env == ").message.contains("ends where a value"));
        assert!(e("(inputs.a == 'x'").message.contains("never closed"));
        assert!(e("inputs.env == prod").message.contains("in quotes"));
        assert!(
            e("env.HOME == 'x'")
                .message
                .contains("not something an expression can read")
        );
        assert!(e("a and b").message.contains("&&") || e("true and false").message.contains("&&"));
        assert!(e("'open").message.contains("never closed"));
        assert!(e("1 < 2 < 3").message.contains("do not chain"));
        assert!(e("${{ inputs.x }}").message.contains("without `${{ }}`"));
        assert!(e("steps.build.output.x").message.contains("`outputs`"));
        assert!(e("").message.contains("empty"));
        assert!(
            e("true true")
                .message
                .contains("after a complete expression")
        );
        assert!(e(&"(".repeat(100)).message.contains("nests deeper"));
        assert!(e(&"x".repeat(5000)).message.contains("at most"));
        assert!(e("item == 'a'").message.contains("foreach"));
    }

    #[test]
    fn references_are_listed_as_written() {
        let e =
            parse("inputs.a == steps['b c'].outputs.k || phases.p[2].outputs.x == '1'").unwrap();
        let refs: Vec<&str> = references(&e).into_iter().map(|(_, w)| w).collect();
        assert_eq!(
            refs,
            vec![
                "inputs.a",
                "steps['b c'].outputs.k",
                "phases.p[2].outputs.x"
            ]
        );
    }

    mod exact {
        use super::*;
        use proptest::prelude::*;

        /// `a` against `f` exactly (the reference for `Number`'s order): by their integer parts,
        /// then by `f`'s fraction.
        fn exact_cmp(a: i64, f: f64) -> std::cmp::Ordering {
            let t = f.trunc();
            let ti = t as i128; // every double of magnitude below 2^127 truncates exactly
            i128::from(a)
                .cmp(&ti)
                .then_with(|| 0.0f64.partial_cmp(&(f - t)).unwrap())
        }

        proptest! {
            /// Integers compare exactly, however large: never as doubles (2^53 + 1 is not 2^53).
            #[test]
            fn integers_compare_exactly(a in any::<i64>(), b in any::<i64>()) {
                let (x, y) = (Number::parse(&a.to_string()).unwrap(), Number::parse(&b.to_string()).unwrap());
                prop_assert_eq!(x.cmp(&y), a.cmp(&b));
                prop_assert_eq!(x == y, a == b);
                prop_assert_eq!(x.to_string(), a.to_string());
            }

            /// An integer against a double: by their exact values, near 2^53 and past it too
        /// (doubles whose decimal is their exact value: whole ones below 2^53 and halves).
        #[test]
        fn an_integer_and_a_double_compare_exactly(
            a in any::<i64>(),
            b in -(1i64 << 53)..(1i64 << 53),
            half in -(1i64 << 50)..(1i64 << 50),
            near in -3i64..3,
        ) {
            let cases = [
                (a, b as f64),
                (b + near, b as f64),
                ((1i64 << 53) + near, (1i64 << 53) as f64),
                (half + near, half as f64 + 0.5),
            ];
            for (a, f) in cases {
                let (x, y) = (Number::parse(&a.to_string()).unwrap(), Number::from_f64(f).unwrap());
                prop_assert_eq!(x.cmp(&y), exact_cmp(a, f), "{} against {}", a, f);
            }
        }

        /// A number written back reads back as the same number.
            #[test]
            fn a_number_reads_back_as_written(
                f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
                digits in "[1-9][0-9]{0,40}",
            ) {
                for n in [Number::from_f64(f).unwrap(), Number::parse(&digits).unwrap()] {
                    prop_assert_eq!(Number::parse(&n.to_string()), Some(n.clone()));
                }
            }
        }
    }

    /// The brief's cases: equal-looking integers past 2^53 differ, numeric text of twenty
    /// digits is compared exactly, and the value read is recorded as it is.
    #[test]
    fn integers_past_two_to_the_53_are_not_rounded() {
        let big = |r: &Reference| match r {
            Reference::Input(n) if n == "id" => {
                Some(Value::from_json(&serde_json::json!(9007199254740993i64)))
            }
            _ => None,
        };
        let ev = evaluate(&parse("inputs.id == 9007199254740992").unwrap(), &big);
        assert_eq!(ev.result, Ok(false));
        assert_eq!(ev.seen[0].2.as_ref().unwrap().shown(), "9007199254740993");
        assert_eq!(
            run("'99999999999999999999' == 100000000000000000000"),
            Ok(false)
        );
        assert_eq!(
            run("'99999999999999999999' < 100000000000000000000"),
            Ok(true)
        );
        assert_eq!(run("9007199254740993 > 9007199254740992.0"), Ok(true));
        assert_eq!(run("0.1 == '0.10'"), Ok(true));
        assert_eq!(run("1e2 == 100"), Ok(true));
        assert_eq!(run("-0 == 0"), Ok(true));
    }
}
