//! The chart of accounts: each account's code, name and type, and the baseline chart every
//! new organization starts with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::master::{
    MasterFields, RecordMeta, master_record, parse_code, patch_optional, patch_required,
    take_required,
};
use crate::record::{RecordStatus, present, search_filter, status_filter};
use crate::text::{parse_line, parse_optional_line};
use crate::validation::{FieldError, FieldErrors, invalid};

pub const NAME_MAX: usize = 120;

/// Where an account sits in the balance sheet or the income statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Asset,
    Liability,
    Equity,
    Income,
    Expense,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "asset",
            Self::Liability => "liability",
            Self::Equity => "equity",
            Self::Income => "income",
            Self::Expense => "expense",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "asset" => Ok(Self::Asset),
            "liability" => Ok(Self::Liability),
            "equity" => Ok(Self::Equity),
            "income" => Ok(Self::Income),
            "expense" => Ok(Self::Expense),
            _ => Err(invalid(
                "invalid",
                "must be asset, liability, equity, income or expense",
            )),
        }
    }
}

/// The baseline chart every organization gets when it is created: (code, name, type).
pub const BASELINE_CHART: &[(&str, &str, AccountType)] = {
    use AccountType::{Asset, Equity, Expense, Income, Liability};
    &[
        ("1000", "Cash", Asset),
        ("1100", "Bank", Asset),
        ("1200", "Accounts receivable", Asset),
        ("1300", "Inventory", Asset),
        ("1400", "Input tax receivable", Asset),
        ("1500", "Property, plant and equipment", Asset),
        ("1590", "Accumulated depreciation", Asset),
        ("2000", "Accounts payable", Liability),
        ("2100", "Output tax payable", Liability),
        ("2200", "Goods received not invoiced", Liability),
        ("2300", "Accrued liabilities", Liability),
        ("2400", "Wages payable", Liability),
        ("2500", "Loans", Liability),
        ("3000", "Share capital", Equity),
        ("3100", "Retained earnings", Equity),
        ("4000", "Sales revenue", Income),
        ("4900", "Other income", Income),
        ("5000", "Cost of goods sold", Expense),
        ("5100", "Inventory adjustments", Expense),
        ("6000", "Wages and salaries", Expense),
        ("6100", "Rent", Expense),
        ("6200", "Utilities", Expense),
        ("6300", "Depreciation", Expense),
        ("6900", "Other expenses", Expense),
    ]
};

/// The fields of an account, as returned and as kept in its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountFields {
    /// Unique in the organization, ignoring case.
    pub code: String,
    pub name: String,
    pub account_type: AccountType,
    pub description: Option<String>,
}

/// An account of the chart as stored and returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[serde(flatten)]
    pub fields: AccountFields,
    #[serde(flatten)]
    pub meta: RecordMeta,
}

master_record!(Account, AccountFields, "account");

/// The body of `POST /api/v1/accounts`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountDraft {
    #[schema(example = "1150")]
    pub code: Option<String>,
    #[schema(example = "Petty cash")]
    pub name: Option<String>,
    /// `asset`, `liability`, `equity`, `income` or `expense`.
    pub account_type: Option<String>,
    pub description: Option<String>,
}

/// The body of `PATCH /api/v1/accounts/{id}`: absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatchDraft {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub account_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

impl MasterFields for AccountFields {
    type Draft = AccountDraft;
    type Patch = AccountPatchDraft;

    fn parse(draft: AccountDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let code = take_required(&mut errors, "code", draft.code, |c| parse_code(&c));
        let name = take_required(&mut errors, "name", draft.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        let account_type = take_required(&mut errors, "account_type", draft.account_type, |t| {
            AccountType::parse(&t)
        });
        let description = errors
            .take(
                "description",
                parse_optional_line(draft.description.as_deref(), 500),
            )
            .flatten();
        errors.finish()?;
        Ok(Self {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            account_type: account_type.unwrap_or(AccountType::Asset),
            description,
        })
    }

    fn patched(self, patch: AccountPatchDraft) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut next = self;
        patch_required(&mut errors, "code", patch.code, &mut next.code, |c| {
            parse_code(&c)
        });
        patch_required(&mut errors, "name", patch.name, &mut next.name, |n| {
            parse_line(&n, NAME_MAX)
        });
        patch_required(
            &mut errors,
            "account_type",
            patch.account_type,
            &mut next.account_type,
            |t| AccountType::parse(&t),
        );
        patch_optional(
            &mut errors,
            "description",
            patch.description,
            &mut next.description,
            |d| parse_optional_line(Some(&d), 500),
        );
        errors.finish()?;
        Ok(next)
    }
}

impl AccountFields {
    /// The baseline chart as account fields.
    pub fn baseline() -> Vec<Self> {
        BASELINE_CHART
            .iter()
            .map(|(code, name, account_type)| Self {
                code: (*code).into(),
                name: (*name).into(),
                account_type: *account_type,
                description: None,
            })
            .collect()
    }
}

/// Filters of the accounts list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    pub status: Option<RecordStatus>,
    pub account_type: Option<AccountType>,
    /// Text the code or name contains, ignoring case.
    pub q: Option<String>,
}

impl AccountFilter {
    pub fn parse(
        status: Option<&str>,
        account_type: Option<&str>,
        q: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Self {
        Self {
            status: status_filter(status, errors),
            account_type: account_type
                .and_then(|t| errors.take("account_type", AccountType::parse(t))),
            q: search_filter(q, errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::code_key;

    #[test]
    fn the_baseline_chart_is_valid_with_unique_codes_and_every_type() {
        let chart = AccountFields::baseline();
        let mut keys: Vec<String> = chart.iter().map(|a| code_key(&a.code)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), chart.len());
        for account in &chart {
            assert_eq!(parse_code(&account.code).unwrap(), account.code);
            assert_eq!(parse_line(&account.name, NAME_MAX).unwrap(), account.name);
        }
        for t in ["asset", "liability", "equity", "income", "expense"] {
            let t = AccountType::parse(t).unwrap();
            assert!(chart.iter().any(|a| a.account_type == t), "{t:?}");
        }
    }

    #[test]
    fn an_account_needs_a_code_a_name_and_a_known_type() {
        let errors = AccountFields::parse(
            serde_json::from_value(serde_json::json!({"code": "1 0", "account_type": "revenue"}))
                .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<String> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["code", "name", "account_type"]);
    }
}
