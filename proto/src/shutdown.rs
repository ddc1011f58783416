//! Cooperative shutdown signal shared by every server loop of both daemons (a `watch` channel),
//! mini-redis style: each `serve(listener, …, shutdown)` selects on [`Shutdown::wait`] and
//! returns. The binaries turn SIGTERM/SIGINT into [`ShutdownTrigger::trigger`] ([`on_signals`]).

use tokio::sync::watch;

/// The sending half: call [`ShutdownTrigger::trigger`] once to stop everything.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// The receiving half, cloned into every task.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger/receiver pair.
pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Signals every [`Shutdown`] clone.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A receiver that never fires (for tests and tools).
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self(rx)
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when triggered (or when the trigger is dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// A [`Shutdown`] that fires on SIGTERM or SIGINT. The handlers are installed now (so a
/// failure is reported at start, not lost); needs a runtime.
pub fn on_signals() -> std::io::Result<Shutdown> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (trigger, shutdown) = shutdown_pair();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
        trigger.trigger();
    });
    Ok(shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger() {
        let (trigger, mut a) = shutdown_pair();
        let mut b = a.clone();
        assert!(!a.is_triggered());
        trigger.trigger();
        a.wait().await;
        b.wait().await;
        assert!(b.is_triggered() && !Shutdown::never().is_triggered());
    }
}
