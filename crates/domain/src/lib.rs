//! Steelyard's domain: the business types and rules every other layer relies on.
//!
//! Nothing here is async or touches a database, so every rule can be tested exhaustively.
//! Values are parsed once at the edge (`OrgName::parse`, `Money::parse`, …): a value that
//! exists is valid.

pub mod access;
pub mod account;
pub mod commodity;
pub mod csv;
pub mod department;
pub mod document;
pub mod employee;
pub mod event;
pub mod ids;
pub mod inventory;
pub mod master;
pub mod matching;
pub mod money;
pub mod organization;
pub mod page;
pub mod partner;
pub mod product;
pub mod purchase;
pub mod purchase_import;
pub mod realtime;
pub mod record;
pub mod roles;
pub mod sales;
pub mod tax;
pub mod text;
pub mod validation;

pub use ids::new_id;
pub use validation::{FieldError, FieldErrors};
