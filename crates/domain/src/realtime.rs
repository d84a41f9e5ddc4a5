//! Real-time topics: the topics an event is delivered on, the topic names a client may
//! subscribe to, and whether an actor may see an event (the rule its REST read applies).

use serde_json::Value;
use uuid::Uuid;

use crate::access::{Actor, DataScope, Permission};

/// Everything in the caller's current organization that the caller may see.
pub const ORG_TOPIC: &str = "org";

/// Topics naming a whole kind of record.
pub const COLLECTION_TOPICS: &[&str] = &[
    ORG_TOPIC,
    "organizations",
    "partners",
    "products",
    "inventory",
    "purchase_orders",
    "sales_orders",
    "users",
    "roles",
    "api_tokens",
    "commodities",
    "taxes",
    "accounts",
    "departments",
    "employees",
    "work_centers",
    "work_orders",
    "quality_alerts",
    "notifications",
];

/// Record types a client may follow one by one (`purchase_order:{id}`).
pub const ITEM_TOPIC_TYPES: &[&str] = &[
    "organization",
    "partner",
    "product",
    "commodity",
    "tax",
    "account",
    "department",
    "employee",
    "location",
    "purchase_order",
    "sales_order",
    "work_center",
    "work_order",
];

/// A topic name as clients write it, checked: a collection, or `<type>:<uuid>`.
pub fn parse_topic(raw: &str) -> Result<String, &'static str> {
    if COLLECTION_TOPICS.contains(&raw) {
        return Ok(raw.to_owned());
    }
    let Some((kind, id)) = raw.split_once(':') else {
        return Err("unknown topic");
    };
    if !ITEM_TOPIC_TYPES.contains(&kind) {
        return Err("unknown topic");
    }
    let id: Uuid = id
        .parse()
        .map_err(|_| "the id in the topic is not a UUID")?;
    Ok(format!("{kind}:{id}"))
}

/// The collection topic of an aggregate type, if it has one.
fn collection_of(aggregate_type: &str) -> Option<&'static str> {
    Some(match aggregate_type {
        "organization" => "organizations",
        "partner" => "partners",
        "product" => "products",
        "commodity" => "commodities",
        "tax" => "taxes",
        "account" => "accounts",
        "department" => "departments",
        "employee" => "employees",
        "location" | "stock_move" => "inventory",
        "purchase_order" => "purchase_orders",
        "sales_order" => "sales_orders",
        "user" => "users",
        "role" => "roles",
        "api_token" => "api_tokens",
        "work_center" => "work_centers",
        "work_order" => "work_orders",
        "quality_alert" => "quality_alerts",
        "notification" => "notifications",
        _ => return None,
    })
}

/// The topics one event is delivered on: `org`, its collection, the record's own topic, and
/// `inventory` for stock events about a product (`inventory.low_stock`).
pub fn topics_of(aggregate_type: &str, aggregate_id: Uuid, kind: &str) -> Vec<String> {
    let mut topics = vec![ORG_TOPIC.to_owned()];
    if let Some(collection) = collection_of(aggregate_type) {
        topics.push(collection.to_owned());
    }
    if kind.starts_with("inventory.") && !topics.iter().any(|t| t == "inventory") {
        topics.push("inventory".to_owned());
    }
    topics.push(format!("{aggregate_type}:{aggregate_id}"));
    topics
}

/// The permission whose REST read shows this kind of record.
pub fn read_permission(aggregate_type: &str) -> Permission {
    match aggregate_type {
        "organization" => Permission::ORGANIZATION_READ,
        "partner" => Permission::PARTNER_READ,
        "product" | "commodity" => Permission::PRODUCT_READ,
        "tax" | "account" => Permission::ACCOUNTING_READ,
        "department" | "employee" => Permission::HR_READ,
        "location" | "stock_move" => Permission::INVENTORY_READ,
        "purchase_order" => Permission::PURCHASING_ORDER_READ,
        "sales_order" => Permission::SALES_ORDER_READ,
        "user" => Permission::USER_READ,
        "role" => Permission::ROLE_READ,
        "api_token" => Permission::TOKEN_MANAGE,
        "work_center" | "work_order" => Permission::MANUFACTURING_READ,
        "quality_alert" => Permission::QUALITY_READ,
        _ => Permission::EVENT_READ,
    }
}

/// The partner a document belongs to, for partner-portal (EXTERNAL) scoping.
fn partner_of(aggregate_type: &str, data: &Value) -> Option<Uuid> {
    let field = match aggregate_type {
        "purchase_order" => "vendor_id",
        "sales_order" => "customer_id",
        _ => return None,
    };
    data.get(field)?.as_str()?.parse().ok()
}

