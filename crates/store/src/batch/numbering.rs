//! The statement that numbers and inserts a batch's documents of one type on PostgreSQL: the
//! counter, every header and every line in one data-modifying `WITH`, the rows passed as JSON.

use std::collections::HashMap;

use uuid::Uuid;

use crate::document::{NUMBER_KEY, Rows};
use crate::error::{Result, StoreError};
use crate::sql::{Value, json_recordset, query};
use crate::tx::Tx;

/// One statement for several documents of one type: the counter moves by their count, and
/// each header whose number is free is inserted with its lines. Answers each document's number,
/// or None for one whose number was taken (chosen by hand earlier).
pub(super) async fn insert_numbered(
    tx: &mut Tx,
    org_id: Uuid,
    doc_type: &str,
    documents: &[(Rows, Rows)],
) -> Result<Vec<Option<String>>> {
    let Some((first_header, first_lines)) = documents.first() else {
        return Ok(Vec::new());
    };
    let header_columns: Vec<&str> = first_header.columns.split(',').map(str::trim).collect();
    let column = |name: &str| {
        header_columns
            .iter()
            .position(|column| *column == name)
            .ok_or_else(|| StoreError::Corrupt(format!("{} has no {name}", first_header.table)))
    };
    let (id_column, number_column) = (column("id")?, column("number")?);
    // Each header's values without its number, after its place in the batch, `k` (1, 2, …).
    let mut json_columns = vec!["k"];
    json_columns.extend(
        header_columns
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != number_column)
            .map(|(_, column)| *column),
    );
    let header_values: Vec<Vec<Value>> = documents
        .iter()
        .enumerate()
        .map(|(k, (header, _))| {
            let mut row = vec![Value::Int(Some(k as i64 + 1))];
            row.extend(
                header
                    .values
                    .iter()
                    .enumerate()
                    .filter(|&(c, _)| c != number_column)
                    .map(|(_, value)| value.clone()),
            );
            row
        })
        .collect();
    let header_rows: Vec<&[Value]> = header_values.iter().map(Vec::as_slice).collect();
    let (headers_from, headers_json) = json_recordset(4, "h", &json_columns, &header_rows);
    // The number as `document_number` writes it: zero-padded to six digits, all past six.
    let n = "(counter.last - $3 + h.k)::text";
    let select: Vec<String> = header_columns
        .iter()
        .map(|column| match *column {
            "number" => format!("$2 || '-' || lpad({n}, greatest(6, length({n})), '0')"),
            column => format!("h.{column}"),
        })
        .collect();
    let mut sql = format!(
        "WITH counter AS (INSERT INTO document_numbers (org_id, doc_type, last) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, doc_type) DO UPDATE SET last = document_numbers.last + $3 \
         RETURNING last), \
         header AS (INSERT INTO {} ({}) SELECT {} FROM {headers_from} CROSS JOIN counter \
         ON CONFLICT ({NUMBER_KEY}) DO NOTHING RETURNING id, number)",
        first_header.table,
        header_columns.join(", "),
        select.join(", "),
    );
    let mut args = vec![
        Value::text(org_id.to_string()),
        Value::text(doc_type),
        Value::Int(Some(documents.len() as i64)),
        headers_json,
    ];
    let line_rows: Vec<&[Value]> = documents
        .iter()
        .flat_map(|(_, lines)| lines.values.chunks(lines.width))
        .collect();
    if !line_rows.is_empty() {
        let line_columns: Vec<&str> = first_lines.columns.split(',').map(str::trim).collect();
        let (lines_from, lines_json) = json_recordset(5, "line", &line_columns, &line_rows);
        let columns = line_columns.join(", ");
        sql.push_str(&format!(
            ", lines AS (INSERT INTO {} ({columns}) SELECT {columns} FROM {lines_from} \
             WHERE order_id IN (SELECT id FROM header))",
            first_lines.table
        ));
        args.push(lines_json);
    }
    sql.push_str(" SELECT id, number FROM header");
    let stored: Vec<(String, String)> = query(sql).bind_all(args).fetch_all(tx).await?;
    let mut by_id: HashMap<String, String> = stored.into_iter().collect();
    Ok(documents
        .iter()
        .map(|(header, _)| match header.values.get(id_column) {
            Some(Value::Text(Some(id))) => by_id.remove(id),
            _ => None,
        })
        .collect())
}
