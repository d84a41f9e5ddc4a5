//! The permission each secured operation requires, declared once: the OpenAPI document shows
//! it (`x-permission`), and the authorization matrix test drives every row with every role.
//! The service behind each operation makes the actual check (`ctx.require`); a test fails when
//! a secured operation is missing here.

use utoipa::openapi::extensions::ExtensionsBuilder;

/// (method, path, permission); `None` means any signed-in caller.
pub const REQUIRED: &[(&str, &str, Option<&str>)] = &[
    ("get", "/api/v1/organizations", Some("organization.read")),
    ("post", "/api/v1/organizations", Some("organization.create")),
    (
        "get",
        "/api/v1/organizations/{id}",
        Some("organization.read"),
    ),
    (
        "patch",
        "/api/v1/organizations/{id}",
        Some("organization.update"),
    ),
    (
        "post",
        "/api/v1/organizations/{id}/archive",
        Some("organization.archive"),
    ),
    (
        "post",
        "/api/v1/organizations/{id}/restore",
        Some("organization.archive"),
    ),
    (
        "get",
        "/api/v1/organizations/{id}/history",
        Some("organization.read"),
    ),
    ("get", "/api/v1/partners", Some("partner.read")),
    ("post", "/api/v1/partners", Some("partner.manage")),
    ("get", "/api/v1/partners/{id}", Some("partner.read")),
    ("patch", "/api/v1/partners/{id}", Some("partner.manage")),
    (
        "post",
        "/api/v1/partners/{id}/archive",
        Some("partner.manage"),
    ),
    (
        "post",
        "/api/v1/partners/{id}/restore",
        Some("partner.manage"),
    ),
    ("get", "/api/v1/partners/{id}/history", Some("partner.read")),
    ("get", "/api/v1/events", Some("event.read")),
    ("get", "/api/v1/products", Some("product.read")),
    ("post", "/api/v1/products", Some("product.manage")),
    ("get", "/api/v1/products/{id}", Some("product.read")),
    ("patch", "/api/v1/products/{id}", Some("product.manage")),
    (
        "post",
        "/api/v1/products/{id}/archive",
        Some("product.manage"),
    ),
    (
        "post",
        "/api/v1/products/{id}/restore",
        Some("product.manage"),
    ),
    ("get", "/api/v1/products/{id}/history", Some("product.read")),
    (
        "get",
        "/api/v1/products/{id}/valuation",
        Some("inventory.read"),
    ),
    ("get", "/api/v1/locations", Some("inventory.read")),
    ("post", "/api/v1/locations", Some("inventory.move")),
    ("get", "/api/v1/locations/{id}", Some("inventory.read")),
    (
        "post",
        "/api/v1/inventory/adjustments",
        Some("inventory.move"),
    ),
    (
        "post",
        "/api/v1/inventory/transfers",
        Some("inventory.move"),
    ),
    ("get", "/api/v1/inventory/stock", Some("inventory.read")),
    ("get", "/api/v1/inventory/moves", Some("inventory.read")),
    (
        "get",
        "/api/v1/purchase-orders",
        Some("purchasing.order.read"),
    ),
    (
        "post",
        "/api/v1/purchase-orders",
        Some("purchasing.order.manage"),
    ),
    (
        "get",
        "/api/v1/purchase-orders/exists",
        Some("purchasing.order.read"),
    ),
    (
        "get",
        "/api/v1/purchase-orders/{id}",
        Some("purchasing.order.read"),
    ),
    (
        "post",
        "/api/v1/purchase-orders/{id}/confirm",
        Some("purchasing.order.manage"),
    ),
    (
        "post",
        "/api/v1/purchase-orders/{id}/cancel",
        Some("purchasing.order.manage"),
    ),
    (
        "post",
        "/api/v1/purchase-orders/{id}/close",
        Some("purchasing.order.manage"),
    ),
    (
        "post",
        "/api/v1/purchase-orders/{id}/receipts",
        Some("purchasing.order.receive"),
    ),
    (
        "get",
        "/api/v1/purchase-orders/{id}/history",
        Some("purchasing.order.read"),
    ),
    (
        "post",
        "/api/v1/purchasing/imports",
        Some("purchasing.order.manage"),
    ),
    (
        "post",
        "/api/v1/purchasing/imports/commit",
        Some("purchasing.order.manage"),
    ),
    ("get", "/api/v1/sales-orders", Some("sales.order.read")),
    ("post", "/api/v1/sales-orders", Some("sales.order.manage")),
    ("get", "/api/v1/sales-orders/{id}", Some("sales.order.read")),
    (
        "post",
        "/api/v1/sales-orders/{id}/confirm",
        Some("sales.order.manage"),
    ),
    (
        "post",
        "/api/v1/sales-orders/{id}/cancel",
        Some("sales.order.manage"),
    ),
    (
        "post",
        "/api/v1/sales-orders/{id}/close",
        Some("sales.order.manage"),
    ),
    (
        "post",
        "/api/v1/sales-orders/{id}/shipments",
        Some("sales.order.ship"),
    ),
    (
        "get",
        "/api/v1/sales-orders/{id}/history",
        Some("sales.order.read"),
    ),
    ("get", "/api/v1/users", Some("user.read")),
    ("post", "/api/v1/users", Some("user.manage")),
    ("get", "/api/v1/users/{id}", Some("user.read")),
    ("post", "/api/v1/users/{id}/disable", Some("user.manage")),
    ("post", "/api/v1/users/{id}/enable", Some("user.manage")),
    ("get", "/api/v1/roles", Some("role.read")),
    ("post", "/api/v1/roles", Some("role.manage")),
    ("get", "/api/v1/roles/{name}", Some("role.read")),
    ("get", "/api/v1/auth/tokens", Some("token.manage")),
    ("post", "/api/v1/auth/tokens", Some("token.manage")),
    ("get", "/api/v1/auth/tokens/{id}", Some("token.manage")),
    ("delete", "/api/v1/auth/tokens/{id}", Some("token.manage")),
    ("get", "/api/v1/auth/me", None),
    ("post", "/api/v1/auth/logout", None),
    ("post", "/api/v1/auth/logout-all", None),
    ("post", "/api/v1/auth/password", None),
    ("post", "/api/v1/auth/switch-organization", None),
    ("get", "/health/detailed", Some("system.health")),
    // Master data.
    ("get", "/api/v1/commodities", Some("product.read")),
    ("post", "/api/v1/commodities", Some("product.manage")),
    ("get", "/api/v1/commodities/{id}", Some("product.read")),
    ("patch", "/api/v1/commodities/{id}", Some("product.manage")),
    (
        "post",
        "/api/v1/commodities/{id}/archive",
        Some("product.manage"),
    ),
    (
        "post",
        "/api/v1/commodities/{id}/restore",
        Some("product.manage"),
    ),
    (
        "get",
        "/api/v1/commodities/{id}/history",
        Some("product.read"),
    ),
    ("get", "/api/v1/taxes", Some("accounting.read")),
    ("post", "/api/v1/taxes", Some("accounting.post")),
    ("get", "/api/v1/taxes/{id}", Some("accounting.read")),
    ("patch", "/api/v1/taxes/{id}", Some("accounting.post")),
    (
        "post",
        "/api/v1/taxes/{id}/archive",
        Some("accounting.post"),
    ),
    (
        "post",
        "/api/v1/taxes/{id}/restore",
        Some("accounting.post"),
    ),
    ("get", "/api/v1/taxes/{id}/history", Some("accounting.read")),
    ("get", "/api/v1/accounts", Some("accounting.read")),
    ("post", "/api/v1/accounts", Some("accounting.post")),
    ("get", "/api/v1/accounts/{id}", Some("accounting.read")),
    ("patch", "/api/v1/accounts/{id}", Some("accounting.post")),
    (
        "post",
        "/api/v1/accounts/{id}/archive",
        Some("accounting.post"),
    ),
    (
        "post",
        "/api/v1/accounts/{id}/restore",
        Some("accounting.post"),
    ),
    (
        "get",
        "/api/v1/accounts/{id}/history",
        Some("accounting.read"),
    ),
    ("get", "/api/v1/departments", Some("hr.read")),
    ("post", "/api/v1/departments", Some("hr.manage")),
    ("get", "/api/v1/departments/{id}", Some("hr.read")),
    ("patch", "/api/v1/departments/{id}", Some("hr.manage")),
    (
        "post",
        "/api/v1/departments/{id}/archive",
        Some("hr.manage"),
    ),
    (
        "post",
        "/api/v1/departments/{id}/restore",
        Some("hr.manage"),
    ),
    ("get", "/api/v1/departments/{id}/history", Some("hr.read")),
    ("get", "/api/v1/employees", Some("hr.read")),
    ("post", "/api/v1/employees", Some("hr.manage")),
    ("get", "/api/v1/employees/{id}", Some("hr.read")),
    ("patch", "/api/v1/employees/{id}", Some("hr.manage")),
    ("post", "/api/v1/employees/{id}/archive", Some("hr.manage")),
    ("post", "/api/v1/employees/{id}/restore", Some("hr.manage")),
    ("get", "/api/v1/employees/{id}/history", Some("hr.read")),
    ("get", "/api/v1/units", None),
];

/// Adds `x-permission` to every operation listed in [`REQUIRED`].
#[derive(Debug)]
pub struct DeclarePermissions;

impl utoipa::Modify for DeclarePermissions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let Some((_, _, permission)) =
                    REQUIRED.iter().find(|(m, p, _)| *m == method && p == path)
                else {
                    continue;
                };
                let value = permission.map_or(serde_json::Value::Null, |p| {
                    serde_json::Value::String(p.into())
                });
                let extensions = ExtensionsBuilder::new().add("x-permission", value).build();
                match &mut operation.extensions {
                    Some(existing) => existing.merge(extensions),
                    None => operation.extensions = Some(extensions),
                }
            }
        }
    }
}
