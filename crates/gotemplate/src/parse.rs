//! Lexer and parser: template text to a node tree.

use crate::Error;
use crate::funcs;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(Vec<u8>),
    Action(Pipeline),
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        value: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        value: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    /// Variables declared (`$x :=`) or assigned (`$x =`) by this pipeline.
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    /// `.` followed by zero or more field names.
    Dot(Vec<String>),
    /// `$name` followed by zero or more field names (`$` alone is the root).
    Var(String, Vec<String>),
    Func(String),
    Str(Vec<u8>),
    Int(i64),
    Bool(bool),
    Nil,
    /// A parenthesised pipeline, possibly followed by field names.
    Sub(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(Vec<u8>),
    Int(i64),
    Pipe,
    LParen,
    RParen(Vec<String>),
    Declare,
    Assign,
    Comma,
}

fn perr(offset: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        offset,
        message: message.into(),
    }
}

/// One `{{ … }}` action, already cut out of the text.
struct Action {
    offset: usize,
    toks: Vec<(usize, Tok)>,
}

enum Piece {
    Text(Vec<u8>),
    Action(Action),
}

pub(crate) fn parse(src: &str) -> Result<Vec<Node>, Error> {
    let pieces = split(src)?;
    let mut it = pieces.into_iter().peekable();
    let (nodes, end) = parse_list(&mut it, 0)?;
    match end {
        None => Ok(nodes),
        Some((off, kw)) => Err(perr(off, format!("unexpected {{{{{kw}}}}}"))),
    }
}

const WS: &[char] = &[' ', '\t', '\r', '\n'];

/// Splits the source into text and actions, applying trim markers.
fn split(src: &str) -> Result<Vec<Piece>, Error> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut rest = src;
    let mut pos = 0usize;
    let mut trim_next = false;
    loop {
        let Some(open) = rest.find("{{") else {
            let mut text = rest;
            if trim_next {
                text = text.trim_start_matches(WS);
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text.as_bytes().to_vec()));
            }
            return Ok(pieces);
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start_matches(WS);
        }
        let mut inner_start = open + 2;
        let after = &rest[inner_start..];
        // "{{- " trims the text before; the dash must be followed by a space.
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n") || after.starts_with("-\r");
        if trim_left {
            text = text.trim_end_matches(WS);
            // The marker is "- ": a dash and one space, as Go's lexer reads it.
            inner_start += 2;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.as_bytes().to_vec()));
        }
        let action_off = pos + open;
        let body_and_rest = &rest[inner_start..];
        let (body, close_len, trim_right) =
            find_close(body_and_rest).ok_or_else(|| perr(action_off, "unclosed action"))?;
        let body_str = &body_and_rest[..body];
        // Go: a comment must start and end at the delimiters (`{{/*` or `{{- /*`).
        if body_str.starts_with("/*") {
            if !body_str.ends_with("*/") || body_str.len() < 4 {
                return Err(perr(action_off, "comment ends before closing delimiter"));
            }
        } else {
            let toks = lex(body_str, pos + inner_start)?;
            pieces.push(Piece::Action(Action {
                offset: action_off,
                toks,
            }));
        }
        let consumed = inner_start + body + close_len;
        pos += consumed;
        rest = &rest[consumed..];
        trim_next = trim_right;
    }
}

