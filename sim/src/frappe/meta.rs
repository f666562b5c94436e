//! What the sim knows about Frappe's own doctypes: child tables, columns, Link
//! fields and core names. A small, hand-written stand-in for Frappe's DocType meta;
//! custom DocTypes stored on a site add their own fields on top (see `store.rs`).

/// Fields every parent document has (model/__init__.py `default_fields` + optional).
pub const STANDARD_FIELDS: [&str; 13] = [
    "doctype",
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "docstatus",
    "idx",
    "_user_tags",
    "_comments",
    "_assign",
    "_liked_by",
    "_seen",
];
/// Fields every child row has on top of the standard ones.
pub const CHILD_FIELDS: [&str; 3] = ["parent", "parentfield", "parenttype"];

/// (parent doctype, table field) → child doctype, for Frappe's own doctypes.
const CHILD_TABLES: &[(&str, &str, &str)] = &[
    ("DocType", "fields", "DocField"),
    ("DocType", "permissions", "DocPerm"),
    ("DocType", "actions", "DocType Action"),
    ("DocType", "links", "DocType Link"),
    ("DocType", "states", "DocType State"),
    ("Workflow", "states", "Workflow Document State"),
    ("Workflow", "transitions", "Workflow Transition"),
    ("Dashboard", "charts", "Dashboard Chart Link"),
    ("Dashboard", "cards", "Number Card Link"),
    ("Dashboard Chart", "y_axis", "Dashboard Chart Field"),
    ("Dashboard Chart", "roles", "Has Role"),
    ("Report", "roles", "Has Role"),
    ("Report", "columns", "Report Column"),
    ("Report", "filters", "Report Filter"),
    ("User", "roles", "Has Role"),
    ("User", "block_modules", "Block Module"),
    ("Notification", "recipients", "Notification Recipient"),
    ("Page", "roles", "Has Role"),
];

pub fn core_child_doctype(parent: &str, field: &str) -> Option<&'static str> {
    CHILD_TABLES
        .iter()
        .find(|(p, f, _)| *p == parent && *f == field)
        .map(|(_, _, c)| *c)
}

/// Child doctypes of Frappe's own doctypes (as opposed to parents).
pub fn is_core_child_doctype(doctype: &str) -> bool {
    CHILD_TABLES.iter().any(|(_, _, c)| *c == doctype)
}

const FIELD_LIKE: &[&str] = &[
    "label",
    "fieldname",
    "fieldtype",
    "options",
    "reqd",
    "unique",
    "read_only",
    "hidden",
    "default",
    "description",
    "in_list_view",
    "in_standard_filter",
    "in_global_search",
    "in_preview",
    "bold",
    "collapsible",
    "collapsible_depends_on",
    "depends_on",
    "mandatory_depends_on",
    "read_only_depends_on",
    "permlevel",
    "precision",
    "length",
    "no_copy",
    "allow_on_submit",
    "print_hide",
    "print_hide_if_no_value",
    "print_width",
    "width",
    "columns",
    "fetch_from",
    "fetch_if_empty",
    "ignore_user_permissions",
    "ignore_xss_filter",
    "translatable",
    "report_hide",
    "search_index",
    "non_negative",
    "is_virtual",
    "sort_options",
    "hide_seconds",
    "hide_days",
    "show_dashboard",
    "link_filters",
    "placeholder",
    "remember_last_selected_value",
    "allow_bulk_edit",
    "allow_in_quick_entry",
    "oldfieldname",
    "oldfieldtype",
];

