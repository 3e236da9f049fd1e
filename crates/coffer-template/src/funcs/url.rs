//! sprig's `urlParse` and `urlJoin`, on a port of Go 1.26's `net/url`
//! (`Parse`, `URL.String`, and their escaping rules), so that a URL is
//! split and rebuilt exactly as External Secrets does it. A URL that Go
//! refuses fails the render (sprig panics), without quoting it.

use std::collections::BTreeMap;

use super::{Budget, FResult, Func, FuncError, arity, copied, map_result, read, str_arg};
use crate::value::{MapKind, Value};

pub(super) fn find(name: &str) -> Option<Func> {
    Some(match name {
        "urlParse" => url_parse,
        "urlJoin" => url_join,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

/// RFC 3986's sub-delims, `!$&'()*+,;=`.
fn is_sub_delim(c: u8) -> bool {
    matches!(
        c,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && (is_sub_delim(c) || matches!(c, b':' | b'[' | b']' | b'<' | b'>' | b'"'))
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            Mode::Path => return c == b'?',
            _ => {}
        },
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

const BAD: FuncError = FuncError::Other("unable to parse url");

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Go's `unescape` (no query-component mode: `+` stays `+`).
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, FuncError> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len()
                    || !s[i + 1].is_ascii_hexdigit()
                    || !s[i + 2].is_ascii_hexdigit()
                {
                    return Err(BAD);
                }
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && &s[i..i + 3] != b"%25" {
                    return Err(BAD);
                }
                if mode == Mode::Zone {
                    let v = unhex(s[i + 1]) << 4 | unhex(s[i + 2]);
                    if &s[i..i + 3] != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(BAD);
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(BAD);
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            out.push(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Go's `escape`.
fn escape(out: &mut Vec<u8>, s: &[u8], mode: Mode) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in s {
        if should_escape(c, mode) {
            out.extend([b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        } else {
            out.push(c);
        }
    }
}

/// The parts of a URL sprig's functions use (Go's `url.URL`).
#[derive(Default)]
struct Url {
    scheme: Vec<u8>,
    opaque: Vec<u8>,
    user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    host: Vec<u8>,
    path: Vec<u8>,
    omit_host: bool,
    force_query: bool,
    raw_query: Vec<u8>,
    fragment: Vec<u8>,
}

/// Go's `getScheme`: the scheme and the rest.
fn get_scheme(raw: &[u8]) -> Result<(&[u8], &[u8]), FuncError> {
    for (i, &c) in raw.iter().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => return Ok((&[], raw)),
            b':' if i == 0 => return Err(BAD),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok((&[], raw)),
        }
    }
    Ok((&[], raw))
}

fn valid_optional_port(p: &[u8]) -> bool {
    p.is_empty() || (p[0] == b':' && p[1..].iter().all(u8::is_ascii_digit))
}

/// Go's `parseHost`.
fn parse_host(scheme: &[u8], host: &[u8]) -> Result<Vec<u8>, FuncError> {
    let open = host.iter().rposition(|&b| b == b'[');
    if open.is_some_and(|i| i > 0) {
        return Err(BAD);
    }
    if open == Some(0) {
        let close = host.iter().rposition(|&b| b == b']').ok_or(BAD)?;
        let colon_port = &host[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(BAD);
        }
        let port = unescape(colon_port, Mode::Host)?;
        let name = &host[1..close];
        let unescaped = match memchr::memmem::find(name, b"%25") {
            Some(z) => {
                let mut h = unescape(&name[..z], Mode::Host)?;
                h.extend(unescape(&name[z..], Mode::Zone)?);
                h
            }
            None => unescape(name, Mode::Host)?,
        };
        let addr_part = match unescaped.iter().position(|&b| b == b'%') {
            Some(z) => &unescaped[..z],
            None => &unescaped[..],
        };
        std::str::from_utf8(addr_part)
            .ok()
            .and_then(|a| a.parse::<std::net::Ipv6Addr>().ok())
            .ok_or(BAD)?;
        let mut out = b"[".to_vec();
        out.extend(unescaped);
        out.push(b']');
        out.extend(port);
        return Ok(out);
    }
    if let Some(first) = host.iter().position(|&b| b == b':') {
        let last = host.iter().rposition(|&b| b == b':').unwrap_or(first);
        // Go 1.26: http and https insist on one colon
        let i = if scheme == b"http" || scheme == b"https" {
            first
        } else {
            last
        };
        if !valid_optional_port(&host[i..]) {
            return Err(BAD);
        }
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &[u8]) -> bool {
    s.iter().all(|&c| {
        c.is_ascii_alphanumeric()
            || is_sub_delim(c)
            || matches!(c, b'-' | b'.' | b'_' | b':' | b'~' | b'%' | b'@')
    })
}

/// Go's `url.Parse`.
fn parse(raw: &[u8]) -> Result<Url, FuncError> {
    let (raw, frag) = match memchr::memchr(b'#', raw) {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(BAD);
    }
    let mut u = Url::default();
    if raw == b"*" {
        u.path = b"*".to_vec();
    } else {
        let (scheme, rest) = get_scheme(raw)?;
        u.scheme = scheme.to_ascii_lowercase();
        let mut rest = rest;
        if rest.ends_with(b"?") && rest.iter().filter(|&&b| b == b'?').count() == 1 {
            u.force_query = true;
            rest = &rest[..rest.len() - 1];
        } else if let Some(q) = memchr::memchr(b'?', rest) {
            u.raw_query = rest[q + 1..].to_vec();
            rest = &rest[..q];
        }
        if !rest.starts_with(b"/") {
            if !u.scheme.is_empty() {
                u.opaque = rest.to_vec();
                return finish_fragment(u, frag);
            }
            let segment = rest.split(|&b| b == b'/').next().unwrap_or_default();
            if segment.contains(&b':') {
                return Err(BAD);
            }
        }
        if (!u.scheme.is_empty() || !rest.starts_with(b"///")) && rest.starts_with(b"//") {
            let authority_and_path = &rest[2..];
            let (authority, path) = match memchr::memchr(b'/', authority_and_path) {
                Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
                None => (authority_and_path, &b""[..]),
            };
            rest = path;
            match authority.iter().rposition(|&b| b == b'@') {
                None => u.host = parse_host(&u.scheme, authority)?,
                Some(at) => {
                    u.host = parse_host(&u.scheme, &authority[at + 1..])?;
                    let info = &authority[..at];
                    if !valid_userinfo(info) {
                        return Err(BAD);
                    }
                    u.user = Some(match memchr::memchr(b':', info) {
                        None => (unescape(info, Mode::UserPassword)?, None),
                        Some(c) => (
                            unescape(&info[..c], Mode::UserPassword)?,
                            Some(unescape(&info[c + 1..], Mode::UserPassword)?),
                        ),
                    });
                }
            }
        } else if !u.scheme.is_empty() && rest.starts_with(b"/") {
            u.omit_host = true;
        }
        u.path = unescape(rest, Mode::Path)?;
    }
    finish_fragment(u, frag)
}

fn finish_fragment(mut u: Url, frag: Option<&[u8]>) -> Result<Url, FuncError> {
    if let Some(f) = frag {
        u.fragment = unescape(f, Mode::Fragment)?;
    }
    Ok(u)
}

/// Go's `Userinfo.String`.
fn userinfo(out: &mut Vec<u8>, user: &(Vec<u8>, Option<Vec<u8>>)) {
    escape(out, &user.0, Mode::UserPassword);
    if let Some(p) = &user.1 {
        out.push(b':');
        escape(out, p, Mode::UserPassword);
    }
}

/// Go's `URL.String`.
fn to_string(u: &Url) -> Vec<u8> {
    let mut out = Vec::new();
    if !u.scheme.is_empty() {
        out.extend(&u.scheme);
        out.push(b':');
    }
    if !u.opaque.is_empty() {
        out.extend(&u.opaque);
    } else {
        let no_authority = u.host.is_empty() && u.user.is_none();
        let has_authority_part = !u.scheme.is_empty() || !no_authority;
        if has_authority_part && !(u.omit_host && no_authority) {
            if !u.host.is_empty() || !u.path.is_empty() || u.user.is_some() {
                out.extend(b"//");
            }
            if let Some(user) = &u.user {
                userinfo(&mut out, user);
                out.push(b'@');
            }
            escape(&mut out, &u.host, Mode::Host);
        }
        let mut path = Vec::new();
        if u.path == b"*" {
            path.extend(b"*");
        } else {
            escape(&mut path, &u.path, Mode::Path);
        }
        if !path.is_empty() && path[0] != b'/' && !u.host.is_empty() {
            out.push(b'/');
        }
        if out.is_empty() {
            let segment = path.split(|&b| b == b'/').next().unwrap_or_default();
            if segment.contains(&b':') {
                out.extend(b"./");
            }
        }
        out.extend(path);
    }
    if u.force_query || !u.raw_query.is_empty() {
        out.push(b'?');
        out.extend(&u.raw_query);
    }
    if !u.fragment.is_empty() {
        out.push(b'#');
        escape(&mut out, &u.fragment, Mode::Fragment);
    }
    out
}

/// Go's `URL.Hostname`.
fn hostname(host: &[u8]) -> &[u8] {
    let mut h = host;
    if let Some(c) = h.iter().rposition(|&b| b == b':')
        && valid_optional_port(&h[c..])
    {
        h = &h[..c];
    }
    if h.starts_with(b"[") && h.ends_with(b"]") {
        h = &h[1..h.len() - 1];
    }
    h
}

/// sprig's `urlParse`: a dict of scheme, host, hostname, path, query,
/// opaque, fragment and userinfo.
fn url_parse(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let s = str_arg(&args[0])?;
    read(ctx, &[s])?;
    let u = parse(s)?;
    let mut info = Vec::new();
    if let Some(user) = &u.user {
        userinfo(&mut info, user);
    }
    let parts: [(&str, &[u8]); 8] = [
        ("scheme", &u.scheme),
        ("host", &u.host),
        ("hostname", hostname(&u.host)),
        ("path", &u.path),
        ("query", &u.raw_query),
        ("opaque", &u.opaque),
        ("fragment", &u.fragment),
        ("userinfo", &info),
    ];
    let mut entries = BTreeMap::new();
    for (k, v) in parts {
        entries.insert(k.to_owned(), copied(ctx, v)?);
    }
    ctx.values(1)?;
    map_result(ctx, entries, MapKind::Any)
}

/// sprig's `dictGetOrEmpty`: a string entry, `""` when absent (any other
/// type panics in sprig).
fn meta(ctx: &Budget, d: &BTreeMap<String, Value>, key: &str) -> Result<Vec<u8>, FuncError> {
    match d.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Str(s)) => {
            ctx.bytes(s.len())?;
            Ok(s.as_bytes().to_vec())
        }
        Some(_) => Err(FuncError::Other("a URL part is not a string")),
    }
}

/// sprig's `urlJoin`: a URL from such a dict.
fn url_join(ctx: &Budget, args: &[Value]) -> FResult {
    arity(args, 1)?;
    let d = super::collections::any_map(&args[0])?;
    let mut u = Url {
        scheme: meta(ctx, &d, "scheme")?,
        host: meta(ctx, &d, "host")?,
        path: meta(ctx, &d, "path")?,
        raw_query: meta(ctx, &d, "query")?,
        opaque: meta(ctx, &d, "opaque")?,
        fragment: meta(ctx, &d, "fragment")?,
        ..Url::default()
    };
    let info = meta(ctx, &d, "userinfo")?;
    if !info.is_empty() {
        let mut probe = b"proto://".to_vec();
        probe.extend(&info);
        probe.extend(b"@host");
        u.user = parse(&probe)?.user;
    }
    copied(ctx, &to_string(&u))
}
