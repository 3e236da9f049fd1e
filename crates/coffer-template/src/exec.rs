//! Executes a parsed template against data: walks the tree, evaluates
//! pipelines, applies the missing-key mode, and enforces the limits that
//! stop runaway templates: steps and the deadline (through the render's
//! [`Budget`], which functions charge too) and the output size, checked
//! while printing into the output buffer, not after.
//!
//! Follows Go's `text/template` exec rules: variables live until the end of
//! the enclosing control structure, `range` over a map visits keys in
//! sorted order, `and`/`or` short-circuit, a nil result prints as
//! `<no value>`, and `{{template "name" x}}` runs a named template with `x`
//! as dot and no variables but `$`. Control structures and template calls
//! together nest at most [`MAX_EXEC_DEPTH`] deep (Go allows 100,000 template
//! calls; we keep the stack bounded).

use zeroize::Zeroizing;

use crate::budget::Budget;
use crate::buf::{Buf, Full};
use crate::error::{ErrorKind, Limit, Located};
use crate::format;
use crate::funcs::{self, Lookup};
use crate::object::{FieldError, METHOD_WITH_ARGS};
use crate::parser::{Arg, ArgKind, Command, Control, Node, Pipe, Tree};
use crate::value::Value;
use crate::{MissingKey, Options};

type ExecResult<T> = Result<T, Located>;

/// How a list of nodes finished.
#[derive(PartialEq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// How deeply control structures and template calls may nest while
/// executing (the parser bounds each body's own nesting separately).
pub(crate) const MAX_EXEC_DEPTH: usize = 200;

/// Renders the main body of `tree` with `dot` as the data.
pub(crate) fn execute(tree: &Tree, dot: Value, opts: &Options) -> ExecResult<Zeroizing<Vec<u8>>> {
    check_functions(&tree.main, opts)?;
    for body in tree.defs.values() {
        check_functions(body, opts)?;
    }
    let mut st = State {
        opts,
        tree,
        depth: 0,
        budget: Budget::new(opts.limits),
        vars: vec![("$".to_owned(), dot.clone())],
        out: Buf::new(opts.limits.max_output_bytes),
    };
    st.walk_list(&dot, &tree.main)?;
    Ok(st.out.into_bytes())
}

struct State<'a> {
    opts: &'a Options,
    tree: &'a Tree,
    /// Control structures and template calls being executed.
    depth: usize,
    budget: Budget,
    vars: Vec<(String, Value)>,
    /// The output: zeroizing, and it refuses to grow past the output limit.
    out: Buf,
}

/// A tripped limit, located at `pos`.
fn limit(pos: usize) -> impl FnOnce(Limit) -> Located {
    move |l| Located::new(pos, ErrorKind::Limit(l))
}

