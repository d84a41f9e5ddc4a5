//! Rebuilds the store when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations` directory at compile time, and cargo does not track it by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
