//! Users and passwords: the first administrator, the password policy, and password checks
//! with per-account lockout.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use steelyard_domain::event::NewEvent;
use steelyard_store::users::{self, UserRow};
use uuid::Uuid;

use crate::{App, Ctx, Error, Result};

pub use crate::sessions::token_hash;

/// Platform-wide events (super-admins, every sign-in, session and password event) chain under
/// the nil organization id.
pub const PLATFORM_ORG: Uuid = Uuid::nil();
pub const MIN_PASSWORD_LEN: usize = 12;

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub status: String,
    pub is_super_admin: bool,
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email.clone(),
            display_name: row.display_name.clone(),
            status: row.status.clone(),
            is_super_admin: row.is_super_admin,
        }
    }
}

/// The password policy: at least 12 characters, not all of one kind of character.
pub fn check_password_policy(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("must be at least 12 characters");
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Err("must mix at least two of: lower case, upper case, digits, symbols");
    }
    Ok(())
}

/// argon2id with 9 MiB of memory and 4 passes: one of the configurations OWASP's Password
/// Storage Cheat Sheet lists as equal in strength to the crate's default (19 MiB, 2 passes),
/// trading memory for passes. Each hash takes about the same CPU time, but a burst of
/// sign-ins needs half the memory, and the allocator keeps the blocks of the last hash for a
/// while: with 19 MiB an idle server held about 10 MiB more (BENCHMARKS.md, cause 18).
/// Stored hashes carry their own parameters, so older ones still verify.
fn hasher() -> Argon2<'static> {
    const MEMORY_KIB: u32 = 9 * 1024;
    const PASSES: u32 = 4;
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes with argon2id off the async threads (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

/// Whether `password` matches `hash`, with the parameters stored in it. At most a few checks
/// run at once (each takes 9 MiB, 19 for older hashes, and a core for tens of milliseconds);
/// a flood of sign-ins waits, then gets 503, instead of exhausting memory and threads.
async fn verify_password(password: String, hash: String) -> Result<bool> {
    let _permit = hashing_permit().await?;
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))
}

async fn hashing_permit() -> Result<tokio::sync::SemaphorePermit<'static>> {
    static HASHING: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let semaphore = HASHING.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores * 2)
    });
    match tokio::time::timeout(std::time::Duration::from_secs(5), semaphore.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(Error::Unavailable("password hashing is saturated".into())),
    }
}

/// A random password that meets the policy, for generated accounts.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let body: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{body}-7a")
}

/// Creates a super-admin with these credentials if no user has that email. Returns the user
/// when one was created.
pub async fn ensure_super_admin(app: &App, email: &str, password: &str) -> Result<Option<User>> {
    if users::find_by_email(&app.db, email).await?.is_some() {
        return Ok(None);
    }
    if let Err(why) = check_password_policy(password) {
        return Err(Error::Validation(steelyard_domain::FieldErrors::single(
            "password", "weak", why,
        )));
    }
    let now = steelyard_store::now();
    let row = UserRow {
        id: steelyard_domain::new_id(),
        email: email.trim().to_owned(),
        display_name: "Administrator".into(),
        password_hash: hash_password(password.to_owned()).await?,
        status: "active".into(),
        is_super_admin: true,
        version: 1,
        created_at: now,
    };
    let ctx = Ctx::system();
    let mut tx = app.begin(&ctx).await?;
    match users::insert(&mut tx, &row).await {
        // Another instance created it at the same moment: fine.
        Err(steelyard_store::StoreError::Duplicate(_)) => return Ok(None),
        other => other?,
    }
    let user = User::from(&row);
    tx.record(NewEvent::of_change(
        PLATFORM_ORG,
        "user",
        row.id,
        "user.created",
        None,
        &user,
    ));
    app.commit(tx).await?;
    Ok(Some(user))
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrapped {
    /// Created from the configured email and password.
    Configured { email: String },
    /// Created with a generated password, to be shown once.
    Generated { email: String, password: String },
}

/// The first administrator: the configured one if missing, or, on a database with no users,
/// `admin@steelyard.local` with a generated password. None when nothing was created.
pub async fn bootstrap_admin(
    app: &App,
    configured: Option<(&str, &str)>,
) -> Result<Option<Bootstrapped>> {
    if let Some((email, password)) = configured {
        let created = ensure_super_admin(app, email, password).await?;
        return Ok(created.map(|_| Bootstrapped::Configured {
            email: email.to_owned(),
        }));
    }
    if has_users(app).await? {
        return Ok(None);
    }
    let email = "admin@steelyard.local";
    let password = generate_password();
    let created = ensure_super_admin(app, email, &password).await?;
    Ok(created.map(|_| Bootstrapped::Generated {
        email: email.to_owned(),
        password,
    }))
}

/// Whether any user exists (the first start creates an administrator when none does).
pub async fn has_users(app: &App) -> Result<bool> {
    Ok(users::count(&app.db).await? > 0)
}

/// Failures in a row an account may have before it is locked for a while.
pub const FREE_FAILURES: i64 = 5;

/// How long an account is locked after `failures` failures in a row: 30 s doubling with each
/// failure past the free ones, at most 15 minutes.
pub fn lockout_after(failures: i64) -> Option<chrono::Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES)
        .unwrap_or(u32::MAX)
        .min(5);
    Some(chrono::Duration::seconds((30_i64 << doublings).min(900)))
}

