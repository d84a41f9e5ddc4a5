//! Business partners: the customers and vendors an organization trades with, with their
//! contacts, addresses, payment terms and tax id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::organization::{StateConflict, parse_currency};
use crate::record::{RecordStatus, present, required, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 200;
pub const MAX_CONTACTS: usize = 50;
pub const MAX_ADDRESSES: usize = 20;
pub const MAX_PAYMENT_TERMS_DAYS: u32 = 365;

/// Whether the organization sells to the partner, buys from it, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerKind {
    Customer,
    Vendor,
    Both,
}

impl PartnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Vendor => "vendor",
            Self::Both => "both",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "customer" => Ok(Self::Customer),
            "vendor" => Ok(Self::Vendor),
            "both" => Ok(Self::Both),
            _ => Err(invalid("invalid", "must be customer, vendor or both")),
        }
    }

    /// Whether a partner of this kind can be sold to (`customer`) or bought from (`vendor`).
    pub fn includes(self, wanted: PartnerKind) -> bool {
        self == PartnerKind::Both || self == wanted
    }
}

/// A person at the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub role: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    Billing,
    Shipping,
    Other,
}

/// A postal address of the partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub kind: AddressKind,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
}

/// A business partner as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Partner {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub kind: PartnerKind,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Days after the invoice date that payment is due.
    pub payment_terms_days: u32,
    /// The currency documents with this partner use; the organization's when absent.
    pub currency: Option<String>,
    pub contacts: Vec<Contact>,
    pub addresses: Vec<Address>,
    pub status: RecordStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The body of `POST /api/v1/partners`, as sent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerDraft {
    #[schema(example = "Anderson Steel Supply")]
    pub name: Option<String>,
    /// `customer`, `vendor` or `both`.
    pub kind: Option<String>,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// 0 to 365; 30 when absent.
    pub payment_terms_days: Option<u32>,
    pub currency: Option<String>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub addresses: Vec<Address>,
}

/// The body of `PATCH /api/v1/partners/{id}`: absent fields stay, `null` clears; lists are
/// replaced whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub payment_terms_days: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub currency: Option<Option<String>>,
    pub contacts: Option<Vec<Contact>>,
    pub addresses: Option<Vec<Address>>,
}

/// The parsed, valid fields of a partner (for create, and for the result of a patch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerFields {
    pub name: String,
    pub kind: PartnerKind,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub payment_terms_days: u32,
    pub currency: Option<String>,
    pub contacts: Vec<Contact>,
    pub addresses: Vec<Address>,
}

impl PartnerFields {
    pub fn parse(draft: PartnerDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.take(
            "name",
            parse_line(draft.name.as_deref().unwrap_or(""), NAME_MAX),
        );
        let kind = match draft.kind.as_deref() {
            None => errors.take(
                "kind",
                Err(invalid("required", "must be customer, vendor or both")),
            ),
            Some(raw) => errors.take("kind", PartnerKind::parse(raw)),
        };
        let fields = Self {
            name: name.unwrap_or_default(),
            kind: kind.unwrap_or(PartnerKind::Customer),
            tax_id: errors
                .take("tax_id", parse_optional_line(draft.tax_id.as_deref(), 50))
                .flatten(),
            email: errors
                .take("email", parse_optional_email(draft.email.as_deref()))
                .flatten(),
            phone: errors
                .take("phone", parse_optional_line(draft.phone.as_deref(), 40))
                .flatten(),
            payment_terms_days: errors
                .take(
                    "payment_terms_days",
                    parse_terms(draft.payment_terms_days.unwrap_or(30)),
                )
                .unwrap_or(30),
            currency: errors
                .take(
                    "currency",
                    draft.currency.as_deref().map(parse_currency).transpose(),
                )
                .flatten(),
            contacts: check_contacts(draft.contacts, &mut errors),
            addresses: check_addresses(draft.addresses, &mut errors),
        };
        errors.finish()?;
        Ok(fields)
    }

    /// `self` with a patch applied; every changed field is checked again.
    pub fn patched(self, patch: PartnerPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        if let Some(name) = patch.name
            && let Some(name) = errors.take(
                "name",
                required(name).and_then(|n| parse_line(&n, NAME_MAX)),
            )
        {
            next.name = name;
        }
        if let Some(kind) = patch.kind
            && let Some(kind) =
                errors.take("kind", required(kind).and_then(|k| PartnerKind::parse(&k)))
        {
            next.kind = kind;
        }
        if let Some(tax_id) = patch.tax_id {
            next.tax_id = errors
                .take("tax_id", parse_optional_line(tax_id.as_deref(), 50))
                .flatten();
        }
        if let Some(email) = patch.email {
            next.email = errors
                .take("email", parse_optional_email(email.as_deref()))
                .flatten();
        }
        if let Some(phone) = patch.phone {
            next.phone = errors
                .take("phone", parse_optional_line(phone.as_deref(), 40))
                .flatten();
        }
        if let Some(days) = patch.payment_terms_days
            && let Some(days) =
                errors.take("payment_terms_days", required(days).and_then(parse_terms))
        {
            next.payment_terms_days = days;
        }
        if let Some(currency) = patch.currency {
            next.currency = errors
                .take(
                    "currency",
                    currency.as_deref().map(parse_currency).transpose(),
                )
                .flatten();
        }
        if let Some(contacts) = patch.contacts {
            next.contacts = check_contacts(contacts, &mut errors);
        }
        if let Some(addresses) = patch.addresses {
            next.addresses = check_addresses(addresses, &mut errors);
        }
        errors.finish()?;
        Ok(next)
    }
}

