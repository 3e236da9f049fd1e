//! Go's `encoding/pem` `Decode` and `Encode` (Go 1.26), which ESO's PEM
//! helpers are built on: which text counts as a block (a BEGIN line at the
//! start of a line, headers, a matching END line alone on its line, valid
//! base64), what is left over, and the exact output format. A port rather
//! than the `pem` crate because `filterPEM`'s result depends on both the
//! blocks found and the bytes left after them, and because key material
//! must stay in zeroizing buffers. Linear: each END marker is looked at
//! once.

use std::collections::BTreeMap;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::encoding::GO_STD;
use crate::buf::{Buf, Full};

/// One PEM block.
pub(super) struct Block {
    pub(super) kind: Vec<u8>,
    pub(super) headers: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(super) bytes: Zeroizing<Vec<u8>>,
}

const START: &[u8] = b"\n-----BEGIN ";
const END: &[u8] = b"\n-----END ";
const EOL: &[u8] = b"-----";

/// Go's `getLine`: the first line without its `\r\n`/`\n` and trailing
/// spaces and tabs, what follows, and how many bytes were consumed.
fn get_line(data: &[u8]) -> (&[u8], &[u8], usize) {
    let (mut i, j) = match memchr::memchr(b'\n', data) {
        None => (data.len(), data.len()),
        Some(i) => (i, i + 1),
    };
    if i < data.len() && i > 0 && data[i - 1] == b'\r' {
        i -= 1;
    }
    let mut line = &data[..i];
    while let [rest @ .., b' ' | b'\t'] = line {
        line = rest;
    }
    (line, &data[j..], j)
}

/// Go's `pem.Decode`: the first block in `data` and what follows it, or
/// `None` (and all of `data` is left).
pub(super) fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    let mut end_trailer_index: isize = 0;
    loop {
        let skip = usize::try_from(end_trailer_index).ok()?;
        rest = rest.get(skip..)?;
        let end_index = memchr::memmem::find(rest, END)?;
        end_trailer_index = (end_index + END.len()) as isize;
        let Some(begin_index) = memchr::memmem::rfind(&rest[..end_index], &START[1..]) else {
            continue;
        };
        if begin_index > 0 && rest[begin_index - 1] != b'\n' {
            continue;
        }
        let cut = begin_index + START.len() - 1;
        rest = &rest[cut..];
        let mut end_index = end_index as isize - cut as isize;
        end_trailer_index -= cut as isize;

        let (type_line, after, consumed) = get_line(rest);
        rest = after;
        end_index -= consumed as isize;
        end_trailer_index -= consumed as isize;
        let Some(kind) = type_line.strip_suffix(EOL) else {
            continue;
        };

        let mut headers = BTreeMap::new();
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next, consumed) = get_line(rest);
            let Some(colon) = memchr::memchr(b':', line) else {
                break;
            };
            headers.insert(
                line[..colon].trim_ascii().to_vec(),
                line[colon + 1..].trim_ascii().to_vec(),
            );
            rest = next;
            end_index -= consumed as isize;
            end_trailer_index -= consumed as isize;
        }
        if !headers.is_empty() && end_index < 0 {
            continue;
        }
        let Some(end_trailer) = usize::try_from(end_trailer_index)
            .ok()
            .and_then(|i| rest.get(i..))
        else {
            continue;
        };
        let trailer_len = kind.len() + EOL.len();
        if end_trailer.len() < trailer_len {
            continue;
        }
        let (trailer, rest_of_end_line) = end_trailer.split_at(trailer_len);
        if !trailer.starts_with(kind) || !trailer.ends_with(EOL) {
            continue;
        }
        if !get_line(rest_of_end_line).0.is_empty() {
            continue;
        }
        let mut bytes = Zeroizing::new(Vec::new());
        if end_index > 0 {
            let body = &rest[..end_index as usize];
            let mut b64 = Zeroizing::new(Vec::with_capacity(body.len()));
            b64.extend(
                body.iter()
                    .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')),
            );
            bytes.resize(base64::decoded_len_estimate(b64.len()), 0);
            match GO_STD.decode_slice(&b64[..], &mut bytes[..]) {
                Ok(n) => bytes.truncate(n),
                Err(_) => continue,
            }
        }
        let Some(tail) = usize::try_from(end_index)
            .ok()
            .and_then(|i| rest.get(i + END.len() - 1..))
        else {
            continue;
        };
        let (_, after, _) = get_line(tail);
        return Some((
            Block {
                kind: kind.to_vec(),
                headers,
                bytes,
            },
            after,
        ));
    }
}

/// Go's `pem.Encode` of `block` into `out`.
pub(super) fn encode(out: &mut Buf, block: &Block) -> Result<(), Full> {
    encode_parts(out, &block.kind, &block.headers, &block.bytes)
}

/// Go's `pem.Encode` of a block with these parts.
pub(super) fn encode_parts(
    out: &mut Buf,
    kind: &[u8],
    headers: &BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: &[u8],
) -> Result<(), Full> {
    out.extend(&START[1..])?;
    out.extend(kind)?;
    out.extend(b"-----\n")?;
    if !headers.is_empty() {
        const PROC_TYPE: &[u8] = b"Proc-Type";
        let proc = headers.get(PROC_TYPE);
        let rest = headers
            .iter()
            .filter(|(k, _)| k.as_slice() != PROC_TYPE)
            .map(|(k, v)| (k.as_slice(), v));
        for (k, v) in proc.map(|v| (PROC_TYPE, v)).into_iter().chain(rest) {
            out.extend(k)?;
            out.extend(b": ")?;
            out.extend(v)?;
            out.push(b'\n')?;
        }
        out.push(b'\n')?;
    }
    let mut line = Zeroizing::new([0u8; 64]);
    for chunk in bytes.chunks(48) {
        let n = GO_STD
            .encode_slice(chunk, &mut line[..])
            .map_err(|_| Full)?;
        out.extend(&line[..n])?;
        out.push(b'\n')?;
    }
    out.extend(&END[1..])?;
    out.extend(kind)?;
    out.extend(b"-----\n")
}
