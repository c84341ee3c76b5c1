//! The one place that knows about threads.
//!
//! Every parallel stage is a list of independent work items (file chunks, shards of cards,
//! of transaction ids, of terminals) mapped by [`map`]: scoped worker threads take items from
//! a lock-free queue and keep their results to themselves; the results are put back in item
//! order at the end. No lock is taken per item, and the output never depends on the number
//! of threads. On wasm32 the same code runs on the calling thread.

use crossbeam_queue::ArrayQueue;

/// The number of threads to use for a request of `requested` (0 means every core).
pub(crate) fn threads(requested: usize) -> usize {
    if cfg!(target_arch = "wasm32") {
        return 1;
    }
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Threads for work on whole files that runs outside a run's [`crate::Options`] (rendering
/// balances.csv): every core, at most 4, so that what is held per thread stays small on a
/// large machine.
pub(crate) fn file_threads() -> usize {
    threads(0).min(4)
}

/// `0..count` cut into about one slice per thread (at least 16,384 items each, so that small
/// inputs are not split into work items too small to pay for a thread).
pub(crate) fn slices(count: usize, threads: usize) -> Vec<(usize, usize)> {
    blocks(count, count.div_ceil(threads.max(1)).max(1 << 14))
}

/// `0..count` cut into `(start, end)` blocks of `size` items (the last one shorter; a size of
/// 0 is taken as 1), in order.
pub(crate) fn blocks(count: usize, size: usize) -> Vec<(usize, usize)> {
    let size = size.max(1);
    (0..count).step_by(size).map(|s| (s, (s + size).min(count))).collect()
}

/// `items` cut into at most `count` runs of consecutive items, of nearly equal lengths, in
/// order: concatenated, they are `items` again.
pub(crate) fn batches<T>(items: Vec<T>, count: usize) -> Vec<Vec<T>> {
    let size = items.len().div_ceil(count.max(1)).max(1);
    let mut batches: Vec<Vec<T>> = Vec::with_capacity(count.min(items.len()));
    for item in items {
        match batches.last_mut() {
            Some(batch) if batch.len() < size => batch.push(item),
            _ => batches.push(vec![item]),
        }
    }
    batches
}

/// Runs `a` and `b` at once, `b` on a thread of its own, when `threads` > 1; else one after
/// the other.
pub(crate) fn join<A, B, RA, RB>(threads: usize, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if threads <= 1 || cfg!(target_arch = "wasm32") {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let ra = a();
        match b.join() {
            Ok(rb) => (ra, rb),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Applies `f` to every item, on up to `threads` threads; results are in item order.
pub(crate) fn map<T, R, F>(threads: usize, items: Vec<T>, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    map_with(threads, items, |_| (), |_, item| f(item)).0
}

/// [`map`], with a state of each worker's own, made by `init` (told how many workers there
/// are) and handed to `f` with every item the worker takes. Returns the results in item
/// order, and the states, one per worker; which items a worker took is not told.
pub(crate) fn map_with<T, R, S, I, F>(threads: usize, items: Vec<T>, init: I, f: F) -> (Vec<R>, Vec<S>)
where
    T: Send,
    R: Send,
    S: Send,
    I: Fn(usize) -> S + Sync,
    F: Fn(&mut S, T) -> R + Sync,
{
    let workers = threads.min(items.len());
    if workers <= 1 || cfg!(target_arch = "wasm32") {
        let mut state = init(1);
        let results = items.into_iter().map(|item| f(&mut state, item)).collect();
        return (results, vec![state]);
    }
    let count = items.len();
    let queue = ArrayQueue::new(count);
    for item in items.into_iter().enumerate() {
        assert!(queue.push(item).is_ok(), "the queue holds every item");
    }
    let mut done: Vec<Vec<(usize, R)>> = Vec::with_capacity(workers);
    let mut states: Vec<S> = Vec::with_capacity(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init(workers);
                    let mut out = Vec::new();
                    while let Some((index, item)) = queue.pop() {
                        out.push((index, f(&mut state, item)));
                    }
                    (out, state)
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok((out, state)) => {
                    done.push(out);
                    states.push(state);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    let mut slots: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for (index, result) in done.into_iter().flatten() {
        slots[index] = Some(result);
    }
    (slots.into_iter().map(|r| r.expect("every item was mapped")).collect(), states)
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_item_order_whatever_the_threads() {
        for threads in [1, 2, 8] {
            let out = super::map(threads, (0..1000u64).collect(), |x| x * x);
            assert_eq!(out, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
        }
    }

    #[test]
    fn each_worker_keeps_its_own_state_over_the_items_it_takes() {
        for threads in [1, 2, 8] {
            let (out, states) = super::map_with(
                threads,
                (0..1000u64).collect(),
                |workers| (workers, Vec::new()),
                |(_, taken), x| {
                    taken.push(x);
                    x * 2
                },
            );
            assert_eq!(out, (0..1000u64).map(|x| x * 2).collect::<Vec<_>>());
            let workers = if cfg!(target_arch = "wasm32") { 1 } else { threads };
            assert_eq!(states.len(), workers);
            assert!(states.iter().all(|(told, _)| *told == workers));
            // Every item was taken by exactly one worker.
            let mut taken: Vec<u64> = states.into_iter().flat_map(|(_, taken)| taken).collect();
            taken.sort_unstable();
            assert_eq!(taken, (0..1000u64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn join_returns_both_results_whatever_the_threads() {
        for threads in [1, 2, 8] {
            assert_eq!(super::join(threads, || 6 * 7, || "b"), (42, "b"));
        }
    }

    #[test]
    fn blocks_and_slices_cover_every_item_once_in_order() {
        assert_eq!(super::blocks(10, 4), [(0, 4), (4, 8), (8, 10)]);
        assert_eq!(super::blocks(8, 4), [(0, 4), (4, 8)]);
        assert_eq!(super::blocks(0, 4), []);
        assert_eq!(super::blocks(3, 0), [(0, 1), (1, 2), (2, 3)]);
        assert_eq!(super::slices(100_000, 2), [(0, 50_000), (50_000, 100_000)]);
        assert_eq!(super::slices(20_000, 8), [(0, 16_384), (16_384, 20_000)]);
    }

    #[test]
    fn batches_keep_every_item_in_order() {
        for (count, wanted) in [(0, 4), (1, 4), (256, 8), (256, 3), (7, 0), (5, 10)] {
            let batches = super::batches((0..count).collect(), wanted);
            assert!(batches.len() <= wanted.max(1), "{count} {wanted}");
            assert!(batches.iter().all(|b| !b.is_empty()));
            assert_eq!(batches.concat(), (0..count).collect::<Vec<_>>(), "{count} {wanted}");
        }
    }

    #[test]
    fn slices_cover_every_item_once_in_order() {
        for (count, threads) in [(0, 1), (1, 2), (16_384, 2), (100_000, 1), (100_000, 3), (1 << 20, 8)] {
            let slices = super::slices(count, threads);
            let covered: Vec<usize> = slices.iter().flat_map(|&(s, e)| s..e).collect();
            assert_eq!(covered, (0..count).collect::<Vec<_>>(), "{count} {threads}");
            assert!(slices.len() <= threads.max(1));
        }
    }
}
