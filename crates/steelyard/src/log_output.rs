//! Where log lines go: into memory, and from there to stderr in batches, written by a thread
//! of its own. A request then never waits on a `write` to stderr (one system call per access
//! line took about 5% of the server's CPU in GET by id; BENCHMARKS.md, cause 20), nor on the
//! file or pipe behind it when that is slow for a moment.
//!
//! Nothing is lost on the way: the batch is written every [`FLUSH_EVERY`], sooner when it
//! grows large, when [`LogFlush`] is dropped or flushed at exit, and before a panic's message
//! is printed; after the guard is dropped, a line is written at once. If the output cannot
//! keep up, loggers wait for room rather than drop lines.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Most time a line waits in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A batch this large is written at once rather than at the next tick.
const WRITE_EARLY: usize = 256 * 1024;
/// Most bytes gathered; a logger that would pass it waits until the batch is written.
const MOST_PENDING: usize = 4 * 1024 * 1024;
const WRITER_THREAD: &str = "log-writer";

/// Log lines on their way to `W`. `&LogOutput` is the writer the subscriber writes each
/// formatted line to, with one `write_all` per line, so lines never interleave.
#[derive(Debug)]
pub struct LogOutput<W: Write> {
    /// Held while a batch is taken and written, so batches reach `W` in order.
    out: Mutex<W>,
    pending: Mutex<Pending>,
    /// Wakes the writing thread (a large batch, or stop).
    wake: Condvar,
    /// Wakes loggers waiting for room.
    drained: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    stopped: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W: Write> LogOutput<W> {
    /// Writes out everything gathered so far; `spare` is the buffer the batch is swapped into.
    fn write_batch(&self, out: &mut W, spare: &mut Vec<u8>) {
        {
            let mut pending = lock(&self.pending);
            std::mem::swap(&mut pending.bytes, spare);
        }
        self.drained.notify_all();
        if !spare.is_empty() {
            // Nowhere to report a failed write of the log itself; the lines are dropped.
            let _ = out.write_all(spare).and_then(|()| out.flush());
            spare.clear();
        }
    }

    /// Writes out everything gathered so far, waiting for a batch being written to finish.
    /// On the writing thread itself (a panic inside its write) it does nothing rather than
    /// wait on itself.
    pub fn flush_now(&self) {
        if std::thread::current().name() == Some(WRITER_THREAD) {
            return;
        }
        let mut out = lock(&self.out);
        self.write_batch(&mut out, &mut Vec::new());
    }
}

impl<W: Write> Write for &LogOutput<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut pending = lock(&self.pending);
        if pending.stopped {
            // The writing thread is gone (exit): write this line, after any left, at once.
            drop(pending);
            let mut out = lock(&self.out);
            self.write_batch(&mut out, &mut Vec::new());
            return out.write_all(bytes).and_then(|()| out.flush());
        }
        while !pending.bytes.is_empty()
            && pending.bytes.len() + bytes.len() > MOST_PENDING
            && !pending.stopped
        {
            self.wake.notify_one();
            pending = self
                .drained
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        pending.bytes.extend_from_slice(bytes);
        if pending.bytes.len() >= WRITE_EARLY {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_now();
        Ok(())
    }
}

/// Owns the thread that writes the batches; dropping it writes the rest and stops it.
#[derive(Debug)]
pub struct LogFlush<W: Write + Send + 'static> {
    output: Arc<LogOutput<W>>,
    thread: Option<JoinHandle<()>>,
}

impl<W: Write + Send + 'static> LogFlush<W> {
    /// Writes out everything logged so far.
    pub fn flush(&self) {
        self.output.flush_now();
    }
}

impl<W: Write + Send + 'static> Drop for LogFlush<W> {
    fn drop(&mut self) {
        lock(&self.output.pending).stopped = true;
        self.output.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.flush();
    }
}

/// Starts gathering log lines for `out`, written every [`FLUSH_EVERY`]: the writer for the
/// subscriber, and the guard that writes the rest when it is dropped.
pub fn buffered<W: Write + Send + 'static>(out: W) -> io::Result<(Arc<LogOutput<W>>, LogFlush<W>)> {
    buffered_every(out, FLUSH_EVERY)
}