/// Whether `actor` may see an event of `org_id` about an `aggregate_type` whose state after
/// the change is `data`: the organization, scope and permission checks of the REST read.
pub fn may_see(actor: &Actor, org_id: Uuid, aggregate_type: &str, data: &Value) -> bool {
    if actor.acting_org != Some(org_id) || !actor.scope.sees_org(org_id) {
        return false;
    }
    if aggregate_type == "notification" {
        // Notifications go to their recipient only, whatever the permissions.
        let recipient = data.get("recipient_id").and_then(Value::as_str);
        return actor
            .user_id
            .is_some_and(|me| recipient == Some(&me.to_string()));
    }
    if !actor.may(read_permission(aggregate_type)) {
        return false;
    }
    match &actor.scope {
        DataScope::Partner { partner_id, .. } => {
            partner_of(aggregate_type, data) == Some(*partner_id)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(org: Uuid, permissions: &[&'static str]) -> Actor {
        Actor::user(
            crate::new_id(),
            DataScope::Organization(org),
            permissions.iter().copied(),
        )
    }

    #[test]
    fn topics_are_checked_and_normalised() {
        assert_eq!(parse_topic("org"), Ok("org".to_owned()));
        assert_eq!(parse_topic("purchase_orders"), Ok("purchase_orders".into()));
        let id = crate::new_id();
        assert_eq!(
            parse_topic(&format!("purchase_order:{}", id.to_string().to_uppercase())),
            Ok(format!("purchase_order:{id}"))
        );
        assert!(parse_topic("purchase_order:42").is_err());
        assert!(parse_topic("secrets").is_err());
        assert!(parse_topic("password:1").is_err());
    }

    #[test]
    fn an_event_goes_to_org_its_collection_and_its_record() {
        let id = crate::new_id();
        assert_eq!(
            topics_of("purchase_order", id, "purchase_order.confirmed"),
            vec![
                "org".to_owned(),
                "purchase_orders".into(),
                format!("purchase_order:{id}")
            ]
        );
        let low = topics_of("product", id, "inventory.low_stock");
        assert!(low.contains(&"inventory".to_owned()) && low.contains(&"products".to_owned()));
    }

    #[test]
    fn other_organizations_and_missing_permissions_see_nothing() {
        let org = crate::new_id();
        let reader = member(org, &["purchasing.order.read"]);
        let po = json!({"vendor_id": crate::new_id()});
        assert!(may_see(&reader, org, "purchase_order", &po));
        assert!(!may_see(&reader, crate::new_id(), "purchase_order", &po));
        assert!(!may_see(&reader, org, "sales_order", &po));
        assert!(!may_see(&reader, org, "user", &json!({})));
        // Kinds nobody mapped fall back to the audit permission.
        assert!(!may_see(&reader, org, "mystery", &json!({})));
    }

    #[test]
    fn partner_portal_users_see_only_their_partners_documents() {
        let org = crate::new_id();
        let partner = crate::new_id();
        let portal = Actor::user(
            crate::new_id(),
            DataScope::Partner {
                org_id: org,
                partner_id: partner,
            },
            ["purchasing.order.read", "partner.read"],
        );
        let mine = json!({"vendor_id": partner.to_string()});
        let theirs = json!({"vendor_id": crate::new_id().to_string()});
        assert!(may_see(&portal, org, "purchase_order", &mine));
        assert!(!may_see(&portal, org, "purchase_order", &theirs));
        assert!(!may_see(&portal, org, "partner", &json!({"id": partner})));
    }

    #[test]
    fn super_admins_see_their_current_organization_only() {
        let org = crate::new_id();
        let admin = Actor::super_admin(crate::new_id(), Some(org));
        assert!(may_see(&admin, org, "user", &json!({})));
        assert!(!may_see(&admin, crate::new_id(), "user", &json!({})));
        let nowhere = Actor::super_admin(crate::new_id(), None);
        assert!(!may_see(&nowhere, org, "organization", &json!({})));
    }

    #[test]
    fn notifications_reach_their_recipient_only() {
        let org = crate::new_id();
        let user = member(org, &[]);
        let me = user.user_id.unwrap().to_string();
        assert!(may_see(
            &user,
            org,
            "notification",
            &json!({"recipient_id": me})
        ));
        let other = json!({"recipient_id": crate::new_id().to_string()});
        assert!(!may_see(&user, org, "notification", &other));
    }
}
