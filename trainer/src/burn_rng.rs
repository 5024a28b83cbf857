//! The one lock around Burn's random number generator.
//!
//! Burn's seeded RNG is process-global: `device.seed(s)` followed by a module's `init` gives
//! the weights of seed `s` only if no other thread draws from the RNG in between. Tests run on
//! parallel threads, and every model initialisation draws (a checkpoint loader initialises a
//! model before it loads the record into it), so every seed and every draw holds this lock.
//!
//! Burn initialises parameters lazily, on first use: [`init`] therefore forces every parameter
//! while it holds the lock, or the draws would happen later, during training, unguarded.
//!
//! The lock is re-entrant on one thread: a test may hold it around a whole scenario (seed,
//! draw test tensors, build a trainer) while the library functions it calls take it again.
//! A poisoned lock (a panicking test) is taken over, since the guarded state is Burn's, not
//! ours.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

static LOCK: Mutex<()> = Mutex::new(());

thread_local! {
    /// How many guards this thread holds; only the outermost one owns the mutex.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Held while seeding or drawing from Burn's RNG; dropping it releases the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct Guard {
    // Declared for its drop: released after `Drop::drop` has lowered the depth.
    _outer: Option<MutexGuard<'static, ()>>,
}

/// Takes the lock (or, if this thread holds it already, another reference to it).
pub fn lock() -> Guard {
    let depth = DEPTH.with(Cell::get);
    let outer = (depth == 0).then(|| LOCK.lock().unwrap_or_else(|e| e.into_inner()));
    DEPTH.with(|d| d.set(depth + 1));
    Guard { _outer: outer }
}

impl Drop for Guard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Makes a module under the lock, after seeding `seed.0`'s backend with `seed.1` (if given),
/// and initialises all its parameters before the lock is released.
pub fn init<M: Module>(seed: Option<(&Device, u64)>, make: impl FnOnce() -> M) -> M {
    let _guard = lock();
    if let Some((device, seed)) = seed {
        device.seed(seed);
    }
    let module = make();
    module.visit(&mut Materialise);
    module
}

/// Reads every float parameter once, which runs its pending lazy initialiser.
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn reentrant_on_one_thread_exclusive_across_threads() {
        let outer = lock();
        let inner = lock();
        drop(inner);
        // Still held by `outer`: another thread must wait until it is dropped.
        let entered = Arc::new(AtomicUsize::new(0));
        let e = entered.clone();
        let other = std::thread::spawn(move || {
            let _g = lock();
            e.store(1, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(entered.load(Ordering::SeqCst), 0, "lock was not exclusive");
        drop(outer);
        other.join().unwrap();
        assert_eq!(entered.load(Ordering::SeqCst), 1);
    }
}
