//! The columns of each master-data table (see [`crate::master`]), the few queries that span
//! them (active employees of a department, organizations without a chart of accounts), and
//! the tax columns order lines share.

use steelyard_domain::account::{Account, AccountFields, AccountFilter, AccountType};
use steelyard_domain::commodity::{Commodity, CommodityFields, CommodityFilter};
use steelyard_domain::department::{Department, DepartmentFields, DepartmentFilter};
use steelyard_domain::employee::{Employee, EmployeeFields, EmployeeFilter};
use steelyard_domain::money::{Money, Percent};
use steelyard_domain::tax::{LineTax, Tax, TaxFields, TaxFilter, TaxUse};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{Result, StoreError};
use crate::master::{Columns, Conditions, MasterTable, Value, corrupt};
use crate::sql::query;
use crate::time::parse_uuid;
use crate::tx::Tx;

fn json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_string(value)
        .map(Value::text)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl MasterTable for Commodity {
    const TABLE: &'static str = "commodities";
    const FIELD_COLUMNS: &'static [&'static str] =
        &["category", "hs_code", "unit", "quality", "quality_notes"];
    type Filter = CommodityFilter;

    fn code(fields: &CommodityFields) -> &str {
        &fields.code
    }

    fn name(fields: &CommodityFields) -> &str {
        &fields.name
    }

    fn field_values(f: &CommodityFields) -> Result<Vec<Value>> {
        Ok(vec![
            Value::Text(f.category.clone()),
            Value::Text(f.hs_code.clone()),
            Value::text(&f.unit),
            json(&f.quality)?,
            Value::Text(f.quality_notes.clone()),
        ])
    }

    fn fields_from_row<R: Columns>(row: &R) -> Result<CommodityFields> {
        Ok(CommodityFields {
            code: row.get("code")?,
            name: row.get("name")?,
            category: row.get("category")?,
            hs_code: row.get("hs_code")?,
            unit: row.get("unit")?,
            quality: serde_json::from_str(&row.get::<String>("quality")?)
                .map_err(|_| corrupt::<Self>("quality"))?,
            quality_notes: row.get("quality_notes")?,
        })
    }

    fn conditions(filter: &CommodityFilter) -> Conditions {
        Conditions {
            status: filter.status,
            any_of: filter
                .category
                .iter()
                .map(|c| ("category", vec![Value::text(c)]))
                .collect(),
            q: filter.q.clone(),
        }
    }
}

impl MasterTable for Tax {
    const TABLE: &'static str = "taxes";
    const FIELD_COLUMNS: &'static [&'static str] =
        &["rate", "inclusive", "applies_to", "description"];
    type Filter = TaxFilter;

    fn code(fields: &TaxFields) -> &str {
        &fields.code
    }

    fn name(fields: &TaxFields) -> &str {
        &fields.name
    }

    fn field_values(f: &TaxFields) -> Result<Vec<Value>> {
        Ok(vec![
            Value::Int(Some(f.rate.scaled())),
            Value::Int(Some(i64::from(f.inclusive))),
            Value::text(f.applies_to.as_str()),
            Value::Text(f.description.clone()),
        ])
    }

    fn fields_from_row<R: Columns>(row: &R) -> Result<TaxFields> {
        Ok(TaxFields {
            code: row.get("code")?,
            name: row.get("name")?,
            rate: Percent::from_scaled(row.get("rate")?),
            inclusive: row.get::<i64>("inclusive")? != 0,
            applies_to: TaxUse::parse(&row.get::<String>("applies_to")?)
                .map_err(|_| corrupt::<Self>("applies_to"))?,
            description: row.get("description")?,
        })
    }

    fn conditions(filter: &TaxFilter) -> Conditions {
        let any_of = match filter.applies_to {
            None => vec![],
            Some(TaxUse::Both) => vec![("applies_to", vec![Value::text("both")])],
            Some(wanted) => vec![(
                "applies_to",
                vec![Value::text(wanted.as_str()), Value::text("both")],
            )],
        };
        Conditions {
            status: filter.status,
            any_of,
            q: filter.q.clone(),
        }
    }
}

impl MasterTable for Account {
    const TABLE: &'static str = "accounts";
    const FIELD_COLUMNS: &'static [&'static str] = &["account_type", "description"];
    type Filter = AccountFilter;

    fn code(fields: &AccountFields) -> &str {
        &fields.code
    }

    fn name(fields: &AccountFields) -> &str {
        &fields.name
    }

    fn field_values(f: &AccountFields) -> Result<Vec<Value>> {
        Ok(vec![
            Value::text(f.account_type.as_str()),
            Value::Text(f.description.clone()),
        ])
    }

    fn fields_from_row<R: Columns>(row: &R) -> Result<AccountFields> {
        Ok(AccountFields {
            code: row.get("code")?,
            name: row.get("name")?,
            account_type: AccountType::parse(&row.get::<String>("account_type")?)
                .map_err(|_| corrupt::<Self>("account_type"))?,
            description: row.get("description")?,
        })
    }

    fn conditions(filter: &AccountFilter) -> Conditions {
        Conditions {
            status: filter.status,
            any_of: filter
                .account_type
                .iter()
                .map(|t| ("account_type", vec![Value::text(t.as_str())]))
                .collect(),
            q: filter.q.clone(),
        }
    }
}