/// Scalar columns of Frappe's own doctypes (besides the standard ones).
fn core_columns(doctype: &str) -> Option<&'static [&'static str]> {
    Some(match doctype {
        "DocType" => &[
            "module",
            "custom",
            "istable",
            "issingle",
            "is_submittable",
            "is_tree",
            "editable_grid",
            "quick_entry",
            "track_changes",
            "track_seen",
            "track_views",
            "autoname",
            "naming_rule",
            "title_field",
            "search_fields",
            "sort_field",
            "sort_order",
            "description",
            "documentation",
            "allow_rename",
            "allow_import",
            "allow_copy",
            "allow_events_in_timeline",
            "allow_auto_repeat",
            "beta",
            "hide_toolbar",
            "in_create",
            "read_only",
            "max_attachments",
            "image_field",
            "timeline_field",
            "nsm_parent_field",
            "engine",
            "default_print_format",
            "is_virtual",
            "is_calendar_and_gantt",
            "restrict_to_domain",
            "app",
            "migration_hash",
            "show_name_in_global_search",
            "translated_doctype",
            "make_attachments_public",
            "index_web_pages_for_search",
            "route",
            "has_web_view",
            "allow_guest_to_view",
            "is_published_field",
            "website_search_field",
            "email_append_to",
            "sender_field",
            "subject_field",
            "show_title_field_in_link",
            "document_type",
            "icon",
            "color",
            "menu_index",
            "queue_in_background",
            "protect_attached_files",
            "force_re_route_to_default_view",
            "default_view",
        ],
        "Custom Field" | "DocField" => return Some(custom_field_columns(doctype)),
        "Property Setter" => &[
            "doctype_or_field",
            "doc_type",
            "field_name",
            "row_name",
            "property",
            "property_type",
            "value",
            "default_value",
            "module",
            "is_system_generated",
        ],
        "Workflow" => &[
            "workflow_name",
            "document_type",
            "is_active",
            "override_status",
            "send_email_alert",
            "workflow_state_field",
            "workflow_data",
        ],
        "Workflow State" => &["workflow_state_name", "icon", "style"],
        "Workflow Action Master" => &["workflow_action_name"],
        "Role" => &[
            "role_name",
            "home_page",
            "restrict_to_domain",
            "disabled",
            "is_custom",
            "desk_access",
            "two_factor_auth",
            "search_bar",
            "notifications",
            "list_sidebar",
            "bulk_actions",
            "view_switcher",
            "form_sidebar",
            "timeline",
            "dashboard",
        ],
        "Dashboard" => &[
            "dashboard_name",
            "is_default",
            "is_standard",
            "module",
            "chart_options",
        ],
        "Dashboard Chart" => &[
            "chart_name",
            "chart_type",
            "report_name",
            "use_report_chart",
            "x_field",
            "source",
            "document_type",
            "parent_document_type",
            "based_on",
            "value_based_on",
            "group_by_type",
            "group_by_based_on",
            "aggregate_function_based_on",
            "number_of_groups",
            "is_public",
            "heatmap_year",
            "timespan",
            "from_date",
            "to_date",
            "time_interval",
            "timeseries",
            "type",
            "currency",
            "filters_json",
            "dynamic_filters_json",
            "custom_options",
            "color",
            "last_synced_on",
            "is_standard",
            "module",
        ],
        "Number Card" => &[
            "is_standard",
            "module",
            "label",
            "type",
            "report_name",
            "method",
            "function",
            "aggregate_function_based_on",
            "document_type",
            "parent_document_type",
            "report_field",
            "report_function",
            "is_public",
            "currency",
            "filters_config",
            "show_percentage_stats",
            "stats_time_interval",
            "filters_json",
            "dynamic_filters_json",
            "color",
        ],
        "Report" => &[
            "report_name",
            "ref_doctype",
            "reference_report",
            "is_standard",
            "module",
            "report_type",
            "letter_head",
            "add_total_row",
            "disabled",
            "prepared_report",
            "add_translate_data",
            "timeout",
            "query",
            "report_script",
            "javascript",
            "json",
        ],
        "Server Script" => &[
            "script_type",
            "reference_doctype",
            "event_frequency",
            "cron_format",
            "doctype_event",
            "api_method",
            "allow_guest",
            "module",
            "disabled",
            "script",
            "enable_rate_limit",
            "rate_limit_count",
            "rate_limit_seconds",
        ],
        "Client Script" => &["dt", "view", "module", "enabled", "script"],
        "Notification" => &[
            "enabled",
            "is_standard",
            "module",
            "channel",
            "slack_webhook_url",
            "subject",
            "event",
            "document_type",
            "method",
            "date_changed",
            "days_in_advance",
            "value_changed",
            "sender",
            "send_system_notification",
            "sender_email",
            "condition",
            "set_property_after_alert",
            "property_value",
            "send_to_all_assignees",
            "message_type",
            "message",
            "attach_print",
            "print_format",
        ],
        "Print Format" => &[
            "doc_type",
            "module",
            "standard",
            "custom_format",
            "disabled",
            "pdf_generator",
            "print_format_type",
            "raw_printing",
            "html",
            "raw_commands",
            "margin_top",
            "margin_bottom",
            "margin_left",
            "margin_right",
            "align_labels_right",
            "show_section_headings",
            "line_breaks",
            "absolute_value",
            "font_size",
            "font",
            "page_number",
            "css",
            "format_data",
            "print_format_builder",
            "print_format_builder_beta",
        ],
        "User" => &[
            "email",
            "first_name",
            "middle_name",
            "last_name",
            "full_name",
            "username",
            "language",
            "time_zone",
            "enabled",
            "user_type",
            "role_profile_name",
            "module_profile",
            "last_login",
            "last_active",
            "api_key",
            "mobile_no",
            "phone",
            "gender",
            "birth_date",
            "user_image",
            "bio",
            "send_welcome_email",
        ],
        "DocPerm" => &[
            "role",
            "permlevel",
            "read",
            "write",
            "create",
            "delete",
            "submit",
            "cancel",
            "amend",
            "report",
            "export",
            "import",
            "share",
            "print",
            "email",
            "if_owner",
            "select",
        ],
        "Has Role" => &["role"],
        "Workflow Document State" => &[
            "state",
            "doc_status",
            "update_field",
            "update_value",
            "is_optional_state",
            "allow_edit",
            "message",
            "next_action_email_template",
            "send_email",
            "avoid_status_override",
        ],
        "Workflow Transition" => &[
            "state",
            "action",
            "next_state",
            "allowed",
            "allow_self_approval",
            "condition",
            "send_email_to_creator",
        ],
        "Dashboard Chart Link" => &["chart", "width"],
        "Number Card Link" => &["card"],
        "Notification Recipient" => &[
            "receiver_by_document_field",
            "receiver_by_role",
            "cc",
            "bcc",
            "condition",
        ],
        _ => return None,
    })
}

