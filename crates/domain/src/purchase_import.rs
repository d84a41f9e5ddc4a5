//! A purchase order as a vendor wrote it, to import: the vendor and parts by name, read from
//! JSON or from a CSV with one row per line, and the checks that need no master data.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::csv::records;
use crate::document::MAX_LINES;
use crate::money::{DecimalText, Money, Quantity};
use crate::text::parse_optional_line;
use crate::validation::FieldErrors;

/// The columns a CSV import may have, in the order the documentation lists them.
pub const CSV_COLUMNS: [&str; 11] = [
    "po_number",
    "vendor",
    "order_date",
    "part",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "notes",
    "vendor_id",
    "product_id",
];

/// Columns whose value belongs to the whole order: the same on every row (or blank).
const ORDER_COLUMNS: [&str; 5] = ["po_number", "vendor", "order_date", "notes", "vendor_id"];

/// The document of `POST /api/v1/purchasing/imports` (and of `/commit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDocument {
    /// The order's number; the next `PO-000123` when absent.
    pub po_number: Option<String>,
    /// The vendor as the document names it.
    #[schema(example = "Acme Bolt Co")]
    pub vendor: Option<String>,
    /// The vendor you chose; needed to commit (the preview fills in its match).
    pub vendor_id: Option<Uuid>,
    /// `YYYY-MM-DD`; kept in the order's notes.
    pub order_date: Option<String>,
    pub notes: Option<String>,
    #[serde(default)]
    pub lines: Vec<ImportLine>,
}

/// One line as the vendor wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLine {
    /// The part number or name, matched against product SKUs and names.
    #[schema(example = "hex bolt m8x30")]
    pub part: Option<String>,
    /// Matched when `part` is blank.
    pub description: Option<String>,
    pub quantity: Option<DecimalText>,
    /// The product's purchase or stock unit; the purchase unit when absent.
    pub unit: Option<String>,
    /// The product's standard cost when absent.
    pub unit_price: Option<DecimalText>,
    /// The product you chose; needed to commit (the preview fills in its match).
    pub product_id: Option<Uuid>,
    /// The CSV line this came from, for messages.
    #[serde(skip)]
    pub source_line: Option<usize>,
}

impl ImportLine {
    /// The text to match: the part, or the description when the part is blank.
    pub fn match_text(&self) -> Option<&str> {
        [&self.part, &self.description]
            .into_iter()
            .flatten()
            .map(|t| t.trim())
            .find(|t| !t.is_empty())
    }

    /// "line 2" in JSON, "line 2 (CSV line 3)" from a CSV.
    pub fn describe(&self, index: usize) -> String {
        match self.source_line {
            Some(line) => format!("lines[{index}] (CSV line {line})"),
            None => format!("lines[{index}]"),
        }
    }
}

