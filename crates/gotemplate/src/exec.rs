//! Executes a parsed template with Go's semantics.

use std::collections::BTreeMap;

use crate::Error;
use crate::funcs;
use crate::parse::{Arg, Command, Node, Pipeline};

/// A runtime value. Strings are bytes, as in Go.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Str(Vec<u8>),
    Int(i64),
    /// A byte of a string, as `index "abc" 1` yields (Go's uint8).
    Byte(u8),
    Bool(bool),
    /// The dot: the map of item name to decrypted value.
    Map(&'a BTreeMap<String, Vec<u8>>),
    Nil,
    /// A missing map key: Go's invalid `reflect.Value`. Prints `<no value>`,
    /// and reaches functions as nil.
    Missing,
}

impl Value<'_> {
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Byte(b) => *b != 0,
            Value::Bool(b) => *b,
            Value::Map(m) => !m.is_empty(),
            Value::Nil | Value::Missing => false,
        }
    }

    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Byte(_) => "uint8",
            Value::Bool(_) => "bool",
            Value::Map(_) => "map[string]string",
            Value::Nil | Value::Missing => "nil",
        }
    }

    /// Go's `fmt.Sprint` of the value.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Byte(b) => b.to_string().into_bytes(),
            Value::Bool(b) => b.to_string().into_bytes(),
            Value::Map(m) => {
                let mut out = b"map[".to_vec();
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(k.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(v);
                }
                out.push(b']');
                out
            }
            Value::Nil => b"<nil>".to_vec(),
            Value::Missing => b"<no value>".to_vec(),
        }
    }
}

pub(crate) fn exec_err(msg: impl Into<String>) -> Error {
    Error::Exec(msg.into())
}

/// Rendered output is bounded: a Secret cannot hold more than 1 MiB anyway.
pub(crate) const MAX_OUTPUT: usize = 1 << 20;
/// Bounded work: loops such as `{{range 1000000000}}` stop here.
const MAX_STEPS: usize = 1_000_000;
/// Bytes a render may copy or produce in all (values read, function inputs and
/// results, output): bounds CPU and memory whatever the template does.
const MAX_WORK: usize = 64 << 20;
/// Variables alive at once.
const MAX_VARS: usize = 10_000;

struct State<'a> {
    root: &'a BTreeMap<String, Vec<u8>>,
    vars: Vec<(String, Value<'a>)>,
    out: Vec<u8>,
    steps: usize,
    work: usize,
}

