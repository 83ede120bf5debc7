//! Access control and confirmation (docs/dbus-api.md, "Access control"): policy switch, then
//! uid 0 passes, then polkit, told of the caller as service/subject.rs says. polkit's
//! authentication agent is the confirmation UI; a dismissed dialog is `Aborted`.
//!
//! Every item of a batch is authorized exactly as if it were called alone — same action, same
//! details — so a rule scoped by connection or port cannot be walked around by putting an
//! out-of-scope item behind an in-scope one. Identical checks are asked once per call.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;
use fw6_model::{Error, ErrorKind, Mutation, State};
use zbus::message::Header;
use zbus_polkit::policykit1::{
    AuthorityProxy, AuthorizationResult, CheckAuthorizationFlags, Subject,
};

use super::subject::Subjects;
use crate::store::Provenance;

/// The polkit actions, one per scope an administrator may want to grant apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Per-connection pairs: open, close, ignore and observe a global pair on one connection.
    Ports,
    /// Global pairs, which open every connection at once.
    GlobalPorts,
    /// A connection's firewall switch.
    Firewall,
    /// The logging switches and the log's size.
    Logging,
    /// Where the root daemon writes its log: a file path, so it never keeps an authorization.
    LogfilePath,
    /// Reading the audit trail (`ReadAudit`), the one restricted read.
    Audit,
    /// Making a change that waits for confirmation (`ApplyConfirmable`): while it waits every
    /// other change is refused, so holding the firewall that way is an administrator's thing,
    /// whatever the caller may change.
    Confirmable,
}

impl Action {
    /// The polkit action id (data/org.fw6.Firewall1.policy).
    pub const fn id(self) -> &'static str {
        match self {
            Self::Ports => "org.fw6.firewall1.ports",
            Self::GlobalPorts => "org.fw6.firewall1.global-ports",
            Self::Firewall => "org.fw6.firewall1.firewall",
            Self::Logging => "org.fw6.firewall1.logging",
            Self::LogfilePath => "org.fw6.firewall1.logfile-path",
            Self::Audit => "org.fw6.firewall1.audit",
            Self::Confirmable => "org.fw6.firewall1.confirmable",
        }
    }

    /// The action guarding `mutation`.
    pub const fn of(mutation: &Mutation) -> Self {
        match mutation {
            Mutation::EnableFirewall { .. } | Mutation::DisableFirewall { .. } => Self::Firewall,
            Mutation::OpenGlobalPort { .. } | Mutation::CloseGlobalPort { .. } => Self::GlobalPorts,
            Mutation::OpenPort { .. }
            | Mutation::ClosePort { .. }
            | Mutation::IgnoreGlobalPort { .. }
            | Mutation::ObserveGlobalPort { .. } => Self::Ports,
            Mutation::SetLogfilePath { .. } => Self::LogfilePath,
            Mutation::SetLogfileMaximumSize { .. }
            | Mutation::SetLogDroppedPackets { .. }
            | Mutation::SetLogConnections { .. } => Self::Logging,
        }
    }
}

/// How a change was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Admission {
    /// Root, or polkit said yes (with or without a dialog).
    Authorized,
    /// polkit would have asked for authentication, and none was asked because the batch
    /// changed nothing: it must still change nothing when committed
    /// (`engine::Validated::admitted_as_noop`).
    NoopOnly,
}

/// How long fw6d waits for polkit. An interactive check waits for a person at a password
/// prompt; a non-interactive one only for polkitd's rules.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A check that may show a dialog.
    pub interactive: Duration,
    /// A check that may not.
    pub check: Duration,
}

/// One polkit question: an action and the details of one item, as if it were called alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Check {
    action: Action,
    details: Vec<(&'static str, String)>,
}

