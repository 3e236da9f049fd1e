//! Builds the syntax tree from tokens: text, actions, `if`/`range`/`with`
//! with their `else` branches, pipelines, commands and operands, and the
//! named templates of `define` and `block` (called by `template`).
//!
//! Like Go's parser it checks at parse time that every variable is declared
//! in scope and that `break`/`continue` sit inside a `range`. Function names
//! are checked when rendering, against the function set the caller chooses.

use crate::error::{ErrorKind, Limit, Located};
use crate::lexer::{Tok, Token};

type ParseResult<T> = Result<T, Located>;

/// How deeply control structures and parentheses may nest; keeps parsing
/// and execution recursion bounded on hostile input.
pub(crate) const MAX_NESTING: usize = 100;

/// A node of the template body.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Control),
    With(Control),
    Range(Control),
    Break,
    Continue,
    /// `{{template "name" pipeline}}` (also what `block` leaves in place).
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
}

/// A parsed template: the main body and the named templates it defines.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(crate) main: Vec<Node>,
    pub(crate) defs: std::collections::BTreeMap<String, Vec<Node>>,
}

/// Whether a body is empty as Go's `parse.IsEmptyTree` sees it: nothing
/// but white space text. An empty definition may be replaced by another.
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

/// `if`, `with` or `range`: the pipeline, the body and the `else` body.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) pipe: Pipe,
    pub(crate) list: Vec<Node>,
    pub(crate) else_list: Vec<Node>,
}

/// A pipeline, optionally declaring (`:=`) or assigning (`=`) variables.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub(crate) pos: usize,
    pub(crate) decl: Vec<String>,
    pub(crate) is_assign: bool,
    pub(crate) cmds: Vec<Command>,
}

/// One command of a pipeline: operands separated by spaces.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) args: Vec<Arg>,
}

/// An operand and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub(crate) pos: usize,
    pub(crate) kind: ArgKind,
}

