//! The OpenAPI 3.1 document: generated from the handlers' annotations (never hand-written),
//! served at `/api/openapi.json` with Swagger UI at `/api/docs`, both from the binary.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steelyard",
        description = "The Steelyard ERP API. Errors are RFC 9457 problem+json; writes take If-Match; POSTs take Idempotency-Key.",
        license(name = "AGPL-3.0-or-later"),
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::problem::Problem)),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "auth", description = "Sign-in, sessions, the current user and integration tokens"),
        (name = "users", description = "Users of an organization, their roles, and custom roles"),
        (name = "organizations", description = "The tenants that own all business data"),
        (name = "partners", description = "Customers and vendors"),
        (name = "products", description = "Products and parts"),
        (name = "inventory", description = "Locations, stock levels, the stock ledger and valuation"),
        (name = "purchasing", description = "Purchase orders and receipts"),
        (name = "sales", description = "Sales orders, reservations and shipments"),
        (name = "commodities", description = "Traded goods with their unit and quality specification"),
        (name = "taxes", description = "Tax rates, inclusive or exclusive, for sales and purchases"),
        (name = "accounts", description = "The chart of accounts"),
        (name = "departments", description = "The departments employees belong to"),
        (name = "employees", description = "The people of the organization"),
        (name = "units", description = "The built-in units of measure"),
        (name = "events", description = "The audit trail"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Adds the answers every operation can give, so the document says so without each handler
/// repeating them: 401 on secured operations, 429 on rate-limited ones, 500 everywhere.
/// Applied to the finished document (the paths exist only once the routes are collected).
#[derive(Debug)]
pub struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let limited = crate::ratelimit::Tier::of(&axum::http::Method::POST, path).is_some();
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                add_common(operation, limited);
            }
        }
    }
}

fn add_common(operation: &mut Operation, limited: bool) {
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    let responses = &mut operation.responses.responses;
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        responses
            .entry("401".into())
            .or_insert_with(|| problem("No valid access token"));
    }
    if limited {
        responses
            .entry("429".into())
            .or_insert_with(|| problem("Rate limited: see Retry-After and retry_after_seconds"));
    }
    responses
        .entry("500".into())
        .or_insert_with(|| problem("Internal error; quote the request id"));
}