impl Check {
    fn of(mutation: &Mutation) -> Self {
        let mut details = vec![("member", mutation.member().to_owned())];
        if let Some(c) = mutation.connection() {
            details.push(("connection", c.to_string()));
        }
        if let Some(k) = mutation.key() {
            details.push(("port", k.port.to_string()));
            details.push(("protocol", k.protocol.to_string()));
        }
        match mutation {
            Mutation::OpenGlobalPort { name, .. }
            | Mutation::OpenPort { name, .. }
            | Mutation::IgnoreGlobalPort { name, .. } => details.push(("name", name.to_string())),
            Mutation::SetLogfilePath { path } => details.push(("path", path.clone())),
            _ => {}
        }
        // A lease is authorized with what it asks for: the seconds it lasts (rounded up from
        // the expiry the call made) and whether it is bound to the caller.
        if let Some(lease) = mutation.lease() {
            if let Some(at) = lease.expires {
                let left = at
                    .saturating_sub(super::options::now_millis())
                    .div_ceil(1000);
                details.push(("lifetime", left.to_string()));
            }
            if lease.owner.is_some() {
                details.push(("bind_to_caller", "true".to_owned()));
            }
        }
        Self {
            action: Action::of(mutation),
            details,
        }
    }
}

/// Non-interactive checks in flight at once: polkitd answers one at a time, but a window
/// hides the bus round trips of a big batch under a scoped rule.
const CHECK_WINDOW: usize = 32;

/// Items a batch's confirmation message names before "and N more": also how many items of a
/// batch are converted before its first is authorized ([`probe`]).
pub const MESSAGE_ITEMS: usize = 3;

/// What [`probe`] settled: the first item's question, answered yes (after a dialog or without
/// one), which [`authorize`] then does not ask again (a second dialog for it would be one too
/// many with `auth_admin`, which is never kept).
#[derive(Debug, Default)]
#[must_use]
pub struct Probed(Option<Check>);

/// Who asks for a change, and the rules for asking polkit about it.
pub struct Caller<'a> {
    /// fw6d's bus connection (polkit is asked over it).
    pub conn: &'a zbus::Connection,
    /// The call's header (its sender is the caller's bus name).
    pub hdr: &'a Header<'a>,
    /// Who the bus daemon says the caller is.
    pub who: &'a Provenance,
    /// fw6d.toml's switch for every change.
    pub allow_configuration: bool,
    /// How long polkit may take.
    pub timeouts: Timeouts,
}

/// Authorizes `mutations` for the caller of `hdr`, item by item, before anything else is done
/// with them. `state` is the published state, used only to tell a no-op (which needs no
/// confirmation: docs/icf-api.md §6.4) from a change.
pub async fn authorize(
    caller: &Caller<'_>,
    mutations: &[Mutation],
    state: &State,
    settled: Probed,
) -> Result<Admission, Error> {
    policy_switch(caller.allow_configuration)?;
    let who = caller.who;
    if who.uid == 0 {
        return Ok(Admission::Authorized);
    }
    let polkit = Polkit::for_caller(caller.conn, caller.hdr, who, caller.timeouts).await?;
    let mut admission = Admission::Authorized;

    // Distinct checks in item order, each with the index of the first item that asks it, a
    // window of them in flight; built as they are asked, so a refusal at the first item costs
    // no more than the window.
    let mut seen: HashSet<Check> = settled.0.into_iter().collect();
    let mut pending = FuturesOrdered::new();
    let mut next = 0;
    let mut noop: Option<bool> = None;
    loop {
        while pending.len() < CHECK_WINDOW && next < mutations.len() {
            let check = Check::of(&mutations[next]);
            if seen.insert(check.clone()) {
                pending.push_back(polkit.ask_first(next, check));
            }
            next += 1;
        }
        let Some((i, check, answer)) = pending.next().await else {
            break;
        };
        let answer = answer?;
        tracing::debug!(action = check.action.id(), ?answer, "polkit answered");
        if answer.is_authorized {
            continue;
        }
        if !answer.is_challenge {
            return Err(refusal(
                who,
                &mutations[i],
                i,
                mutations.len(),
                check.action,
                "",
            ));
        }
        // Authentication would do. A batch that changes nothing needs no confirmation.
        if *noop.get_or_insert_with(|| mutations.iter().all(|m| state.is_noop(m))) {
            admission = Admission::NoopOnly;
            continue;
        }
        polkit
            .confirm(who, &check, mutations, i, mutations.len())
            .await?;
    }
    Ok(admission)
}

