//! The part of go-yaml v3's emitter (`emitterc.go`) that sops's output goes
//! through, as a state machine over the event stream: block mappings and
//! sequences with indent 4, `- ` items indented under their key, empty
//! collections as `{}`/`[]`, keys that are too long or span lines written
//! after `? `, no line width limit (go-yaml's default), and head, line, foot
//! and tail comments written where go-yaml writes them, including its quirks
//! (a comment of an empty mapping goes inside `{ }`, that of an empty
//! sequence waits for the next line that writes head comments).
//!
//! The rules follow go-yaml's code path by path, so the layout matches sops
//! byte for byte; the scalar writers are in [`super::emit_scalar`].

use crate::format::yaml::events::{Ev, Event};
use crate::format::yaml::style::Analysis;

/// sops's `IndentDefault` (`Encoder.SetIndent(4)`).
pub(super) const BEST_INDENT: i32 = 4;

/// go-yaml's emitter states, limited to the block and empty-flow forms sops
/// produces.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    StreamStart,
    FirstDocStart,
    DocStart,
    DocContent,
    DocEnd,
    FlowSeqFirst,
    FlowMapFirst,
    BlockSeqFirst,
    BlockSeqItem,
    BlockMapFirstKey,
    BlockMapKey,
    BlockMapSimpleValue,
    BlockMapValue,
    End,
}

/// Where the node being written stands: a simple key (`key:` on one line)
/// or anything else.
#[derive(Clone, Copy, Default)]
pub(super) struct Context {
    pub simple_key: bool,
}

pub(super) struct Emitter<'n> {
    pub(super) out: String,
    pub(super) events: &'n [Event<'n>],
    pub(super) pos: usize,
    pub(super) state: State,
    pub(super) states: Vec<State>,
    pub(super) indent: i32,
    pub(super) indents: Vec<i32>,
    pub(super) flow_level: u32,
    pub(super) ctx: Context,
    pub(super) column: usize,
    pub(super) whitespace: bool,
    pub(super) indention: bool,
    pub(super) foot_indent: i32,
    pub(super) head: &'n str,
    pub(super) line: &'n str,
    pub(super) foot: &'n str,
    pub(super) tail: &'n str,
    pub(super) key_line: &'n str,
    /// The current scalar's analysis and tag suffix.
    pub(super) analysis: Analysis,
    pub(super) tag: Option<&'static str>,
}

