//! `GET /api/v1/units`: the units of measure products and commodities are kept and traded in.
//! They are a built-in catalogue, the same for every organization, so they are read-only.

use axum::Json;
use serde::Serialize;
use steelyard_domain::product::BASE_UNITS;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::problem::Problem;

pub const TAG: &str = "units";

/// A unit of measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    /// What fields such as `stock_unit` and `unit` take: `kg`, `bale`.
    pub code: &'static str,
    pub name: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitList {
    pub items: Vec<Unit>,
}

/// The units of measure, in catalogue order. Any signed-in caller may read them.
#[utoipa::path(get, path = "/api/v1/units", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = UnitList), (status = 401, body = Problem)))]
pub async fn list(_signed_in: Authenticated) -> Json<UnitList> {
    Json(UnitList {
        items: BASE_UNITS
            .iter()
            .map(|(code, name)| Unit { code, name })
            .collect(),
    })
}