/// Authorizes a batch's first item (`first` holds the first [`MESSAGE_ITEMS`] of its `items`)
/// before fw6d converts the rest, so that a caller who may not make it costs fw6d the batch's
/// decoding and one question, and no conversion, validation or writer time: a caller policy
/// refuses outright is refused, and one who would need to authenticate for it is shown the
/// batch's dialog now (one that cannot authenticate — no agent, a dismissed dialog — is
/// refused now). A first item that changes nothing is left to [`authorize`], which may let a
/// batch of no-ops through without a dialog.
pub async fn probe(
    caller: &Caller<'_>,
    first: &[Mutation],
    items: usize,
    state: &State,
) -> Result<Probed, Error> {
    policy_switch(caller.allow_configuration)?;
    let who = caller.who;
    let Some(item) = first.first() else {
        return Ok(Probed::default());
    };
    if who.uid == 0 {
        return Ok(Probed::default());
    }
    let polkit = Polkit::for_caller(caller.conn, caller.hdr, who, caller.timeouts).await?;
    let check = Check::of(item);
    let answer = polkit.ask(&check, false, None).await?;
    if answer.is_authorized {
        return Ok(Probed(Some(check)));
    }
    if !answer.is_challenge {
        return Err(refusal(who, item, 0, items, check.action, ""));
    }
    if state.is_noop(item) {
        return Ok(Probed::default());
    }
    polkit.confirm(who, &check, first, 0, items).await?;
    Ok(Probed(Some(check)))
}

/// fw6d.toml's switch for every change, whoever asks.
fn policy_switch(allow_configuration: bool) -> Result<(), Error> {
    if allow_configuration {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::AccessDenied,
        "firewall configuration is disabled by policy (allow_configuration = false in \
         fw6d.toml); ask the administrator to enable it",
    ))
}

/// Authorizes `member`, guarded by `action` as a whole (a restricted read, or the right to make
/// a change wait for confirmation): root passes, anyone else needs polkit's yes (an
/// authentication agent may ask). `allow_configuration` is not looked at: a read changes
/// nothing, and a confirmable change's items are authorized as changes.
pub async fn authorize_read(
    caller: &Caller<'_>,
    action: Action,
    member: &'static str,
) -> Result<(), Error> {
    let who = caller.who;
    if who.uid == 0 {
        return Ok(());
    }
    let polkit = Polkit::for_caller(caller.conn, caller.hdr, who, caller.timeouts).await?;
    let check = Check {
        action,
        details: vec![("member", member.to_owned())],
    };
    let answer = polkit.ask(&check, true, None).await?;
    if answer.is_authorized {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::AccessDenied,
        format!(
            "{member}: uid {} is not authorized for {}; run as root, or ask the administrator for a polkit rule granting it",
            who.uid,
            action.id()
        ),
    ))
}

/// The polkit authority and the caller, for one call.
struct Polkit {
    authority: AuthorityProxy<'static>,
    subjects: Subjects,
    timeouts: Timeouts,
}

impl Polkit {
    /// The authority, and the caller of `hdr` (`who`) as polkit subjects.
    async fn for_caller(
        conn: &zbus::Connection,
        hdr: &Header<'_>,
        who: &Provenance,
        timeouts: Timeouts,
    ) -> Result<Self, Error> {
        let subjects = Subjects::of(hdr, who)?;
        let authority = tokio::time::timeout(timeouts.check, AuthorityProxy::new(conn))
            .await
            .map_err(|_| polkit_timeout(timeouts.check))?
            .map_err(polkit_unreachable)?;
        Ok(Self {
            authority,
            subjects,
            timeouts,
        })
    }

    /// The non-interactive answer to `check`, asked for item `i`.
    async fn ask_first(
        &self,
        i: usize,
        check: Check,
    ) -> (usize, Check, Result<AuthorizationResult, Error>) {
        let answer = self
            .ask_as(self.subjects.for_item(i), &check, false, None)
            .await;
        (i, check, answer)
    }

