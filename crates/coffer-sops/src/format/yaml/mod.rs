//! YAML documents: multi-document streams with key order and comments kept.

mod limits;
mod read;
mod write;

pub use limits::{MAX_DEPTH, MIN_COPY_BUDGET};
pub use read::read;
pub use write::write;
