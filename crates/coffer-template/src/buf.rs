//! [`Buf`], the one buffer everything that builds a string writes into: it
//! refuses to grow past its maximum (so no function allocates much more
//! than the value limit, and printing stops at the output limit while it
//! writes, not after), and it grows without leaving copies of its contents
//! in freed memory (the contents are usually secret).

use zeroize::Zeroizing;

use crate::value::{Str, Value};

/// A zeroizing byte buffer with a maximum length.
pub(crate) struct Buf {
    bytes: Zeroizing<Vec<u8>>,
    max: usize,
}

/// A write would take a [`Buf`] past its maximum (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

impl Buf {
    /// An empty buffer that holds at most `max` bytes.
    pub(crate) fn new(max: usize) -> Buf {
        Buf::with_capacity(0, max)
    }

    /// An empty buffer with room for `capacity` bytes (at most `max`).
    pub(crate) fn with_capacity(capacity: usize, max: usize) -> Buf {
        Buf {
            bytes: Zeroizing::new(Vec::with_capacity(capacity.min(max))),
            max,
        }
    }

    /// The bytes written so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes are written.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// How many more bytes it takes.
    pub(crate) fn room(&self) -> usize {
        self.max - self.bytes.len()
    }

    /// Appends `s`, or fails without writing if that would pass the maximum.
    pub(crate) fn extend(&mut self, s: &[u8]) -> Result<(), Full> {
        self.reserve(s.len())?;
        self.bytes.extend_from_slice(s);
        Ok(())
    }

    /// Appends one byte.
    pub(crate) fn push(&mut self, b: u8) -> Result<(), Full> {
        self.extend(&[b])
    }

    /// Appends `n` copies of `b`.
    pub(crate) fn fill(&mut self, b: u8, n: usize) -> Result<(), Full> {
        self.reserve(n)?;
        let len = self.bytes.len();
        self.bytes.resize(len + n, b);
        Ok(())
    }

    /// Appends a char as UTF-8.
    pub(crate) fn push_char(&mut self, c: char) -> Result<(), Full> {
        self.extend(c.encode_utf8(&mut [0u8; 4]).as_bytes())
    }

    /// Makes room for `extra` more bytes, moving the contents to a bigger
    /// zeroizing allocation when needed (the old one is zeroized on drop).
    fn reserve(&mut self, extra: usize) -> Result<(), Full> {
        let len = self.bytes.len();
        let need = len.checked_add(extra).ok_or(Full)?;
        if need > self.max {
            return Err(Full);
        }
        if self.bytes.capacity() >= need {
            return Ok(());
        }
        let capacity = need
            .max(self.bytes.capacity().saturating_mul(2))
            .max(64)
            .min(self.max)
            .max(need);
        let mut bigger = Zeroizing::new(Vec::with_capacity(capacity));
        bigger.extend_from_slice(&self.bytes);
        self.bytes = bigger;
        Ok(())
    }

    /// Drops trailing copies of `b`.
    pub(crate) fn trim_end(&mut self, b: u8) {
        while self.bytes.last() == Some(&b) {
            self.bytes.pop();
        }
    }

    /// The contents.
    pub(crate) fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.bytes
    }

    /// The contents as a string value.
    pub(crate) fn into_value(self) -> Value {
        Value::Str(Str::from(self.bytes))
    }
}

/// For serializers that write to `io::Write` (YAML): a full buffer is an
/// I/O error, which stops the serializer.
impl std::io::Write for Buf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.extend(data)
            .map_err(|Full| std::io::Error::other("value too large"))?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_up_to_the_maximum_and_refuses_beyond_without_writing() {
        let mut b = Buf::new(5);
        b.extend(b"abc").unwrap();
        assert_eq!(b.extend(b"def"), Err(Full));
        assert_eq!(b.as_slice(), b"abc");
        b.fill(b'x', 2).unwrap();
        assert_eq!(b.push(b'y'), Err(Full));
        assert_eq!(b.as_slice(), b"abcxx");
        assert!(b.bytes.capacity() <= 5, "never allocates past the maximum");
    }

    #[test]
    fn huge_requests_fail_without_allocating() {
        let mut b = Buf::new(10);
        assert_eq!(b.fill(b'x', usize::MAX), Err(Full));
        assert_eq!(b.len(), 0);
    }
}
