//! The CSV format of exports: RFC 4180 lines, CRLF, formulas defused.

/// The header line.
pub fn header(columns: &[super::Column]) -> String {
    line(columns.iter().map(|c| c.name.to_owned()).collect())
}

/// One CSV line: fields quoted when needed, and cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@` first) prefixed with `'`.
pub fn line(fields: Vec<String>) -> String {
    let mut out = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = if field.starts_with(['=', '+', '-', '@']) {
            format!("'{field}")
        } else {
            field
        };
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed_and_formulas_are_defused() {
        let row = line(vec![
            "plain".into(),
            "a,b".into(),
            "say \"hi\"".into(),
            "=SUM(A1)".into(),
            String::new(),
        ]);
        assert_eq!(row, "plain,\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),\r\n");
    }
}
