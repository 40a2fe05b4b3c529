//! The syntax of a URI, RFC 3986 §3 (`URI = scheme ":" hier-part [ "?"
//! query ] [ "#" fragment ]`), which the image-spec asks of every entry of
//! a descriptor's `urls` (its schema says `"format": "uri"`).
//!
//! A narrow checker of that one rule, nothing more: it resolves nothing,
//! normalizes nothing and allocates nothing. Relative references are not
//! URIs (they have no scheme), and neither are IRIs (non-ASCII characters
//! must be percent-encoded).

use std::fmt;

/// Where a string breaks the URI grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// No `scheme ":"` at the start (a relative reference, or a bad scheme).
    Scheme,
    /// A byte the component may not hold, at this offset.
    Character {
        /// Which component: `userinfo`, `host`, `port`, `path`, `query`, `fragment`.
        component: &'static str,
        /// Byte offset in the string.
        at: usize,
    },
    /// `%` not followed by two hex digits, at this offset.
    PercentEncoding(usize),
    /// A bracketed host that is neither an IPv6 address nor `v…` (IPvFuture).
    IpLiteral,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::Scheme => f.write_str("it does not start with a scheme and ':'"),
            UriError::Character { component, at } => {
                write!(f, "byte {at} may not appear in its {component}")
            }
            UriError::PercentEncoding(at) => {
                write!(f, "'%' at byte {at} is not followed by two hex digits")
            }
            UriError::IpLiteral => f.write_str("its bracketed host is not an IP literal"),
        }
    }
}

impl std::error::Error for UriError {}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Checks `s[start..end]`: every byte is allowed by `ok` or starts a
/// percent-encoding `%XX`.
fn component(
    s: &[u8],
    start: usize,
    end: usize,
    name: &'static str,
    ok: impl Fn(u8) -> bool,
) -> Result<(), UriError> {
    let mut i = start;
    while i < end {
        let b = s[i];
        if b == b'%' {
            let hex = |j: usize| j < end && s[j].is_ascii_hexdigit();
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(UriError::PercentEncoding(i));
            }
            i += 3;
        } else if ok(b) {
            i += 1;
        } else {
            return Err(UriError::Character {
                component: name,
                at: i,
            });
        }
    }
    Ok(())
}

/// `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`
fn pchar(b: u8) -> bool {
    unreserved(b) || sub_delim(b) || b == b':' || b == b'@'
}

/// `authority = [ userinfo "@" ] host [ ":" port ]`, at `s[start..end]`.
fn authority(s: &[u8], start: usize, end: usize) -> Result<(), UriError> {
    let host_start = match s[start..end].iter().position(|&b| b == b'@') {
        Some(p) => {
            component(s, start, start + p, "userinfo", |b| {
                unreserved(b) || sub_delim(b) || b == b':'
            })?;
            start + p + 1
        }
        None => start,
    };
    let port_from = if host_start < end && s[host_start] == b'[' {
        // IP-literal = "[" ( IPv6address / IPvFuture ) "]"
        let Some(close) = s[host_start..end].iter().position(|&b| b == b']') else {
            return Err(UriError::IpLiteral);
        };
        let close = host_start + close;
        ip_literal(&s[host_start + 1..close])?;
        close + 1
    } else {
        // reg-name = *( unreserved / pct-encoded / sub-delims ); a port
        // follows the last ':' (a reg-name holds none).
        let host_end = s[host_start..end]
            .iter()
            .rposition(|&b| b == b':')
            .map_or(end, |p| host_start + p);
        component(s, host_start, host_end, "host", |b| {
            unreserved(b) || sub_delim(b)
        })?;
        host_end
    };
    if port_from < end {
        if s[port_from] != b':' {
            return Err(UriError::Character {
                component: "host",
                at: port_from,
            });
        }
        if let Some(p) = s[port_from + 1..end]
            .iter()
            .position(|b| !b.is_ascii_digit())
        {
            return Err(UriError::Character {
                component: "port",
                at: port_from + 1 + p,
            });
        }
    }
    Ok(())
}

fn ip_literal(inner: &[u8]) -> Result<(), UriError> {
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    if let Some(rest) = inner.strip_prefix(b"v").or(inner.strip_prefix(b"V")) {
        let dot = rest.iter().position(|&b| b == b'.');
        return match dot {
            Some(d)
                if d > 0
                    && rest[..d].iter().all(u8::is_ascii_hexdigit)
                    && rest.len() > d + 1
                    && rest[d + 1..]
                        .iter()
                        .all(|&b| unreserved(b) || sub_delim(b) || b == b':') =>
            {
                Ok(())
            }
            _ => Err(UriError::IpLiteral),
        };
    }
    // IPv6address: the text forms of RFC 4291 §2.2, as the standard
    // library reads them (no zone identifiers, which RFC 3986 has not).
    std::str::from_utf8(inner)
        .ok()
        .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
        .map(|_| ())
        .ok_or(UriError::IpLiteral)
}

