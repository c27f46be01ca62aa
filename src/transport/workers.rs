//! The worker threads connections run on: one actix arbiter per core, so
//! decoding and encoding use every core while the broker thread only routes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::{Arbiter, ArbiterHandle};

/// A fixed set of arbiters handed out round-robin.
pub struct Workers {
    arbiters: Vec<Arbiter>,
    handles: Arc<[ArbiterHandle]>,
    next: Arc<AtomicUsize>,
}

/// A cheap handle to pick the arbiter for the next connection.
#[derive(Clone)]
pub struct WorkerPicker {
    handles: Arc<[ArbiterHandle]>,
    next: Arc<AtomicUsize>,
}

impl Workers {
    /// Starts `count` worker threads (at least one).
    pub fn start(count: usize) -> Self {
        let arbiters: Vec<Arbiter> = (0..count.max(1)).map(|_| Arbiter::new()).collect();
        let handles: Arc<[ArbiterHandle]> = arbiters.iter().map(Arbiter::handle).collect();
        Self {
            arbiters,
            handles,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A picker for listeners.
    pub fn picker(&self) -> WorkerPicker {
        WorkerPicker {
            handles: self.handles.clone(),
            next: self.next.clone(),
        }
    }

    /// Stops every worker and waits for its thread.
    pub fn stop(self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        for arbiter in self.arbiters {
            let _ = arbiter.join();
        }
    }
}

impl WorkerPicker {
    /// The arbiter for the next connection.
    pub fn next(&self) -> &ArbiterHandle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }
}