/// Finds the end of an action body: the byte index of the close delimiter, its
/// length, and whether it trims. Skips over quoted strings.
fn find_close(s: &str) -> Option<(usize, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = s[i + 2..].find("*/")?;
                i += 2 + end + 2;
            }
            b' ' | b'\t' | b'\r' | b'\n' if s[i..].trim_start_matches(WS).starts_with("-}}") => {
                let ws = s[i..].len() - s[i..].trim_start_matches(WS).len();
                return Some((i, ws + 3, true));
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some((i, 2, false)),
            _ => i += 1,
        }
    }
    None
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn lex(s: &str, base: usize) -> Result<Vec<(usize, Tok)>, Error> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Field chain after `.`/`$x`/`)`: `.a.b`.
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < b.len() && b[*i] == b'.' && b.get(*i + 1).is_some_and(|c| is_ident_char(*c)) {
            let start = *i + 1;
            *i += 1;
            while *i < b.len() && is_ident_char(b[*i]) {
                *i += 1;
            }
            f.push(s[start..*i].to_string());
        }
        f
    };
    while i < b.len() {
        let off = base + i;
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'|' => {
                out.push((off, Tok::Pipe));
                i += 1;
            }
            b'(' => {
                out.push((off, Tok::LParen));
                i += 1;
            }
            b')' => {
                i += 1;
                let f = fields(&mut i);
                out.push((off, Tok::RParen(f)));
            }
            b',' => {
                out.push((off, Tok::Comma));
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                out.push((off, Tok::Declare));
                i += 2;
            }
            b'=' => {
                out.push((off, Tok::Assign));
                i += 1;
            }
            b'.' => {
                if b.get(i + 1).is_some_and(|c| is_ident_char(*c)) {
                    let f = fields(&mut i);
                    out.push((off, Tok::Dot(f)));
                } else {
                    i += 1;
                    out.push((off, Tok::Dot(Vec::new())));
                }
            }
            b'$' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                let name = s[start..i].to_string();
                let f = fields(&mut i);
                out.push((off, Tok::Var(name, f)));
            }
            b'"' => {
                let (v, n) = lex_quoted(&s[i..], off)?;
                out.push((off, Tok::Str(v)));
                i += n;
            }
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or_else(|| perr(off, "unterminated raw string"))?;
                out.push((off, Tok::Str(s.as_bytes()[i + 1..i + 1 + end].to_vec())));
                i += end + 2;
            }
            b'\'' => {
                let (v, n) = lex_quoted(&s[i..], off)?;
                let text = String::from_utf8(v).map_err(|_| perr(off, "invalid character literal"))?;
                let mut chars = text.chars();
                let (Some(ch), None) = (chars.next(), chars.next()) else {
                    return Err(perr(off, "invalid character literal"));
                };
                out.push((off, Tok::Int(ch as i64)));
                i += n;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                    i += 1;
                }
                out.push((off, Tok::Int(parse_int(&s[start..i], off)?)));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                out.push((off, Tok::Ident(s[start..i].to_string())));
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(perr(off, format!("unexpected {ch:?} in action")));
            }
        }
    }
    Ok(out)
}

fn parse_int(text: &str, off: usize) -> Result<i64, Error> {
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = digits.replace('_', "");
    let lower = digits.to_ascii_lowercase();
    let parsed = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8)
    } else if let Some(bn) = lower.strip_prefix("0b") {
        i64::from_str_radix(bn, 2)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&lower[1..], 8)
    } else {
        lower.parse::<i64>()
    };
    match parsed {
        Ok(v) => Ok(if neg { -v } else { v }),
        Err(_) if lower.contains(['.', 'e']) && !lower.starts_with("0x") => {
            Err(perr(off, format!("floating-point number {text} is not supported")))
        }
        Err(_) => Err(perr(off, format!("bad number syntax: {text:?}"))),
    }
}

