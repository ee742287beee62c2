//! The audit log as CSV (RFC 4180): a header row, then one row per event. A cell that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return: OWASP "CSV Injection") gets a leading `'`, so a reason typed at the console, or an
//! email, cannot run anything on the desk of whoever opens the export.

use idp_core::audit::StoredEvent;

use super::show::when;

const COLUMNS: [&str; 9] = [
    "time",
    "event",
    "actor",
    "account_id",
    "user_id",
    "address",
    "reason",
    "detail",
    "on_behalf_of",
];

/// The header row.
pub fn header() -> String {
    let mut out = String::new();
    row(&mut out, &COLUMNS);
    out
}

/// Appends the row of `e`.
pub fn event(out: &mut String, e: &StoredEvent) {
    let at = when(e.at);
    let cells = [
        at.as_str(),
        &e.action,
        &e.actor,
        e.account_id.as_deref().unwrap_or(""),
        e.user_id.as_deref().unwrap_or(""),
        e.ip.as_deref().unwrap_or(""),
        e.reason.as_deref().unwrap_or(""),
        e.detail.as_deref().unwrap_or(""),
        e.actor_note.as_deref().unwrap_or(""),
    ];
    row(out, &cells);
}

fn row(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&cell(c));
    }
    out.push_str("\r\n");
}

/// One cell: defused, then quoted when it holds a comma, a quote or a line break.
fn cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused_and_quoting_follows_rfc_4180() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("T-77 lost phone"), "T-77 lost phone");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(cell(""), "");
        assert_eq!(
            header(),
            "time,event,actor,account_id,user_id,address,reason,detail,on_behalf_of\r\n"
        );
    }
}
