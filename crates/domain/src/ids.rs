//! Identifiers: UUIDv7 everywhere, so ids sort by creation time and index well.

use uuid::Uuid;

/// A new time-ordered id (UUIDv7).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_sort_by_creation() {
        let first = new_id();
        let second = new_id();
        assert_eq!(first.get_version_num(), 7);
        assert!(first < second, "{first} should sort before {second}");
    }
}
