//! A builder for one atomic `Apply`: many state-changing members, one store transaction and one
//! kernel batch, all or nothing (docs/design.md §1.1). The methods are named like the members.

use fw6_model::{EntryName, IfName, LogfileMaximumSize, Mutation, PortKey};

use crate::{Error, Manager};

/// Mutations collected for one `Apply`, bound to the manager that will send them (`M` is
/// [`Manager`] or [`blocking::Manager`](crate::blocking::Manager)).
///
/// ```no_run
/// # async fn demo(manager: &fw6::Manager) -> Result<(), fw6::Error> {
/// use fw6::{EntryName, IfName};
/// let lan = IfName::try_from("lan0")?;
/// let changed = manager
///     .batch()
///     .open_port(&lan, "8080/tcp".parse()?, &EntryName::try_from("web")?)
///     .close_global_port("23/tcp".parse()?)
///     .apply()
///     .await?;
/// println!("{changed} effective changes");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a batch does nothing until `apply` is called"]
pub struct Batch<'m, M> {
    manager: &'m M,
    mutations: Vec<Mutation>,
}

impl<'m, M> Batch<'m, M> {
    /// An empty batch for `manager`.
    pub(crate) fn new(manager: &'m M) -> Self {
        Self {
            manager,
            mutations: Vec::new(),
        }
    }

    /// The manager the batch will be sent with.
    pub(crate) fn manager(&self) -> &'m M {
        self.manager
    }

    /// The mutations collected so far, in order.
    pub fn as_mutations(&self) -> &[Mutation] {
        &self.mutations
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }

    /// Adds one mutation.
    pub fn mutation(mut self, mutation: Mutation) -> Self {
        self.mutations.push(mutation);
        self
    }

    /// Adds mutations in order (e.g. from [`crate::file::parse_batch`]).
    pub fn mutations(mut self, mutations: &[Mutation]) -> Self {
        self.mutations.extend_from_slice(mutations);
        self
    }

    /// `OpenGlobalPort`.
    pub fn open_global_port(self, key: PortKey, name: &EntryName) -> Self {
        self.mutation(Mutation::OpenGlobalPort {
            key,
            name: name.clone(),
            lease: None,
        })
    }

    /// `CloseGlobalPort`.
    pub fn close_global_port(self, key: PortKey) -> Self {
        self.mutation(Mutation::CloseGlobalPort { key })
    }

    /// `EnableFirewall` on `connection`.
    pub fn enable_firewall(self, connection: &IfName) -> Self {
        self.mutation(Mutation::EnableFirewall {
            connection: connection.clone(),
        })
    }

    /// `DisableFirewall` on `connection`.
    pub fn disable_firewall(self, connection: &IfName) -> Self {
        self.mutation(Mutation::DisableFirewall {
            connection: connection.clone(),
        })
    }

    /// `OpenPort` on `connection`.
    pub fn open_port(self, connection: &IfName, key: PortKey, name: &EntryName) -> Self {
        self.mutation(Mutation::OpenPort {
            connection: connection.clone(),
            key,
            name: name.clone(),
            lease: None,
        })
    }

    /// `ClosePort` on `connection`.
    pub fn close_port(self, connection: &IfName, key: PortKey) -> Self {
        self.mutation(Mutation::ClosePort {
            connection: connection.clone(),
            key,
        })
    }

    /// `IgnoreGlobalPort` on `connection`.
    pub fn ignore_global_port(self, connection: &IfName, key: PortKey, name: &EntryName) -> Self {
        self.mutation(Mutation::IgnoreGlobalPort {
            connection: connection.clone(),
            key,
            name: name.clone(),
        })
    }

    /// `ObserveGlobalPort` on `connection`.
    pub fn observe_global_port(self, connection: &IfName, key: PortKey) -> Self {
        self.mutation(Mutation::ObserveGlobalPort {
            connection: connection.clone(),
            key,
        })
    }

    /// `put_LogfilePath`.
    pub fn set_logfile_path(self, path: impl Into<String>) -> Self {
        self.mutation(Mutation::SetLogfilePath { path: path.into() })
    }

    /// `put_LogfileMaximumSize`.
    pub fn set_logfile_maximum_size(self, kib: LogfileMaximumSize) -> Self {
        self.mutation(Mutation::SetLogfileMaximumSize { kib })
    }

    /// `put_LogDroppedPackets`.
    pub fn set_log_dropped_packets(self, enabled: bool) -> Self {
        self.mutation(Mutation::SetLogDroppedPackets { enabled })
    }

    /// `put_LogConnections`.
    pub fn set_log_connections(self, enabled: bool) -> Self {
        self.mutation(Mutation::SetLogConnections { enabled })
    }

    /// The collected mutations, consuming the builder.
    pub fn into_mutations(self) -> Vec<Mutation> {
        self.mutations
    }
}

impl Batch<'_, Manager> {
    /// Sends the batch as one atomic `Apply` and returns the number of effective changes.
    pub async fn apply(self) -> Result<u32, Error> {
        self.manager.apply(&self.mutations).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_keeps_order_and_member_names() {
        let lan = IfName::try_from("lan0").unwrap();
        let web = EntryName::try_from("web").unwrap();
        let key: PortKey = "8080/tcp".parse().unwrap();
        let batch = Batch::new(&())
            .open_global_port(key, &web)
            .close_global_port(key)
            .enable_firewall(&lan)
            .disable_firewall(&lan)
            .open_port(&lan, key, &web)
            .close_port(&lan, key)
            .ignore_global_port(&lan, key, &web)
            .observe_global_port(&lan, key)
            .set_logfile_path("/var/log/x.log")
            .set_logfile_maximum_size(LogfileMaximumSize::try_from(8).unwrap())
            .set_log_dropped_packets(true)
            .set_log_connections(false);
        let members: Vec<_> = batch.as_mutations().iter().map(Mutation::member).collect();
        assert_eq!(
            members,
            fw6_model::Member::ALL.map(fw6_model::Member::as_str)
        );
        let again = Batch::new(&()).mutations(batch.as_mutations());
        assert_eq!(again.into_mutations(), batch.into_mutations());
    }
}