/// Lexes a Go interpreted string (or char) literal starting at its quote.
/// Returns the bytes and the number of source bytes consumed.
fn lex_quoted(s: &str, off: usize) -> Result<(Vec<u8>, usize), Error> {
    let b = s.as_bytes();
    let q = b[0];
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() {
        let c = b[i];
        if c == q {
            return Ok((out, i + 1));
        }
        if c == b'\n' {
            break;
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *b.get(i + 1).ok_or_else(|| perr(off, "unterminated quoted string"))?;
        i += 2;
        let hex = |i: &mut usize, n: usize| -> Result<u32, Error> {
            let h = s.get(*i..*i + n).ok_or_else(|| perr(off, "bad escape"))?;
            *i += n;
            u32::from_str_radix(h, 16).map_err(|_| perr(off, "bad escape"))
        };
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'\'' if q == b'\'' => out.push(b'\''),
            b'"' if q == b'"' => out.push(b'"'),
            b'x' => out.push(hex(&mut i, 2)? as u8),
            b'u' | b'U' => {
                let v = hex(&mut i, if e == b'u' { 4 } else { 8 })?;
                let ch = char::from_u32(v).ok_or_else(|| perr(off, "bad unicode escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            b'0'..=b'7' => {
                let o = s.get(i - 1..i + 2).ok_or_else(|| perr(off, "bad escape"))?;
                let v = u32::from_str_radix(o, 8).map_err(|_| perr(off, "bad escape"))?;
                out.push(u8::try_from(v).map_err(|_| perr(off, "bad escape"))?);
                i += 2;
            }
            _ => return Err(perr(off, format!("unknown escape sequence \\{}", e as char))),
        }
    }
    Err(perr(off, "unterminated quoted string"))
}

type Pieces = std::iter::Peekable<std::vec::IntoIter<Piece>>;

/// Parses nodes until `{{end}}`/`{{else …}}` (returned as the terminator) or EOF.
/// Nodes parsed so far, and the `{{end}}`/`{{else}}` that stopped the list (with its offset).
type ListEnd = (Vec<Node>, Option<(usize, Terminator)>);

/// Nesting deeper than this (blocks or parentheses) is refused rather than
/// risking the stack.
const MAX_DEPTH: usize = 100;

fn parse_list(it: &mut Pieces, depth: usize) -> Result<ListEnd, Error> {
    let mut nodes = Vec::new();
    while let Some(piece) = it.next() {
        let action = match piece {
            Piece::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Piece::Action(a) => a,
        };
        let off = action.offset;
        let mut toks = action.toks;
        if toks.is_empty() {
            return Err(perr(off, "missing value for command"));
        }
        let keyword = match &toks[0].1 {
            Tok::Ident(k) => k.clone(),
            _ => String::new(),
        };
        match keyword.as_str() {
            "end" => {
                if toks.len() != 1 {
                    return Err(perr(off, "unexpected tokens after end"));
                }
                return Ok((nodes, Some((off, Terminator::End))));
            }
            "else" => {
                toks.remove(0);
                return Ok((nodes, Some((off, Terminator::Else(toks)))));
            }
            "if" | "with" | "range" => {
                toks.remove(0);
                nodes.push(parse_control(&keyword, toks, off, it, depth + 1)?);
            }
            "define" | "template" | "block" | "break" | "continue" => {
                return Err(perr(
                    off,
                    format!("{{{{{keyword}}}}} is not supported in template data"),
                ));
            }
            _ => nodes.push(Node::Action(parse_pipeline(toks, off, true, depth)?)),
        }
    }
    Ok((nodes, None))
}

#[derive(Debug)]
enum Terminator {
    End,
    Else(Vec<(usize, Tok)>),
}

impl std::fmt::Display for Terminator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Terminator::End => f.write_str("end"),
            Terminator::Else(_) => f.write_str("else"),
        }
    }
}

fn parse_control(kw: &str, toks: Vec<(usize, Tok)>, off: usize, it: &mut Pieces, depth: usize) -> Result<Node, Error> {
    if depth > MAX_DEPTH {
        return Err(perr(off, format!("blocks nested deeper than {MAX_DEPTH}")));
    }
    let pipe = parse_pipeline(toks, off, true, depth)?;
    let (then, term) = parse_list(it, depth)?;
    let otherwise = match term {
        None => {
            return Err(perr(
                off,
                format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"),
            ));
        }
        Some((_, Terminator::End)) => Vec::new(),
        Some((eoff, Terminator::Else(rest))) => {
            // `else if …` / `else with …` chains: the nested node consumes the single {{end}}.
            match rest.first() {
                None => {
                    let (els, term) = parse_list(it, depth)?;
                    match term {
                        Some((_, Terminator::End)) => els,
                        _ => {
                            return Err(perr(
                                eoff,
                                format!("expected {{{{end}}}} after {{{{else}}}} of {{{{{kw}}}}}"),
                            ));
                        }
                    }
                }
                Some((_, Tok::Ident(k))) if (k == "if" || k == "with") => {
                    let k = k.clone();
                    vec![parse_control(
                        &k,
                        rest.into_iter().skip(1).collect(),
                        eoff,
                        it,
                        depth + 1,
                    )?]
                }
                _ => return Err(perr(eoff, "unexpected tokens after else")),
            }
        }
    };
    Ok(match kw {
        "if" => Node::If {
            cond: pipe,
            then,
            otherwise,
        },
        "with" => Node::With {
            value: pipe,
            then,
            otherwise,
        },
        _ => Node::Range {
            value: pipe,
            body: then,
            otherwise,
        },
    })
}

