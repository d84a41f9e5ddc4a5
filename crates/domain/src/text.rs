//! Text rules shared by every name-like field: trimming, length limits, no control characters,
//! and the normalized search key used for uniqueness and `q=` search.

use crate::validation::{FieldError, invalid};

/// A trimmed, non-empty, single-line text of at most `max` characters.
pub fn parse_line(raw: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("required", "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(invalid(
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid("invalid", "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Like [`parse_line`], but an absent or blank value is `None`.
pub fn parse_optional_line(raw: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => parse_line(value, max).map(Some),
    }
}

/// The key two names are compared by: lower case, inner white space folded to one space.
/// "ACME  Tools" and "acme tools" share a key, so they cannot both exist.
pub fn search_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_line_is_trimmed_and_checked() {
        assert_eq!(parse_line("  Acme  ", 10).unwrap(), "Acme");
        assert_eq!(parse_line("   ", 10).unwrap_err().code, "required");
        assert_eq!(parse_line("abcdefghijk", 10).unwrap_err().code, "too_long");
        assert_eq!(parse_line("a\u{0}b", 10).unwrap_err().code, "invalid");
    }

    #[test]
    fn a_blank_optional_line_is_none() {
        assert_eq!(parse_optional_line(Some("  "), 5).unwrap(), None);
        assert_eq!(parse_optional_line(None, 5).unwrap(), None);
        assert_eq!(
            parse_optional_line(Some(" x "), 5).unwrap(),
            Some("x".into())
        );
    }

    proptest! {
        #[test]
        fn search_keys_ignore_case_and_spacing(words in proptest::collection::vec("[a-zA-Z]{1,8}", 1..5)) {
            let spaced = words.join("   ");
            let single = words.join(" ").to_uppercase();
            prop_assert_eq!(search_key(&spaced), search_key(&single));
        }

        #[test]
        fn parsed_lines_never_exceed_the_limit(raw in "\\PC{0,40}") {
            if let Ok(line) = parse_line(&raw, 20) {
                prop_assert!(line.chars().count() <= 20);
                prop_assert_eq!(line.trim(), line.as_str());
            }
        }
    }
}
