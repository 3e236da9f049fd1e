//! Reading YAML into the tree with granit-parser's event stream, keeping key
//! order and comments. Comments land where sops (go-yaml v3) puts them: an
//! own-line comment becomes a comment entry before the next item of the
//! mapping or sequence it is indented into, and a same-line comment after a
//! value becomes an inline comment entry just before that value's item.
//!
//! Input is untrusted, so nesting and the copies that anchors and aliases
//! make are bounded (see `limits`).

use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Parser, Placement, Span, StructureStyle};

use super::limits::{self, Anchored, CopyBudget, MAX_DEPTH};
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

struct Reader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    budget: CopyBudget,
    docs: Vec<Branch>,
    root: Option<Branch>,
    /// Comments before the current document's root collection.
    pre_root: Vec<Comment>,
    /// The last complete node was a flow collection (`{…}`, `[…]`).
    flow_value_closed: bool,
}

fn too_deep() -> String {
    format!("collections nested more than {MAX_DEPTH} deep")
}

impl Reader {
    /// Pays for one copy of an anchored node, or fails at `span`.
    fn charge(&mut self, weight: usize, span: &Span) -> Result<()> {
        self.budget
            .charge(weight)
            .map_err(|reason| err(span, reason))
    }

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
            let (weight, height) = limits::measure(&value);
            self.charge(weight, span)?;
            let kept = Anchored {
                value: value.clone(),
                weight,
                height,
            };
            self.anchors.insert(anchor, kept);
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

    fn open(
        &mut self,
        body: Body,
        style: StructureStyle,
        anchor: usize,
        span: &Span,
    ) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(err(span, too_deep()));
        }
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
        Ok(())
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

/// Reads every document of a YAML stream, within [`MAX_DEPTH`] and the
/// copy budget of [`super::MIN_COPY_BUDGET`].
pub fn read(input: &str) -> Result<Vec<Branch>> {
    // The parser stops flow and block nesting (255 each by default) at ours:
    // its scanner reads ahead of the events, so only it can stop a run of
    // `[` where the limit is crossed. `Reader::open` counts mixed nesting.
    let mut options = granit_parser::Options::default();
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    let mut r = Reader {
        stack: Vec::new(),
        anchors: HashMap::new(),
        budget: CopyBudget::for_input(input),
        docs: Vec::new(),
        root: None,
        pre_root: Vec::new(),
        flow_value_closed: false,
    };
    for ev in Parser::new_from_str_with_options(input, options) {
        let (event, span) = ev.map_err(|e| Error::Parse {
            format: "YAML",
            location: format!("line {} column {}", e.marker().line(), e.marker().col() + 1),
            reason: match e.kind() {
                ErrorKind::RecursionLimitExceeded => too_deep(),
                _ => e.info().to_string(),
            },
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
                let v = scalar_value(&text, style, tag.as_deref(), &span)?;
                r.node(v, anchor, &span)?;
            }
            Event::Alias(id) => {
                let Some(&Anchored { weight, height, .. }) = r.anchors.get(&id) else {
                    return Err(err(&span, "alias to an unknown anchor"));
                };
                if r.stack.len() + height > MAX_DEPTH {
                    return Err(err(
                        &span,
                        format!("this alias nests collections more than {MAX_DEPTH} deep"),
                    ));
                }
                r.charge(weight, &span)?;
                let v = r.anchors[&id].value.clone();
                r.node(v, 0, &span)?;
            }
            Event::SequenceStart(style, anchor, _) => {
                r.open(Body::Seq(Vec::new()), style, anchor, &span)?
            }
            Event::MappingStart(style, anchor, _) => r.open(
                Body::Map {
                    branch: Vec::new(),
                    key: None,
                },
                style,
                anchor,
                &span,
            )?,
            Event::SequenceEnd | Event::MappingEnd => r.close(&span)?,
            _ => {}
        }
    }
    Ok(r.docs)
}
