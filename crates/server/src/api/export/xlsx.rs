//! The XLSX format of exports: a one-sheet Office Open XML workbook, streamed row by row into a
//! [`ZipStream`]. Text cells are inline strings (never formulas, so nothing to defuse), number
//! columns are numeric cells, the header row is bold and frozen.

use super::zip::{TooLarge, ZipStream};
use super::{Column, Kind};

/// The media type of XLSX.
pub const MEDIA_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The most rows a sheet may have (Excel's limit), the header included.
pub const MAX_ROWS: u64 = 1_048_576;

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>"#;

const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#;

/// Style 0 is plain, style 1 bold (the header).
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font/><font><b/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/><xf fontId="1" applyFont="1"/></cellXfs></styleSheet>"#;

const SHEET_START: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>"#;

const SHEET_END: &str = "</sheetData></worksheet>";

/// Why a workbook cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum XlsxError {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    #[error("more rows than a sheet holds ({MAX_ROWS})")]
    TooManyRows,
}

/// A workbook being written: the fixed parts first, then the sheet row by row.
#[derive(Debug)]
pub struct Workbook {
    zip: ZipStream,
    columns: &'static [Column],
    rows: u64,
}

impl Workbook {
    /// The workbook's fixed parts and the sheet's header row, named `sheet_name`.
    pub fn start(
        sheet_name: &str,
        columns: &'static [Column],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, XlsxError> {
        let mut zip = ZipStream::new(now);
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            escape(&sheet_name_of(sheet_name))
        );
        for (name, body) in [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", ROOT_RELS),
            ("xl/workbook.xml", &workbook),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/styles.xml", STYLES),
        ] {
            zip.start(name)?;
            zip.write(body.as_bytes())?;
        }
        zip.start("xl/worksheets/sheet1.xml")?;
        zip.write(SHEET_START.as_bytes())?;
        let mut workbook = Self {
            zip,
            columns,
            rows: 0,
        };
        let header = columns.iter().map(|c| c.name.to_owned()).collect();
        workbook.row(header, true)?;
        Ok(workbook)
    }

    /// Adds one row.
    pub fn push(&mut self, fields: Vec<String>) -> Result<(), XlsxError> {
        self.row(fields, false)
    }

    fn row(&mut self, fields: Vec<String>, header: bool) -> Result<(), XlsxError> {
        if self.rows >= MAX_ROWS {
            return Err(XlsxError::TooManyRows);
        }
        self.rows += 1;
        let r = self.rows;
        let mut xml = format!(r#"<row r="{r}">"#);
        for (i, field) in fields.iter().enumerate() {
            if field.is_empty() {
                continue;
            }
            let at = format!("{}{r}", column_letters(i));
            let style = if header { r#" s="1""# } else { "" };
            let numeric = !header
                && self.columns.get(i).is_some_and(|c| c.kind == Kind::Number)
                && is_number(field);
            if numeric {
                xml.push_str(&format!(r#"<c r="{at}"{style}><v>{field}</v></c>"#));
            } else {
                let space = if field.trim() != field {
                    r#" xml:space="preserve""#
                } else {
                    ""
                };
                xml.push_str(&format!(
                    r#"<c r="{at}"{style} t="inlineStr"><is><t{space}>{}</t></is></c>"#,
                    escape(field)
                ));
            }
        }
        xml.push_str("</row>");
        self.zip.write(xml.as_bytes())?;
        Ok(())
    }

    /// Ends the sheet and the archive.
    pub fn finish(&mut self) -> Result<(), XlsxError> {
        self.zip.write(SHEET_END.as_bytes())?;
        self.zip.finish()?;
        Ok(())
    }

    /// The bytes produced since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        self.zip.take()
    }
}

/// `A`, …, `Z`, `AA`, … for a 0-based column.
fn column_letters(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// A plain decimal (`-12.5000`): what a numeric cell may hold as it is.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Text as XML character data; characters XML 1.0 forbids are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name_of(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if cleaned.is_empty() {
        "export".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_like_a_spreadsheet() {
        let letters: Vec<String> = [0, 25, 26, 51, 52, 701, 702]
            .into_iter()
            .map(column_letters)
            .collect();
        assert_eq!(letters, ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn only_plain_decimals_are_numbers() {
        for yes in ["0", "12", "-12.5000", "3.25"] {
            assert!(is_number(yes), "{yes}");
        }
        for no in ["", "-", "1.", ".5", "1e5", "NaN", "007x", "1,5", "+1"] {
            assert!(!is_number(no), "{no}");
        }
    }

    #[test]
    fn a_workbook_comes_out_while_rows_go_in() {
        static COLUMNS: [Column; 2] = [super::super::text("name"), super::super::number("n")];
        let mut book = Workbook::start("rows", &COLUMNS, chrono::Utc::now()).unwrap();
        let (mut total, mut largest, mut written) = (book.take().len(), 0, 0usize);
        for page in 0..40 {
            for i in 0..500 {
                let name = format!("row {page}-{i} {}", "x".repeat(i % 100));
                written += name.len();
                book.push(vec![name, i.to_string()]).unwrap();
            }
            let out = book.take().len();
            largest = largest.max(out);
            total += out;
        }
        book.finish().unwrap();
        total += book.take().len();
        // 20,000 rows of text go out page by page: no page's bytes hold more than a slice.
        assert!(written > 1_000_000, "{written}");
        assert!(largest < 256 * 1024, "{largest}");
        assert!(total < written, "deflated: {total} of {written}");
    }

    #[test]
    fn text_is_escaped_and_forbidden_characters_dropped() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}\td"),
            "a&lt;b &amp; &quot;c&quot;\td"
        );
    }
}
