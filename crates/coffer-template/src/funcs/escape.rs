//! Go `text/template`'s escaping builtins: `urlquery` (`url.QueryEscape`),
//! `html` (`template.HTMLEscapeString`) and `js`
//! (`template.JSEscapeString`). Like Go's, each takes any arguments: one
//! string is escaped as it is, anything else is printed first as
//! `fmt.Sprint` would (`evalArgs` in `text/template/funcs.go`).
//!
//! All three work on bytes, as Go's do, so invalid UTF-8 passes through
//! `html` and `js` unchanged and is percent-encoded by `urlquery`.

use super::{Budget, FResult, Func, FuncError, finish, read, result_buf};
use crate::buf::{Buf, Full};
use crate::format;
use crate::value::Value;

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "urlquery" => |c, a| escaped(c, a, url_query),
        "html" => |c, a| escaped(c, a, html),
        "js" => |c, a| escaped(c, a, js),
        _ => return None,
    })
}

/// `evalArgs`, then `escape` into a result within the value limit.
fn escaped(
    ctx: &Budget,
    args: &[Value],
    escape: fn(&mut Buf, &[u8]) -> Result<(), Full>,
) -> FResult {
    let printed: zeroize::Zeroizing<Vec<u8>>;
    let text: &[u8] = match args {
        [Value::Str(s)] => s.as_bytes(),
        _ => {
            let mut out = result_buf(ctx, 0);
            let built = format::sprint(&mut out, args);
            ctx.bytes(out.len())?;
            built.map_err(|Full| FuncError::Full)?;
            printed = out.into_bytes();
            &printed[..]
        }
    };
    read(ctx, &[text])?;
    let mut out = result_buf(ctx, text.len());
    let built = escape(&mut out, text);
    finish(ctx, out, built)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `url.QueryEscape`: unreserved bytes stay, space becomes `+`, the rest
/// `%XX` (upper-case hex).
fn url_query(out: &mut Buf, s: &[u8]) -> Result<(), Full> {
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b)?,
            b' ' => out.push(b'+')?,
            _ => out.extend(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])?,
        }
    }
    Ok(())
}

/// `template.HTMLEscape`: the five HTML specials as Go spells them, NUL as
/// U+FFFD.
fn html(out: &mut Buf, s: &[u8]) -> Result<(), Full> {
    for &b in s {
        match b {
            0 => out.extend("\u{FFFD}".as_bytes())?,
            b'"' => out.extend(b"&#34;")?,
            b'\'' => out.extend(b"&#39;")?,
            b'&' => out.extend(b"&amp;")?,
            b'<' => out.extend(b"&lt;")?,
            b'>' => out.extend(b"&gt;")?,
            _ => out.push(b)?,
        }
    }
    Ok(())
}

/// `template.JSEscape`: quotes and backslash escaped with a backslash, `<`
/// `>` `&` `=` and ASCII controls as `\u00XX`, non-printable runes as
/// `\uXXXX`; printable runes and invalid bytes stay.
fn js(out: &mut Buf, s: &[u8]) -> Result<(), Full> {
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.extend(b"\\\\")?,
                '\'' => out.extend(b"\\'")?,
                '"' => out.extend(b"\\\"")?,
                '<' => out.extend(b"\\u003C")?,
                '>' => out.extend(b"\\u003E")?,
                '&' => out.extend(b"\\u0026")?,
                '=' => out.extend(b"\\u003D")?,
                c if c < ' ' => {
                    let b = c as u8;
                    out.extend(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 15)],
                    ])?
                }
                c if c.is_ascii() || is_print(c) => out.push_char(c)?,
                c => out.extend(format!("\\u{:04X}", u32::from(c)).as_bytes())?,
            }
        }
        // Go decodes an invalid byte as U+FFFD, which is printable, so it
        // writes the byte itself.
        out.extend(chunk.invalid())?;
    }
    Ok(())
}

/// Go's `unicode.IsPrint` for a non-ASCII rune: a letter, mark, number,
/// punctuation or symbol (spaces other than U+0020 are not printable).
/// The categories come from the regex crate's Unicode tables, so runes
/// assigned after the Unicode version Go was built with may differ.
fn is_print(c: char) -> bool {
    super::words::matches_class(c, &super::words::PRINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&mut Buf, &[u8]) -> Result<(), Full>, s: &[u8]) -> Vec<u8> {
        let mut out = Buf::new(1 << 20);
        f(&mut out, s).unwrap();
        out.as_slice().to_vec()
    }

    #[test]
    fn escapes_as_go_does() {
        assert_eq!(run(url_query, b"a b&c=d/\xff~"), b"a+b%26c%3Dd%2F%FF~");
        assert_eq!(
            run(html, b"<a href='x'>\"&\0"),
            "&lt;a href=&#39;x&#39;&gt;&#34;&amp;\u{FFFD}".as_bytes()
        );
        assert_eq!(
            run(
                js,
                "a'b\"c\\<>&=\n\u{7f}é\u{a0}\u{2028}\u{1F600}".as_bytes()
            ),
            "a\\'b\\\"c\\\\\\u003C\\u003E\\u0026\\u003D\\u000A\u{7f}é\\u00A0\\u2028\u{1F600}"
                .as_bytes()
        );
        assert_eq!(run(js, b"\xffx"), b"\xffx");
    }
}
