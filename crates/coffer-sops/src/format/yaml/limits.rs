//! Bounds on what a YAML document may make the reader build. Anchors and
//! aliases are copied into the tree, so a "billion laughs" document of a few
//! hundred bytes would otherwise cost gigabytes, and an alias can nest a
//! copy of a deep collection inside another.

use crate::tree::{Key, Value};

/// Deepest nesting of collections a document may have, counting the
/// collections an alias copies in: the JSON reader's limit. Everything that
/// later walks the tree (writer, MAC, encryption, drop) recurses, so deeper
/// input is refused while reading, with its position.
pub const MAX_DEPTH: usize = 512;

/// What copies of anchored nodes may cost over a whole stream, in nodes
/// plus bytes of text: the larger of this and twice the input's length.
///
/// go-yaml v3 (sops's parser) fails a decode with "document contains
/// excessive aliasing" once more than 100 aliased nodes make up more than
/// 99% of the nodes decoded (falling to 10% over four million nodes), so it
/// allows about 400,000 alias-driven nodes. sops itself decodes into
/// `yaml.Node`, where that check never runs, and expands every alias while
/// converting the nodes (`nodeToTreeValue`) without a bound. We copy values,
/// so each copy is charged by its nodes and bytes: the one kept when an
/// anchored node completes, and one per alias. A million covers any secrets
/// file a person writes (and stays in the tens of megabytes even when every
/// unit is a node); twice the input lets a large document anchor any part
/// of itself and use it once. Past the floor, aliases can at most triple
/// what the text alone builds.
pub const MIN_COPY_BUDGET: usize = 1_000_000;

/// An anchored node, with what copying it costs and how deep it nests.
pub(super) struct Anchored {
    pub value: Value,
    pub weight: usize,
    pub height: usize,
}

/// What copies of anchored nodes may still cost in one stream.
pub(super) struct CopyBudget {
    left: usize,
    limit: usize,
}

impl CopyBudget {
    /// The budget for reading `input`.
    pub(super) fn for_input(input: &str) -> Self {
        let limit = MIN_COPY_BUDGET.max(input.len().saturating_mul(2));
        CopyBudget { left: limit, limit }
    }

    /// Pays for one copy of `weight`, or says why not.
    pub(super) fn charge(&mut self, weight: usize) -> Result<(), String> {
        match self.left.checked_sub(weight) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(format!(
                "anchors and aliases expand to more than {} nodes and bytes of text \
                 (the larger of {MIN_COPY_BUDGET} and twice the input's size): \
                 refusing a possible alias bomb",
                self.limit
            )),
        }
    }
}

/// A value's cost to copy (one per node, plus its text) and its height
/// (the collections nested in it, itself included). The recursion is
/// bounded by [`MAX_DEPTH`], which every value the reader builds respects.
pub(super) fn measure(value: &Value) -> (usize, usize) {
    match value {
        Value::Str(s) | Value::Time(s) => (1 + s.len(), 0),
        Value::Bytes(b) => (1 + b.len(), 0),
        Value::Comment(c) => (1 + c.text.len(), 0),
        Value::Null | Value::Int(_) | Value::Float(_) | Value::Bool(_) => (1, 0),
        Value::Map(branch) => {
            let (mut weight, mut height) = (1usize, 0);
            for item in branch {
                let key = match &item.key {
                    Key::Name(n) => n.len(),
                    Key::Comment(c) => c.text.len(),
                };
                let (w, h) = measure(&item.value);
                weight = weight.saturating_add(key).saturating_add(w);
                height = height.max(h);
            }
            (weight, height + 1)
        }
        Value::Seq(items) => {
            let (mut weight, mut height) = (1usize, 0);
            for item in items {
                let (w, h) = measure(item);
                weight = weight.saturating_add(w);
                height = height.max(h);
            }
            (weight, height + 1)
        }
    }
}