fn parse_pipeline(toks: Vec<(usize, Tok)>, off: usize, allow_decl: bool, depth: usize) -> Result<Pipeline, Error> {
    if depth > MAX_DEPTH {
        return Err(perr(off, format!("parentheses nested deeper than {MAX_DEPTH}")));
    }
    let mut toks = toks;
    let mut decl = Vec::new();
    let mut is_assign = false;
    // `$x :=`, `$x =`, `$k, $v :=`
    if allow_decl {
        let decl_pos = toks.iter().position(|(_, t)| matches!(t, Tok::Declare | Tok::Assign));
        if let Some(p) = decl_pos {
            let head: Vec<_> = toks.drain(..=p).collect();
            is_assign = matches!(head[p].1, Tok::Assign);
            for (i, (o, t)) in head[..p].iter().enumerate() {
                match (i % 2, t) {
                    (0, Tok::Var(name, f)) if f.is_empty() && !name.is_empty() => decl.push(name.clone()),
                    (1, Tok::Comma) => {}
                    _ => return Err(perr(*o, "bad variable declaration")),
                }
            }
            if decl.is_empty() || decl.len() > 2 {
                return Err(perr(off, "bad variable declaration"));
            }
        }
    }
    let mut cmds = Vec::new();
    let mut cur: Vec<Arg> = Vec::new();
    let mut it = toks.into_iter();
    while let Some((o, t)) = it.next() {
        match t {
            Tok::Pipe => {
                if cur.is_empty() {
                    return Err(perr(o, "missing command before |"));
                }
                cmds.push(Command {
                    args: std::mem::take(&mut cur),
                });
            }
            Tok::LParen => {
                let mut open = 1;
                let mut inner = Vec::new();
                let mut tail = Vec::new();
                for (io, it_tok) in it.by_ref() {
                    match &it_tok {
                        Tok::LParen => open += 1,
                        Tok::RParen(f) => {
                            open -= 1;
                            if open == 0 {
                                tail = f.clone();
                                break;
                            }
                        }
                        _ => {}
                    }
                    inner.push((io, it_tok));
                }
                if open != 0 {
                    return Err(perr(o, "unclosed left paren"));
                }
                let sub = parse_pipeline(inner, o, false, depth + 1)?;
                cur.push(Arg::Sub(Box::new(sub), tail));
            }
            Tok::RParen(_) => return Err(perr(o, "unexpected right paren")),
            Tok::Dot(f) => cur.push(Arg::Dot(f)),
            Tok::Var(n, f) => cur.push(Arg::Var(n, f)),
            Tok::Str(s) => cur.push(Arg::Str(s)),
            Tok::Int(v) => cur.push(Arg::Int(v)),
            Tok::Ident(name) => cur.push(match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => {
                    funcs::check_known(&name)?;
                    Arg::Func(name)
                }
            }),
            Tok::Declare | Tok::Assign | Tok::Comma => return Err(perr(o, "unexpected declaration")),
        }
    }
    if cur.is_empty() {
        return Err(perr(off, "missing value for command"));
    }
    cmds.push(Command { args: cur });
    for (i, c) in cmds.iter().enumerate() {
        if i > 0 && !matches!(c.args[0], Arg::Func(_)) && c.args.len() > 1 {
            return Err(perr(off, "non-function command in pipeline takes no arguments"));
        }
    }
    Ok(Pipeline { decl, is_assign, cmds })
}
