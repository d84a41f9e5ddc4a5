//! The HTTP scenarios and the data they need: a signed-in demo manager, and vendors, products
//! and purchase orders added through the API before anything is measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http::{HeaderValue, Method};
use rand::seq::IndexedRandom;
use serde_json::json;

use crate::client::{Call, CallKind, Conn, Reply, bearer, expect_ok};
use crate::load::Workload;
use crate::server::Server;

/// The demo user every scenario acts as: an INTERNAL user of the demo organization.
pub const BENCH_USER: &str = "manager@demo.steelyard.local";
/// Seeded before measuring, so that lists have 50 rows to return.
const SEED_VENDORS: usize = 300;
const SEED_PRODUCTS: usize = 300;
/// Orders already on file, as in a database in use (5 lines each).
const SEED_ORDERS: usize = 1_000;
const SEED_CONNECTIONS: usize = 8;

/// What the scenarios refer to.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub access_token: String,
    pub token: HeaderValue,
    pub vendor_ids: Vec<String>,
    pub product_ids: Vec<String>,
}

impl Fixture {
    /// Signs in as the demo manager, adds the vendors, products and orders, and has the
    /// database gather its statistics.
    pub async fn prepare(server: &Server) -> anyhow::Result<Self> {
        let mut password = None;
        for _ in 0..100 {
            password = server.demo_password(BENCH_USER);
            if password.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let password = password.context("the server printed no demo manager password")?;
        let access_token = sign_in(server.addr, BENCH_USER, &password).await?;
        let token = bearer(&access_token)?;
        let vendor_ids = seed(server.addr, &token, SEED_VENDORS, |n| {
            Call::json(
                Method::POST,
                "/api/v1/partners".into(),
                &json!({"name": format!("Bench Vendor {n:04}"), "kind": "vendor", "payment_terms_days": 30}),
                CallKind::Write,
            )
        })
        .await?;
        let product_ids = seed(server.addr, &token, SEED_PRODUCTS, |n| {
            Call::json(
                Method::POST,
                "/api/v1/products".into(),
                &json!({"sku": format!("BENCH-{n:04}"), "name": format!("Bench part {n:04}"),
                    "category": "bench", "standard_cost": "12.5000", "list_price": "20.0000"}),
                CallKind::Write,
            )
        })
        .await?;
        let fixture = Self {
            access_token,
            token,
            vendor_ids,
            product_ids,
        };
        let orders = Arc::new(fixture.clone());
        seed(server.addr, &fixture.token, SEED_ORDERS, move |_| {
            orders.purchase_order()
        })
        .await?;
        server
            .analyze()
            .await
            .context("ANALYZE after seeding the database")?;
        Ok(fixture)
    }

    fn any_vendor(&self) -> &str {
        self.vendor_ids
            .choose(&mut rand::rng())
            .map_or("", String::as_str)
    }

    fn any_product(&self) -> &str {
        self.product_ids
            .choose(&mut rand::rng())
            .map_or("", String::as_str)
    }

    /// A purchase order for a random vendor with five lines of random products.
    fn purchase_order(&self) -> Call {
        let lines: Vec<_> = (0..5)
            .map(|i| json!({"product_id": self.any_product(), "quantity": format!("{}", 1 + i), "unit_price": "12.5000"}))
            .collect();
        Call::json(
            Method::POST,
            "/api/v1/purchase-orders".into(),
            &json!({"vendor_id": self.any_vendor(), "notes": "bench", "lines": lines}),
            CallKind::Write,
        )
    }
}

/// Signs in and returns the access token.
pub async fn sign_in(addr: SocketAddr, email: &str, password: &str) -> anyhow::Result<String> {
    let mut conn = Conn::open(addr, None).await?;
    let call = Call::json(
        Method::POST,
        "/api/v1/auth/login".into(),
        &json!({"email": email, "password": password}),
        CallKind::Write,
    );
    let reply = expect_ok(&mut conn, &call, None).await?;
    reply.json()?["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the sign-in answer")
}

/// Sends `count` creating calls over a few connections and returns the new ids.
async fn seed(
    addr: SocketAddr,
    token: &HeaderValue,
    count: usize,
    make: impl Fn(usize) -> Call + Send + Sync + 'static,
) -> anyhow::Result<Vec<String>> {
    let make = Arc::new(make);
    let mut tasks = Vec::new();
    for worker in 0..SEED_CONNECTIONS {
        let make = make.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr, None).await?;
            let mut ids = Vec::new();
            for n in (worker..count).step_by(SEED_CONNECTIONS) {
                let reply = expect_ok(&mut conn, &make(n), Some(&token)).await?;
                ids.push(id_of(&reply)?);
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for task in tasks {
        ids.extend(task.await??);
    }
    Ok(ids)
}

fn id_of(reply: &Reply) -> anyhow::Result<String> {
    reply.json()?["id"]
        .as_str()
        .map(str::to_owned)
        .context("no id in the answer")
}

/// GET one vendor by id.
#[derive(Debug)]
pub struct GetById(pub Arc<Fixture>);

impl Workload for GetById {
    type User = ();
    fn user(&self, _index: usize) {}
    fn next_call(&self, _user: &mut ()) -> Call {
        Call::get(format!("/api/v1/partners/{}", self.0.any_vendor()))
    }
}

/// The first 50 vendors, filtered by kind.
#[derive(Debug)]
pub struct FilteredList;

impl Workload for FilteredList {
    type User = ();
    fn user(&self, _index: usize) {}
    fn next_call(&self, _user: &mut ()) -> Call {
        Call::get("/api/v1/partners?kind=vendor&limit=50".into())
    }
}

/// A purchase order with five lines: one transaction writing the order, its lines, its number
/// and its event.
#[derive(Debug)]
pub struct WriteTransaction(pub Arc<Fixture>);

impl Workload for WriteTransaction {
    type User = ();
    fn user(&self, _index: usize) {}
    fn next_call(&self, _user: &mut ()) -> Call {
        self.0.purchase_order()
    }
}

/// The Cotton ERP mix: 50% reads (gets and lists), 30% writes (creates and updates), 20%
/// searches and filters.
#[derive(Debug)]
pub struct CottonMix {
    pub fixture: Arc<Fixture>,
    /// Tells this run's partners apart from another run's on the same server.
    pub run: u64,
}

/// A mix user: the partner it created and keeps updating, with its current ETag.
#[derive(Debug)]
pub struct MixUser {
    index: usize,
    created: u64,
    own_partner: Option<(String, HeaderValue)>,
}

impl Workload for CottonMix {
    type User = MixUser;

    fn user(&self, index: usize) -> MixUser {
        MixUser {
            index,
            created: 0,
            own_partner: None,
        }
    }

    fn next_call(&self, user: &mut MixUser) -> Call {
        let f = &self.fixture;
        let roll = rand::random_range(0..100u32);
        match roll {
            // 50% reads: half single records, half pages of 50.
            0..13 => Call::get(format!("/api/v1/partners/{}", f.any_vendor())),
            13..25 => Call::get(format!("/api/v1/products/{}", f.any_product())),
            25..38 => Call::get("/api/v1/partners?limit=50".into()),
            38..50 => Call::get("/api/v1/purchase-orders?limit=50".into()),
            // 30% writes: creates (orders, and each user's own partner) and updates.
            50..65 => match &user.own_partner {
                None => self.create_own_partner(user),
                Some(_) => f.purchase_order(),
            },
            65..80 => match &user.own_partner {
                None => self.create_own_partner(user),
                Some((id, etag)) => {
                    let mut call = Call::json(
                        Method::PATCH,
                        format!("/api/v1/partners/{id}"),
                        &json!({"payment_terms_days": rand::random_range(0..=365u32)}),
                        CallKind::UpdateOwnPartner,
                    );
                    call.if_match = Some(etag.clone());
                    call
                }
            },
            // 20% searches and filters.
            80..87 => Call::get(format!(
                "/api/v1/products?q={:02}&limit=50",
                rand::random_range(0..100u32)
            )),
            87..94 => Call::get(format!(
                "/api/v1/partners?kind=vendor&q=vendor%20{:01}&limit=50",
                rand::random_range(0..10u32)
            )),
            _ => Call::get(format!(
                "/api/v1/purchase-orders?status=draft&vendor_id={}&limit=50",
                f.any_vendor()
            )),
        }
    }

    fn observe(&self, user: &mut MixUser, kind: CallKind, reply: &Reply) {
        match kind {
            CallKind::CreateOwnPartner if reply.status.is_success() => {
                if let (Ok(id), Some(etag)) = (id_of(reply), reply.etag.clone()) {
                    user.own_partner = Some((id, etag));
                }
            }
            CallKind::UpdateOwnPartner => match reply.etag.clone() {
                Some(etag) if reply.status.is_success() => {
                    if let Some((_, current)) = user.own_partner.as_mut() {
                        *current = etag;
                    }
                }
                // A lost answer leaves the version unknown: take whatever is current.
                _ => {
                    if let Some((_, current)) = user.own_partner.as_mut() {
                        *current = HeaderValue::from_static("*");
                    }
                }
            },
            _ => {}
        }
    }
}

impl CottonMix {
    fn create_own_partner(&self, user: &mut MixUser) -> Call {
        user.created += 1;
        Call::json(
            Method::POST,
            "/api/v1/partners".into(),
            &json!({"name": format!("Mix {} user {} #{}", self.run, user.index, user.created),
                "kind": "customer"}),
            CallKind::CreateOwnPartner,
        )
    }
}