fn custom_field_columns(doctype: &str) -> &'static [&'static str] {
    use std::sync::OnceLock;
    static CUSTOM: OnceLock<Vec<&'static str>> = OnceLock::new();
    if doctype == "DocField" {
        return FIELD_LIKE;
    }
    CUSTOM.get_or_init(|| {
        let mut v = FIELD_LIKE.to_vec();
        v.extend(["dt", "module", "insert_after", "is_system_generated"]);
        v
    })
}

/// Whether `field` is a known column of a Frappe doctype (None: not a core doctype).
pub fn core_has_column(doctype: &str, field: &str) -> Option<bool> {
    let columns = core_columns(doctype)?;
    let standard = STANDARD_FIELDS.contains(&field)
        || (is_core_child_doctype(doctype) && CHILD_FIELDS.contains(&field));
    Some(standard || columns.contains(&field))
}

/// Frappe's own DocTypes: they exist on every site without being stored.
pub fn is_core_doctype(doctype: &str) -> bool {
    core_columns(doctype).is_some()
        || is_core_child_doctype(doctype)
        || matches!(
            doctype,
            "Contact"
                | "Address"
                | "File"
                | "ToDo"
                | "Note"
                | "Event"
                | "Communication"
                | "Comment"
                | "Version"
                | "Module Def"
                | "Page"
                | "Email Account"
                | "Email Template"
                | "Letter Head"
                | "System Settings"
                | "Language"
                | "Currency"
                | "Country"
                | "Gender"
                | "Salutation"
                | "Role Profile"
                | "Module Profile"
                | "Workspace"
                | "Web Page"
                | "Web Form"
                | "Scheduled Job Type"
                | "Error Log"
                | "Activity Log"
                | "Tag"
                | "Domain"
                | "Report Column"
                | "Report Filter"
                | "DocType Action"
                | "DocType Link"
                | "DocType State"
                | "Block Module"
                | "Dashboard Chart Field"
        )
}

