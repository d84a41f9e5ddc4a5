//! Importing a purchase order as the vendor wrote it: a read-only preview that matches the
//! vendor and each line's part to master records (with scores and alternatives) and says
//! whether the number is taken; then a commit with the chosen ids, through the same
//! [`purchasing::create`] as every other order (numbers, validation, events, idempotency).

use chrono::NaiveDate;
use serde::Serialize;
use steelyard_domain::FieldErrors;
use steelyard_domain::access::{DataScope, Permission};
use steelyard_domain::document::MAX_LINES;
use steelyard_domain::matching::{MatchStage, Outcome, Query, Ranking, Scored};
use steelyard_domain::money::Quantity;
use steelyard_domain::page::PageRequest;
use steelyard_domain::partner::{PartnerFilter, PartnerKind};
use steelyard_domain::product::{Product, ProductFilter};
use steelyard_domain::purchase::{LineDraft, PurchaseOrder, PurchaseOrderDraft};
use steelyard_domain::purchase_import::ImportDocument;
use steelyard_domain::record::RecordStatus;
use steelyard_store::StoreError;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::purchasing::{self, parse_number};
use crate::{App, Ctx, Error, Result};

/// Master records read per round trip while matching.
const MATCH_PAGE: u32 = 500;

/// A master record the input may name, and how well it does.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    pub id: Uuid,
    /// Products only.
    pub sku: Option<String>,
    pub name: String,
    /// 0 to 1; 1 for exact and normalized matches.
    pub score: f64,
    /// The stage that matched; null for an alternative below the threshold.
    pub stage: Option<MatchStage>,
}

/// What one name of the document matched.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NameMatch {
    /// The text that was matched.
    pub input: Option<String>,
    /// The record the commit will use unless you choose another.
    pub matched: Candidate,
    /// The runner-up scores as well as the match: check before committing.
    pub ambiguous: bool,
    /// The next best records, best first.
    pub alternatives: Vec<Candidate>,
}

/// One line of the preview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinePreview {
    /// The index in `lines` (0-based), as error fields name it.
    pub index: usize,
    /// The CSV line it came from.
    pub csv_line: Option<usize>,
    pub product: NameMatch,
}

/// The answer of `POST /api/v1/purchasing/imports`: nothing is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportPreview {
    /// The number the order will get (upper-cased); null: the next `PO-000123`.
    pub po_number: Option<String>,
    /// An order with this number exists already: committing would be refused (409).
    pub number_exists: bool,
    pub order_date: Option<NaiveDate>,
    pub vendor: NameMatch,
    pub lines: Vec<LinePreview>,
    /// The document with `vendor_id` and every `product_id` set to the matches: send it to
    /// `/api/v1/purchasing/imports/commit` as it is, or with other choices.
    pub document: ImportDocument,
}

fn round(score: f64) -> f64 {
    (score * 1000.0).round() / 1000.0
}

fn vendor_candidate(scored: &Scored<(Uuid, String)>) -> Candidate {
    Candidate {
        id: scored.item.0,
        sku: None,
        name: scored.item.1.clone(),
        score: round(scored.similarity.score),
        stage: scored.similarity.stage,
    }
}

fn product_candidate(scored: &Scored<Product>) -> Candidate {
    Candidate {
        id: scored.item.id,
        sku: Some(scored.item.sku.clone()),
        name: scored.item.name.clone(),
        score: round(scored.similarity.score),
        stage: scored.similarity.stage,
    }
}

/// "closest: A (0.72), B (0.65)" for a message, or nothing.
fn closest(alternatives: &[Candidate]) -> String {
    if alternatives.is_empty() {
        return String::new();
    }
    let names: Vec<String> = alternatives
        .iter()
        .map(|c| match &c.sku {
            Some(sku) => format!("{sku} {} ({})", c.name, c.score),
            None => format!("{} ({})", c.name, c.score),
        })
        .collect();
    format!("; closest: {}", names.join(", "))
}

/// The match and alternatives of one name, or the reason it has none.
fn name_match<T>(
    input: Option<&str>,
    outcome: Outcome<T>,
    to_candidate: fn(&Scored<T>) -> Candidate,
) -> std::result::Result<NameMatch, String> {
    let alternatives: Vec<Candidate> = outcome.alternatives.iter().map(to_candidate).collect();
    match outcome.best {
        Some(best) => Ok(NameMatch {
            input: input.map(str::to_owned),
            matched: to_candidate(&best),
            ambiguous: outcome.ambiguous,
            alternatives,
        }),
        None => Err(closest(&alternatives)),
    }
}

