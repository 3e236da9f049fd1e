//! Nodes flattened into the event stream go-yaml's encoder (`encoder.node`)
//! feeds its emitter: one document per tree branch, the head comment on a
//! collection's start event, line and foot comments on its end event, and a
//! mapping key's foot comment carried forward as the "tail" of the next key
//! (or of the mapping's end), which is where go-yaml writes it.

use crate::format::yaml::node::{Kind, Node};
use crate::format::yaml::style::Scalar;

#[derive(Clone, Copy)]
pub(super) enum Ev<'n> {
    StreamStart,
    StreamEnd,
    DocStart,
    DocEnd,
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
    Scalar(&'n Scalar<'n>),
}

/// An event and the comments it carries (empty strings when none).
#[derive(Clone, Copy)]
pub(super) struct Event<'n> {
    pub ev: Ev<'n>,
    pub head: &'n str,
    pub line: &'n str,
    pub foot: &'n str,
    pub tail: &'n str,
}

impl<'n> Event<'n> {
    pub(super) fn bare(ev: Ev<'n>) -> Self {
        Event {
            ev,
            head: "",
            line: "",
            foot: "",
            tail: "",
        }
    }
}

/// Appends the events of one node. `keep_foot` is false for mapping keys,
/// whose foot comment travels as the next event's tail instead.
pub(super) fn push_node<'n>(
    n: &'n Node<'n>,
    tail: &'n str,
    keep_foot: bool,
    out: &mut Vec<Event<'n>>,
) {
    match &n.kind {
        Kind::Map(entries) => {
            out.push(Event {
                head: &n.head,
                tail,
                ..Event::bare(Ev::MapStart)
            });
            let mut carried: &str = "";
            for (k, v) in entries {
                push_node(k, carried, false, out);
                carried = &k.foot;
                push_node(v, "", true, out);
            }
            out.push(Event {
                ev: Ev::MapEnd,
                head: "",
                line: &n.line,
                foot: &n.foot,
                tail: carried,
            });
        }
        Kind::Seq(items) => {
            out.push(Event {
                head: &n.head,
                ..Event::bare(Ev::SeqStart)
            });
            for item in items {
                push_node(item, "", true, out);
            }
            out.push(Event {
                line: &n.line,
                foot: &n.foot,
                ..Event::bare(Ev::SeqEnd)
            });
        }
        Kind::Scalar(s) => out.push(Event {
            ev: Ev::Scalar(s),
            head: &n.head,
            line: &n.line,
            foot: if keep_foot { &n.foot } else { "" },
            tail,
        }),
    }
}
