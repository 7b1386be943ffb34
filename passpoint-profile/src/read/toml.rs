//! The crate's own TOML format: the serde model, keys named after PPS MO nodes.
//!
//! A file holds one profile at top level, or several as
//! `[[PerProviderSubscription]]` tables.

use super::{Document, ReadError};
use crate::diag::{Location, SourceMap};
use crate::model::Profile;
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

/// Several profiles in one TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TomlMulti {
    /// The profiles.
    #[serde(rename = "PerProviderSubscription")]
    pub profiles: Vec<Profile>,
}

fn err_at(text: &str, e: &toml::de::Error) -> ReadError {
    let loc = e.span().map(|s| Location::at_offset(text, s.start));
    let msg = e.message().trim().to_string();
    ReadError::syntax(format!("TOML: {msg}"), loc)
}

/// Reads a TOML profile file.
pub fn read(text: &str) -> Result<Document, ReadError> {
    let table = DeTable::parse(text).map_err(|e| err_at(text, &e))?;
    let multi = table.get_ref().contains_key("PerProviderSubscription");
    let mut doc = Document::default();
    if multi {
        let m: TomlMulti = toml::from_str(text).map_err(|e| err_at(text, &e))?;
        doc.profiles = m.profiles;
        let mut maps = vec![SourceMap::default(); doc.profiles.len()];
        if let Some(v) = table.get_ref().get("PerProviderSubscription")
            && let DeValue::Array(items) = v.get_ref()
        {
            for (i, item) in items.iter().enumerate() {
                if let (Some(map), DeValue::Table(t)) = (maps.get_mut(i), item.get_ref()) {
                    map.insert("", Location::at_offset(text, item.span().start));
                    walk(text, t, "", map);
                }
            }
        }
        doc.source_maps = maps;
    } else {
        let p: Profile = toml::from_str(text).map_err(|e| err_at(text, &e))?;
        let mut map = SourceMap::default();
        map.insert("", Location::Text { line: 1, column: 1 });
        walk(text, table.get_ref(), "", &mut map);
        doc.profiles.push(p);
        doc.source_maps.push(map);
    }
    Ok(doc)
}

fn walk(text: &str, t: &DeTable<'_>, path: &str, map: &mut SourceMap) {
    for (k, v) in t.iter() {
        let p = if path.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{path}/{}", k.get_ref())
        };
        map.insert(p.clone(), Location::at_offset(text, k.span().start));
        match v.get_ref() {
            DeValue::Table(sub) => walk(text, sub, &p, map),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{p}[{i}]");
                    map.insert(ip.clone(), Location::at_offset(text, item.span().start));
                    if let DeValue::Table(sub) = item.get_ref() {
                        walk(text, sub, &ip, map);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_point_at_keys() {
        let text =
            "[HomeSP]\nFriendlyName = \"x\"\nFQDN = \"\"\n\n[[HomeSP.NetworkID]]\nSSID = \"a\"\n";
        let doc = read(text).expect("toml");
        let m = &doc.source_maps[0];
        assert_eq!(
            m.lookup("HomeSP/FQDN"),
            Some(Location::Text { line: 3, column: 1 })
        );
        assert_eq!(
            m.lookup("HomeSP/NetworkID[0]/SSID"),
            Some(Location::Text { line: 6, column: 1 })
        );
    }

    #[test]
    fn unknown_key_is_located_error() {
        let err = read("[HomeSP]\nFQDNx = \"a\"\n").expect_err("unknown");
        let s = err.render("f.toml");
        assert!(s.starts_with("f.toml:2:1:"), "{s}");
    }
}
