//! Label and field selectors, as accepted by `labelSelector=` / `fieldSelector=` on list and watch.
//!
//! Label selectors support `=`, `==`, `!=`, `in (..)`, `notin (..)`, `key`, `!key` and the
//! numeric `>`/`<`, comma-ANDed. Field selectors support `=`, `==` and `!=` on any dotted path
//! (`metadata.name`, `metadata.namespace`, `type`, `involvedObject.name`, ...); unlike the real
//! server, fields a resource does not index are accepted rather than rejected.

use std::collections::BTreeSet;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

/// The parsed `labelSelector` and `fieldSelector` of a request; matches everything when empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    labels: Vec<(String, LabelOp)>,
    fields: Vec<(String, bool, String)>,
}

impl Filter {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Filter, String> {
        Ok(Filter {
            labels: labels.map(parse_labels).transpose()?.unwrap_or_default(),
            fields: fields.map(parse_fields).transpose()?.unwrap_or_default(),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let labels_ok = self.labels.iter().all(|(key, op)| {
            let value = labels.get(key).and_then(Value::as_str);
            match (op, value) {
                (LabelOp::Eq(want), Some(v)) => v == want,
                (LabelOp::NotEq(want), v) => v != Some(want.as_str()),
                (LabelOp::In(set), Some(v)) => set.contains(v),
                (LabelOp::NotIn(set), v) => v.is_none_or(|v| !set.contains(v)),
                (LabelOp::Exists, v) => v.is_some(),
                (LabelOp::NotExists, v) => v.is_none(),
                (LabelOp::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
                (LabelOp::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
                _ => false,
            }
        });
        labels_ok
            && self.fields.iter().all(|(path, equal, want)| {
                let found = path.split('.').try_fold(obj, |v, seg| v.get(seg));
                let actual = match found {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (actual == *want) == *equal
            })
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn parse_set(s: &str) -> Result<BTreeSet<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("unable to parse requirement: expected (values), found {s:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && key.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

fn parse_labels(s: &str) -> Result<Vec<(String, LabelOp)>, String> {
    let mut out = Vec::new();
    for req in split_top_level(s) {
        let op_at = req.find(['=', '!', '>', '<', ' ', '(']);
        if let Some(key) = req.strip_prefix('!') {
            out.push((valid_key(key.trim())?, LabelOp::NotExists));
            continue;
        }
        let Some(at) = op_at else {
            out.push((valid_key(req)?, LabelOp::Exists));
            continue;
        };
        let key = valid_key(req[..at].trim())?;
        let rest = req[at..].trim_start();
        let op = if let Some(v) = rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')) {
            LabelOp::Eq(v.trim().to_string())
        } else if let Some(v) = rest.strip_prefix("!=") {
            LabelOp::NotEq(v.trim().to_string())
        } else if let Some(v) = rest.strip_prefix("notin") {
            LabelOp::NotIn(parse_set(v)?)
        } else if let Some(v) = rest.strip_prefix("in") {
            LabelOp::In(parse_set(v)?)
        } else if let Some(v) = rest.strip_prefix('>') {
            LabelOp::Gt(v.trim().parse().map_err(|_| format!("invalid number in {req:?}"))?)
        } else if let Some(v) = rest.strip_prefix('<') {
            LabelOp::Lt(v.trim().parse().map_err(|_| format!("invalid number in {req:?}"))?)
        } else {
            return Err(format!("unable to parse requirement: {req:?}"));
        };
        out.push((key, op));
    }
    Ok(out)
}

fn parse_fields(s: &str) -> Result<Vec<(String, bool, String)>, String> {
    split_top_level(s)
        .into_iter()
        .map(|req| {
            let (key, equal, value) = if let Some((k, v)) = req.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
                (k, true, v)
            } else {
                return Err(format!("invalid field selector requirement {req:?}"));
            };
            Ok((key.trim().to_string(), equal, value.trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(sel: &str, labels: Value) -> bool {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "type": "Opaque"});
        Filter::parse(Some(sel), None).unwrap().matches(&obj)
    }

    #[test]
    fn label_operators() {
        let l = json!({"app": "web", "tier": "1"});
        assert!(m("app=web", l.clone()) && m("app==web", l.clone()) && !m("app=db", l.clone()));
        assert!(m("app!=db", l.clone()) && m("missing!=x", l.clone()) && !m("app!=web", l.clone()));
        assert!(m("app in (db, web)", l.clone()) && !m("app in (db)", l.clone()));
        assert!(m("app notin (db)", l.clone()) && m("x notin (a)", l.clone()) && !m("app notin (web,db)", l.clone()));
        assert!(m("app", l.clone()) && !m("!app", l.clone()) && m("!nope", l.clone()) && !m("nope", l.clone()));
        assert!(m("tier>0", l.clone()) && m("tier<2", l.clone()) && !m("tier>1", l.clone()));
        assert!(m("app=web,tier in (1,2),!gone", l.clone()) && !m("app=web,tier=2", l));
        assert!(Filter::parse(Some("app in web"), None).is_err());
        assert!(Filter::parse(Some("=x"), None).is_err());
    }

    #[test]
    fn field_selectors() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns"}, "type": "Opaque"});
        let f = |s: &str| Filter::parse(None, Some(s)).unwrap().matches(&obj);
        assert!(f("metadata.name=a") && f("metadata.namespace==ns") && f("metadata.name!=b"));
        assert!(!f("metadata.name=b") && f("type=Opaque,metadata.name=a") && !f("type!=Opaque"));
    }
}
