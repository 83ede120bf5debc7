//! The other tables' base chains on the inbound hooks (fw6_model::OtherChain), read on a thread
//! of their own and published for `Status`, which never asks the kernel: a flood of `Status`
//! must cost the kernel nothing, and the list changes only when another program commits.
//!
//! A refresh is asked for when the nftables monitor sees another program add or delete a table,
//! chain or rule, and after every drift repair (a repair follows a gap the monitor did not
//! watch). Requests coalesce: while one waits, more add nothing, and the waiting one reads the
//! ruleset after all of them.

use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;

use fw6_kernel::Nft;
use fw6_model::OtherChain;
use tokio::sync::watch;
use tracing::warn;

/// What `Status` reports about the other tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Others {
    /// The chains as of the last successful read.
    pub chains: Arc<Vec<OtherChain>>,
    /// Why the last read failed, if it did (the chains are then the previous read's).
    pub error: Option<String>,
}

/// Why the reader of the other tables could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its netlink socket could not be opened.
    #[error("cannot open a netlink socket to read nftables: {0}")]
    Socket(#[source] fw6_kernel::Error),
    /// Its thread could not be started.
    #[error("cannot start the thread that reads the other tables: {0}")]
    Thread(#[source] std::io::Error),
}

/// The reader thread's handle: ask for a refresh, read the last result.
#[derive(Clone)]
pub struct OtherTables {
    wake: SyncSender<()>,
    published: watch::Receiver<Others>,
}

impl OtherTables {
    /// Reads the other tables once (so the first `Status` is right), then starts the thread
    /// that reads them again on [`OtherTables::refresh`]. Its netlink socket is read-only: it
    /// never commits.
    pub fn start() -> Result<Self, StartError> {
        let mut nft = Nft::new().map_err(StartError::Socket)?;
        let (sender, published) = watch::channel(Others::default());
        read(&mut nft, &sender);
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        thread::Builder::new()
            .name("fw6d-others".into())
            .spawn(move || {
                for () in woken {
                    read(&mut nft, &sender);
                }
            })
            .map_err(StartError::Thread)?;
        Ok(Self { wake, published })
    }

    /// Asks for a fresh read; returns at once.
    pub fn refresh(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => warn!("the other tables' reader has stopped"),
        }
    }

    /// The last result, without waiting.
    pub fn current(&self) -> Others {
        self.published.borrow().clone()
    }
}

fn read(nft: &mut Nft, publisher: &watch::Sender<Others>) {
    match nft.other_chains() {
        Ok(chains) => {
            publisher.send_if_modified(|others| {
                let fresh = Others {
                    chains: Arc::new(chains),
                    error: None,
                };
                let modified = *others != fresh;
                *others = fresh;
                modified
            });
        }
        Err(e) => {
            warn!(%e, "cannot read the other tables' chains; Status reports the last read");
            publisher.send_modify(|others| others.error = Some(e.to_string()));
        }
    }
}
