//! `fw6 explain`: fw6's verdict on a pair (per IP family where they differ), and the other tables that may still block a pair
//! fw6 lets in (docs/install.md, "Next to other firewalls").

use serde_json::json;

use super::args::ConnPair;
use super::change;
use super::exit::Failure;
use super::output::Out;
use super::session::Session;

/// Explains every pair of `a.pair` on `a.conn`.
pub async fn explain(session: &Session, a: &ConnPair, out: Out) -> Result<(), Failure> {
    let keys = change::question_pairs(&a.pair)?.keys;
    let manager = session.manager().await?;
    // What else filters the packet: only fw6d's Status knows (Explain answers for fw6's
    // own table), and only if fw6 lets the packet in does it matter.
    let status = manager.status().await?;
    // The daemon decides for the filtered families; IPv4 that is not filtered
    // (`families = ["ipv6"]`) passes whatever the decision (docs/ruleset.md).
    let ipv4_filtered = status.families.is_none() || status.filters_ipv4();
    let others = status.other_chains;
    let interface = manager
        .connections()
        .await?
        .into_iter()
        .find(|c| c.id.to_string() == a.conn || c.interface.as_str() == a.conn)
        .map_or_else(|| a.conn.clone(), |c| c.interface.to_string());
    let (mut docs, mut lines) = (Vec::new(), Vec::new());
    for key in keys {
        let e = manager.explain(&a.conn, key).await?;
        let mut value = serde_json::to_value(&e).unwrap_or_default();
        value["connection"] = json!(a.conn);
        value["port"] = json!(key.port);
        value["protocol"] = json!(key.protocol);
        let ipv4_allowed = e.allowed || !ipv4_filtered;
        if status.families.is_some() {
            value["families"] = json!({ "ipv6": e.allowed, "ipv4": ipv4_allowed });
        }
        let (also, chains) = if e.allowed || ipv4_allowed {
            let chains: Vec<&fw6::OtherChain> = others
                .iter()
                .filter(|c| c.sees_interface(&interface) && c.may_drop())
                .collect();
            (fw6::may_block(&others, &interface), chains)
        } else {
            (Vec::new(), Vec::new())
        };
        value["also_filtered_by"] = json!(chains);
        value["warnings"] = json!(also);
        docs.push(value);
        let verdict = if e.allowed { "allowed" } else { "dropped" };
        let mut line = format!(
            "{key} on {}: {verdict} ({}): {}",
            a.conn,
            e.reason.as_str(),
            e.sentence
        );
        if ipv4_allowed != e.allowed {
            line = format!(
                "{line}\n  over IPv6 only: IPv4 is not filtered (families = [\"ipv6\"] \
                 in fw6d.toml), so {key} over IPv4 is allowed"
            );
        }
        lines.push(line);
        lines.extend(also.iter().map(|w| format!("  {w}")));
    }
    // One pair: the documented single answer; several: {"connection", "explanations"}.
    let value = if docs.len() == 1 {
        docs.swap_remove(0)
    } else {
        json!({ "connection": a.conn, "explanations": docs })
    };
    out.emit(&value, || lines.join("\n"));
    Ok(())
}
