//! `cap keys`: sticky bindings, the suspended pool and what the daemon remembers per key.
//!
//! The list is asked for as a stream (`"stream": true`): capd sends it in parts of about a
//! MiB, so hundreds of thousands of records never need one reply line over the protocol's
//! 16 MiB. `--format json` still prints one JSON document, written as the parts arrive (a
//! list of 300,000 records is never held whole, and fields a newer daemon adds pass through);
//! text collects the rows to size the table's columns.

use crate::Ctx;
use crate::cli::Format;
use crate::connect::connect;
use crate::failure::stdout_error;
use crate::output::{self, or_dash, table};
use crate::wire;
use cap_proto::reply::{KeysReport, Reply};
use cap_proto::request::{KeysRequest, Op};
use serde_json::{Map, Value};
use std::io::Write;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let conn = connect(ctx)?;
    let op = Op::Keys(KeysRequest { stream: true });
    match ctx.format {
        Format::Json => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let mut doc = JsonDoc::default();
            super::call_each(ctx, conn.client, op, |answer| {
                let Reply::Keys(part) = &answer.reply else {
                    return Err(output::unexpected("keys", &answer.reply));
                };
                let payload = wire::payload(&answer.text);
                let map: Map<String, Value> = serde_json::from_str(payload)?;
                doc.part(map, &mut stdout).map_err(stdout_error)?;
                Ok(part.more)
            })?;
            doc.finish(&mut stdout)
                .and_then(|()| stdout.flush())
                .map_err(stdout_error)
        }
        Format::Quiet | Format::Text => {
            let mut all = KeysReport::default();
            super::call_each(ctx, conn.client, op, |answer| {
                let Reply::Keys(part) = answer.reply else {
                    return Err(output::unexpected("keys", &answer.reply));
                };
                all.bindings.extend(part.bindings);
                all.parked.extend(part.parked);
                all.records.extend(part.records);
                all.usage.extend(part.usage);
                Ok(part.more)
            })?;
            if ctx.format == Format::Quiet {
                all.bindings
                    .iter()
                    .try_for_each(|b| output::println(&b.key))
            } else {
                output::print(&render(&all))
            }
        }
    }
}

/// The lists of a `keys` reply, in the order capd streams them.
const SECTIONS: [&str; 3] = ["bindings", "parked", "records"];

/// Writes the parts of a streamed `keys` reply as one JSON object,
/// `{"bindings":[…],"parked":[…],"records":[…]}`, item by item as they arrive. Other fields
/// of the parts (`usage`, or from a newer daemon) follow the lists: maps spread over parts are
/// joined, other values keep the first; `more` is dropped.
#[derive(Default)]
struct JsonDoc {
    /// Sections opened so far (the last one is open unless finished).
    opened: usize,
    /// Whether the open section has an item yet.
    has_item: bool,
    extra: Map<String, Value>,
}