/// Checks an email and password. Every failure is the same `None` (unknown email, wrong
/// password, locked or disabled account), so callers cannot probe accounts. Failures are
/// counted per account; past [`FREE_FAILURES`] the account is locked for a growing time.
pub async fn authenticate(app: &App, email: &str, password: &str) -> Result<Option<UserRow>> {
    let mut errors = steelyard_domain::FieldErrors::new();
    if email.len() > 254 {
        errors.add("email", "too_long", "must be at most 254 characters");
    }
    if password.len() > 1024 {
        errors.add("password", "too_long", "must be at most 1024 bytes");
    }
    errors.finish()?;
    let found = users::find_by_email(&app.db, email).await?;
    let Some(user) = found else {
        // Spend the same time as a real check, so response times do not reveal accounts.
        let _ = verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await?;
        return Ok(None);
    };
    let throttle = users::login_throttle(&app.db, user.id).await?;
    let now = steelyard_store::now();
    if throttle.locked_until.is_some_and(|until| until > now) {
        let _ = verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await?;
        return Ok(None);
    }
    if !verify_password(password.to_owned(), user.password_hash.clone()).await? {
        let failures = throttle.failed_logins + 1;
        let locked_until = lockout_after(failures).map(|d| now + d);
        users::record_login_failure(&app.db, user.id, locked_until).await?;
        if locked_until.is_some() {
            tracing::warn!(user_id = %user.id, failures, "account locked after failed sign-ins");
        }
        return Ok(None);
    }
    if throttle.failed_logins > 0 {
        users::reset_login_failures(&app.db, user.id).await?;
    }
    Ok((user.status == "active").then_some(user))
}

pub async fn get_user(app: &App, id: Uuid) -> Result<UserRow> {
    users::get(&app.db, id).await.map_err(|e| match e {
        steelyard_store::StoreError::NotFound => Error::NotFound("user"),
        other => other.into(),
    })
}

/// An argon2id hash of a random string, verified against when the email is unknown or the
/// account is locked. Made with [`hasher`]'s parameters, so that the check costs what a real
/// one does.
const DUMMY_HASH: &str = "$argon2id$v=19$m=9216,t=4,p=1$KMFSn+MqaEG2c0nJR5reTA$4BowwtJY5FdxB/cKByUQV3mDFJS8K5DC++vTwdYvymg";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_lock_after_five_failures_for_a_growing_time_up_to_fifteen_minutes() {
        assert_eq!(lockout_after(4), None);
        assert_eq!(lockout_after(5), Some(chrono::Duration::seconds(30)));
        assert_eq!(lockout_after(6), Some(chrono::Duration::seconds(60)));
        assert_eq!(lockout_after(50), Some(chrono::Duration::seconds(900)));
    }

    #[test]
    fn the_password_policy_wants_length_and_variety() {
        assert!(check_password_policy("short1A!").is_err());
        assert!(check_password_policy("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_password_policy("correct-horse-battery").is_ok());
        assert!(check_password_policy(&generate_password()).is_ok());
    }

    #[tokio::test]
    async fn new_hashes_use_9_mib_and_4_passes_and_older_hashes_still_verify() {
        let password = "correct-horse-battery".to_owned();
        let hash = hash_password(password.clone()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{hash}");
        assert!(verify_password(password.clone(), hash).await.unwrap());
        // A hash made with the crate's default parameters (19 MiB, 2 passes), as stored
        // before: checked with its own parameters.
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let older = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(
            older.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{older}"
        );
        assert!(
            verify_password(password.clone(), older.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong-horse-battery".into(), older)
                .await
                .unwrap()
        );
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_check_costs() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let dummy = argon2::Params::try_from(&dummy).unwrap();
        let ours = hasher().params().clone();
        assert_eq!(
            (dummy.m_cost(), dummy.t_cost(), dummy.p_cost()),
            (ours.m_cost(), ours.t_cost(), ours.p_cost())
        );
    }
}
