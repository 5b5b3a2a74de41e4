//! The signed content: a template over `{body}`, `{timestamp}`, `{id}` and
//! `{header:Name}`, everything else literal.

use crate::verify::fields::{intern_header, is_header_name};

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(Vec<u8>),
    Body,
    Timestamp,
    /// The delivery id's header value.
    Id,
    /// A header's value (name lower-cased).
    Header(&'static str),
}

/// Parses a template; the message says what is wrong. `{{` and `}}` are
/// literal braces.
pub(crate) fn parse(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("{{") || rest.starts_with("}}") {
            literal.push(rest.as_bytes()[0]);
            rest = &rest[2..];
            continue;
        }
        if c == '}' {
            return Err("a lone '}' (write '}}' for a literal brace)".into());
        }
        if c != '{' {
            literal.extend_from_slice(c.to_string().as_bytes());
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let end = rest
            .find('}')
            .ok_or("a '{' is not closed (write '{{' for a literal brace)")?;
        let name = &rest[1..end];
        let piece = match name {
            "body" => Piece::Body,
            "timestamp" => Piece::Timestamp,
            "id" => Piece::Id,
            _ => match name.strip_prefix("header:") {
                Some(h) if is_header_name(h) => Piece::Header(intern_header(h)),
                Some(h) => return Err(format!("{{header:{h}}}: {h:?} is not a header name")),
                None => {
                    return Err(format!(
                        "{{{name}}} is not one of {{body}}, {{timestamp}}, {{id}}, {{header:Name}}"
                    ))
                }
            },
        };
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(piece);
        rest = &rest[end + 1..];
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_literals_and_escapes() {
        assert_eq!(
            parse("{id}.{timestamp}.{body}").unwrap(),
            [
                Piece::Id,
                Piece::Literal(b".".to_vec()),
                Piece::Timestamp,
                Piece::Literal(b".".to_vec()),
                Piece::Body
            ]
        );
        assert_eq!(
            parse("{{v1}}:{header:X-Request-Path}{body}é").unwrap(),
            [
                Piece::Literal(b"{v1}:".to_vec()),
                Piece::Header("x-request-path"),
                Piece::Body,
                Piece::Literal("é".as_bytes().to_vec()),
            ]
        );
        assert_eq!(parse("{body}").unwrap(), [Piece::Body]);
    }

    #[test]
    fn malformed_templates_say_why() {
        for (bad, says) in [
            ("{body", "not closed"),
            ("{bodY}", "not one of"),
            ("{}", "not one of"),
            ("{header:}", "not a header name"),
            ("{header:a b}", "not a header name"),
            ("{body}}", "lone"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