impl JsonDoc {
    fn part(&mut self, mut map: Map<String, Value>, w: &mut impl Write) -> std::io::Result<()> {
        map.remove("more");
        for (i, name) in SECTIONS.iter().enumerate() {
            let items = match map.remove(*name) {
                Some(Value::Array(items)) if !items.is_empty() => items,
                _ => continue,
            };
            if i + 1 < self.opened {
                return Err(std::io::Error::other(format!(
                    "capd sent `{name}` after a later list; `cap daemon restart` if it is \
                     from another build"
                )));
            }
            self.open(i + 1, w)?;
            for item in items {
                if std::mem::replace(&mut self.has_item, true) {
                    w.write_all(b",")?;
                }
                serde_json::to_writer(&mut *w, &item)?;
            }
        }
        for (k, v) in map {
            match (self.extra.get_mut(&k), v) {
                // A map spread over parts (`usage`, key → total) is joined.
                (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
                (Some(_), _) => {}
                (None, v) => {
                    self.extra.insert(k, v);
                }
            }
        }
        Ok(())
    }

    /// Opens sections until `n` are open, each one before the last closed (empty if it had
    /// nothing).
    fn open(&mut self, n: usize, w: &mut impl Write) -> std::io::Result<()> {
        while self.opened < n {
            w.write_all(if self.opened == 0 { b"{" } else { b"]," })?;
            write!(w, "\"{}\":[", SECTIONS[self.opened])?;
            self.opened += 1;
            self.has_item = false;
        }
        Ok(())
    }

    fn finish(mut self, w: &mut impl Write) -> std::io::Result<()> {
        self.open(SECTIONS.len(), w)?;
        w.write_all(b"]")?;
        for (k, v) in &self.extra {
            write!(w, ",{}:", serde_json::to_string(k)?)?;
            serde_json::to_writer(&mut *w, v)?;
        }
        w.write_all(b"}\n")
    }
}

fn render(r: &KeysReport) -> String {
    if r.bindings.is_empty() && r.parked.is_empty() && r.records.is_empty() {
        return "no bindings, parked sessions or remembered keys\n".into();
    }
    let mut text = String::from("Bindings:\n");
    if r.bindings.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .bindings
            .iter()
            .map(|b| vec![b.key.clone(), b.agent.clone(), b.session.clone()])
            .collect();
        text.push_str(&indent(&table(&["KEY", "AGENT", "SESSION"], &rows)));
    }
    text.push_str("\nParked:\n");
    if r.parked.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .parked
            .iter()
            .map(|p| vec![p.key.clone(), p.agent.clone(), p.session.clone()])
            .collect();
        text.push_str(&indent(&table(&["KEY", "AGENT", "SESSION"], &rows)));
    }
    text.push_str("\nRemembered:\n");
    if r.records.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .records
            .iter()
            .map(|rec| {
                vec![
                    rec.key.clone(),
                    rec.agent.clone(),
                    if rec.current { "yes" } else { "" }.into(),
                    or_dash(rec.native_id.as_deref()),
                    rec.cwd.display().to_string(),
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &["KEY", "AGENT", "CURRENT", "NATIVE ID", "CWD"],
            &rows,
        )));
    }
    text
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(parts: &[&str]) -> String {
        let mut out = Vec::new();
        let mut d = JsonDoc::default();
        for p in parts {
            d.part(serde_json::from_str(p).unwrap(), &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parts_join_into_the_one_document_a_single_reply_was() {
        let single =
            r#"{"bindings":[{"key":"k"}],"parked":[],"records":[{"key":"a"},{"key":"b"}]}"#;
        assert_eq!(doc(&[single]), format!("{single}\n"));
        let parts = [
            r#"{"bindings":[{"key":"k"}],"parked":[],"records":[{"key":"a"}],"more":true}"#,
            r#"{"bindings":[],"parked":[],"records":[{"key":"b"}]}"#,
        ];
        assert_eq!(doc(&parts), format!("{single}\n"));
        assert_eq!(
            doc(&[r#"{"bindings":[],"parked":[],"records":[]}"#]),
            "{\"bindings\":[],\"parked\":[],\"records\":[]}\n"
        );
        // A newer daemon's extra field passes through.
        assert_eq!(
            doc(&[r#"{"bindings":[],"parked":[{"key":"p"}],"records":[],"total":3}"#]),
            "{\"bindings\":[],\"parked\":[{\"key\":\"p\"}],\"records\":[],\"total\":3}\n"
        );
    }

    #[test]
    fn usage_spread_over_parts_is_one_map() {
        let parts = [
            r#"{"bindings":[],"parked":[],"records":[],"usage":{"a":{"cost_usd":1.0}},"more":true}"#,
            r#"{"bindings":[],"parked":[],"records":[],"usage":{"b":{"cost_usd":2.0}}}"#,
        ];
        assert_eq!(
            doc(&parts),
            "{\"bindings\":[],\"parked\":[],\"records\":[],\
             \"usage\":{\"a\":{\"cost_usd\":1.0},\"b\":{\"cost_usd\":2.0}}}\n"
        );
    }

    #[test]
    fn a_list_after_a_later_one_is_refused() {
        let mut d = JsonDoc::default();
        let mut out = Vec::new();
        d.part(
            serde_json::from_str(r#"{"records":[1]}"#).unwrap(),
            &mut out,
        )
        .unwrap();
        assert!(
            d.part(
                serde_json::from_str(r#"{"bindings":[1]}"#).unwrap(),
                &mut out
            )
            .is_err()
        );
    }
}