/// Runs the emitter over a complete event stream.
pub(super) fn emit(events: &[Event<'_>], capacity: usize) -> String {
    let mut e = Emitter {
        out: String::with_capacity(capacity),
        events,
        pos: 0,
        state: State::StreamStart,
        states: Vec::new(),
        indent: -1,
        indents: Vec::new(),
        flow_level: 0,
        ctx: Context::default(),
        column: 0,
        whitespace: true,
        indention: true,
        foot_indent: -1,
        head: "",
        line: "",
        foot: "",
        tail: "",
        key_line: "",
        analysis: Analysis::default(),
        tag: None,
    };
    while e.pos < events.len() {
        let ev = events[e.pos];
        e.analyze_event(&ev);
        e.dispatch(&ev);
        e.pos += 1;
    }
    e.out
}

impl<'n> Emitter<'n> {
    /// `yaml_emitter_analyze_event`: a new event's comments replace pending
    /// ones only when it has some.
    fn analyze_event(&mut self, ev: &Event<'n>) {
        for (slot, new) in [
            (&mut self.head, ev.head),
            (&mut self.line, ev.line),
            (&mut self.foot, ev.foot),
            (&mut self.tail, ev.tail),
        ] {
            if !new.is_empty() {
                *slot = new;
            }
        }
        self.tag = None;
        if let Ev::Scalar(s) = ev.ev {
            self.tag = s.tag;
            self.analysis = crate::format::yaml::style::analyze(&s.text);
        }
    }

    fn pop_state(&mut self) {
        self.state = self.states.pop().unwrap_or(State::End);
    }

    /// The indentation of the collection that holds the current node.
    pub(super) fn parent_indent(&self) -> i32 {
        self.indents.last().copied().unwrap_or(-1)
    }

    pub(super) fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn dispatch(&mut self, ev: &Event<'n>) {
        match self.state {
            State::StreamStart => self.state = State::FirstDocStart,
            State::FirstDocStart => self.document_start(ev, true),
            State::DocStart => self.document_start(ev, false),
            State::DocContent => self.document_content(ev),
            State::DocEnd => self.document_end(),
            State::FlowSeqFirst => self.empty_flow("[", "]", false),
            State::FlowMapFirst => self.empty_flow("{", "}", true),
            State::BlockSeqFirst => self.block_sequence_item(ev, true),
            State::BlockSeqItem => self.block_sequence_item(ev, false),
            State::BlockMapFirstKey => self.block_mapping_key(ev, true),
            State::BlockMapKey => self.block_mapping_key(ev, false),
            State::BlockMapSimpleValue => self.block_mapping_value(ev, true),
            State::BlockMapValue => self.block_mapping_value(ev, false),
            State::End => {}
        }
    }

    fn document_start(&mut self, ev: &Event<'n>, first: bool) {
        if !matches!(ev.ev, Ev::DocStart) {
            // STREAM-END: sops's encoder clears go-yaml's `open_ended` flag
            // first, so no `...` is written (nor anywhere else: sops sets no
            // directives), and this emitter does not track the flag.
            self.state = State::End;
            return;
        }
        // Only the first document's start marker is left implicit.
        if !first {
            self.write_indent();
            self.write_indicator("---", true, false, false);
            self.write_indent();
        }
        if !self.head.is_empty() {
            self.process_head_comment();
            self.put_break();
        }
        self.state = State::DocContent;
    }

    fn document_content(&mut self, ev: &Event<'n>) {
        self.states.push(State::DocEnd);
        self.process_head_comment();
        self.emit_node(ev, Context::default());
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn document_end(&mut self) {
        // go-yaml forces a foot comment of the document apart from the next one.
        self.foot_indent = 0;
        self.process_foot_comment();
        self.foot_indent = -1;
        self.write_indent();
        self.state = State::DocStart;
    }

    /// An empty sequence or mapping: go-yaml writes it in flow style. Only a
    /// mapping writes its pending head comment inside the brackets.
    fn empty_flow(&mut self, open: &str, close: &str, mapping: bool) {
        self.write_indicator(open, true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        if mapping {
            self.process_head_comment();
        }
        self.flow_level -= 1;
        self.pop_indent();
        if !mapping && self.column == 0 {
            self.write_indent();
        }
        self.write_indicator(close, false, false, false);
        if self.line.is_empty() {
            self.line = std::mem::take(&mut self.key_line);
        }
        self.process_line_comment(false);
        self.process_foot_comment();
        self.pop_state();
    }

    fn block_sequence_item(&mut self, ev: &Event<'n>, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        if matches!(ev.ev, Ev::SeqEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.process_head_comment();
        self.write_indent();
        self.write_indicator("-", true, false, true);
        self.states.push(State::BlockSeqItem);
        self.emit_node(ev, Context::default());
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn block_mapping_key(&mut self, ev: &Event<'n>, first: bool) {
        if first {
            self.increase_indent(false, false);
        }
        self.process_head_comment();
        if matches!(ev.ev, Ev::MapEnd) {
            self.pop_indent();
            self.pop_state();
            return;
        }
        self.write_indent();
        if !self.line.is_empty() {
            self.key_line = std::mem::take(&mut self.line);
        }
        if self.check_simple_key() {
            self.states.push(State::BlockMapSimpleValue);
            self.emit_node(ev, Context { simple_key: true });
        } else {
            self.write_indicator("?", true, false, true);
            self.states.push(State::BlockMapValue);
            self.emit_node(ev, Context::default());
        }
    }

    fn block_mapping_value(&mut self, ev: &Event<'n>, simple: bool) {
        if simple {
            self.write_indicator(":", false, false, false);
        } else {
            self.write_indent();
            self.write_indicator(":", true, false, true);
        }
        if !self.key_line.is_empty() {
            match ev.ev {
                Ev::Scalar(_) if self.line.is_empty() => {
                    self.line = std::mem::take(&mut self.key_line);
                }
                // NB: deliberate difference. go-yaml writes the comment
                // before an empty `{}`/`[]` too, which puts the collection
                // on a line of its own at column 0: YAML that does not read
                // back (sops prints `k: # c` + `{}` for an unencrypted
                // comment after a flow item of a sequence). Here the
                // comment stays pending and follows the `{}` ([`Self::empty_flow`]).
                Ev::MapStart if self.next_is(Ev::MapEnd) => {}
                Ev::SeqStart if self.next_is(Ev::SeqEnd) => {}
                Ev::MapStart | Ev::SeqStart => {
                    // An indented block follows: write the key's comment now.
                    std::mem::swap(&mut self.line, &mut self.key_line);
                    self.process_line_comment(false);
                    std::mem::swap(&mut self.line, &mut self.key_line);
                }
                _ => {}
            }
        }
        self.states.push(State::BlockMapKey);
        self.emit_node(ev, Context::default());
        self.process_line_comment(false);
        self.process_foot_comment();
    }

    fn emit_node(&mut self, ev: &Event<'n>, ctx: Context) {
        self.ctx = ctx;
        match ev.ev {
            Ev::Scalar(s) => {
                self.emit_scalar(s);
                self.pop_state();
            }
            Ev::SeqStart => {
                self.state = if self.flow_level > 0 || self.next_is(Ev::SeqEnd) {
                    State::FlowSeqFirst
                } else {
                    State::BlockSeqFirst
                };
            }
            Ev::MapStart => {
                self.state = if self.flow_level > 0 || self.next_is(Ev::MapEnd) {
                    State::FlowMapFirst
                } else {
                    State::BlockMapFirstKey
                };
            }
            // The event generator never puts anything else where a node goes.
            _ => debug_assert!(false, "expected a node event"),
        }
    }

    /// Whether the event after the current one ends the collection it opens
    /// (`yaml_emitter_check_empty_sequence`/`_mapping`).
    fn next_is(&self, end: Ev<'_>) -> bool {
        let next = self.events.get(self.pos + 1).map(|e| e.ev);
        matches!(
            (next, end),
            (Some(Ev::SeqEnd), Ev::SeqEnd) | (Some(Ev::MapEnd), Ev::MapEnd)
        )
    }

    /// `yaml_emitter_check_simple_key`: a key goes on one line before `:`
    /// unless it spans lines or is longer than 128 bytes.
    fn check_simple_key(&self) -> bool {
        let length = match self.events[self.pos].ev {
            Ev::Scalar(s) => {
                if self.analysis.multiline {
                    return false;
                }
                s.tag.map_or(0, |t| 2 + t.len()) + s.text.len()
            }
            Ev::SeqStart if self.next_is(Ev::SeqEnd) => 0,
            Ev::MapStart if self.next_is(Ev::MapEnd) => 0,
            _ => return false,
        };
        length <= 128
    }

    pub(super) fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            if self.states.last() == Some(&State::BlockSeqItem) {
                // The first level inside a sequence item only skips the `- `.
                self.indent += 2;
            } else {
                self.indent = BEST_INDENT * ((self.indent + BEST_INDENT) / BEST_INDENT);
            }
        }
    }
}
