//! The generated `dbus-daemon` configuration of a [`super::PrivateBus`].

use std::fmt::Write as _;
use std::path::Path;

/// Which access policy the private bus enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Anyone may connect, own any name, send and receive anything. Unprivileged test clients
    /// can reach the daemon and the daemon can own `org.fw6.Firewall1` with no policy files.
    #[default]
    Permissive,
    /// The policy of a Debian system bus: the default-deny rules of
    /// `/usr/share/dbus-1/system.conf`, every file in `/usr/share/dbus-1/system.d` (polkitd's
    /// among them) and our `data/org.fw6.Firewall1.conf`. Tests of the shipped bus policy and
    /// end-to-end tests that want production conditions use it.
    System,
}

/// A system-type bus config listening on `socket`, EXTERNAL (peer-credential) authentication
/// only, as on the real system bus: that is what lets fw6d and polkitd trust the uid the bus
/// reports for a caller.
pub(crate) fn render(socket: &Path, policy: Policy, fw6_policy: &Path) -> String {
    let mut out = String::from(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n  \
         <type>system</type>\n",
    );
    let _ = writeln!(out, "  <listen>unix:path={}</listen>", socket.display());
    out.push_str("  <auth>EXTERNAL</auth>\n");
    match policy {
        Policy::Permissive => out.push_str(
            "  <policy context=\"default\">\n    <allow user=\"*\"/>\n    <allow own=\"*\"/>\n    \
             <allow send_type=\"method_call\"/>\n    <allow send_type=\"signal\"/>\n    \
             <allow send_type=\"method_return\"/>\n    <allow send_type=\"error\"/>\n    \
             <allow receive_type=\"method_call\"/>\n    <allow receive_type=\"method_return\"/>\n    \
             <allow receive_type=\"error\"/>\n    <allow receive_type=\"signal\"/>\n  \
             </policy>\n",
        ),
        Policy::System => {
            out.push_str(SYSTEM_DEFAULT_POLICY);
            out.push_str("  <includedir>/usr/share/dbus-1/system.d</includedir>\n");
            let _ = writeln!(out, "  <include>{}</include>", fw6_policy.display());
        }
    }
    out.push_str("</busconfig>\n");
    out
}

/// The `<policy context="default">` of Debian 12's `/usr/share/dbus-1/system.conf` (dbus
/// 1.14): connect yes, own and method calls only where a service file punches a hole.
const SYSTEM_DEFAULT_POLICY: &str = r#"  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
"#;
