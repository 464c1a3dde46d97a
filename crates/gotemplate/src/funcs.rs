//! Go built-ins and the Sprig functions supported in template data.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::exec::{Value, exec_err};

/// Every function name the engine implements.
pub const FUNCTIONS: &[&str] = &[
    // Go text/template built-ins
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "urlquery",
    // Sprig
    "upper",
    "lower",
    "title",
    "trim",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "quote",
    "squote",
    "toString",
    "default",
    "empty",
    "coalesce",
    "b64enc",
    "b64dec",
    "toJson",
    "replace",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "repeat",
    "indent",
    "nindent",
    "nospace",
    "cat",
];

/// Sprig functions Sealed Secrets removes from the function map.
const DISABLED: &[&str] = &["env", "expandenv", "getHostByName"];

/// Rejects unknown names at parse time, as Go's parser does.
pub(crate) fn check_known(name: &str) -> Result<(), Error> {
    if DISABLED.contains(&name) {
        return Err(Error::DisabledFunction(name.to_string()));
    }
    if !FUNCTIONS.contains(&name) {
        return Err(Error::UnsupportedFunction(name.to_string()));
    }
    Ok(())
}

/// Refuses a result before building it when it would exceed the output limit.
fn fits(name: &str, projected: usize) -> Result<(), Error> {
    if projected > crate::exec::MAX_OUTPUT {
        return Err(exec_err(format!(
            "error calling {name}: result would exceed {} MiB",
            crate::exec::MAX_OUTPUT >> 20
        )));
    }
    Ok(())
}

/// Bytes of the operands as fmt.Sprint would print them (an upper bound for maps).
fn printed_len(args: &[Value<'_>]) -> usize {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => s.len() + 1,
            Value::Map(m) => m.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 5,
            _ => 24,
        })
        .sum()
}

fn arity(name: &str, args: &[Value<'_>], want: usize) -> Result<(), Error> {
    if args.len() != want {
        return Err(exec_err(format!(
            "error calling {name}: wrong number of args: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn string_arg(name: &str, v: &Value<'_>) -> Result<Vec<u8>, Error> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Nil | Value::Missing => Err(exec_err(format!(
            "error calling {name}: invalid value; expected string"
        ))),
        other => Err(exec_err(format!(
            "error calling {name}: wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

fn int_arg(name: &str, v: &Value<'_>) -> Result<i64, Error> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(exec_err(format!(
            "error calling {name}: wrong type for value; expected int; got {}",
            other.type_name()
        ))),
    }
}

/// Sprig's `strval`: strings as-is, everything else through fmt.Sprint.
fn strval(v: &Value<'_>) -> Vec<u8> {
    v.to_bytes()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}') || c.is_whitespace()
}

fn trim_space(b: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim_matches(is_go_space).as_bytes().to_vec(),
        // Go trims ASCII space around invalid UTF-8 too.
        Err(_) => {
            let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
            let end = b
                .iter()
                .rposition(|c| !c.is_ascii_whitespace())
                .map_or(start, |e| e + 1);
            b[start..end.max(start)].to_vec()
        }
    }
}