pub(crate) fn execute(nodes: &[Node], data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, Error> {
    let mut st = State {
        root: data,
        vars: vec![(String::new(), Value::Map(data))],
        out: Vec::new(),
        steps: 0,
        work: 0,
    };
    st.walk(nodes, &Value::Map(data))?;
    Ok(st.out)
}

impl<'a> State<'a> {
    fn step(&mut self) -> Result<(), Error> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(exec_err(format!("template exceeds {MAX_STEPS} steps")));
        }
        if self.out.len() > MAX_OUTPUT {
            return Err(exec_err(format!("template output exceeds {} MiB", MAX_OUTPUT >> 20)));
        }
        if self.vars.len() > MAX_VARS {
            return Err(exec_err(format!("template declares more than {MAX_VARS} variables")));
        }
        Ok(())
    }

    /// Accounts for `bytes` copied or produced.
    fn charge(&mut self, bytes: usize) -> Result<(), Error> {
        self.work = self.work.saturating_add(bytes);
        if self.work > MAX_WORK {
            return Err(exec_err(format!(
                "template does more than {} MiB of work",
                MAX_WORK >> 20
            )));
        }
        Ok(())
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value<'a>) -> Result<(), Error> {
        for node in nodes {
            self.step()?;
            match node {
                Node::Text(t) => self.out.extend_from_slice(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        match v {
                            // A nil result (a missing key, or a function returning nil).
                            Value::Nil | Value::Missing => self.out.extend_from_slice(b"<no value>"),
                            v => {
                                let bytes = v.to_bytes();
                                self.charge(bytes.len())?;
                                self.out.extend_from_slice(&bytes);
                            }
                        }
                    }
                }
                Node::If { cond, then, otherwise } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(cond, dot)?;
                    let branch = if v.truthy() { then } else { otherwise };
                    self.walk(branch, dot)?;
                    self.vars.truncate(mark);
                }
                Node::With { value, then, otherwise } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(value, dot)?;
                    if v.truthy() {
                        self.walk(then, &v)?;
                    } else {
                        self.walk(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range { value, body, otherwise } => self.range(value, body, otherwise, dot)?,
            }
        }
        Ok(())
    }

    fn range(&mut self, p: &Pipeline, body: &[Node], otherwise: &[Node], dot: &Value<'a>) -> Result<(), Error> {
        let mark = self.vars.len();
        // The declared variables are bound per element, not to the pipeline's value.
        let undeclared = Pipeline {
            decl: Vec::new(),
            is_assign: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipeline(&undeclared, dot)?;
        if let Value::Map(m) = &v {
            self.charge(m.iter().map(|(k, v)| k.len() + v.len()).sum())?;
        }
        let (map_entries, count): (Vec<(Value<'a>, Value<'a>)>, i64) = match v {
            Value::Map(m) => (
                m.iter()
                    .map(|(k, v)| (Value::Str(k.as_bytes().to_vec()), Value::Str(v.clone())))
                    .collect(),
                0,
            ),
            // Go 1.22+: range over an int counts from 0; iterated lazily, bounded by MAX_STEPS.
            Value::Int(n) => (Vec::new(), n.max(0)),
            Value::Nil | Value::Missing => (Vec::new(), 0),
            other => return Err(exec_err(format!("range can't iterate over {}", other.type_name()))),
        };
        if map_entries.is_empty() && count == 0 {
            self.walk(otherwise, dot)?;
        }
        let ints = (0..count).map(|i| (Value::Int(i), Value::Int(i)));
        for (k, val) in map_entries.into_iter().chain(ints) {
            self.step()?;
            let inner = self.vars.len();
            match p.decl.as_slice() {
                [] => {}
                [one] => self.vars.push((one.clone(), val.clone())),
                [a, b] => {
                    self.vars.push((a.clone(), k));
                    self.vars.push((b.clone(), val.clone()));
                }
                _ => return Err(exec_err("too many range variables")),
            }
            self.walk(body, &val)?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value<'a>) -> Result<Value<'a>, Error> {
        let mut prev: Option<Value<'a>> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev)?);
        }
        let v = prev.unwrap_or(Value::Nil);
        if p.is_assign {
            let name = &p.decl[0];
            let slot = self
                .vars
                .iter_mut()
                .rev()
                .find(|(n, _)| n == name)
                .ok_or_else(|| exec_err(format!("undefined variable: ${name}")))?;
            slot.1 = v.clone();
        } else {
            for name in &p.decl {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(&mut self, cmd: &Command, dot: &Value<'a>, piped: Option<Value<'a>>) -> Result<Value<'a>, Error> {
        match &cmd.args[0] {
            Arg::Func(name) => {
                let mut args = Vec::with_capacity(cmd.args.len());
                // `and`/`or` short-circuit in Go; evaluate lazily.
                if name == "and" || name == "or" {
                    return self.and_or(name == "and", &cmd.args[1..], dot, piped);
                }
                for a in &cmd.args[1..] {
                    args.push(self.arg(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                // A missing key reaches a function as nil, as Go's reflection does.
                for a in &mut args {
                    if *a == Value::Missing {
                        *a = Value::Nil;
                    }
                }
                self.charge(args.iter().map(byte_len).sum())?;
                let out = funcs::call(name, args)?;
                if byte_len(&out) > MAX_OUTPUT {
                    return Err(exec_err(format!("{name}: result exceeds {} MiB", MAX_OUTPUT >> 20)));
                }
                self.charge(byte_len(&out))?;
                Ok(out)
            }
            other => {
                if cmd.args.len() > 1 || piped.is_some() {
                    return Err(exec_err(format!(
                        "can't give argument to non-function {}",
                        describe(other)
                    )));
                }
                self.arg(other, dot)
            }
        }
    }

    fn and_or(
        &mut self,
        is_and: bool,
        args: &[Arg],
        dot: &Value<'a>,
        piped: Option<Value<'a>>,
    ) -> Result<Value<'a>, Error> {
        let total = args.len() + usize::from(piped.is_some());
        if total < 1 {
            return Err(exec_err("wrong number of args: want at least 1 got 0"));
        }
        let mut last = Value::Nil;
        for a in args {
            last = self.arg(a, dot)?;
            if last.truthy() != is_and {
                return Ok(last);
            }
        }
        if let Some(p) = piped {
            last = p;
        }
        Ok(last)
    }

    fn arg(&mut self, a: &Arg, dot: &Value<'a>) -> Result<Value<'a>, Error> {
        match a {
            Arg::Dot(fields) => self.fields(dot.clone(), fields),
            Arg::Var(name, fields) => {
                let v = if name.is_empty() {
                    Value::Map(self.root)
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| exec_err(format!("undefined variable: ${name}")))?
                };
                self.fields(v, fields)
            }
            Arg::Str(s) => Ok(Value::Str(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Err(exec_err("nil is not a command")),
            Arg::Func(name) if name == "and" || name == "or" => Err(exec_err(format!(
                "wrong number of args for {name}: want at least 1 got 0"
            ))),
            Arg::Func(name) => funcs::call(name, Vec::new()),
            Arg::Sub(p, fields) => {
                let v = self.pipeline(p, dot)?;
                self.fields(v, fields)
            }
        }
    }

    fn fields(&mut self, mut v: Value<'a>, fields: &[String]) -> Result<Value<'a>, Error> {
        for f in fields {
            if let Value::Map(m) = v {
                self.charge(m.get(f).map_or(0, Vec::len))?;
            }
            v = match v {
                // A missing key is Go's invalid value: it prints "<no value>".
                Value::Map(m) => m.get(f).map_or(Value::Missing, |v| Value::Str(v.clone())),
                other => {
                    return Err(exec_err(format!(
                        "can't evaluate field {f} in type {}",
                        other.type_name()
                    )));
                }
            };
        }
        Ok(v)
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Dot(_) => "field or dot".into(),
        Arg::Var(n, _) => format!("${n}"),
        Arg::Str(_) => "string".into(),
        Arg::Int(_) => "number".into(),
        Arg::Bool(_) => "bool".into(),
        Arg::Nil => "nil".into(),
        Arg::Func(f) => f.clone(),
        Arg::Sub(..) => "pipeline".into(),
    }
}

/// Bytes a value holds, for the work budget.
fn byte_len(v: &Value<'_>) -> usize {
    match v {
        Value::Str(s) => s.len(),
        Value::Map(m) => m.iter().map(|(k, v)| k.len() + v.len()).sum(),
        _ => 8,
    }
}