/// Checks that `s` is a URI by RFC 3986's `URI` rule.
///
/// ```
/// use ocipick::uri::{check, UriError};
/// assert!(check("https://example.com/foo").is_ok());
/// assert!(check("urn:oasis:names:specification:docbook:dtd:xml:4.1.2").is_ok());
/// assert_eq!(check("value"), Err(UriError::Scheme));
/// assert!(check("https://example.com/a b").is_err());
/// ```
pub fn check(s: &str) -> Result<(), UriError> {
    let b = s.as_bytes();
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    let colon = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')));
    let colon = match colon {
        Some(c) if c > 0 && b[c] == b':' && b[0].is_ascii_alphabetic() => c,
        _ => return Err(UriError::Scheme),
    };
    let end = b.len();
    let hash = b[colon..]
        .iter()
        .position(|&c| c == b'#')
        .map(|p| colon + p);
    let before_fragment = hash.unwrap_or(end);
    let question = b[colon..before_fragment]
        .iter()
        .position(|&c| c == b'?')
        .map(|p| colon + p);
    let path_end = question.unwrap_or(before_fragment);
    let mut path_start = colon + 1;
    // hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty
    if b[path_start..path_end].starts_with(b"//") {
        let auth_start = path_start + 2;
        let auth_end = b[auth_start..path_end]
            .iter()
            .position(|&c| c == b'/')
            .map_or(path_end, |p| auth_start + p);
        authority(b, auth_start, auth_end)?;
        path_start = auth_end;
    }
    // Without an authority the path cannot start with "//" (ruled out
    // above); every form is then segments of pchar separated by '/'.
    component(b, path_start, path_end, "path", |c| pchar(c) || c == b'/')?;
    let query_like = |c: u8| pchar(c) || c == b'/' || c == b'?';
    if let Some(q) = question {
        component(b, q + 1, before_fragment, "query", query_like)?;
    }
    if let Some(h) = hash {
        component(b, h + 1, end, "fragment", query_like)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_table() {
        let good = [
            "https://example.com/foo",
            "http://example.com",
            "http://example.com:",
            "http://example.com:8080/a/b?c=d&e#f",
            "https://user:pw@example.com/x",
            "https://[::1]:5000/v2/",
            "https://[2001:db8::7]/c=GB?objectClass?one",
            "https://[v7.fe80::a+en1]/",
            "http://127.0.0.1/",
            "ftp://ftp.is.co.za/rfc/rfc1808.txt",
            "ldap://[2001:db8::7]/c=GB?objectClass?one",
            "mailto:John.Doe@example.com",
            "news:comp.infosystems.www.servers.unix",
            "tel:+1-816-555-1212",
            "telnet://192.0.2.16:80/",
            "urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
            "file:///etc/hosts",
            "x:",
            "a+b-c.d:rest",
            "https://example.com/%7Euser/%E2%82%AC",
            "https://example.com/?q=a/b?c#frag/ment?x",
            "https://example.com/#",
            "https://ex%41mple.com/",
            "http://",
        ];
        for s in good {
            assert_eq!(check(s), Ok(()), "{s}");
        }
        let bad: &[(&str, UriError)] = &[
            ("value", UriError::Scheme),
            ("", UriError::Scheme),
            (":foo", UriError::Scheme),
            ("1http://example.com", UriError::Scheme),
            ("ht tp://example.com", UriError::Scheme),
            ("//example.com/foo", UriError::Scheme),
            ("/relative/path", UriError::Scheme),
            (
                "https://example.com/a b",
                UriError::Character {
                    component: "path",
                    at: 21,
                },
            ),
            (
                "https://example.com/a|b",
                UriError::Character {
                    component: "path",
                    at: 21,
                },
            ),
            (
                "https://example.com/\u{e9}",
                UriError::Character {
                    component: "path",
                    at: 20,
                },
            ),
            (
                "https://example.com/a\\b",
                UriError::Character {
                    component: "path",
                    at: 21,
                },
            ),
            (
                "https://exa mple.com/",
                UriError::Character {
                    component: "host",
                    at: 11,
                },
            ),
            (
                "https://example.com:80a/",
                UriError::Character {
                    component: "port",
                    at: 22,
                },
            ),
            (
                "https://a@b@c/",
                UriError::Character {
                    component: "host",
                    at: 11,
                },
            ),
            (
                "https://us er@example.com/",
                UriError::Character {
                    component: "userinfo",
                    at: 10,
                },
            ),
            ("https://[::1/", UriError::IpLiteral),
            ("https://[::g]/", UriError::IpLiteral),
            ("https://[fe80::1%25en0]/", UriError::IpLiteral),
            ("https://[v.x]/", UriError::IpLiteral),
            (
                "https://[::1]x/",
                UriError::Character {
                    component: "host",
                    at: 13,
                },
            ),
            ("https://example.com/%zz", UriError::PercentEncoding(20)),
            ("https://example.com/%4", UriError::PercentEncoding(20)),
            (
                "https://example.com/?a b",
                UriError::Character {
                    component: "query",
                    at: 22,
                },
            ),
            (
                "https://example.com/#a#b",
                UriError::Character {
                    component: "fragment",
                    at: 22,
                },
            ),
            (
                "https://example.com/\n",
                UriError::Character {
                    component: "path",
                    at: 20,
                },
            ),
        ];
        for (s, err) in bad {
            assert_eq!(check(s).as_ref(), Err(err), "{s:?}");
        }
    }
}