pub(crate) fn call<'a>(name: &str, args: Vec<Value<'a>>) -> Result<Value<'a>, Error> {
    let s = |v: Vec<u8>| Ok(Value::Str(v));
    if matches!(name, "print" | "println" | "cat" | "quote" | "squote" | "urlquery") {
        // Quoting and escaping at most quadruple the bytes.
        fits(
            name,
            printed_len(&args).saturating_mul(if name == "print" || name == "cat" || name == "println" {
                1
            } else {
                4
            }),
        )?;
    }
    match name {
        "not" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => compare(name, &args),
        "len" => {
            arity(name, &args, 1)?;
            match &args[0] {
                Value::Str(v) => Ok(Value::Int(v.len() as i64)),
                Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                other => Err(exec_err(format!(
                    "error calling len: len of type {}",
                    other.type_name()
                ))),
            }
        }
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err(exec_err("error calling index: index of untyped nil"));
            };
            let mut v = first.clone();
            for k in keys {
                v = match (&v, k) {
                    (Value::Map(m), Value::Str(key)) => {
                        Value::Str(m.get(lossy(key).as_str()).cloned().unwrap_or_default())
                    }
                    (Value::Str(b), Value::Int(_) | Value::Byte(_)) => {
                        let i = as_integer(k).unwrap_or(-1);
                        let byte = usize::try_from(i)
                            .ok()
                            .and_then(|i| b.get(i))
                            .ok_or_else(|| exec_err(format!("error calling index: index out of range: {i}")))?;
                        Value::Byte(*byte)
                    }
                    (c, key) => {
                        return Err(exec_err(format!(
                            "error calling index: cannot index {} with {}",
                            c.type_name(),
                            key.type_name()
                        )));
                    }
                };
            }
            Ok(v)
        }
        "print" => s(go_sprint(&args)),
        // Go's url.QueryEscape of fmt.Sprint(args...).
        "urlquery" => {
            let mut out = Vec::new();
            // Go's evalArgs prints a nil argument as "<no value>".
            let text = match args.as_slice() {
                [Value::Nil] => b"<no value>".to_vec(),
                _ => go_sprint(&args),
            };
            for b in text {
                match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
                    b' ' => out.push(b'+'),
                    other => out.extend_from_slice(format!("%{other:02X}").as_bytes()),
                }
            }
            s(out)
        }
        "println" => {
            let mut out = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend(a.to_bytes());
            }
            out.push(b'\n');
            s(out)
        }
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else {
                return Err(exec_err(
                    "error calling printf: wrong number of args: want at least 1 got 0",
                ));
            };
            s(sprintf(&string_arg(name, fmt)?, rest)?)
        }
        "cat" => {
            let parts: Vec<Vec<u8>> = args.iter().filter(|a| **a != Value::Nil).map(strval).collect();
            s(parts.join(&b' '))
        }
        "upper" | "lower" | "title" => {
            arity(name, &args, 1)?;
            let b = string_arg(name, &args[0])?;
            let out = if b.is_ascii() {
                match name {
                    "upper" => b.to_ascii_uppercase(),
                    "lower" => b.to_ascii_lowercase(),
                    _ => title(&lossy(&b)).into_bytes(),
                }
            } else {
                let t = lossy(&b);
                match name {
                    "upper" => t.to_uppercase(),
                    "lower" => t.to_lowercase(),
                    _ => title(&t),
                }
                .into_bytes()
            };
            s(out)
        }
        "trim" => {
            arity(name, &args, 1)?;
            s(trim_space(&string_arg(name, &args[0])?))
        }
        // Sprig's nospace (goutils.DeleteWhiteSpace) walks bytes, not runes: each
        // byte is re-encoded as the rune of the same value. Reproduced as is.
        "nospace" => {
            arity(name, &args, 1)?;
            let src = string_arg(name, &args[0])?;
            let mut out = String::new();
            for &b in &src {
                let c = char::from(b);
                if !(c.is_whitespace() || c == '\u{85}' || c == '\u{a0}') {
                    out.push(c);
                }
            }
            // Nothing removed: goutils returns the input untouched.
            let removed = src.iter().any(|&b| {
                let c = char::from(b);
                c.is_whitespace() || c == '\u{85}' || c == '\u{a0}'
            });
            s(if removed { out.into_bytes() } else { src })
        }
        // Sprig: trimAll(cutset, s), trimPrefix(prefix, s), trimSuffix(suffix, s)
        "trimAll" | "trimPrefix" | "trimSuffix" => {
            arity(name, &args, 2)?;
            let a = string_arg(name, &args[0])?;
            let b = string_arg(name, &args[1])?;
            s(match name {
                "trimPrefix" => b.strip_prefix(a.as_slice()).map_or(b.clone(), <[u8]>::to_vec),
                "trimSuffix" => b.strip_suffix(a.as_slice()).map_or(b.clone(), <[u8]>::to_vec),
                _ => trim_runes(&b, &lossy(&a)),
            })
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(name, &args, 2)?;
            let needle = string_arg(name, &args[0])?;
            let hay = string_arg(name, &args[1])?;
            Ok(Value::Bool(match name {
                "contains" => memchr::memmem::find(&hay, &needle).is_some(),
                "hasPrefix" => hay.starts_with(&needle),
                _ => hay.ends_with(&needle),
            }))
        }
        // Sprig: replace(old, new, s)
        "replace" => {
            arity(name, &args, 3)?;
            let old = string_arg(name, &args[0])?;
            let new = string_arg(name, &args[1])?;
            let src = string_arg(name, &args[2])?;
            let hits = if old.is_empty() {
                src.len() + 1
            } else {
                memchr::memmem::find_iter(&src, &old).count()
            };
            fits(name, src.len().saturating_add(hits.saturating_mul(new.len())))?;
            s(replace_all(&src, &old, &new))
        }
        "repeat" => {
            arity(name, &args, 2)?;
            let n = int_arg(name, &args[0])?;
            let b = string_arg(name, &args[1])?;
            let n = usize::try_from(n).map_err(|_| exec_err("error calling repeat: negative count"))?;
            fits(name, b.len().saturating_mul(n))?;
            s(b.repeat(n))
        }
        "indent" | "nindent" => {
            arity(name, &args, 2)?;
            // Go's strings.Repeat panics on a negative count: an execution error.
            let n = usize::try_from(int_arg(name, &args[0])?)
                .map_err(|_| exec_err(format!("error calling {name}: negative indent")))?;
            if n > crate::exec::MAX_OUTPUT {
                return Err(exec_err(format!("error calling {name}: indent {n} is too large")));
            }
            let src = string_arg(name, &args[1])?;
            let lines = 1 + memchr::memchr_iter(b'\n', &src).count();
            fits(name, src.len().saturating_add(lines.saturating_mul(n)))?;
            let pad = vec![b' '; n];
            let mut out = if name == "nindent" { vec![b'\n'] } else { Vec::new() };
            out.extend_from_slice(&pad);
            out.extend(replace_all(&src, b"\n", &[b"\n".as_slice(), &pad].concat()));
            s(out)
        }
        "quote" | "squote" => {
            let parts: Vec<Vec<u8>> = args
                .iter()
                .filter(|a| **a != Value::Nil)
                .map(|a| {
                    let v = strval(a);
                    if name == "quote" {
                        go_quote(&v).into_bytes()
                    } else {
                        [b"'".as_slice(), &v, b"'"].concat()
                    }
                })
                .collect();
            s(parts.join(&b' '))
        }
        "toString" => {
            arity(name, &args, 1)?;
            s(strval(&args[0]))
        }
        // Sprig: default(default, given)
        "default" => {
            if args.is_empty() || args.len() > 2 {
                return Err(exec_err(format!(
                    "error calling default: wrong number of args: want 2 got {}",
                    args.len()
                )));
            }
            let given = args.get(1).cloned().unwrap_or(Value::Nil);
            Ok(if given.truthy() { given } else { args[0].clone() })
        }
        "empty" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "coalesce" => Ok(args.into_iter().find(Value::truthy).unwrap_or(Value::Nil)),
        "b64enc" => {
            arity(name, &args, 1)?;
            s(STANDARD.encode(string_arg(name, &args[0])?).into_bytes())
        }
        "b64dec" => {
            arity(name, &args, 1)?;
            // Sprig returns the Go error text as the value when decoding fails.
            let src = string_arg(name, &args[0])?;
            s(match go_b64_decode(&src) {
                Ok(v) => v,
                Err(at) => format!("illegal base64 data at input byte {at}").into_bytes(),
            })
        }
        "toJson" => {
            arity(name, &args, 1)?;
            s(to_json(&args[0]).into_bytes())
        }
        // The executor evaluates and/or lazily; they never get here.
        "and" | "or" => Err(exec_err("and/or must be evaluated by the executor")),
        other => Err(Error::UnsupportedFunction(other.to_string())),
    }
}

