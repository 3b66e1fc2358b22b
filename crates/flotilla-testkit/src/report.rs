//! Reading a report's JSON form (`/api/reports/v1/report?format=json`) in tests.

use serde_json::{Map, Value};

/// The table `name` of a report, as the report holds it (columns and rows).
pub fn table_of<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sections"]
        .as_array()
        .expect("a report has sections")
        .iter()
        .flat_map(|s| s["tables"].as_array().expect("a section has tables"))
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

/// The rows of table `name`, each a list of cells in column order.
pub fn rows<'a>(report: &'a Value, name: &str) -> &'a Vec<Value> {
    table_of(report, name)["rows"].as_array().expect("a table has rows")
}

/// The rows of table `name`, each keyed by column.
pub fn keyed_rows(report: &Value, name: &str) -> Vec<Map<String, Value>> {
    let table = table_of(report, name);
    let columns: Vec<&str> = table["columns"].as_array().expect("columns").iter().filter_map(Value::as_str).collect();
    rows(report, name)
        .iter()
        .map(|r| {
            let cells = r.as_array().expect("a row is a list of cells");
            columns.iter().zip(cells).map(|(c, v)| (c.to_string(), v.clone())).collect()
        })
        .collect()
}