/// The header name as written, folded: `PO Number` → `po_number`.
fn column_key(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

fn blank_to_none(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl ImportDocument {
    /// Reads the CSV import format: a header row naming [`CSV_COLUMNS`] (any order, any
    /// case), then one row per line; order columns repeat on every row or stay blank after
    /// the first. Problems are reported under `document`, `lines[i].<column>` or the column.
    pub fn from_csv(text: &str) -> Result<Self, FieldErrors> {
        let rows = records(text).map_err(|e| {
            FieldErrors::single(
                "document",
                "malformed_csv",
                format!("CSV line {}: {}", e.line, e.message),
            )
        })?;
        let Some((header, rows)) = rows.split_first() else {
            return Err(FieldErrors::single(
                "document",
                "empty",
                "the CSV has no header row",
            ));
        };
        let columns: Vec<String> = header.fields.iter().map(|c| column_key(c)).collect();
        let mut errors = FieldErrors::new();
        for (i, column) in columns.iter().enumerate() {
            if !CSV_COLUMNS.contains(&column.as_str()) {
                errors.add(
                    "document",
                    "unknown_column",
                    format!(
                        "unknown column {:?}; the columns are {}",
                        header.fields[i].trim(),
                        CSV_COLUMNS.join(", ")
                    ),
                );
            } else if columns[..i].contains(column) {
                errors.add(
                    "document",
                    "duplicate_column",
                    format!("the column {column:?} appears twice"),
                );
            }
        }
        let has = |name: &str| columns.iter().any(|c| c == name);
        if !has("vendor") && !has("vendor_id") {
            errors.add("document", "missing_column", "a vendor column is needed");
        }
        if !has("part") && !has("description") && !has("product_id") {
            errors.add("document", "missing_column", "a part column is needed");
        }
        if !has("quantity") {
            errors.add("document", "missing_column", "a quantity column is needed");
        }
        std::mem::take(&mut errors).finish()?;
        let mut document = Self::default();
        for (index, row) in rows.iter().enumerate() {
            if row.fields.len() != columns.len() {
                errors.add(
                    &format!("lines[{index}]"),
                    "malformed_csv",
                    format!(
                        "CSV line {} has {} fields, the header has {}",
                        row.line,
                        row.fields.len(),
                        columns.len()
                    ),
                );
                continue;
            }
            let cell = |name: &str| {
                columns
                    .iter()
                    .position(|c| c == name)
                    .and_then(|i| blank_to_none(&row.fields[i]))
            };
            for name in ORDER_COLUMNS {
                if let Some(value) = cell(name) {
                    document.set_order_field(name, value, index, row.line, &mut errors);
                }
            }
            let product_id = cell("product_id").and_then(|raw| {
                let parsed = Uuid::parse_str(&raw).ok();
                if parsed.is_none() {
                    errors.add(
                        &format!("lines[{index}].product_id"),
                        "invalid",
                        format!("CSV line {}: {raw:?} is not an id", row.line),
                    );
                }
                parsed
            });
            document.lines.push(ImportLine {
                part: cell("part"),
                description: cell("description"),
                quantity: cell("quantity").map(DecimalText),
                unit: cell("unit"),
                unit_price: cell("unit_price").map(DecimalText),
                product_id,
                source_line: Some(row.line),
            });
        }
        errors.finish()?;
        Ok(document)
    }

    /// Sets an order-wide value from a row; a row that disagrees with an earlier one is an
    /// error (one import is one order).
    fn set_order_field(
        &mut self,
        name: &str,
        value: String,
        index: usize,
        line: usize,
        errors: &mut FieldErrors,
    ) {
        let slot = match name {
            "po_number" => &mut self.po_number,
            "vendor" => &mut self.vendor,
            "order_date" => &mut self.order_date,
            "notes" => &mut self.notes,
            _ => {
                match Uuid::parse_str(&value) {
                    Ok(id) if self.vendor_id.is_none_or(|known| known == id) => {
                        self.vendor_id = Some(id);
                    }
                    Ok(_) => errors.add(
                        &format!("lines[{index}].vendor_id"),
                        "differs",
                        format!("CSV line {line}: every row must name the same vendor_id"),
                    ),
                    Err(_) => errors.add(
                        "vendor_id",
                        "invalid",
                        format!("CSV line {line}: {value:?} is not an id"),
                    ),
                }
                return;
            }
        };
        match slot {
            Some(known) if *known != value => errors.add(
                &format!("lines[{index}].{name}"),
                "differs",
                format!("CSV line {line}: {value:?} differs from {known:?} above; one import is one order"),
            ),
            Some(_) => {}
            None => *slot = Some(value),
        }
    }

    /// Checks what needs no master data: a vendor named, 1 to [`MAX_LINES`] lines each naming
    /// a part, decimals that parse, and the date. Returns the order date.
    pub fn check(&self, errors: &mut FieldErrors) -> Option<NaiveDate> {
        let named = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
        if !named(&self.vendor) && self.vendor_id.is_none() {
            errors.add("vendor", "required", "name the vendor");
        }
        if self.lines.is_empty() {
            errors.add("lines", "required", "the order has no lines");
        }
        if self.lines.len() > MAX_LINES {
            errors.add(
                "lines",
                "too_many",
                format!(
                    "at most {MAX_LINES} lines, the document has {}",
                    self.lines.len()
                ),
            );
        }
        for (i, line) in self.lines.iter().enumerate().take(MAX_LINES) {
            let at = |field: &str| format!("lines[{i}].{field}");
            if line.match_text().is_none() && line.product_id.is_none() {
                errors.add(&at("part"), "required", "name the part");
            }
            match &line.quantity {
                None => errors.add(&at("quantity"), "required", "is required"),
                Some(text) => match Quantity::parse(&text.0) {
                    Ok(q) if q > Quantity::ZERO => {}
                    Ok(_) => {
                        errors.add(&at("quantity"), "not_positive", "must be greater than zero")
                    }
                    Err(e) => errors.add(&at("quantity"), e.code, e.message),
                },
            }
            if let Some(text) = &line.unit_price
                && let Err(e) = Money::parse(&text.0).and_then(Money::non_negative)
            {
                errors.add(&at("unit_price"), e.code, e.message)
            }
        }
        if let Err(e) = parse_optional_line(self.notes.as_deref(), 1000) {
            errors.add("notes", e.code, e.message);
        }
        let raw = self.order_date.as_deref().map(str::trim)?;
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
        if date.is_none() {
            errors.add("order_date", "invalid", "must be a date like 2026-11-20");
        }
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: FieldErrors) -> Vec<String> {
        errors.into_vec().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_csv_becomes_one_order_with_a_line_per_row() {
        let text = "PO Number,Vendor,Order Date,Part,Description,Quantity,Unit,Unit Price\r\n\
                    V-1001,Acme Bolt Co,2026-11-20,hex bolt m8x30,\"Bolts, zinc\",10,box,1.20\r\n\
                    ,,,washer m8,,100,,\r\n";
        let document = ImportDocument::from_csv(text).unwrap();
        assert_eq!(document.po_number.as_deref(), Some("V-1001"));
        assert_eq!(document.vendor.as_deref(), Some("Acme Bolt Co"));
        assert_eq!(document.lines.len(), 2);
        assert_eq!(
            document.lines[0].description.as_deref(),
            Some("Bolts, zinc")
        );
        assert_eq!(document.lines[1].unit, None);
        assert_eq!(document.lines[1].source_line, Some(3));
        let mut errors = FieldErrors::new();
        let date = document.check(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(date, NaiveDate::from_ymd_opt(2026, 11, 20));
    }

    #[test]
    fn rows_that_disagree_on_the_order_are_refused() {
        let text = "vendor,part,quantity\nAcme,bolt,1\nOther,nut,2\n";
        assert_eq!(
            fields(ImportDocument::from_csv(text).unwrap_err()),
            ["lines[1].vendor"]
        );
    }

    #[test]
    fn unknown_and_missing_columns_are_named() {
        let errors = ImportDocument::from_csv("vendor,qty\nAcme,1\n").unwrap_err();
        let messages: Vec<String> = errors.into_vec().into_iter().map(|e| e.message).collect();
        assert!(messages[0].contains("\"qty\""), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("part column")));
        assert!(messages.iter().any(|m| m.contains("quantity column")));
    }

    #[test]
    fn a_short_row_and_broken_quoting_are_errors() {
        assert_eq!(
            fields(ImportDocument::from_csv("vendor,part,quantity\nAcme,bolt\n").unwrap_err()),
            ["lines[0]"]
        );
        assert_eq!(
            fields(ImportDocument::from_csv("vendor,part,quantity\nAcme,\"bolt,1\n").unwrap_err()),
            ["document"]
        );
    }

    #[test]
    fn checks_need_a_vendor_lines_parts_and_good_numbers() {
        let document = ImportDocument {
            order_date: Some("20/11/2026".into()),
            lines: vec![ImportLine {
                quantity: Some(DecimalText("0".into())),
                unit_price: Some(DecimalText("-1".into())),
                ..ImportLine::default()
            }],
            ..ImportDocument::default()
        };
        let mut errors = FieldErrors::new();
        document.check(&mut errors);
        assert_eq!(
            fields(errors),
            [
                "vendor",
                "lines[0].part",
                "lines[0].quantity",
                "lines[0].unit_price",
                "order_date"
            ]
        );
        let too_many = ImportDocument {
            vendor: Some("Acme".into()),
            lines: vec![
                ImportLine {
                    part: Some("bolt".into()),
                    quantity: Some(DecimalText("1".into())),
                    ..ImportLine::default()
                };
                MAX_LINES + 1
            ],
            ..ImportDocument::default()
        };
        let mut errors = FieldErrors::new();
        too_many.check(&mut errors);
        assert_eq!(fields(errors), ["lines"]);
    }
}