/// Go's `strings.Trim(s, cutset)` on bytes: invalid UTF-8 counts as U+FFFD for
/// the comparison but is kept as it was when not trimmed.
fn trim_runes(s: &[u8], cutset: &str) -> Vec<u8> {
    let cutset: std::collections::HashSet<char> = cutset.chars().collect();
    let rune_at = |b: &[u8]| decode_rune(b).unwrap_or(('\u{fffd}', 1));
    let mut start = 0;
    while start < s.len() {
        let (c, w) = rune_at(&s[start..]);
        if !cutset.contains(&c) {
            break;
        }
        start += w;
    }
    let mut end = s.len();
    while end > start {
        // Find the start of the last rune in s[start..end].
        let mut i = end - 1;
        while i > start && end - i < 4 && (s[i] & 0xc0) == 0x80 {
            i -= 1;
        }
        let (c, w) = rune_at(&s[i..end]);
        let (c, w) = if i + w == end { (c, w) } else { ('\u{fffd}', 1) };
        if !cutset.contains(&c) {
            break;
        }
        end -= w;
    }
    s[start..end].to_vec()
}

fn replace_all(src: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end; an invalid byte counts
        // as one rune and is kept as it is.
        let mut out = new.to_vec();
        let mut i = 0;
        while i < src.len() {
            let w = decode_rune(&src[i..]).map_or(1, |(_, w)| w);
            out.extend_from_slice(&src[i..i + w]);
            out.extend_from_slice(new);
            i += w;
        }
        return out;
    }
    let mut out = Vec::with_capacity(src.len());
    let mut last = 0;
    // Non-overlapping, left to right, as Go's strings.Replace.
    for at in memchr::memmem::find_iter(src, old) {
        out.extend_from_slice(&src[last..at]);
        out.extend_from_slice(new);
        last = at + old.len();
    }
    out.extend_from_slice(&src[last..]);
    out
}

