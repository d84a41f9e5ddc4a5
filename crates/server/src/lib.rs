//! Steelyard's edge: the axum application, its middleware stack, and the server's lifecycle
//! (start, readiness, graceful shutdown).

pub mod api;
pub mod auth;
pub mod client_ip;
pub mod config;
pub mod edge;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod realtime;
pub mod redis_link;
pub mod socket_limits;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use steelyard_services::{App, identity};
use steelyard_store::{Db, PoolSettings};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::organizations;
use crate::config::Config;
use crate::state::AppState;

/// The process-wide Prometheus recorder (metrics are global; installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            metrics::gauge!("steelyard_build_info", "version" => env!("CARGO_PKG_VERSION"))
                .set(1.0);
            handle
        })
        .clone()
}

/// The OpenAPI document and the routes it describes, from one list of handlers.
pub fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(health::detailed))
        .routes(routes!(health::metrics))
        .routes(routes!(api::auth::login))
        .routes(routes!(api::auth::refresh))
        .routes(routes!(api::auth::logout))
        .routes(routes!(api::auth::logout_all))
        .routes(routes!(api::auth::me))
        .routes(routes!(api::auth::switch_organization))
        .routes(routes!(api::auth::change_password))
        .routes(routes!(api::access::create_token, api::access::list_tokens))
        .routes(routes!(api::access::get_token, api::access::revoke_token))
        .routes(routes!(api::access::create_user, api::access::list_users))
        .routes(routes!(api::access::get_user))
        .routes(routes!(api::access::disable_user))
        .routes(routes!(api::access::enable_user))
        .routes(routes!(api::access::create_role, api::access::list_roles))
        .routes(routes!(api::access::get_role))
        .routes(routes!(organizations::create, organizations::list))
        .routes(routes!(organizations::get, organizations::update))
        .routes(routes!(organizations::archive))
        .routes(routes!(organizations::restore))
        .routes(routes!(organizations::history))
        .routes(routes!(api::partners::create, api::partners::list))
        .routes(routes!(api::partners::get, api::partners::update))
        .routes(routes!(api::partners::archive))
        .routes(routes!(api::partners::restore))
        .routes(routes!(api::partners::history))
        .routes(routes!(api::events::list))
        .routes(routes!(api::products::create, api::products::list))
        .routes(routes!(api::products::get, api::products::update))
        .routes(routes!(api::products::archive))
        .routes(routes!(api::products::restore))
        .routes(routes!(api::products::history))
        .routes(routes!(api::inventory::valuation))
        .routes(routes!(
            api::inventory::create_location,
            api::inventory::list_locations
        ))
        .routes(routes!(api::inventory::get_location))
        .routes(routes!(api::inventory::adjust))
        .routes(routes!(api::inventory::transfer))
        .routes(routes!(api::inventory::stock))
        .routes(routes!(api::inventory::moves))
        .routes(routes!(api::purchasing::create, api::purchasing::list))
        .routes(routes!(api::purchasing::exists))
        .routes(routes!(api::purchasing::get))
        .routes(routes!(api::purchasing::confirm))
        .routes(routes!(api::purchasing::cancel))
        .routes(routes!(api::purchasing::close))
        .routes(routes!(api::purchasing::receive))
        .routes(routes!(api::purchasing::history))
        .routes(routes!(api::purchase_import::preview))
        .routes(routes!(api::purchase_import::commit))
        .routes(routes!(api::sales::create, api::sales::list))
        .routes(routes!(api::sales::get))
        .routes(routes!(api::sales::confirm))
        .routes(routes!(api::sales::cancel))
        .routes(routes!(api::sales::close))
        .routes(routes!(api::sales::ship))
        .routes(routes!(api::sales::history))
        // Master data: commodities, taxes, accounts, departments, employees, units.
        .routes(routes!(
            api::master_data::commodities::create,
            api::master_data::commodities::list
        ))
        .routes(routes!(
            api::master_data::commodities::get,
            api::master_data::commodities::update
        ))
        .routes(routes!(api::master_data::commodities::archive))
        .routes(routes!(api::master_data::commodities::restore))
        .routes(routes!(api::master_data::commodities::history))
        .routes(routes!(
            api::master_data::taxes::create,
            api::master_data::taxes::list
        ))
        .routes(routes!(
            api::master_data::taxes::get,
            api::master_data::taxes::update
        ))
        .routes(routes!(api::master_data::taxes::archive))
        .routes(routes!(api::master_data::taxes::restore))
        .routes(routes!(api::master_data::taxes::history))
        .routes(routes!(
            api::master_data::accounts::create,
            api::master_data::accounts::list
        ))
        .routes(routes!(
            api::master_data::accounts::get,
            api::master_data::accounts::update
        ))
        .routes(routes!(api::master_data::accounts::archive))
        .routes(routes!(api::master_data::accounts::restore))
        .routes(routes!(api::master_data::accounts::history))
        .routes(routes!(
            api::master_data::departments::create,
            api::master_data::departments::list
        ))
        .routes(routes!(
            api::master_data::departments::get,
            api::master_data::departments::update
        ))
        .routes(routes!(api::master_data::departments::archive))
        .routes(routes!(api::master_data::departments::restore))
        .routes(routes!(api::master_data::departments::history))
        .routes(routes!(
            api::master_data::employees::create,
            api::master_data::employees::list
        ))
        .routes(routes!(
            api::master_data::employees::get,
            api::master_data::employees::update
        ))
        .routes(routes!(api::master_data::employees::archive))
        .routes(routes!(api::master_data::employees::restore))
        .routes(routes!(api::master_data::employees::history))
        .routes(routes!(api::master_data::units::list))
        .split_for_parts();
    utoipa::Modify::modify(&openapi::CommonResponses, &mut doc);
    utoipa::Modify::modify(&api::permissions::DeclarePermissions, &mut doc);
    (routes, doc)
}

