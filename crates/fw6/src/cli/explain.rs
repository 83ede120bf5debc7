//! `fw6 explain`: fw6's verdict on a pair, and the other tables that may still block a pair
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
    let others = manager.status().await?.other_chains;
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
        let (also, chains) = if e.allowed {
            let chains: Vec<&fw6::OtherChain> = others
                .iter()
                .filter(|c| c.sees_ipv6() && c.sees_interface(&interface) && c.may_drop())
                .collect();
            (fw6::may_block(&others, &interface), chains)
        } else {
            (Vec::new(), Vec::new())
        };
        value["also_filtered_by"] = json!(chains);
        value["warnings"] = json!(also);
        docs.push(value);
        let verdict = if e.allowed { "allowed" } else { "dropped" };
        lines.push(format!(
            "{key} on {}: {verdict} ({}): {}",
            a.conn,
            e.reason.as_str(),
            e.sentence
        ));
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