impl State<'_> {
    fn step(&mut self, pos: usize) -> ExecResult<()> {
        self.budget.step().map_err(limit(pos))
    }

    /// The output limit, located at `pos`.
    fn output_full(&self, pos: usize) -> impl FnOnce(Full) -> Located + use<> {
        let max = self.opts.limits.max_output_bytes;
        move |Full| Located::new(pos, ErrorKind::Limit(Limit::OutputSize(max)))
    }

    fn walk_list(&mut self, dot: &Value, nodes: &[Node]) -> ExecResult<Flow> {
        for n in nodes {
            let flow = self.walk(dot, n)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> ExecResult<Flow> {
        if matches!(
            node,
            Node::If(_) | Node::With(_) | Node::Range(_) | Node::Template { .. }
        ) {
            if self.depth >= MAX_EXEC_DEPTH {
                let pos = match node {
                    Node::Template { pos, .. } => *pos,
                    Node::If(c) | Node::With(c) | Node::Range(c) => c.pipe.pos,
                    _ => 0,
                };
                return Err(limit(pos)(Limit::Depth(MAX_EXEC_DEPTH)));
            }
            self.depth += 1;
            let flow = self.walk_nested(dot, node);
            self.depth -= 1;
            return flow;
        }
        self.walk_nested(dot, node)
    }

    fn walk_nested(&mut self, dot: &Value, node: &Node) -> ExecResult<Flow> {
        match node {
            Node::Text(t) => {
                self.step(0)?;
                let full = self.output_full(0);
                self.out.extend(t.as_bytes()).map_err(full)?;
            }
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let full = self.output_full(pipe.pos);
                    match &v {
                        // matches Go: a missing value prints as <no value>
                        Value::Nil => self.out.extend(b"<no value>"),
                        // NB: straight into the output, which stops at its
                        // limit while printing
                        other => format::write_v(&mut self.out, other),
                    }
                    .map_err(full)?;
                }
            }
            Node::If(c) | Node::With(c) => {
                self.step(c.pipe.pos)?;
                let mark = self.vars.len();
                let v = self.eval_pipeline(dot, &c.pipe)?;
                let flow = if v.is_true() {
                    let inner = if matches!(node, Node::With(_)) {
                        &v
                    } else {
                        dot
                    };
                    self.walk_list(inner, &c.list)?
                } else {
                    self.walk_list(dot, &c.else_list)?
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range(c) => return self.walk_range(dot, c),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Template { pos, name, pipe } => {
                self.step(*pos)?;
                let tree = self.tree;
                let Some(body) = tree.defs.get(name) else {
                    return Err(Located::new(
                        *pos,
                        ErrorKind::UndefinedTemplate(name.clone()),
                    ));
                };
                // Variables the pipeline declares persist; the template
                // itself sees only `$`, set to its dot.
                let inner = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                let outer =
                    std::mem::replace(&mut self.vars, vec![("$".to_owned(), inner.clone())]);
                let flow = self.walk_list(&inner, body);
                self.vars = outer;
                flow?;
            }
        }
        Ok(Flow::Normal)
    }

    /// `range`: over a list's elements, a map's entries (in key order) or
    /// the integers below n, one at a time (nothing is collected first, so
    /// `range 1000000000` costs only the steps it runs).
    fn walk_range(&mut self, dot: &Value, c: &Control) -> ExecResult<Flow> {
        self.step(c.pipe.pos)?;
        let mark = self.vars.len();
        let v = self.eval_commands(dot, &c.pipe.cmds)?;
        let items: Box<dyn Iterator<Item = (Value, Value)> + '_> = match &v {
            Value::List(l) => Box::new(
                l.iter()
                    .enumerate()
                    .map(|(i, e)| (Value::Int(i as i64), e.clone())),
            ),
            Value::Map(m) => {
                // As Go: the entries as they are when the range starts (the
                // body may `set` or `unset` this very map, so no borrow of
                // it may live across the body). Copying the entries is one
                // reference per entry, which the map's building paid for.
                let entries: Vec<(String, Value)> = m
                    .entries()
                    .iter()
                    .map(|(k, e)| (k.clone(), e.clone()))
                    .collect();
                Box::new(entries.into_iter().map(|(k, e)| {
                    // NB: charged by the loop below (one value, its bytes)
                    (Value::str(k), e)
                }))
            }
            Value::Int(n) => {
                if c.pipe.decl.len() > 1 {
                    return Err(Located::new(
                        c.pipe.pos,
                        ErrorKind::Control("can't use two variables when ranging over an integer"),
                    ));
                }
                Box::new((0..(*n).max(0)).map(|i| (Value::Int(i), Value::Int(i))))
            }
            Value::Nil => Box::new(std::iter::empty()),
            _ => {
                return Err(Located::new(
                    c.pipe.pos,
                    ErrorKind::Control("range can't iterate over a value of this type"),
                ));
            }
        };
        let mut empty = true;
        for (key, elem) in items {
            empty = false;
            self.step(c.pipe.pos)?;
            if let Value::Str(k) = &key {
                self.budget.values(1).map_err(limit(c.pipe.pos))?;
                self.budget.bytes(k.len()).map_err(limit(c.pipe.pos))?;
            }
            let vals = match c.pipe.decl.len() {
                0 => vec![],
                1 => vec![elem.clone()],
                _ => vec![key, elem.clone()],
            };
            for (name, val) in c.pipe.decl.iter().zip(vals) {
                if c.pipe.is_assign {
                    self.set_var(name, val);
                } else {
                    self.vars.push((name.clone(), val));
                }
            }
            let flow = self.walk_list(&elem, &c.list)?;
            self.vars.truncate(mark);
            if flow == Flow::Break {
                break;
            }
        }
        if empty {
            let flow = self.walk_list(dot, &c.else_list)?;
            self.vars.truncate(mark);
            return Ok(flow);
        }
        Ok(Flow::Normal)
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var(&self, name: &str) -> Value {
        // the parser guarantees the variable is declared
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> ExecResult<Value> {
        let v = self.eval_commands(dot, &pipe.cmds)?;
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, v.clone());
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn eval_commands(&mut self, dot: &Value, cmds: &[Command]) -> ExecResult<Value> {
        let mut last = None;
        for cmd in cmds {
            last = Some(self.eval_command(dot, cmd, last)?);
        }
        Ok(last.unwrap_or_default())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        cmd: &Command,
        last: Option<Value>,
    ) -> ExecResult<Value> {
        let first = &cmd.args[0];
        if let ArgKind::Ident(name) = &first.kind {
            return self.call(dot, name, first.pos, &cmd.args[1..], last);
        }
        if cmd.args.len() > 1 || last.is_some() {
            self.method_with_args(dot, first)?;
            return Err(Located::new(
                first.pos,
                ErrorKind::NotAFunction(describe(first)),
            ));
        }
        if let ArgKind::Nil = first.kind {
            return Err(Located::new(first.pos, ErrorKind::NilCommand));
        }
        self.eval_arg(dot, first)
    }

    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> ExecResult<Value> {
        Ok(match &arg.kind {
            ArgKind::Ident(name) => self.call(dot, name, arg.pos, &[], None)?,
            ArgKind::Dot => dot.clone(),
            ArgKind::Field(fields) => self.fields(dot.clone(), fields, arg.pos)?,
            ArgKind::Var(name, fields) => {
                let v = self.var(name);
                self.fields(v, fields, arg.pos)?
            }
            ArgKind::Chain(pipe, fields) => {
                let v = self.eval_pipeline(dot, pipe)?;
                self.fields(v, fields, arg.pos)?
            }
            ArgKind::Str(s) => Value::str(s),
            ArgKind::Int(i) => Value::Int(*i),
            ArgKind::Float(f) => Value::Float(*f),
            ArgKind::Bool(b) => Value::Bool(*b),
            ArgKind::Nil => Value::Nil,
        })
    }

    /// Go calls a method given arguments (`$v.Compare $w`); we call none,
    /// and refuse one by name. The receiver is evaluated as Go would
    /// before it finds the method (its own errors come first).
    fn method_with_args(&mut self, dot: &Value, arg: &Arg) -> ExecResult<()> {
        let (receiver, fields) = match &arg.kind {
            ArgKind::Field(fields) => (dot.clone(), fields),
            ArgKind::Var(name, fields) => (self.var(name), fields),
            ArgKind::Chain(pipe, fields) if !fields.is_empty() => {
                (self.eval_pipeline(dot, pipe)?, fields)
            }
            _ => return Ok(()),
        };
        let Some((method, path)) = fields.split_last() else {
            return Ok(());
        };
        if let Value::Object(o) = self.fields(receiver, path, arg.pos)?
            && o.has_method_with_args(method)
        {
            return Err(Located::new(
                arg.pos,
                ErrorKind::Field {
                    field: method.clone(),
                    reason: METHOD_WITH_ARGS,
                },
            ));
        }
        Ok(())
    }

    /// `.a.b` on a value, honouring the missing-key mode.
    fn fields(&self, mut v: Value, fields: &[String], pos: usize) -> ExecResult<Value> {
        for f in fields {
            v = match &v {
                Value::Map(m) => match m.entries().get(f) {
                    Some(x) => x.clone(),
                    None => match self.opts.missing_key {
                        MissingKey::Error => {
                            return Err(Located::new(pos, ErrorKind::MissingKey(f.clone())));
                        }
                        MissingKey::Default => Value::Nil,
                        MissingKey::Zero => m.zero(),
                    },
                },
                Value::Nil => match self.opts.missing_key {
                    MissingKey::Error => {
                        return Err(Located::new(pos, ErrorKind::NilData(f.clone())));
                    }
                    _ => Value::Nil,
                },
                Value::Object(o) => o.field(f).map_err(|e| {
                    let reason = match e {
                        FieldError::NoSuch => {
                            return Located::new(pos, ErrorKind::NotAMap { field: f.clone() });
                        }
                        FieldError::Method => METHOD_WITH_ARGS,
                        FieldError::TooLarge => "the version number does not fit in an int",
                    };
                    let field = f.clone();
                    Located::new(pos, ErrorKind::Field { field, reason })
                })?,
                _ => {
                    return Err(Located::new(pos, ErrorKind::NotAMap { field: f.clone() }));
                }
            };
        }
        Ok(v)
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        args: &[Arg],
        last: Option<Value>,
    ) -> ExecResult<Value> {
        self.step(pos)?;
        if name == "and" || name == "or" {
            return self.and_or(dot, name == "and", pos, args, last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(dot, a)?);
        }
        vals.extend(last);
        let Lookup::Found(f) = funcs::lookup(self.opts.functions, name) else {
            // check_functions ran first, so this is unreachable in practice
            return Err(Located::new(
                pos,
                ErrorKind::UndefinedFunction(name.to_owned()),
            ));
        };
        let max_value = self.opts.limits.max_value_bytes;
        f(&self.budget, &vals)
            .map_err(|e| Located::new(pos, e.into_kind(name, vals.len(), max_value)))
    }

    /// `and` returns its first false argument or its last; `or` its first
    /// true argument or its last. Later arguments are not evaluated.
    fn and_or(
        &mut self,
        dot: &Value,
        is_and: bool,
        pos: usize,
        args: &[Arg],
        last: Option<Value>,
    ) -> ExecResult<Value> {
        let count = args.len() + usize::from(last.is_some());
        if count == 0 {
            let func = if is_and { "and" } else { "or" }.to_owned();
            return Err(Located::new(
                pos,
                ErrorKind::ArgCount {
                    func,
                    want: "at least 1".into(),
                    got: 0,
                },
            ));
        }
        let mut v = Value::Nil;
        for a in args {
            v = self.eval_arg(dot, a)?;
            if v.is_true() != is_and {
                return Ok(v);
            }
        }
        Ok(last.unwrap_or(v))
    }
}

/// How an operand is named in "can't give argument to non-function".
fn describe(arg: &Arg) -> String {
    match &arg.kind {
        ArgKind::Dot => ".".into(),
        ArgKind::Field(f) => format!(".{}", f.join(".")),
        ArgKind::Var(n, f) if f.is_empty() => n.clone(),
        ArgKind::Var(n, f) => format!("{n}.{}", f.join(".")),
        ArgKind::Chain(..) => "(pipeline)".into(),
        ArgKind::Ident(n) => n.clone(),
        ArgKind::Str(_) => "string constant".into(),
        ArgKind::Int(_) | ArgKind::Float(_) => "number constant".into(),
        ArgKind::Bool(_) => "bool constant".into(),
        ArgKind::Nil => "nil".into(),
    }
}

/// Go resolves function names at parse time, so an unknown function is an
/// error even in a branch that never runs; we check before executing.
fn check_functions(nodes: &[Node], opts: &Options) -> ExecResult<()> {
    for n in nodes {
        match n {
            Node::Action(p) => check_pipe(p, opts)?,
            Node::If(c) | Node::With(c) | Node::Range(c) => {
                check_pipe(&c.pipe, opts)?;
                check_functions(&c.list, opts)?;
                check_functions(&c.else_list, opts)?;
            }
            Node::Template { pipe, .. } => {
                if let Some(p) = pipe {
                    check_pipe(p, opts)?;
                }
            }
            Node::Text(_) | Node::Break | Node::Continue => {}
        }
    }
    Ok(())
}

fn check_pipe(p: &Pipe, opts: &Options) -> ExecResult<()> {
    for cmd in &p.cmds {
        for a in &cmd.args {
            match &a.kind {
                ArgKind::Ident(name) if name != "and" && name != "or" => {
                    match funcs::lookup(opts.functions, name) {
                        Lookup::Found(_) => {}
                        Lookup::Unsupported => {
                            return Err(Located::new(
                                a.pos,
                                ErrorKind::UnsupportedFunction(name.clone()),
                            ));
                        }
                        Lookup::Undefined => {
                            return Err(Located::new(
                                a.pos,
                                ErrorKind::UndefinedFunction(name.clone()),
                            ));
                        }
                    }
                }
                ArgKind::Chain(inner, _) => check_pipe(inner, opts)?,
                _ => {}
            }
        }
    }
    Ok(())
}