/// The whole application with its middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The application with `extra` routes behind the same middleware (tests add slow and
/// panicking routes this way).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let config = state.config.clone();
    let (routes, mut doc) = api_routes();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            axum::http::header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(edge::REQUEST_ID),
        ])
        .expose_headers([
            axum::http::header::ETAG,
            axum::http::header::LOCATION,
            HeaderName::from_static(edge::REQUEST_ID),
        ]);
    routes
        .merge(realtime::routes())
        .merge(extra)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", doc))
        .fallback(edge::not_found)
        .layer(axum::Extension(extract::BodyLimit(config.body_limit_bytes)))
        .layer(CatchPanicLayer::custom(edge::panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::observe,
        ))
        // XLSX is a ZIP, deflated already: compressing it again only costs time.
        .layer(CompressionLayer::new().compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new(api::export::XLSX_MEDIA_TYPE)),
        ))
        .layer(cors)
        .with_state(state)
}

/// Connects, migrates, makes sure an administrator exists and every organization has a chart
/// of accounts, and builds the shared state.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let target = config.db_target();
    let settings = PoolSettings {
        max_connections: config.db_max_connections,
        ..Default::default()
    };
    let db = Db::connect(&target, &settings)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database ({}): {e}", target.redacted()))?;
    db.migrate().await?;
    db.start_background_work()?;
    let db_for_hub = db.clone();
    let mut app = App::new(db);
    app.settings = config.settings;
    ensure_admin(&config, &app).await?;
    // Organizations made before charts were seeded on creation get the baseline chart now.
    steelyard_services::master_data::seed_missing_charts(&app).await?;
    let secret = auth::load_secret(&config, &app).await?;
    let keys = auth::Keys::new(&secret, &config);
    let redis = config
        .redis_url
        .as_deref()
        .map(redis_link::RedisLink::connect)
        .transpose()?;
    let limiter = config.rate_limits_enabled.then(|| {
        Arc::new(ratelimit::RateLimiter::new(
            config.rate_limits,
            redis.clone(),
            client_ip::ClientIp::new(config.trusted_proxies.clone(), config.forwarded_header),
        ))
    });
    let state = AppState::new(state::Shared {
        app,
        keys: Arc::new(keys),
        metrics: metrics_handle(),
        started: Instant::now(),
        redis,
        sentry_enabled: config.sentry_dsn.is_some(),
        limiter,
        socket_limits: socket_limits::SocketLimits::new(
            config.ws_max_connections_per_user,
            config.ws_messages_per_minute,
        ),
        hub: realtime::Hub::new(
            db_for_hub,
            realtime::RealtimeSettings {
                heartbeat: std::time::Duration::from_secs(config.ws_heartbeat_secs),
                queue_capacity: config.ws_send_queue,
                send_timeout: std::time::Duration::from_secs(config.ws_send_timeout_secs),
                ..realtime::RealtimeSettings::default()
            },
        ),
        config: Arc::new(config),
    });
    realtime::start(&state);
    Ok(state)
}