/// Go's `strings.Title`: upper-cases the first letter after each separator.
fn title(s: &str) -> String {
    // Go's isSeparator.
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphabetic() || c.is_numeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = is_separator(c);
    }
    out
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
fn go_sprint(args: &[Value<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::Str(_)) {
            out.push(b' ');
        }
        out.extend(a.to_bytes());
    }
    out
}

fn compare(name: &str, args: &[Value<'_>]) -> Result<Value<'static>, Error> {
    if args.len() < 2 || (name != "eq" && args.len() != 2) {
        return Err(exec_err(format!(
            "error calling {name}: missing argument for comparison"
        )));
    }
    let is_nil = |v: &Value<'_>| matches!(v, Value::Nil | Value::Missing);
    let ord = |a: &Value<'_>, b: &Value<'_>| -> Result<std::cmp::Ordering, Error> {
        // Go's eq/ne: nil equals only nil, and is never a type error.
        if (name == "eq" || name == "ne") && (is_nil(a) || is_nil(b)) {
            return Ok(if is_nil(a) && is_nil(b) {
                std::cmp::Ordering::Equal
            } else {
                std::cmp::Ordering::Less
            });
        }
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
            (Value::Int(_) | Value::Byte(_), Value::Int(_) | Value::Byte(_)) => Ok(as_integer(a).cmp(&as_integer(b))),
            (Value::Bool(x), Value::Bool(y)) if name == "eq" || name == "ne" => Ok(x.cmp(y)),
            _ => Err(exec_err(format!(
                "error calling {name}: incompatible types for comparison"
            ))),
        }
    };
    use std::cmp::Ordering::*;
    let r = match name {
        "eq" => {
            let mut any = false;
            for b in &args[1..] {
                if ord(&args[0], b)? == Equal {
                    any = true;
                }
            }
            any
        }
        "ne" => ord(&args[0], &args[1])? != Equal,
        "lt" => ord(&args[0], &args[1])? == Less,
        "le" => ord(&args[0], &args[1])? != Greater,
        "gt" => ord(&args[0], &args[1])? == Greater,
        _ => ord(&args[0], &args[1])? != Less,
    };
    Ok(Value::Bool(r))
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut i = 0;
    while i < b.len() {
        let (ch, width) = match decode_rune(&b[i..]) {
            Some(x) => x,
            None => {
                out.push_str(&format!("\\x{:02x}", b[i]));
                i += 1;
                continue;
            }
        };
        i += width;
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`: invalid code points become U+FFFD.
fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
    let mut buf = [0u8; 4];
    let inner = go_quote(c.encode_utf8(&mut buf).as_bytes());
    let inner = &inner[1..inner.len() - 1];
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        _ => format!("'{inner}'"),
    }
}

fn decode_rune(b: &[u8]) -> Option<(char, usize)> {
    let n = match b[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..n)?).ok()?;
    s.chars().next().map(|c| (c, n))
}

/// An approximation of Go's `unicode.IsPrint`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c as u32, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff))
}

/// Go's `encoding/json` Marshal of a value (HTML-safe escaping).
fn to_json(v: &Value<'_>) -> String {
    match v {
        Value::Str(b) => json_string(b),
        Value::Int(i) => i.to_string(),
        Value::Byte(b) => b.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Nil | Value::Missing => "null".into(),
        Value::Map(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k.as_bytes()), json_string(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// Go's `encoding/json` string encoding, HTML-safe; invalid UTF-8 becomes `\ufffd`.
fn json_string(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        // Go writes one replacement per invalid byte.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
    out
}

/// Go's `base64.StdEncoding.DecodeString`: `\r`/`\n` are skipped, trailing bits
/// are not checked, and an error carries the offset Go reports.
fn go_b64_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let valid = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let is_nl = |c: u8| c == b'\r' || c == b'\n';
    let mut si = 0;
    'quanta: loop {
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    break 'quanta;
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if valid(c) {
                j += 1;
                continue;
            }
            if is_nl(c) {
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(si - 1);
            }
            if j == 2 {
                while si < src.len() && is_nl(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(src.len());
                }
                if src[si] != b'=' {
                    return Err(si - 1);
                }
                si += 1;
            }
            while si < src.len() && is_nl(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            break 'quanta;
        }
    }
    let compact: Vec<u8> = src.iter().copied().filter(|c| !is_nl(*c)).collect();
    LENIENT.decode(compact).map_err(|_| 0)
}

/// An integer value of either integer type.
fn as_integer(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        Value::Byte(b) => Some(i64::from(*b)),
        _ => None,
    }
}

#[derive(Clone, Copy)]
struct Flags {
    width: usize,
    left: bool,
    zero: bool,
}

/// Formats one operand as Go's fmt does: the value is padded; a verb that does
/// not fit the type gives `%!verb(type=value)` around the padded `%v`; maps are
/// formatted element by element with the same verb.
fn fmt_arg(out: &mut Vec<u8>, verb: u8, arg: &Value<'_>, f: Flags) -> Result<(), Error> {
    let hex = |n: i64, upper: bool| {
        let digits = if upper {
            format!("{:X}", n.unsigned_abs())
        } else {
            format!("{:x}", n.unsigned_abs())
        };
        if n < 0 { format!("-{digits}") } else { digits }.into_bytes()
    };
    let known = matches!(verb, b'v' | b's' | b'd' | b't' | b'q' | b'x' | b'X');
    if !known {
        return Err(exec_err(format!(
            "error calling printf: verb %{} with {} is not supported",
            verb as char,
            arg.type_name()
        )));
    }
    if let Value::Map(m) = arg {
        out.extend_from_slice(b"map[");
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            fmt_arg(out, verb, &Value::Str(k.as_bytes().to_vec()), f)?;
            out.push(b':');
            fmt_arg(out, verb, &Value::Str(v.clone()), f)?;
        }
        out.push(b']');
        return Ok(());
    }
    let body = match (verb, arg) {
        (b'v', a) => a.to_bytes(),
        (b's', Value::Str(b)) => b.clone(),
        (b'd', Value::Int(_) | Value::Byte(_)) => arg.to_bytes(),
        (b't', Value::Bool(b)) => b.to_string().into_bytes(),
        (b'q', Value::Str(b)) => go_quote(b).into_bytes(),
        // %q of an integer is a quoted character literal.
        (b'q', Value::Int(_) | Value::Byte(_)) => go_quote_rune(as_integer(arg).unwrap_or(-1)).into_bytes(),
        (b'x', Value::Str(b)) => b.iter().map(|c| format!("{c:02x}")).collect::<String>().into_bytes(),
        (b'X', Value::Str(b)) => b.iter().map(|c| format!("{c:02X}")).collect::<String>().into_bytes(),
        (b'x' | b'X', Value::Int(_) | Value::Byte(_)) => hex(as_integer(arg).unwrap_or(0), verb == b'X'),
        (_, Value::Nil | Value::Missing) => {
            out.extend_from_slice(format!("%!{}(<nil>)", verb as char).as_bytes());
            return Ok(());
        }
        (_, a) => {
            out.extend_from_slice(format!("%!{}({}=", verb as char, a.type_name()).as_bytes());
            fmt_arg(out, b'v', a, f)?;
            out.push(b')');
            return Ok(());
        }
    };
    let chars = String::from_utf8_lossy(&body).chars().count();
    let pad = f.width.saturating_sub(chars);
    if f.left {
        out.extend_from_slice(&body);
        out.extend(std::iter::repeat_n(b' ', pad));
    } else if f.zero && as_integer(arg).is_some() && body.first() == Some(&b'-') {
        out.push(b'-');
        out.extend(std::iter::repeat_n(b'0', pad));
        out.extend_from_slice(&body[1..]);
    } else {
        // Go pads with zeros under the 0 flag whatever the operand.
        let fill = if f.zero { b'0' } else { b' ' };
        out.extend(std::iter::repeat_n(fill, pad));
        out.extend_from_slice(&body);
    }
    Ok(())
}

/// Go's `fmt.Sprintf` for the verbs templates use: %s %v %d %q %x %X %t %%.
fn sprintf(fmt: &[u8], args: &[Value<'_>]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            out.push(fmt[i]);
            i += 1;
            continue;
        }
        i += 1;
        // Optional flags and width: `-`, `0`, digits.
        let mut left = false;
        let mut zero = false;
        while i < fmt.len() && (fmt[i] == b'-' || fmt[i] == b'0') {
            left |= fmt[i] == b'-';
            zero |= fmt[i] == b'0';
            i += 1;
        }
        let mut width = 0usize;
        while i < fmt.len() && fmt[i].is_ascii_digit() {
            width = width.saturating_mul(10).saturating_add(usize::from(fmt[i] - b'0'));
            i += 1;
        }
        // Go's fmt refuses widths over 1e6 with %!(BADWIDTH).
        let bad_width = width > 1_000_000;
        if bad_width {
            out.extend_from_slice(b"%!(BADWIDTH)");
            width = 0;
        }
        let Some(&verb) = fmt.get(i) else {
            out.extend_from_slice(b"%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == b'%' {
            out.push(b'%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.extend_from_slice(format!("%!{}(MISSING)", verb as char).as_bytes());
            continue;
        };
        next += 1;
        fmt_arg(&mut out, verb, arg, Flags { width, left, zero })?;
        fits("printf", out.len())?;
    }
    if next < args.len() {
        out.extend_from_slice(b"%!(EXTRA ");
        for (i, a) in args[next..].iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            if matches!(a, Value::Nil | Value::Missing) {
                out.extend_from_slice(b"<nil>");
                continue;
            }
            out.extend_from_slice(a.type_name().as_bytes());
            out.push(b'=');
            out.extend(a.to_bytes());
        }
        out.push(b')');
    }
    Ok(out)
}