/// The kinds of operand.
#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    /// A function name.
    Ident(String),
    /// `.`
    Dot,
    /// `.a.b`
    Field(Vec<String>),
    /// `$x.a.b` (the name includes `$`).
    Var(String, Vec<String>),
    /// `(pipeline).a.b`
    Chain(Box<Pipe>, Vec<String>),
    Str(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

/// Parses a token stream into the template body and its definitions.
pub(crate) fn parse(toks: Vec<Token>) -> ParseResult<Tree> {
    let mut p = Parser {
        toks,
        i: 0,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        nesting: 0,
        top: true,
        defs: Default::default(),
    };
    let (list, end) = p.list()?;
    match end {
        Stop::Eof => Ok(Tree {
            main: list,
            defs: p.defs,
        }),
        Stop::End(pos) => Err(Located::syntax(pos, "unexpected {{end}}")),
        Stop::Else(pos) => Err(Located::syntax(pos, "unexpected {{else}}")),
    }
}

/// What stopped a list of nodes.
enum Stop {
    Eof,
    End(usize),
    Else(usize),
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    nesting: usize,
    /// Parsing the main template's top level, where `define` may appear.
    top: bool,
    defs: std::collections::BTreeMap<String, Vec<Node>>,
}

impl Parser {
    fn peek(&self) -> &Token {
        // the lexer always ends the stream with Eof, and we never move past it
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while self.peek().tok == Tok::Space {
            self.i += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn expect_right_delim(&mut self, context: &str) -> ParseResult<()> {
        let t = self.next_non_space();
        if t.tok == Tok::RightDelim {
            Ok(())
        } else {
            Err(Located::syntax(
                t.pos,
                format!("unexpected {:?} in {context}", t.tok),
            ))
        }
    }

    fn enter(&mut self, pos: usize) -> ParseResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(Located::new(
                pos,
                ErrorKind::Limit(Limit::Depth(MAX_NESTING)),
            ));
        }
        Ok(())
    }

    /// Parses nodes until end of input, `{{end}}` or `{{else}}` (the
    /// delimiter of `{{else}}` is left for the caller).
    fn list(&mut self) -> ParseResult<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::LeftDelim => {
                    let kw = self.peek_non_space().clone();
                    match kw.tok {
                        Tok::Ident(ref w) if w == "end" => {
                            self.next();
                            self.expect_right_delim("end")?;
                            return Ok((nodes, Stop::End(kw.pos)));
                        }
                        Tok::Ident(ref w) if w == "else" => {
                            self.next();
                            return Ok((nodes, Stop::Else(kw.pos)));
                        }
                        Tok::Ident(ref w) if w == "define" && self.top && self.nesting == 0 => {
                            self.next();
                            self.definition(kw.pos)?;
                        }
                        _ => nodes.push(self.action()?),
                    }
                }
                other => {
                    return Err(Located::syntax(t.pos, format!("unexpected {other:?}")));
                }
            }
        }
    }

    fn action(&mut self) -> ParseResult<Node> {
        let t = self.peek().clone();
        if let Tok::Ident(w) = &t.tok {
            match w.as_str() {
                "if" | "with" | "range" => {
                    self.next();
                    return self.control(w.clone(), t.pos);
                }
                "break" | "continue" => {
                    self.next();
                    if self.range_depth == 0 {
                        return Err(Located::syntax(
                            t.pos,
                            format!("{{{{{w}}}}} outside {{{{range}}}}"),
                        ));
                    }
                    self.expect_right_delim(w)?;
                    return Ok(if w == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" => {
                    return Err(Located::syntax(
                        t.pos,
                        "unexpected {{define}}: definitions belong at the top level",
                    ));
                }
                "template" => {
                    self.next();
                    let name = self.template_name("template clause")?;
                    let pipe = if matches!(self.peek_non_space().tok, Tok::RightDelim) {
                        self.next();
                        None
                    } else {
                        // Variables it declares persist, as in Go.
                        Some(self.pipeline("template clause", false)?)
                    };
                    return Ok(Node::Template {
                        pos: t.pos,
                        name,
                        pipe,
                    });
                }
                "block" => {
                    self.next();
                    let name = self.template_name("block clause")?;
                    if matches!(self.peek_non_space().tok, Tok::RightDelim) {
                        return Err(Located::syntax(t.pos, "missing value for block clause"));
                    }
                    let pipe = self.pipeline("block clause", false)?;
                    let body = self.body("block clause", t.pos)?;
                    self.add(name.clone(), body, t.pos)?;
                    return Ok(Node::Template {
                        pos: t.pos,
                        name,
                        pipe: Some(pipe),
                    });
                }
                _ => {}
            }
        }
        let pipe = self.pipeline("command", false)?;
        Ok(Node::Action(pipe))
    }

    /// The quoted name after `define`, `template` or `block`.
    fn template_name(&mut self, context: &str) -> ParseResult<String> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Str(name) => String::from_utf8(name)
                .map_err(|_| Located::syntax(t.pos, format!("{context}: the name is not UTF-8"))),
            _ => Err(Located::syntax(
                t.pos,
                format!("unexpected token in {context}: a quoted template name is needed"),
            )),
        }
    }

    /// `{{define "name"}}…{{end}}` after the keyword.
    fn definition(&mut self, pos: usize) -> ParseResult<()> {
        let name = self.template_name("define clause")?;
        self.expect_right_delim("define clause")?;
        let body = self.body("define clause", pos)?;
        self.add(name, body, pos)
    }

    /// The body of a definition or block, up to its `{{end}}`: a scope of
    /// its own (only `$`), outside any `range`, where `define` may not
    /// appear.
    fn body(&mut self, context: &str, pos: usize) -> ParseResult<Vec<Node>> {
        self.enter(pos)?;
        let saved = (
            std::mem::replace(&mut self.vars, vec!["$".to_owned()]),
            std::mem::replace(&mut self.range_depth, 0),
            std::mem::replace(&mut self.top, false),
        );
        let (list, end) = self.list()?;
        (self.vars, self.range_depth, self.top) = saved;
        self.nesting -= 1;
        match end {
            Stop::End(_) => Ok(list),
            Stop::Else(p) => Err(Located::syntax(
                p,
                format!("unexpected {{{{else}}}} in {context}"),
            )),
            Stop::Eof => Err(Located::syntax(pos, format!("unexpected EOF in {context}"))),
        }
    }

    /// Records a named template as Go's `Tree.add` does: an empty body
    /// never replaces a non-empty one; two non-empty bodies are an error.
    fn add(&mut self, name: String, body: Vec<Node>, pos: usize) -> ParseResult<()> {
        match self.defs.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if is_empty_tree(&body) {
                    Ok(())
                } else {
                    Err(Located::syntax(
                        pos,
                        format!("multiple definition of template {name:?}"),
                    ))
                }
            }
            _ => {
                self.defs.insert(name, body);
                Ok(())
            }
        }
    }

    /// `if`, `with`, `range` after the keyword; handles `else if` and
    /// `else with` chains as Go does (sharing one `{{end}}`).
    fn control(&mut self, kw: String, pos: usize) -> ParseResult<Node> {
        self.enter(pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(&kw, kw == "range")?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Stop::Eof => {
                return Err(Located::syntax(
                    pos,
                    format!("unexpected EOF in {{{{{kw}}}}}"),
                ));
            }
            Stop::End(_) => Vec::new(),
            Stop::Else(else_pos) => {
                let t = self.peek_non_space().clone();
                match &t.tok {
                    Tok::Ident(w) if (w == "if" && kw == "if") || (w == "with" && kw == "with") => {
                        // `{{else if x}}` is `{{else}}{{if x}}...{{end}}{{end}}`
                        self.next();
                        vec![self.control(w.clone(), t.pos)?]
                    }
                    _ => {
                        self.expect_right_delim("else")?;
                        let (l, e) = self.list()?;
                        match e {
                            Stop::End(_) => l,
                            Stop::Else(p) => {
                                return Err(Located::syntax(p, "expected end; found {{else}}"));
                            }
                            Stop::Eof => {
                                return Err(Located::syntax(
                                    else_pos,
                                    format!("unexpected EOF in {{{{{kw}}}}}"),
                                ));
                            }
                        }
                    }
                }
            }
        };
        self.vars.truncate(mark);
        self.nesting -= 1;
        let c = Control {
            pipe,
            list,
            else_list,
        };
        Ok(match kw.as_str() {
            "if" => Node::If(c),
            "with" => Node::With(c),
            _ => Node::Range(c),
        })
    }

    /// Parses a pipeline up to the closing `}}` (or `)` when `in_parens`
    /// is handled by the caller via `paren_pipeline`).
    fn pipeline(&mut self, context: &str, allow_two_vars: bool) -> ParseResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let (decl, is_assign) = self.declarations(allow_two_vars)?;
        let cmds = self.commands(context, &Tok::RightDelim)?;
        self.next(); // the right delimiter
        for v in &decl {
            if !is_assign {
                self.vars.push(v.clone());
            }
        }
        Ok(Pipe {
            pos,
            decl,
            is_assign,
            cmds,
        })
    }

    /// Reads `$x :=`, `$x =`, or (in `range`) `$i, $v :=`; backs up if the
    /// variable is an operand instead.
    fn declarations(&mut self, allow_two: bool) -> ParseResult<(Vec<String>, bool)> {
        let start = self.i;
        let mut names = Vec::new();
        loop {
            let t = self.next_non_space();
            let Tok::Var(name) = t.tok else { break };
            names.push((name, t.pos));
            let sep = self.next_non_space();
            match sep.tok {
                Tok::Declare | Tok::Assign => {
                    let assign = sep.tok == Tok::Assign;
                    for (n, p) in &names {
                        if assign && !self.vars.contains(n) {
                            return Err(Located::syntax(*p, format!("undefined variable {n:?}")));
                        }
                    }
                    return Ok((names.into_iter().map(|(n, _)| n).collect(), assign));
                }
                Tok::Comma if allow_two && names.len() == 1 => continue,
                Tok::Comma => return Err(Located::syntax(sep.pos, "too many declarations")),
                _ => break,
            }
        }
        self.i = start;
        Ok((Vec::new(), false))
    }

    fn commands(&mut self, context: &str, end: &Tok) -> ParseResult<Vec<Command>> {
        let mut cmds = Vec::new();
        loop {
            let t = self.peek_non_space().clone();
            if &t.tok == end {
                if cmds.is_empty() {
                    return Err(Located::syntax(
                        t.pos,
                        format!("missing value for {context}"),
                    ));
                }
                return Ok(cmds);
            }
            cmds.push(self.command()?);
            let t = self.peek_non_space().clone();
            match &t.tok {
                Tok::Pipe => {
                    self.next();
                }
                x if x == end => {}
                other => {
                    return Err(Located::syntax(
                        t.pos,
                        format!("unexpected {other:?} in operand"),
                    ));
                }
            }
        }
    }

    fn command(&mut self) -> ParseResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.peek().tok {
                Tok::Pipe | Tok::RightDelim | Tok::RParen => break,
                _ => {}
            }
            args.push(self.operand()?);
            match self.peek().tok {
                Tok::Space | Tok::Pipe | Tok::RightDelim | Tok::RParen => {}
                ref other => {
                    return Err(Located::syntax(
                        self.peek().pos,
                        format!("unexpected {other:?} in operand; missing space?"),
                    ));
                }
            }
        }
        if args.is_empty() {
            return Err(Located::syntax(pos, "empty command"));
        }
        Ok(Command { args })
    }

    fn fields(&mut self) -> Vec<String> {
        let mut f = Vec::new();
        while let Tok::Field(name) = &self.peek().tok {
            f.push(name.clone());
            self.next();
        }
        f
    }

    fn operand(&mut self) -> ParseResult<Arg> {
        let t = self.next();
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Ident(name) => ArgKind::Ident(name),
            Tok::Dot => ArgKind::Dot,
            Tok::Field(first) => {
                let mut f = vec![first];
                f.extend(self.fields());
                return Ok(Arg {
                    pos,
                    kind: ArgKind::Field(f),
                });
            }
            Tok::Var(name) => {
                if !self.vars.contains(&name) {
                    return Err(Located::syntax(pos, format!("undefined variable {name:?}")));
                }
                let f = self.fields();
                return Ok(Arg {
                    pos,
                    kind: ArgKind::Var(name, f),
                });
            }
            Tok::LParen => {
                self.enter(pos)?;
                let (decl, is_assign) = self.declarations(false)?;
                let cmds = self.commands("parenthesized pipeline", &Tok::RParen)?;
                self.next(); // )
                self.nesting -= 1;
                if !is_assign {
                    self.vars.extend(decl.iter().cloned());
                }
                let pipe = Pipe {
                    pos,
                    decl,
                    is_assign,
                    cmds,
                };
                let f = self.fields();
                return Ok(Arg {
                    pos,
                    kind: ArgKind::Chain(Box::new(pipe), f),
                });
            }
            Tok::Str(s) => ArgKind::Str(s),
            Tok::Char(c) => ArgKind::Int(i64::from(c)),
            Tok::Number(text) => number(&text)
                .ok_or_else(|| Located::syntax(pos, format!("illegal number syntax: {text:?}")))?,
            Tok::Bool(b) => ArgKind::Bool(b),
            Tok::Nil => ArgKind::Nil,
            other => {
                return Err(Located::syntax(
                    pos,
                    format!("unexpected {other:?} in operand"),
                ));
            }
        };
        if let Tok::Field(_) = self.peek().tok {
            if matches!(kind, ArgKind::Ident(_) | ArgKind::Dot) {
                let f = self.fields();
                let inner = Pipe {
                    pos,
                    decl: Vec::new(),
                    is_assign: false,
                    cmds: vec![Command {
                        args: vec![Arg { pos, kind }],
                    }],
                };
                return Ok(Arg {
                    pos,
                    kind: ArgKind::Chain(Box::new(inner), f),
                });
            }
            return Err(Located::syntax(self.peek().pos, "unexpected . after term"));
        }
        Ok(Arg { pos, kind })
    }
}