/// The first administrator: from STEELYARD_ADMIN_EMAIL/PASSWORD when set, otherwise created
/// on the first start of an empty database with a generated password, printed once.
async fn ensure_admin(config: &Config, app: &App) -> anyhow::Result<()> {
    let configured = config
        .admin_email
        .as_deref()
        .zip(config.admin_password.as_ref().map(|p| p.0.as_str()));
    match identity::bootstrap_admin(app, configured).await? {
        Some(identity::Bootstrapped::Configured { email }) => {
            tracing::info!(email = %email, "created the administrator from STEELYARD_ADMIN_EMAIL");
        }
        Some(identity::Bootstrapped::Generated { email, password }) => println!(
            "Created the first administrator. Sign in with:\n  email:    {email}\n  password: {password}\nThis password is shown only once."
        ),
        None => {}
    }
    Ok(())
}

/// A server bound to its address, serving until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = state.config.shutdown_grace;
    let db = state.app.db.clone();
    let hub = Arc::clone(&state.hub);
    let shutdown = async move {
        shutdown.await;
        hub.close_all();
    };
    let housekeeping = tokio::spawn(housekeeping(db.clone(), state.limiter.clone()));
    let metrics_upkeep = tokio::spawn(metrics_upkeep(state.metrics.clone()));
    let result = serve_router(router(state), grace, db, listener, shutdown).await;
    housekeeping.abort();
    metrics_upkeep.abort();
    result
}

/// Serves `app` until `shutdown`, then finishes requests in flight within `grace` and closes
/// the database.
pub async fn serve_router(
    app: Router,
    grace: std::time::Duration,
    db: Db,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    // No Nagle: a response or an event that goes out in more than one write must not wait
    // for the peer's delayed ACK (up to 40 ms) before its second part leaves.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
    });
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stopping_tx.send(());
    });
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; stopping anyway"),
    }
    // Connections still checked out by abandoned requests must not hold the exit forever.
    if tokio::time::timeout(std::time::Duration::from_secs(5), db.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections did not close within 5 s");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Folds recorded histogram samples into their summaries. The recorder keeps every sample
/// until then, so without this a server that nobody scrapes grows by 8 bytes per request.
async fn metrics_upkeep(handle: PrometheusHandle) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        handle.run_upkeep();
    }
}

/// Periodic clean-up: idempotency keys are kept for 24 hours.
async fn housekeeping(db: Db, limiter: Option<Arc<ratelimit::RateLimiter>>) {
    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut minutes: u64 = 0;
    loop {
        every.tick().await;
        if let Some(limiter) = &limiter {
            limiter.prune();
        }
        minutes += 1;
        if minutes % 60 != 1 {
            continue;
        }
        match steelyard_store::idempotency::purge_older_than(&db, DAY).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot expired idempotency keys"),
            Err(error) => tracing::warn!(%error, "idempotency key clean-up failed"),
        }
        match steelyard_store::sessions::purge_ended(&db, 7 * DAY).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "removed sessions that ended over a week ago"),
            Err(error) => tracing::warn!(%error, "session clean-up failed"),
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