    /// Shows the confirmation dialog for `check`, asked first by item `i` of a batch of `total`
    /// whose first items are `shown` (at least `i + 1` of them; the dialog names the first few),
    /// and refuses unless it is passed.
    async fn confirm(
        &self,
        who: &Provenance,
        check: &Check,
        shown: &[Mutation],
        i: usize,
        total: usize,
    ) -> Result<(), Error> {
        let refused = |why: &str| refusal(who, &shown[i], i, total, check.action, why);
        let message = summary(shown, total);
        let answer = self
            .ask(check, true, (total > 1).then_some(message.as_str()))
            .await?;
        if answer.is_authorized {
            return Ok(());
        }
        if answer.is_challenge {
            // Authentication would do, but no agent could ask (no desktop session, a script).
            return Err(refused(
                ": authentication is required and no authentication agent is running",
            ));
        }
        if answer.details.contains_key("polkit.dismissed") {
            return Err(dismissed());
        }
        // Not authorized and no challenge: either policy says no, or an agent asked and the
        // user cancelled or failed (polkit 122 does not always say which). Asking again without
        // interaction tells them apart: a challenge now means authentication was possible, so
        // the dialog was what failed.
        let again = self.ask(check, false, None).await?;
        Err(if again.is_challenge {
            dismissed()
        } else {
            refused("")
        })
    }

    /// `check` asked about the caller by its bus name.
    async fn ask(
        &self,
        check: &Check,
        interactive: bool,
        message: Option<&str>,
    ) -> Result<AuthorizationResult, Error> {
        self.ask_as(self.subjects.bus(), check, interactive, message)
            .await
    }

    async fn ask_as(
        &self,
        subject: &Subject,
        check: &Check,
        interactive: bool,
        message: Option<&str>,
    ) -> Result<AuthorizationResult, Error> {
        let mut details: HashMap<&str, &str> = check
            .details
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        // polkit honours a message override from a root mechanism only; fw6d is one.
        if let Some(message) = message {
            details.insert("polkit.message", message);
        }
        let (flags, limit) = if interactive {
            (
                CheckAuthorizationFlags::ALLOW_USER_INTERACTION,
                self.timeouts.interactive,
            )
        } else {
            (CheckAuthorizationFlags::empty(), self.timeouts.check)
        };
        let call =
            self.authority
                .check_authorization(subject, check.action.id(), &details, flags, "");
        match tokio::time::timeout(limit, call).await {
            Err(_) => Err(polkit_timeout(limit)),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(zbus::Error::MethodError(name, text, _)))
                if name.as_str() == "org.freedesktop.PolicyKit1.Error.Cancelled" =>
            {
                Err(Error::new(
                    ErrorKind::Aborted,
                    format!(
                        "authentication was cancelled: {}; nothing was changed",
                        text.unwrap_or_default()
                    ),
                ))
            }
            Ok(Err(e)) => Err(polkit_unreachable(e)),
        }
    }
}

/// AccessDenied naming `item`, the `i`th of `total` (`item 2 of 3: OpenGlobalPort 3389/tcp: …`),
/// and what to do.
fn refusal(
    who: &Provenance,
    item: &Mutation,
    i: usize,
    total: usize,
    action: Action,
    why: &str,
) -> Error {
    let item = if total > 1 {
        format!("item {} of {total}: {item}: ", i + 1)
    } else {
        format!("{item}: ")
    };
    Error::new(
        ErrorKind::AccessDenied,
        format!(
            "{item}uid {} is not authorized for {}{why}; nothing was changed; run as root, or \
             ask the administrator for a polkit rule granting it",
            who.uid,
            action.id(),
        ),
    )
}

fn dismissed() -> Error {
    Error::new(
        ErrorKind::Aborted,
        "the authentication dialog was dismissed or failed; nothing was changed",
    )
}