/// Interprets number text as Go's parser does: integers (with base
/// prefixes and underscores) stay integers unless written with a fraction
/// or exponent.
fn number(text: &str) -> Option<ArgKind> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i128::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse::<i128>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        let i = if neg { -i } else { i };
        return i64::try_from(i).ok().map(ArgKind::Int);
    }
    if lower.starts_with("0x") {
        return None; // hexadecimal floats are not supported
    }
    let f: f64 = clean.parse().ok()?;
    f.is_finite().then_some(ArgKind::Float(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn parse_str(t: &str) -> ParseResult<Vec<Node>> {
        parse(lex(t)?).map(|tree| tree.main)
    }

    #[test]
    fn numbers_keep_go_int_and_float_distinction() {
        assert!(matches!(number("42"), Some(ArgKind::Int(42))));
        assert!(matches!(number("-0x1F"), Some(ArgKind::Int(-31))));
        assert!(matches!(number("1_000"), Some(ArgKind::Int(1000))));
        assert!(matches!(number("017"), Some(ArgKind::Int(15))));
        assert!(matches!(number("1e3"), Some(ArgKind::Float(f)) if f == 1000.0));
        assert!(matches!(number("1.5"), Some(ArgKind::Float(_))));
        assert!(number("99999999999999999999").is_none());
    }

    #[test]
    fn undefined_variables_and_misplaced_keywords_are_parse_errors() {
        assert!(parse_str("{{ $x }}").is_err());
        assert!(parse_str("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}").is_err());
        assert!(parse_str("{{ $x := 1 }}{{ $x }}").is_ok());
        assert!(parse_str("{{ end }}").is_err());
        assert!(parse_str("{{ else }}").is_err());
        assert!(parse_str("{{ break }}").is_err());
        assert!(parse_str("{{ if 1 }}").is_err());
        assert!(parse_str("{{ }}").is_err());
        // a template call parses; the name is looked up when it runs
        assert!(parse_str("{{ template \"x\" }}").is_ok());
        assert!(parse_str("{{ template x }}").is_err());
        assert!(parse_str("{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}").is_err());
        assert!(parse_str("{{ define \"x\" }}{{ $y := 1 }}{{ end }}{{ $y }}").is_err());
    }

    #[test]
    fn else_if_chains_share_one_end() {
        let n = parse_str("{{if 1}}a{{else if 2}}b{{else}}c{{end}}").unwrap();
        let [Node::If(c)] = n.as_slice() else {
            panic!("{n:?}")
        };
        assert!(matches!(c.else_list.as_slice(), [Node::If(_)]));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let t = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
        let e = parse_str(&t).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit(Limit::Depth(MAX_NESTING)));
    }
}
