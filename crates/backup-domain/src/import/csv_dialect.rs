//! Cognito's user-import CSV dialect, as documented: one row per line, fields separated by commas, no
//! quoting, a comma inside a value written `\,`, leading and trailing whitespace trimmed, UTF-8.
//!
//! The dialect cannot carry every value: a line break ends the row, surrounding whitespace is trimmed,
//! and nothing documents how a backslash before a comma is read. The writer refuses such values instead
//! of changing them, so their users are restored by AdminCreateUser, which keeps them exactly.

use std::collections::BTreeMap;

use thiserror::Error;

/// Cognito's limit on one row.
pub const MAX_ROW_CHARS: usize = 16_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CsvRefusal {
    #[error("attribute {0} has a value the CSV dialect cannot carry (line break, surrounding whitespace or backslash)")]
    UncarriableValue(String),
    #[error("the row would be {0} characters, over Cognito's limit of 16,000")]
    RowTooLong(usize),
}

/// Whether the dialect reads `value` back exactly.
pub fn carries(value: &str) -> bool {
    !value.contains(['\n', '\r', '\\']) && value.trim() == value
}

fn escape(value: &str) -> String {
    value.replace(',', "\\,")
}

/// The header line for the columns GetCSVHeader returned.
pub fn header_line(header: &[String]) -> String {
    header.join(",")
}

/// One data row in the header's column order; `values` maps column name to value (absent = empty).
pub fn row(header: &[String], values: &BTreeMap<String, String>) -> Result<String, CsvRefusal> {
    let mut fields = Vec::with_capacity(header.len());
    for column in header {
        let value = values.get(column).map(String::as_str).unwrap_or("");
        if !carries(value) {
            return Err(CsvRefusal::UncarriableValue(column.clone()));
        }
        fields.push(escape(value));
    }
    let line = fields.join(",");
    let chars = line.chars().count();
    if chars > MAX_ROW_CHARS {
        return Err(CsvRefusal::RowTooLong(chars));
    }
    Ok(line)
}

/// Reads one data row as Cognito documents it: split on unescaped commas, `\,` is a comma, fields trimmed.
pub fn parse_row(header: &[String], line: &str) -> Result<BTreeMap<String, String>, String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push(',');
                }
            }
            ',' => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    if fields.len() != header.len() {
        return Err(format!("{} fields for {} columns", fields.len(), header.len()));
    }
    Ok(header.iter().cloned().zip(fields.into_iter().map(|f| f.trim().to_owned())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> Vec<String> {
        ["cognito:username", "email", "custom:note", "cognito:mfa_enabled"].map(String::from).to_vec()
    }

    #[test]
    fn commas_are_escaped_and_read_back() {
        let values = BTreeMap::from([
            ("cognito:username".to_string(), "alice".to_string()),
            ("custom:note".to_string(), "a, b,, c \"quoted\" ü 日本".to_string()),
            ("cognito:mfa_enabled".to_string(), "false".to_string()),
        ]);
        let line = row(&header(), &values).unwrap();
        assert_eq!(line, "alice,,a\\, b\\,\\, c \"quoted\" ü 日本,false");
        let back = parse_row(&header(), &line).unwrap();
        assert_eq!(back["custom:note"], values["custom:note"]);
        assert_eq!(back["email"], "");
    }

    #[test]
    fn values_the_dialect_would_change_are_refused() {
        for bad in ["two\nlines", " padded", "trailing ", "back\\slash", "cr\r"] {
            let values = BTreeMap::from([("email".to_string(), bad.to_string())]);
            assert_eq!(row(&header(), &values), Err(CsvRefusal::UncarriableValue("email".into())), "{bad:?}");
        }
        let long = BTreeMap::from([("custom:note".to_string(), "x".repeat(MAX_ROW_CHARS))]);
        assert!(matches!(row(&header(), &long), Err(CsvRefusal::RowTooLong(_))));
    }

    proptest! {
        /// Whatever the writer accepts, a parser of the documented dialect reads back exactly.
        #[test]
        fn accepted_rows_survive_the_documented_dialect(
            values in proptest::collection::vec(any::<String>(), 4),
        ) {
            let header = header();
            let map: BTreeMap<String, String> = header.iter().cloned().zip(values.iter().cloned()).collect();
            match row(&header, &map) {
                Ok(line) => {
                    prop_assert!(!line.contains('\n'));
                    prop_assert_eq!(parse_row(&header, &line).unwrap(), map);
                }
                Err(CsvRefusal::UncarriableValue(column)) => prop_assert!(!carries(&map[&column])),
                Err(CsvRefusal::RowTooLong(n)) => prop_assert!(n > MAX_ROW_CHARS),
            }
        }

        /// Values with commas, quotes and non-ASCII text (no refused characters) are always accepted.
        #[test]
        fn hostile_but_carriable_values_are_accepted(value in "[a-zA-Z0-9 ,\"'ü日本🎉;:@.+-]{0,40}") {
            let value = value.trim().to_string();
            let map = BTreeMap::from([("custom:note".to_string(), value.clone())]);
            let line = row(&header(), &map).unwrap();
            prop_assert_eq!(&parse_row(&header(), &line).unwrap()["custom:note"], &value);
        }
    }
}