/// Matches the vendor: the chosen `vendor_id` (an active vendor), or the best active vendor
/// by name.
async fn match_vendor(
    app: &App,
    scope: &DataScope,
    document: &ImportDocument,
    errors: &mut FieldErrors,
) -> Result<Option<NameMatch>> {
    let input = document.vendor.as_deref().map(str::trim);
    let query = Query::new(input.unwrap_or_default());
    let mut ranking = Ranking::default();
    if let Some(id) = document.vendor_id {
        match steelyard_store::partners::get(&app.db, scope, id).await {
            Ok(p) if p.kind.includes(PartnerKind::Vendor) && p.status == RecordStatus::Active => {
                let mut similarity = query.against(&[&p.name]);
                similarity.stage = Some(MatchStage::Chosen);
                ranking.offer(similarity, || (p.id, p.name.clone()));
            }
            Ok(_) | Err(StoreError::NotFound) => {
                errors.add(
                    "vendor_id",
                    "unknown",
                    "is not an active vendor of this organization",
                );
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let filter = PartnerFilter {
        status: Some(RecordStatus::Active),
        kind: Some(PartnerKind::Vendor),
        q: None,
    };
    let mut page = PageRequest::first(MATCH_PAGE);
    loop {
        let vendors =
            steelyard_store::partners::list(&app.db, scope, scope.org_id(), &filter, page).await?;
        for vendor in &vendors.items {
            if Some(vendor.id) != document.vendor_id {
                ranking.offer(query.against(&[&vendor.name]), || {
                    (vendor.id, vendor.name.clone())
                });
            }
        }
        match vendors
            .next_cursor
            .as_deref()
            .and_then(steelyard_domain::page::decode_cursor)
        {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    match name_match(input, ranking.finish(), vendor_candidate) {
        Ok(matched) => Ok(Some(matched)),
        Err(closest) => {
            errors.add(
                "vendor",
                "unmatched",
                format!(
                    "no active vendor matches {:?}{closest}",
                    input.unwrap_or_default()
                ),
            );
            Ok(None)
        }
    }
}

/// Matches every line's part to active products (by SKU and name), reading the products
/// page by page once for all lines.
async fn match_products(
    app: &App,
    scope: &DataScope,
    document: &ImportDocument,
    errors: &mut FieldErrors,
) -> Result<Vec<Option<NameMatch>>> {
    let lines = &document.lines[..document.lines.len().min(MAX_LINES)];
    let queries: Vec<Query> = lines
        .iter()
        .map(|l| Query::new(l.match_text().unwrap_or_default()))
        .collect();
    let mut rankings: Vec<Ranking<Product>> = lines.iter().map(|_| Ranking::default()).collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(id) = line.product_id else { continue };
        match steelyard_store::products::get(&app.db, scope, id).await {
            Ok(p) if p.status == RecordStatus::Active => {
                let mut similarity = queries[i].against(&[&p.sku, &p.name]);
                similarity.stage = Some(MatchStage::Chosen);
                rankings[i].offer(similarity, || p);
            }
            Ok(_) | Err(StoreError::NotFound) => errors.add(
                &format!("lines[{i}].product_id"),
                "unknown",
                "is not an active product of this organization",
            ),
            Err(error) => return Err(error.into()),
        }
    }
    let filter = ProductFilter {
        status: Some(RecordStatus::Active),
        ..ProductFilter::default()
    };
    let mut page = PageRequest::first(MATCH_PAGE);
    loop {
        let products =
            steelyard_store::products::list(&app.db, scope, scope.org_id(), &filter, page).await?;
        for product in &products.items {
            for (i, line) in lines.iter().enumerate() {
                if line.product_id != Some(product.id) && !queries[i].is_empty() {
                    let similarity = queries[i].against(&[&product.sku, &product.name]);
                    rankings[i].offer(similarity, || product.clone());
                }
            }
        }
        match products
            .next_cursor
            .as_deref()
            .and_then(steelyard_domain::page::decode_cursor)
        {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    let mut matches = Vec::new();
    for (i, (line, ranking)) in lines.iter().zip(rankings).enumerate() {
        let outcome = ranking.finish();
        // The unit must be one the matched product knows, as the order will check.
        if let (Some(unit), Some(best)) = (line.unit.as_deref(), &outcome.best) {
            let one = Quantity::parse("1").unwrap_or_default();
            if best.item.to_stock_units(one, unit.trim()).is_none() {
                errors.add(
                    &format!("lines[{i}].unit"),
                    "unknown_unit",
                    format!("{unit:?} is not a unit of {}", best.item.sku),
                );
            }
        }
        match name_match(line.match_text(), outcome, product_candidate) {
            Ok(matched) => matches.push(Some(matched)),
            Err(closest) => {
                if line.product_id.is_none() {
                    errors.add(
                        &format!("lines[{i}].part"),
                        "unmatched",
                        format!(
                            "{}: no active product matches {:?}{closest}",
                            line.describe(i),
                            line.match_text().unwrap_or_default()
                        ),
                    );
                }
                matches.push(None);
            }
        }
    }
    Ok(matches)
}

/// Matches a document without writing anything. Every name that matches nothing is a 422
/// naming the field (`vendor`, `lines[2].part`) and the closest records.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn preview(app: &App, ctx: &Ctx, document: ImportDocument) -> Result<ImportPreview> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    let org_id = ctx.acting_org()?;
    let scope = DataScope::Organization(org_id);
    let mut errors = FieldErrors::new();
    let order_date = document.check(&mut errors);
    let po_number = document
        .po_number
        .as_deref()
        .and_then(|n| errors.take("po_number", parse_number(n)));
    if document.lines.len() > MAX_LINES {
        return Err(errors.into());
    }
    let vendor = match_vendor(app, &scope, &document, &mut errors).await?;
    let products = match_products(app, &scope, &document, &mut errors).await?;
    errors.finish()?;
    let (Some(vendor), Some(products)) = (vendor, products.into_iter().collect::<Option<Vec<_>>>())
    else {
        return Err(Error::Internal(
            "a name without a match passed the checks".into(),
        ));
    };
    let number_exists = match &po_number {
        Some(number) => steelyard_store::purchasing::number_exists(&app.db, org_id, number).await?,
        None => false,
    };
    let mut document = document;
    document.vendor_id = Some(vendor.matched.id);
    for (line, product) in document.lines.iter_mut().zip(&products) {
        line.product_id = Some(product.matched.id);
    }
    let lines = products
        .into_iter()
        .zip(&document.lines)
        .enumerate()
        .map(|(index, (product, line))| LinePreview {
            index,
            csv_line: line.source_line,
            product,
        })
        .collect();
    Ok(ImportPreview {
        po_number,
        number_exists,
        order_date,
        vendor,
        lines,
        document,
    })
}

/// Creates the order from a document whose vendor and products are chosen by id (as the
/// preview's `document` is). The order date goes into the notes.
#[tracing::instrument(skip_all, fields(actor = %ctx.actor.subject))]
pub async fn commit(app: &App, ctx: &Ctx, document: ImportDocument) -> Result<PurchaseOrder> {
    ctx.require(Permission::PURCHASING_ORDER_MANAGE)?;
    let mut errors = FieldErrors::new();
    let order_date = document.check(&mut errors);
    if document.vendor_id.is_none() {
        errors.add(
            "vendor_id",
            "required",
            "choose the vendor: the vendor_id of the preview's match or of an alternative",
        );
    }
    for (i, line) in document.lines.iter().enumerate().take(MAX_LINES) {
        if line.product_id.is_none() {
            errors.add(
                &format!("lines[{i}].product_id"),
                "required",
                format!(
                    "{}: choose the product: the id of the preview's match or of an alternative",
                    line.describe(i)
                ),
            );
        }
    }
    errors.finish()?;
    let notes = match (document.notes, order_date) {
        (notes, None) => notes,
        (None, Some(date)) => Some(format!("Order date {date}")),
        // Notes are one line.
        (Some(notes), Some(date)) => Some(format!("{notes}; order date {date}")),
    };
    let draft = PurchaseOrderDraft {
        vendor_id: document.vendor_id,
        number: document.po_number,
        notes,
        lines: document
            .lines
            .into_iter()
            .map(|line| LineDraft {
                product_id: line.product_id,
                quantity: line.quantity,
                unit: line.unit.map(|u| u.trim().to_owned()),
                unit_price: line.unit_price,
                // Vendor documents carry no tax codes; add taxes on the draft order.
                tax_id: None,
            })
            .collect(),
    };
    purchasing::create(app, ctx, draft)
        .await
        .map_err(|error| match error {
            // The import names the order's number `po_number`.
            Error::Validation(errors) => Error::Validation(errors.into_vec().into_iter().fold(
                FieldErrors::new(),
                |mut renamed, e| {
                    let field = if e.field == "number" {
                        "po_number"
                    } else {
                        &e.field
                    };
                    renamed.add(field, e.code, e.message);
                    renamed
                },
            )),
            other => other,
        })
}
