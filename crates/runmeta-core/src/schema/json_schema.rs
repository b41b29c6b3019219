//! JSON Schema (draft 2020-12) export of a metadata schema.

use serde_json::{json, Map, Value};

use super::{FieldType, SchemaDescriptor};
use runmeta_rules::RFC3339_PATTERN;

/// The JSON Schema of a metadata schema: an object with one property per key, the required
/// keys listed, no other keys allowed. Deadlines carry `format: date-time` and a pattern of
/// the RFC 3339 profile; integer ranges become `minimum`/`maximum`.
///
/// The runtime accepts what this schema accepts, but for checks JSON Schema cannot state: a
/// string's length is limited in bytes (`maxLength` counts characters, so the limit in bytes
/// is also given as `x-runmeta-max-bytes`), a deadline must be at most year 9999 once in
/// UTC, and a key may not be written twice (a validator sees the parsed value). What this
/// schema rejects, the runtime rejects too.
///
/// ```
/// use runmeta_core::schema::{json_schema, SchemaDescriptor};
/// let schema = SchemaDescriptor { name: "Empty", version: 1, doc: "", fields: &[] };
/// assert_eq!(json_schema(&schema)["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// ```
#[must_use]
pub fn json_schema(schema: &SchemaDescriptor) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in schema.fields {
        let mut prop = match field.ty {
            FieldType::String => {
                let max = super::error::limits::MAX_STRING_BYTES;
                json!({ "type": "string", "maxLength": max, "x-runmeta-max-bytes": max })
            }
            FieldType::Bool => json!({ "type": "boolean" }),
            FieldType::Integer { min, max } => {
                let mut p = json!({ "type": "integer" });
                p["minimum"] = number(min);
                p["maximum"] = number(max);
                p
            }
            FieldType::Float => json!({ "type": "number" }),
            FieldType::Deadline => {
                json!({ "type": "string", "format": "date-time", "pattern": RFC3339_PATTERN })
            }
            FieldType::Enum { values, .. } => json!({ "type": "string", "enum": values }),
        };
        if !field.doc.is_empty() {
            prop["description"] = Value::String(field.doc.to_owned());
        }
        if !field.required {
            prop = json!({ "anyOf": [prop, { "type": "null" }] });
        }
        if field.required {
            required.push(Value::String(field.key.to_owned()));
        }
        properties.insert(field.key.to_owned(), prop);
    }
    let mut doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": schema.name,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "maxProperties": super::error::limits::MAX_KEYS,
    });
    if !schema.doc.is_empty() {
        doc["description"] = Value::String(schema.doc.to_owned());
    }
    doc["x-runmeta-version"] = Value::from(schema.version);
    doc
}

fn number(n: i128) -> Value {
    i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or(Value::Null)
}
