//! RingCentral's HTTP bodies come out of Jackson's default pretty printer: two-space indents,
//! `"key" : value`, arrays on one line as `[ a, b ]`, empty containers as `{ }` and `[ ]`. Clients
//! never depend on whitespace, but matching it keeps captured traffic from the simulator
//! indistinguishable from the real thing, and some hand-written parsers are that fragile.

use serde_json::Value;
use std::fmt::Write as _;

/// Serialises `value` the way Jackson's `DefaultPrettyPrinter` does.
pub fn to_jackson_string(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{ }"),
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                indent(out, depth + 1);
                write_scalar(out, &Value::String(key.clone()));
                out.push_str(" : ");
                write_value(out, item, depth + 1);
            }
            out.push('\n');
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, depth);
            }
            out.push_str(" ]");
        }
        scalar => write_scalar(out, scalar),
    }
}

fn write_scalar(out: &mut String, scalar: &Value) {
    // Serialising a scalar `Value` cannot fail; fall back to `null` rather than panic if it ever did.
    match serde_json::to_string(scalar) {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str("null"),
    }
}

fn indent(out: &mut String, depth: usize) {
    let _ = write!(out, "{:width$}", "", width = depth * 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_the_real_oauth_error_layout() {
        // serde_json maps keep keys sorted, so the fields come out in alphabetical order.
        let body = json!({
            "error": "invalid_client",
            "error_description": "Client authentication is required",
            "errors": [{"errorCode": "OAU-123", "message": "Client authentication is required"}]
        });
        let expected = "{\n  \"error\" : \"invalid_client\",\n  \"error_description\" : \"Client authentication is required\",\n  \"errors\" : [ {\n    \"errorCode\" : \"OAU-123\",\n    \"message\" : \"Client authentication is required\"\n  } ]\n}";
        assert_eq!(to_jackson_string(&body), expected);
    }

    #[test]
    fn empty_containers_and_scalar_arrays() {
        let body = json!({"a": {}, "b": [], "c": [1, "x", null, true]});
        assert_eq!(
            to_jackson_string(&body),
            "{\n  \"a\" : { },\n  \"b\" : [ ],\n  \"c\" : [ 1, \"x\", null, true ]\n}"
        );
    }

    #[test]
    fn output_parses_back_to_the_same_value() {
        let body = json!({"records": [{"id": 1, "label": "a \"quoted\" \u{1b} label", "nested": {"x": [[]]}}]});
        let text = to_jackson_string(&body);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), body);
    }
}
