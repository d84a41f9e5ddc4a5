//! A small CSV reader (RFC 4180): comma-separated fields, double-quoted fields that may hold
//! commas, quotes (`""`) and line breaks, CRLF or LF line ends, and an optional UTF-8 BOM.

/// One record and the line of the text it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Why the text is not CSV, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub message: &'static str,
}

/// Every record of `text`; lines with nothing on them are skipped.
pub fn records(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        // Whether the current field was quoted, and whether its closing quote was seen.
        let mut quoted = false;
        let mut closed = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted && !closed {
                    return Err(CsvError {
                        line: start,
                        message: "a quoted field is never closed",
                    });
                }
                break;
            };
            if quoted && !closed {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => closed = true,
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    quoted = false;
                    closed = false;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    line += 1;
                    break;
                }
                '"' if field.is_empty() && !quoted => quoted = true,
                _ if closed => {
                    return Err(CsvError {
                        line,
                        message: "text after a closing quote (quote the whole field)",
                    });
                }
                '"' => {
                    return Err(CsvError {
                        line,
                        message: "a quote inside an unquoted field (quote the field and double the quote)",
                    });
                }
                _ => field.push(c),
            }
        }
        fields.push(field);
        let blank = fields.len() == 1 && fields[0].trim().is_empty() && !quoted;
        if !blank {
            records.push(Record {
                line: start,
                fields,
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text)
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let text = "\u{feff}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\nlast,,\n";
        assert_eq!(
            fields(text),
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\nlines"],
                vec!["last", "", ""],
            ]
        );
        let lines: Vec<usize> = records(text).unwrap().iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 5]);
    }

    #[test]
    fn broken_quoting_names_its_line() {
        assert_eq!(
            records("a,b\n\"open,x\n").unwrap_err(),
            CsvError {
                line: 2,
                message: "a quoted field is never closed"
            }
        );
        assert_eq!(records("a\n\"x\"y\n").unwrap_err().line, 2);
        assert_eq!(records("a\nx\"y\n").unwrap_err().line, 2);
    }

    proptest! {
        #[test]
        fn written_fields_read_back(rows in proptest::collection::vec(proptest::collection::vec("[a-z ,\"\n]{0,6}", 1..4), 1..5)) {
            let text: String = rows
                .iter()
                .map(|row| {
                    let quoted: Vec<String> = row.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
                    quoted.join(",") + "\r\n"
                })
                .collect();
            prop_assert_eq!(fields(&text), rows);
        }
    }
}
