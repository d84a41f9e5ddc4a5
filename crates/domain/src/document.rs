//! What every kind of business document shares (purchase and sales orders, and the documents
//! the later modules add): its human number and the most lines it may hold.

/// The most lines one document may hold; more is refused under `lines`.
pub const MAX_LINES: usize = 500;

/// A document number like `PO-000123`: the type's prefix and the organization's counter for
/// that type, zero-padded to six digits (more digits once it passes 999,999).
pub fn document_number(prefix: &str, n: i64) -> String {
    format!("{prefix}-{n:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_zero_padded_per_type_and_grow_past_six_digits() {
        assert_eq!(document_number("PO", 123), "PO-000123");
        assert_eq!(document_number("SO", 1_234_567), "SO-1234567");
    }
}
