//! YAML documents: multi-document streams with key order and comments kept,
//! written out exactly as sops (go-yaml v3) writes them.

mod emit;
mod emit_scalar;
mod emit_text;
mod events;
mod limits;
mod node;
mod read;
mod read_scalar;
mod style;
mod write;

pub use limits::{MAX_DEPTH, MIN_COPY_BUDGET};
pub use read::read;
pub use write::{write, write_value};
