//! Reading YAML into the tree with granit-parser's event stream, keeping key
//! order and comments. Comments land where sops (go-yaml v3) puts them: an
//! own-line comment becomes a comment entry before the next item of the
//! mapping or sequence it is indented into, and a same-line comment after a
//! value becomes an inline comment entry just before that value's item.

use std::collections::HashMap;

use granit_parser::{Event, Parser, Placement, Span, StructureStyle};

use crate::format::yaml::read_scalar::{err, scalar_value};
use crate::tree::{Branch, Comment, Item, Key, Value};
use crate::{Error, Result};

enum Body {
    Map { branch: Branch, key: Option<String> },
    Seq(Vec<Value>),
}

struct Frame {
    body: Body,
    col: usize,
    block: bool,
    anchor: usize,
    /// Own-line comments indented less than this collection: they belong to
    /// the parent, after this collection's item.
    trailing: Vec<Comment>,
    /// Comments seen after `key:` before its value started.
    before_value: Vec<Comment>,
}

/// Nodes a stream may expand to, aliases copied out: far more than any
/// real file, and a bound on what alias bombs ("billion laughs") can cost.
const MAX_NODES: usize = 1_000_000;

fn node_count(value: &Value) -> usize {
    match value {
        Value::Map(b) => 1 + b.iter().map(|i| node_count(&i.value)).sum::<usize>(),
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

struct Reader {
    /// Nodes produced so far, alias copies included.
    nodes: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    docs: Vec<Branch>,
    root: Option<Branch>,
    /// Comments before the current document's root collection.
    pre_root: Vec<Comment>,
    /// The last complete node was a flow collection (`{…}`, `[…]`).
    flow_value_closed: bool,
}

impl Reader {
    fn comment(&mut self, text: &str, placement: Placement, span: &Span) {
        let col = span.start.col();
        let inline = placement == Placement::Right;
        let c = Comment {
            text: text.to_string(),
            inline,
        };
        let Some(top) = self.stack.last_mut() else {
            match self.root.as_mut() {
                Some(root) => root.push(Item {
                    key: Key::Comment(c),
                    value: Value::Null,
                }),
                None => self.pre_root.push(Comment { inline: false, ..c }),
            }
            return;
        };
        if inline {
            let own_line = Comment {
                inline: false,
                ..c.clone()
            };
            match &mut top.body {
                // Matches sops: go-yaml gives `key: {…} # c` to the collection,
                // and sops makes it the collection's first (own-line) comment.
                Body::Map { branch, key: None } if self.flow_value_closed => {
                    match branch.last_mut().map(|i| &mut i.value) {
                        Some(Value::Map(b)) => b.insert(
                            0,
                            Item {
                                key: Key::Comment(own_line),
                                value: Value::Null,
                            },
                        ),
                        Some(Value::Seq(items)) => items.insert(0, Value::Comment(own_line)),
                        _ => branch.push(Item {
                            key: Key::Comment(own_line),
                            value: Value::Null,
                        }),
                    }
                }
                Body::Map { branch, key: None } if !branch.is_empty() => {
                    let at = branch.len() - 1;
                    branch.insert(
                        at,
                        Item {
                            key: Key::Comment(c),
                            value: Value::Null,
                        },
                    );
                }
                // Matches sops: `key: # c` is the key's line comment in
                // go-yaml, which sops puts on its own line above the key.
                Body::Map {
                    branch,
                    key: Some(_),
                } => branch.push(Item {
                    key: Key::Comment(own_line),
                    value: Value::Null,
                }),
                Body::Map { branch, .. } => branch.push(Item {
                    key: Key::Comment(c),
                    value: Value::Null,
                }),
                Body::Seq(items) if !items.is_empty() => {
                    let at = items.len() - 1;
                    items.insert(at, Value::Comment(c));
                }
                Body::Seq(items) => items.push(Value::Comment(c)),
            }
            return;
        }
        // Own-line comment: find the collection it is indented into.
        let depth = self.stack.len();
        let mut target = depth - 1;
        while target > 0 && self.stack[target].block && col < self.stack[target].col {
            target -= 1;
        }
        if target + 1 < depth {
            self.stack[target + 1].trailing.push(c);
            return;
        }
        let top = self.stack.last_mut().expect("frame");
        match &mut top.body {
            Body::Map { key: Some(_), .. } => top.before_value.push(c),
            Body::Map { branch, .. } => branch.push(Item {
                key: Key::Comment(c),
                value: Value::Null,
            }),
            Body::Seq(items) => items.push(Value::Comment(c)),
        }
    }

    /// A comment after a bare `- `: it goes before the item's content (the
    /// first entry of a collection item, or above a scalar item).
    fn head_for_next_item(&mut self, text: &str) {
        let c = Comment {
            text: text.to_string(),
            inline: false,
        };
        match self.stack.last_mut() {
            Some(top) => top.before_value.push(c),
            None => self.pre_root.push(c),
        }
    }

    fn push_comments(frame: &mut Frame, comments: Vec<Comment>) {
        for c in comments {
            match &mut frame.body {
                Body::Map { branch, .. } => branch.push(Item {
                    key: Key::Comment(c),
                    value: Value::Null,
                }),
                Body::Seq(items) => items.push(Value::Comment(c)),
            }
        }
    }

    /// A complete node: becomes a key, a mapping value, a sequence item or the root.
    fn node(&mut self, value: Value, anchor: usize, span: &Span) -> Result<()> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        let Some(top) = self.stack.last_mut() else {
            return match value {
                Value::Map(mut b) => {
                    let mut pre: Branch = self
                        .pre_root
                        .drain(..)
                        .map(|c| Item {
                            key: Key::Comment(c),
                            value: Value::Null,
                        })
                        .collect();
                    pre.append(&mut b);
                    self.root = Some(pre);
                    Ok(())
                }
                Value::Null => {
                    self.root = Some(Vec::new());
                    Ok(())
                }
                Value::Seq(_) => Err(Error::Unsupported(
                    "YAML documents that are sequences are not supported".into(),
                )),
                _ => Err(Error::Unsupported(
                    "YAML documents that are values are not supported".into(),
                )),
            };
        };
        match &mut top.body {
            Body::Map { branch, key } => match key.take() {
                None => {
                    let k = match value {
                        Value::Str(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(f) => crate::cipher::go_float_plain(f),
                        Value::Time(t) => t,
                        Value::Null => "null".to_string(),
                        _ => return Err(err(span, "mapping keys must be scalars")),
                    };
                    *key = Some(k);
                }
                Some(k) => {
                    for c in top.before_value.drain(..) {
                        branch.push(Item {
                            key: Key::Comment(c),
                            value: Value::Null,
                        });
                    }
                    branch.push(Item::new(k, value));
                }
            },
            Body::Seq(items) => {
                items.extend(top.before_value.drain(..).map(Value::Comment));
                items.push(value)
            }
        }
        Ok(())
    }

    fn open(&mut self, body: Body, style: StructureStyle, anchor: usize, span: &Span) {
        let mut frame = Frame {
            body,
            col: span.start.col(),
            block: style == StructureStyle::Block,
            anchor,
            trailing: Vec::new(),
            before_value: Vec::new(),
        };
        // Comments between `key:` and a nested collection belong inside it.
        if let Some(parent) = self.stack.last_mut() {
            let pending = std::mem::take(&mut parent.before_value);
            Self::push_comments(&mut frame, pending);
        }
        self.stack.push(frame);
    }

    fn close(&mut self, span: &Span) -> Result<()> {
        let mut frame = self
            .stack
            .pop()
            .ok_or_else(|| err(span, "unbalanced collection end"))?;
        if matches!(frame.body, Body::Map { key: Some(_), .. }) {
            return Err(err(span, "mapping key without a value"));
        }
        let pending = std::mem::take(&mut frame.before_value);
        Self::push_comments(&mut frame, pending);
        if !frame.block {
            // Matches sops: go-yaml loses the comments of an empty flow
            // collection (`{` + comment lines + `}`, as sops writes them).
            match &mut frame.body {
                Body::Map { branch, .. } if branch.iter().all(|i| i.name().is_none()) => {
                    branch.clear()
                }
                Body::Seq(items) if items.iter().all(|v| matches!(v, Value::Comment(_))) => {
                    items.clear()
                }
                _ => {}
            }
        }
        let value = match frame.body {
            Body::Map { branch, .. } => Value::Map(branch),
            Body::Seq(items) => Value::Seq(items),
        };
        self.node(value, frame.anchor, span)?;
        self.flow_value_closed = !frame.block;
        match self.stack.last_mut() {
            Some(parent) => Self::push_comments(parent, frame.trailing),
            None => {
                if let Some(root) = self.root.as_mut() {
                    root.extend(frame.trailing.into_iter().map(|c| Item {
                        key: Key::Comment(c),
                        value: Value::Null,
                    }));
                }
            }
        }
        Ok(())
    }
}

/// Whether only sequence indicators (`- `, `- - `) precede byte `at` on its line.
fn after_bare_dash(input: &str, at: usize) -> bool {
    let Some(before) = input.get(..at) else {
        return false;
    };
    let line = before.rsplit('\n').next().unwrap_or(before).trim_end();
    line.ends_with('-') && line.chars().all(|c| c == '-' || c == ' ')
}

/// Reads every document of a YAML stream.
pub fn read(input: &str) -> Result<Vec<Branch>> {
    let mut r = Reader {
        nodes: 0,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        root: None,
        pre_root: Vec::new(),
        flow_value_closed: false,
    };
    for ev in Parser::new_from_str(input) {
        let (event, span) = ev.map_err(|e| Error::Parse {
            format: "YAML",
            location: format!("line {} column {}", e.marker().line(), e.marker().col() + 1),
            reason: e.info().to_string(),
        })?;
        if !matches!(event, Event::Comment(..)) {
            r.flow_value_closed = false;
        }
        match event {
            Event::StreamStart => {}
            Event::DocumentStart(..) => {
                r.root = None;
                r.anchors.clear();
            }
            Event::DocumentEnd => {
                let mut doc = r.root.take().unwrap_or_default();
                doc.extend(r.pre_root.drain(..).map(|c| Item {
                    key: Key::Comment(c),
                    value: Value::Null,
                }));
                r.docs.push(doc);
            }
            Event::StreamEnd => {
                if !r.pre_root.is_empty()
                    && let Some(last) = r.docs.last_mut()
                {
                    last.extend(r.pre_root.drain(..).map(|c| Item {
                        key: Key::Comment(c),
                        value: Value::Null,
                    }));
                }
            }
            Event::Comment(text, placement) => {
                // Matches go-yaml: a comment after a bare `- ` is a head
                // comment of what follows, not a line comment.
                let placement = match span.start.byte_offset() {
                    Some(at) if placement == Placement::Right && after_bare_dash(input, at) => {
                        r.head_for_next_item(&text);
                        continue;
                    }
                    _ => placement,
                };
                r.comment(&text, placement, &span)
            }
            Event::Scalar(text, style, anchor, tag) => {
                r.nodes += 1;
                let v = scalar_value(&text, style, tag.as_deref(), &span)?;
                r.node(v, anchor, &span)?;
            }
            Event::Alias(id) => {
                let anchored = r
                    .anchors
                    .get(&id)
                    .ok_or_else(|| err(&span, "alias to an unknown anchor"))?;
                r.nodes = r.nodes.saturating_add(node_count(anchored));
                if r.nodes > MAX_NODES {
                    return Err(err(
                        &span,
                        format!(
                            "the document expands to more than {MAX_NODES} nodes through aliases"
                        ),
                    ));
                }
                let v = anchored.clone();
                r.node(v, 0, &span)?;
            }
            Event::SequenceStart(style, anchor, _) => {
                r.nodes += 1;
                r.open(Body::Seq(Vec::new()), style, anchor, &span)
            }
            Event::MappingStart(style, anchor, _) => {
                r.nodes += 1;
                r.open(
                    Body::Map {
                        branch: Vec::new(),
                        key: None,
                    },
                    style,
                    anchor,
                    &span,
                )
            }
            Event::SequenceEnd | Event::MappingEnd => r.close(&span)?,
            _ => {}
        }
    }
    Ok(r.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_bombs_are_refused_before_they_expand() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            let refs = vec![format!("*a{p}"); 8].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = read(&doc).expect_err("refused").to_string();
        assert!(err.contains("through aliases"), "{err}");
        // A few aliases are fine.
        let ok = read("a: &x {b: 1}\nc: *x\n").unwrap();
        assert_eq!(ok[0].len(), 2);
    }
}