impl MasterTable for Department {
    const TABLE: &'static str = "departments";
    const FIELD_COLUMNS: &'static [&'static str] = &["description"];
    type Filter = DepartmentFilter;

    fn code(fields: &DepartmentFields) -> &str {
        &fields.code
    }

    fn name(fields: &DepartmentFields) -> &str {
        &fields.name
    }

    fn field_values(f: &DepartmentFields) -> Result<Vec<Value>> {
        Ok(vec![Value::Text(f.description.clone())])
    }

    fn fields_from_row<R: Columns>(row: &R) -> Result<DepartmentFields> {
        Ok(DepartmentFields {
            code: row.get("code")?,
            name: row.get("name")?,
            description: row.get("description")?,
        })
    }

    fn conditions(filter: &DepartmentFilter) -> Conditions {
        Conditions {
            status: filter.status,
            any_of: Vec::new(),
            q: filter.q.clone(),
        }
    }
}

impl MasterTable for Employee {
    const TABLE: &'static str = "employees";
    const FIELD_COLUMNS: &'static [&'static str] =
        &["department_id", "job_title", "email", "phone", "hired_on"];
    type Filter = EmployeeFilter;

    fn code(fields: &EmployeeFields) -> &str {
        &fields.code
    }

    fn name(fields: &EmployeeFields) -> &str {
        &fields.name
    }

    fn field_values(f: &EmployeeFields) -> Result<Vec<Value>> {
        Ok(vec![
            Value::text(f.department_id.to_string()),
            Value::Text(f.job_title.clone()),
            Value::Text(f.email.clone()),
            Value::Text(f.phone.clone()),
            Value::Text(f.hired_on.map(|d| d.format("%Y-%m-%d").to_string())),
        ])
    }

    fn fields_from_row<R: Columns>(row: &R) -> Result<EmployeeFields> {
        let hired_on = row
            .get::<Option<String>>("hired_on")?
            .map(|d| d.parse().map_err(|_| corrupt::<Self>("hired_on")))
            .transpose()?;
        Ok(EmployeeFields {
            code: row.get("code")?,
            name: row.get("name")?,
            department_id: parse_uuid(&row.get::<String>("department_id")?)?,
            job_title: row.get("job_title")?,
            email: row.get("email")?,
            phone: row.get("phone")?,
            hired_on,
        })
    }

    fn conditions(filter: &EmployeeFilter) -> Conditions {
        Conditions {
            status: filter.status,
            any_of: filter
                .department_id
                .iter()
                .map(|d| ("department_id", vec![Value::text(d.to_string())]))
                .collect(),
            q: filter.q.clone(),
        }
    }
}

/// How many active employees a department of `org_id` has.
pub async fn active_employees(tx: &mut Tx, org_id: Uuid, department_id: Uuid) -> Result<i64> {
    let (count,) = query(
        "SELECT COUNT(*) FROM employees WHERE org_id = $1 AND department_id = $2 AND status = 'active'",
    )
    .bind(org_id.to_string())
    .bind(department_id.to_string())
    .fetch_one(tx)
    .await?;
    Ok(count)
}

/// Organizations that have no account at all: made before the chart was seeded on creation.
pub async fn organizations_without_accounts(db: &Db) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT id FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.org_id = o.id) ORDER BY id",
    )
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|row| parse_uuid(&row.get::<String>("id")?))
        .collect()
}

/// The tax columns of an order line (`purchase_order_lines`, `sales_order_lines`).
pub(crate) const LINE_TAX_COLUMNS: &str = "tax_id, tax_rate, tax_inclusive, tax_amount";

/// The values of [`LINE_TAX_COLUMNS`], to bind in that order.
pub(crate) fn line_tax_values(tax: &LineTax) -> (Option<String>, Option<i64>, i64, i64) {
    (
        tax.tax_id.map(|id| id.to_string()),
        tax.tax_rate.map(Percent::scaled),
        i64::from(tax.tax_inclusive),
        tax.tax_amount.scaled(),
    )
}

/// An order line's tax, read from [`LINE_TAX_COLUMNS`] of its row.
pub(crate) fn line_tax_from_row<R: Columns>(row: &R, line_total: Money) -> Result<LineTax> {
    Ok(LineTax::stored(
        line_total,
        row.get::<Option<String>>("tax_id")?
            .map(|id| parse_uuid(&id))
            .transpose()?,
        row.get::<Option<i64>>("tax_rate")?
            .map(Percent::from_scaled),
        row.get::<i64>("tax_inclusive")? != 0,
        Money::from_scaled(row.get("tax_amount")?),
    ))
}