fn buffered_every<W: Write + Send + 'static>(
    out: W,
    interval: Duration,
) -> io::Result<(Arc<LogOutput<W>>, LogFlush<W>)> {
    let output = Arc::new(LogOutput {
        out: Mutex::new(out),
        pending: Mutex::default(),
        wake: Condvar::new(),
        drained: Condvar::new(),
    });
    let writer = Arc::clone(&output);
    let thread = std::thread::Builder::new()
        .name(WRITER_THREAD.into())
        .spawn(move || {
            let mut spare = Vec::new();
            loop {
                let stopped = {
                    let pending = lock(&writer.pending);
                    let (pending, _) = writer
                        .wake
                        .wait_timeout_while(pending, interval, |p| {
                            !p.stopped && p.bytes.len() < WRITE_EARLY
                        })
                        .unwrap_or_else(PoisonError::into_inner);
                    pending.stopped
                };
                writer.write_batch(&mut lock(&writer.out), &mut spare);
                if stopped {
                    return;
                }
            }
        })?;
    let guard = LogFlush {
        output: Arc::clone(&output),
        thread: Some(thread),
    };
    Ok((output, guard))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A sink the test can read while the output owns it, taking `delay` per write; it
    /// remembers its largest write.
    #[derive(Debug, Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>, Duration);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.1);
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(bytes);
            sink.1 = sink.1.max(bytes.len());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }

        fn largest_write(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    #[test]
    fn a_line_waits_in_memory_until_a_flush_or_the_next_tick() {
        let sink = Sink::default();
        let (output, guard) = buffered_every(sink.clone(), Duration::from_secs(3600)).unwrap();
        (&*output).write_all(b"first\n").unwrap();
        assert_eq!(sink.text(), "", "a line is not written by the caller");
        guard.flush();
        assert_eq!(sink.text(), "first\n");
        drop(guard);

        let sink = Sink::default();
        let (output, _guard) = buffered_every(sink.clone(), Duration::from_millis(10)).unwrap();
        (&*output).write_all(b"second\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "second\n", "the thread writes it on its own");
    }

    #[test]
    fn a_line_logged_after_the_guard_is_dropped_is_written_at_once() {
        let sink = Sink::default();
        let (output, guard) = buffered(sink.clone()).unwrap();
        (&*output).write_all(b"before\n").unwrap();
        drop(guard);
        (&*output).write_all(b"after\n").unwrap();
        assert_eq!(sink.text(), "before\nafter\n");
    }

    #[test]
    fn dropping_the_guard_writes_every_line_whole_and_in_order() {
        every_line_arrives(Sink::default(), 300);
    }

    #[test]
    fn a_slow_output_makes_loggers_wait_and_loses_nothing() {
        // 4 writers × 5,000 lines of about 1 KiB: 20 MiB, five times what may wait in memory.
        let sink = Sink(Arc::default(), Duration::from_millis(20));
        every_line_arrives(sink.clone(), 2_000);
        // Each batch is what waited in memory: never more than the cap and one line.
        assert!(
            sink.largest_write() <= MOST_PENDING + 2_100,
            "{}",
            sink.largest_write()
        );
    }

    fn every_line_arrives(sink: Sink, longest: usize) {
        let (output, guard) = buffered(sink.clone()).unwrap();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let output = Arc::clone(&output);
                std::thread::spawn(move || {
                    for n in 0..5_000 {
                        let line = format!("{writer}:{n}:{}\n", "x".repeat(n % longest));
                        (&*output).write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        drop(guard);
        let text = sink.text();
        let mut next = [0usize; 4];
        for line in text.lines() {
            let mut fields = line.split(':');
            let writer: usize = fields.next().unwrap().parse().unwrap();
            let n: usize = fields.next().unwrap().parse().unwrap();
            assert_eq!(n, next[writer], "writer {writer}'s lines arrive in order");
            assert_eq!(
                fields.next().unwrap(),
                "x".repeat(n % longest),
                "a line is whole"
            );
            next[writer] += 1;
        }
        assert_eq!(next, [5_000; 4], "no line is lost");
    }
}