fn parse_terms(days: u32) -> Result<u32, FieldError> {
    if days <= MAX_PAYMENT_TERMS_DAYS {
        Ok(days)
    } else {
        Err(invalid(
            "out_of_range",
            format!("must be from 0 to {MAX_PAYMENT_TERMS_DAYS} days"),
        ))
    }
}

/// An email address: something@domain.tld, no spaces, at most 254 characters.
pub fn parse_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_owned();
    let bad = || invalid("invalid", "must be an email address");
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err(bad()) }
}

fn parse_optional_email(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(email) => parse_email(email).map(Some),
    }
}

fn check_contacts(contacts: Vec<Contact>, errors: &mut FieldErrors) -> Vec<Contact> {
    if contacts.len() > MAX_CONTACTS {
        errors.add(
            "contacts",
            "too_many",
            format!("at most {MAX_CONTACTS} contacts"),
        );
        return Vec::new();
    }
    contacts
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let at = |field: &str| format!("contacts[{i}].{field}");
            let name = errors.take(&at("name"), parse_line(&c.name, 120))?;
            Some(Contact {
                name,
                role: errors
                    .take(&at("role"), parse_optional_line(c.role.as_deref(), 80))
                    .flatten(),
                email: errors
                    .take(&at("email"), parse_optional_email(c.email.as_deref()))
                    .flatten(),
                phone: errors
                    .take(&at("phone"), parse_optional_line(c.phone.as_deref(), 40))
                    .flatten(),
            })
        })
        .collect()
}

fn check_addresses(addresses: Vec<Address>, errors: &mut FieldErrors) -> Vec<Address> {
    if addresses.len() > MAX_ADDRESSES {
        errors.add(
            "addresses",
            "too_many",
            format!("at most {MAX_ADDRESSES} addresses"),
        );
        return Vec::new();
    }
    addresses
        .into_iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let at = |field: &str| format!("addresses[{i}].{field}");
            let country = a.country.trim().to_ascii_uppercase();
            if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
                errors.add(
                    &at("country"),
                    "invalid",
                    "must be an ISO 3166-1 alpha-2 code such as DE",
                );
            }
            Some(Address {
                kind: a.kind,
                line1: errors.take(&at("line1"), parse_line(&a.line1, 200))?,
                line2: errors
                    .take(&at("line2"), parse_optional_line(a.line2.as_deref(), 200))
                    .flatten(),
                city: errors.take(&at("city"), parse_line(&a.city, 120))?,
                postal_code: errors
                    .take(
                        &at("postal_code"),
                        parse_optional_line(a.postal_code.as_deref(), 20),
                    )
                    .flatten(),
                region: errors
                    .take(&at("region"), parse_optional_line(a.region.as_deref(), 120))
                    .flatten(),
                country,
            })
        })
        .collect()
}

impl Partner {
    pub fn create(
        id: Uuid,
        organization_id: Uuid,
        fields: PartnerFields,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            organization_id,
            name: fields.name,
            kind: fields.kind,
            tax_id: fields.tax_id,
            email: fields.email,
            phone: fields.phone,
            payment_terms_days: fields.payment_terms_days,
            currency: fields.currency,
            contacts: fields.contacts,
            addresses: fields.addresses,
            status: RecordStatus::Active,
            version: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }

    pub fn fields(&self) -> PartnerFields {
        PartnerFields {
            name: self.name.clone(),
            kind: self.kind,
            tax_id: self.tax_id.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            payment_terms_days: self.payment_terms_days,
            currency: self.currency.clone(),
            contacts: self.contacts.clone(),
            addresses: self.addresses.clone(),
        }
    }

    /// The partner with new fields; archived partners are read-only.
    pub fn with_fields(
        &self,
        fields: PartnerFields,
        now: DateTime<Utc>,
    ) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Archived {
            return Err(StateConflict(
                "an archived partner cannot be changed; restore it first".into(),
            ));
        }
        let mut next = Self::create(self.id, self.organization_id, fields, self.created_at);
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(next)
    }

    pub fn archive(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Archived {
            return Err(StateConflict("the partner is already archived".into()));
        }
        Ok(Self {
            status: RecordStatus::Archived,
            archived_at: Some(now),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    pub fn restore(&self, now: DateTime<Utc>) -> Result<Self, StateConflict> {
        if self.status == RecordStatus::Active {
            return Err(StateConflict("the partner is not archived".into()));
        }
        Ok(Self {
            status: RecordStatus::Active,
            archived_at: None,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }
}

/// Filters of the partners list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnerFilter {
    pub status: Option<RecordStatus>,
    /// `customer` lists customers and `both`; `vendor` likewise.
    pub kind: Option<PartnerKind>,
    pub q: Option<String>,
}

impl PartnerFilter {
    pub fn parse(
        status: Option<&str>,
        kind: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        Self {
            status: status_filter(status, errors),
            kind: kind.and_then(|k| errors.take("kind", PartnerKind::parse(k))),
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests;