/// Roles every Frappe site has (automatic and core roles).
pub const CORE_ROLES: &[&str] = &[
    "Administrator",
    "System Manager",
    "Guest",
    "All",
    "Desk User",
    "Script Manager",
    "Report Manager",
    "Dashboard Manager",
    "Workspace Manager",
    "Website Manager",
    "Knowledge Base Contributor",
    "Knowledge Base Editor",
    "Newsletter Manager",
    "Blogger",
    "Inbox User",
    "Prepared Report User",
];

/// A Link field and the doctype it points to.
pub struct LinkField {
    pub field: &'static str,
    pub label: &'static str,
    pub target: &'static str,
}

/// (doctype, field, label, target): Link fields validated on save (the ones that
/// matter to promotion).
const LINKS: &[(&str, &str, &str, &str)] = &[
    ("Custom Field", "dt", "Document", "DocType"),
    ("Property Setter", "doc_type", "DocType", "DocType"),
    ("Workflow", "document_type", "Document Type", "DocType"),
    (
        "Workflow Document State",
        "state",
        "State",
        "Workflow State",
    ),
    (
        "Workflow Document State",
        "allow_edit",
        "Only Allow Edit For",
        "Role",
    ),
    ("Workflow Transition", "state", "State", "Workflow State"),
    (
        "Workflow Transition",
        "action",
        "Action",
        "Workflow Action Master",
    ),
    (
        "Workflow Transition",
        "next_state",
        "Next State",
        "Workflow State",
    ),
    ("Workflow Transition", "allowed", "Allowed", "Role"),
    ("Dashboard Chart Link", "chart", "Chart", "Dashboard Chart"),
    ("Number Card Link", "card", "Card", "Number Card"),
    (
        "Dashboard Chart",
        "document_type",
        "Document Type",
        "DocType",
    ),
    ("Number Card", "document_type", "Document Type", "DocType"),
    ("Report", "ref_doctype", "Ref DocType", "DocType"),
    (
        "Server Script",
        "reference_doctype",
        "Reference Document Type",
        "DocType",
    ),
    ("Client Script", "dt", "DocType", "DocType"),
    ("Notification", "document_type", "Document Type", "DocType"),
    ("Print Format", "doc_type", "DocType", "DocType"),
    ("Has Role", "role", "Role", "Role"),
    ("DocPerm", "role", "Role", "Role"),
];

pub fn links_of(doctype: &str) -> impl Iterator<Item = LinkField> + '_ {
    LINKS
        .iter()
        .filter(move |(dt, _, _, _)| *dt == doctype)
        .map(|(_, field, label, target)| LinkField {
            field,
            label,
            target,
        })
}

/// The field a core doctype is named by (autoname `field:<x>`).
pub fn name_field(doctype: &str) -> Option<&'static str> {
    Some(match doctype {
        "Workflow" => "workflow_name",
        "Workflow State" => "workflow_state_name",
        "Workflow Action Master" => "workflow_action_name",
        "Role" => "role_name",
        "Dashboard" => "dashboard_name",
        "Dashboard Chart" => "chart_name",
        "Report" => "report_name",
        "User" => "email",
        _ => return None,
    })
}
