//! One remote object of fw6d: method calls, property reads and writes, every error turned into
//! [`crate::Error`]. State-changing calls carry `ALLOW_INTERACTIVE_AUTH`, so polkit may ask the
//! user to confirm (the ICF confirmation step) instead of refusing outright.

use zbus::proxy::{CacheProperties, MethodFlags};
use zbus::{Connection, Proxy, Variant};

use crate::Error;
use crate::wire::SERVICE;

/// A proxy for one object and interface, without a property cache: every read asks the daemon,
/// so a value is never older than the call (ICF properties are read live).
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    proxy: Proxy<'static>,
    properties: Proxy<'static>,
}

impl Remote {
    /// A proxy for `interface` at `path` on fw6d's bus name.
    pub(crate) async fn new(
        conn: &Connection,
        path: String,
        interface: &'static str,
    ) -> Result<Self, Error> {
        let build = |iface: &'static str| {
            zbus::proxy::Builder::<Proxy<'static>>::new(conn)
                .destination(SERVICE)
                .path(path.clone())
                .interface(iface)
                .cache_properties(CacheProperties::No)
                .build()
        };
        Ok(Self {
            proxy: build(interface).await?,
            properties: build("org.freedesktop.DBus.Properties").await?,
        })
    }

    /// The object path.
    pub(crate) fn path(&self) -> &str {
        self.proxy.path().as_str()
    }

    /// The underlying proxy, for signal subscriptions.
    pub(crate) fn proxy(&self) -> &Proxy<'static> {
        &self.proxy
    }

    /// A read-only method call.
    pub(crate) async fn call<B, R>(&self, member: &'static str, body: &B) -> Result<R, Error>
    where
        B: serde::Serialize + zbus::DynamicType,
        R: for<'d> zbus::wire::DynamicDeserialize<'d>,
    {
        Ok(self.proxy.call(member, body).await?)
    }

    /// A state-changing method call, allowed to trigger a polkit authentication dialog.
    pub(crate) async fn mutate<B, R>(&self, member: &'static str, body: &B) -> Result<R, Error>
    where
        B: serde::Serialize + zbus::DynamicType,
        R: for<'d> zbus::wire::DynamicDeserialize<'d>,
    {
        self.proxy
            .call_with_flags(member, MethodFlags::ALLOW_INTERACTIVE_AUTH, body)
            .await?
            .ok_or_else(|| Error::protocol(format!("{member} returned no reply")))
    }

    /// Reads a property.
    pub(crate) async fn get<T>(&self, name: &'static str) -> Result<T, Error>
    where
        T: serde::de::DeserializeOwned + zbus::Type,
    {
        Ok(self.proxy.get_property(name).await?)
    }

    /// Writes a property (state-changing: may ask for authentication).
    pub(crate) async fn set<'v>(
        &self,
        name: &'static str,
        value: impl Into<Variant<'v>>,
    ) -> Result<(), Error> {
        let body = (self.proxy.interface().as_str(), name, value.into());
        self.properties
            .call_with_flags::<_, _, ()>("Set", MethodFlags::ALLOW_INTERACTIVE_AUTH, &body)
            .await?;
        Ok(())
    }
}