/// The confirmation message of a batch of `total` changes, naming the first few of `shown`.
fn summary(shown: &[Mutation], total: usize) -> String {
    let mut out = format!("Authentication is required to make {total} changes to the firewall: ");
    for (i, m) in shown.iter().take(MESSAGE_ITEMS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{m}");
    }
    if total > MESSAGE_ITEMS {
        let _ = write!(out, " and {} more", total - MESSAGE_ITEMS);
    }
    out.push('.');
    // polkit expands `$(key)` in a message: keep a name or path from being read as one.
    out.replace("$(", "$ (")
}

fn polkit_unreachable(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::AccessDenied,
        format!(
            "cannot ask polkit to authorize the change: {e}; nothing was changed; if polkitd is \
             not running, start it (systemctl start polkit) or run as root"
        ),
    )
}

fn polkit_timeout(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Fail,
        format!(
            "polkit did not answer within {} s; nothing was changed; check that polkitd is \
             running (systemctl status polkit) and retry",
            limit.as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fw6_model::{EntryName, IfName, PortKey};

    fn open(conn: &str, key: &str) -> Mutation {
        Mutation::OpenPort {
            connection: IfName::try_from(conn).unwrap(),
            key: key.parse::<PortKey>().unwrap(),
            name: EntryName::try_from("x").unwrap(),
            lease: None,
        }
    }

    #[test]
    fn each_item_is_checked_with_its_own_details() {
        let a = Check::of(&open("lan0", "27015/udp"));
        let b = Check::of(&open("lan0", "27016/udp"));
        assert_ne!(a, b);
        assert!(a.details.contains(&("port", "27015".into())));
        assert!(!a.details.iter().any(|(k, _)| *k == "batch"));
        assert_eq!(Check::of(&open("lan0", "27015/udp")), a);
    }

    #[test]
    fn a_lease_is_authorized_with_its_lifetime_and_binding() {
        let now = super::super::options::now_millis();
        let lease = fw6_model::Lease {
            expires: Some(now + 7_200_000),
            owner: Some(fw6_model::Owner {
                bus: "b".into(),
                name: ":1.5".into(),
                pid: 1,
                command: "game".into(),
            }),
        };
        let leased = open("lan0", "27015/udp").with_lease(Some(lease)).unwrap();
        let check = Check::of(&leased);
        assert_eq!(check.action, Action::of(&open("lan0", "27015/udp")));
        let lifetime = check
            .details
            .iter()
            .find(|(k, _)| *k == "lifetime")
            .unwrap();
        let seconds: u64 = lifetime.1.parse().unwrap();
        assert!((7_199..=7_200).contains(&seconds), "{seconds}");
        assert!(check.details.contains(&("bind_to_caller", "true".into())));
        assert!(
            !Check::of(&open("lan0", "27015/udp"))
                .details
                .iter()
                .any(|(k, _)| *k == "lifetime" || *k == "bind_to_caller")
        );
    }

    #[test]
    fn global_pairs_and_the_log_path_have_their_own_actions() {
        let global = Mutation::OpenGlobalPort {
            key: "3389/tcp".parse().unwrap(),
            name: EntryName::try_from("rdp").unwrap(),
            lease: None,
        };
        assert_eq!(Action::of(&global), Action::GlobalPorts);
        assert_eq!(Action::of(&open("lan0", "80/tcp")), Action::Ports);
        let path = Mutation::SetLogfilePath {
            path: "/var/log/fw6/x.log".into(),
        };
        assert_eq!(Action::of(&path), Action::LogfilePath);
        assert!(
            Check::of(&path)
                .details
                .contains(&("path", "/var/log/fw6/x.log".into()))
        );
    }

    #[test]
    fn the_summary_counts_and_names_the_first_items() {
        let batch: Vec<_> = (0..5)
            .map(|i| open("lan0", &format!("{}/udp", 27000 + i)))
            .collect();
        let text = summary(&batch, batch.len());
        assert!(text.contains("5 changes"), "{text}");
        assert!(text.contains("OpenPort lan0 27000/udp"), "{text}");
        assert!(text.contains("and 2 more"), "{text}");
    }
}
