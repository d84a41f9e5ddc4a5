//! Keyset pagination: a page size and an opaque cursor naming the last row already seen.
//!
//! Lists are ordered by id (UUIDv7, so by creation time); the cursor is that id, encoded so
//! clients treat it as opaque and do not build their own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::validation::FieldErrors;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Which page of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// Rows strictly after this id.
    pub after: Option<Uuid>,
}

impl PageRequest {
    /// From the `limit` and `cursor` query parameters; errors are recorded under those names.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>, errors: &mut FieldErrors) -> Self {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    errors.add(
                        "limit",
                        "out_of_range",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    );
                    DEFAULT_LIMIT
                }
            },
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => {
                let decoded = decode_cursor(raw);
                if decoded.is_none() {
                    errors.add("cursor", "invalid", "is not a cursor this server gave out");
                }
                decoded
            }
        };
        Self { limit, after }
    }

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

/// One page of rows and the cursor of the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// From up to `limit + 1` rows fetched in id order: the extra row only says another page exists.
    pub fn from_overfetch(
        mut rows: Vec<T>,
        request: PageRequest,
        id_of: impl Fn(&T) -> Uuid,
    ) -> Self {
        let has_more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|row| encode_cursor(id_of(row)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub fn decode_cursor(raw: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_apply_and_bad_values_are_reported_by_name() {
        let mut errors = FieldErrors::new();
        let page = PageRequest::parse(None, None, &mut errors);
        assert_eq!(
            page,
            PageRequest {
                limit: DEFAULT_LIMIT,
                after: None
            }
        );
        assert!(errors.is_empty());
        PageRequest::parse(Some("0"), Some("not-a-cursor!"), &mut errors);
        let fields: Vec<_> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
    }

    #[test]
    fn an_overfetched_row_yields_a_cursor_to_the_last_kept_row() {
        let ids: Vec<Uuid> = (0..3).map(|_| crate::new_id()).collect();
        let page = Page::from_overfetch(ids.clone(), PageRequest::first(2), |id| *id);
        assert_eq!(page.items, ids[..2]);
        assert_eq!(
            page.next_cursor.as_deref().and_then(decode_cursor),
            Some(ids[1])
        );
        let last = Page::from_overfetch(ids[..2].to_vec(), PageRequest::first(2), |id| *id);
        assert_eq!(last.next_cursor, None);
    }

    proptest! {
        #[test]
        fn cursors_round_trip(bytes in proptest::array::uniform16(any::<u8>())) {
            let id = Uuid::from_bytes(bytes);
            prop_assert_eq!(decode_cursor(&encode_cursor(id)), Some(id));
        }
    }
}
