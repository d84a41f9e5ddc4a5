//! The OpenAPI 3.1 document: generated from the handlers' annotations (never hand-written),
//! served at `/api/openapi.json` with Swagger UI at `/api/docs`, both from the binary.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
