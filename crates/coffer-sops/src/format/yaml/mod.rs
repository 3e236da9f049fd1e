//! YAML documents: multi-document streams with key order and comments kept.

mod read;
mod write;

pub use read::read;
pub use write::write;
