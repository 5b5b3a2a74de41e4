//! Snapshots of the memory backend: the remembered deliveries survive a
//! restart, so a provider's retry after a deploy is still a duplicate.
//!
//! Only deliveries are saved (a claim belongs to a request of the old
//! process), each with its wall-clock write time and deadline, so a load
//! keeps what is left of each window and skips what expired meanwhile.
//!
//! Format, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `HKGDEDUP` |
//! | 4 | version (1) |
//! | 4 | entry size (32) |
//! | 8 | saved at, ms since the Unix epoch |
//! | 8 | entry count |
//! | 32 × count | key digest (16), written at (8), expires at (8), oldest first |
//! | 32 | SHA-256 of everything above |
//!
//! A write goes to a temporary file in the same directory, is synced, then
//! renamed over the old snapshot: a crash leaves the old one whole.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::memory::{Clock, Digest, MemoryStore, Written};

const MAGIC: [u8; 8] = *b"HKGDEDUP";
const VERSION: u32 = 1;
const ENTRY: usize = 32;
const HEADER: usize = 32;
const CHECKSUM: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot i/o: {0}")]
    Io(#[from] io::Error),
    #[error("not a hookgate dedup snapshot (no HKGDEDUP magic)")]
    Foreign,
    #[error("snapshot format version {found} (entries of {entry_size} bytes); this build reads version {VERSION}")]
    Version { found: u32, entry_size: u32 },
    #[error("snapshot truncated: {expected} bytes expected for {count} entries, {found} found")]
    Truncated {
        count: u64,
        expected: u64,
        found: u64,
    },
    #[error("snapshot checksum mismatch: the file is corrupt")]
    Checksum,
}

impl SnapshotError {
    /// No snapshot yet (first start): not worth a warning.
    pub fn is_missing(&self) -> bool {
        matches!(self, SnapshotError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveReport {
    pub entries: u64,
    pub bytes: u64,
    /// Copying the entries out of the store, a slice of 4096 at a time
    /// (a commit waits for one slice at most).
    pub copy: Duration,
    /// The whole save: copy, checksum, write, sync, rename.
    pub total: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Deliveries remembered again, each for what is left of its window.
    pub loaded: u64,
    /// Entries whose window passed while the gateway was down.
    pub expired: u64,
    /// Keys the store already held (claimed or delivered since start).
    pub present: u64,
    /// The oldest entries beyond `max_entries`.
    pub over_capacity: u64,
    /// How old the snapshot was, by its own clock.
    pub age: Duration,
}

/// `<path>.tmp`, beside the snapshot so the rename stays on one filesystem.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn encode(entries: &[Written], saved_at: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(HEADER + entries.len() * ENTRY + CHECKSUM);
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&VERSION.to_le_bytes());
    buf.extend_from_slice(&(ENTRY as u32).to_le_bytes());
    buf.extend_from_slice(&saved_at.to_le_bytes());
    buf.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for w in entries {
        buf.extend_from_slice(&w.digest.0[0].to_le_bytes());
        buf.extend_from_slice(&w.digest.0[1].to_le_bytes());
        buf.extend_from_slice(&w.written_at.to_le_bytes());
        buf.extend_from_slice(&w.expires_at.to_le_bytes());
    }
    let sum = Sha256::digest(&buf);
    buf.extend_from_slice(&sum);
    buf
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Reads and checks a snapshot: `(saved_at, entries)`. The header is checked
/// before the rest is read, so a foreign file is never read whole.
fn read(path: &Path) -> Result<(u64, Vec<Written>), SnapshotError> {
    let mut file = File::open(path)?;
    let found = file.metadata()?.len();
    let mut header = [0u8; HEADER];
    let got = read_up_to(&mut file, &mut header)?;
    if got < MAGIC.len() || header[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::Foreign);
    }
    if got < HEADER {
        return Err(SnapshotError::Truncated {
            count: 0,
            expected: HEADER as u64,
            found,
        });
    }
    let (version, entry_size) = (u32_at(&header, 8), u32_at(&header, 12));
    if version != VERSION || entry_size as usize != ENTRY {
        return Err(SnapshotError::Version {
            found: version,
            entry_size,
        });
    }
    let (saved_at, count) = (u64_at(&header, 16), u64_at(&header, 24));
    let expected = count
        .checked_mul(ENTRY as u64)
        .and_then(|n| n.checked_add((HEADER + CHECKSUM) as u64))
        .unwrap_or(u64::MAX);
    if found != expected {
        return Err(SnapshotError::Truncated {
            count,
            expected,
            found,
        });
    }
    let mut rest = vec![0u8; (expected as usize) - HEADER];
    file.read_exact(&mut rest)?;
    let (body, sum) = rest.split_at(rest.len() - CHECKSUM);
    let mut hasher = Sha256::new();
    hasher.update(header);
    hasher.update(body);
    if hasher.finalize().as_slice() != sum {
        return Err(SnapshotError::Checksum);
    }
    let entries = body
        .chunks_exact(ENTRY)
        .map(|e| Written {
            digest: Digest([u64_at(e, 0), u64_at(e, 8)]),
            written_at: u64_at(e, 16),
            expires_at: u64_at(e, 24),
        })
        .collect();
    Ok((saved_at, entries))
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Writes `bytes` to the temporary file, syncs it, calls `before_rename`
/// (tests stop there, as a crash would), renames it over `path` and syncs
/// the directory so the rename itself survives a power loss.
fn write_atomically(
    path: &Path,
    bytes: &[u8],
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let temp = temp_path(path);
    let mut file = File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    before_rename(&temp)?;
    std::fs::rename(&temp, path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

impl<C: Clock> MemoryStore<C> {
    /// Saves the remembered deliveries to `path` atomically (blocking I/O:
    /// call from a blocking context, see [`spawn_snapshots`]).
    pub fn save_snapshot(&self, path: &Path) -> Result<SaveReport, SnapshotError> {
        self.save_snapshot_with(path, |_| Ok(()))
    }

    fn save_snapshot_with(
        &self,
        path: &Path,
        before_rename: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<SaveReport, SnapshotError> {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let entries = self.live_deliveries();
        let copy = started.elapsed();
        let bytes = encode(&entries, self.now_ms());
        write_atomically(path, &bytes, before_rename)?;
        Ok(SaveReport {
            entries: entries.len() as u64,
            bytes: bytes.len() as u64,
            copy,
            total: started.elapsed(),
        })
    }

    /// Loads the deliveries saved at `path`, each for what is left of its
    /// window. A file that is not a whole snapshot of this version is
    /// refused and nothing is loaded: the caller logs why and starts empty.
    pub fn load_snapshot(&self, path: &Path) -> Result<LoadReport, SnapshotError> {
        let (saved_at, entries) = read(path)?;
        let r = self.restore(entries);
        Ok(LoadReport {
            loaded: r.loaded as u64,
            expired: r.expired as u64,
            present: r.present as u64,
            over_capacity: r.over_capacity as u64,
            age: Duration::from_millis(self.now_ms().saturating_sub(saved_at)),
        })
    }
}

/// Start-up: loads the snapshot at `path` if there is one, logging what was
/// loaded or why the file was refused (the store then starts empty).
pub fn load_at_startup<C: Clock>(store: &MemoryStore<C>, path: &Path) -> Option<LoadReport> {
    match store.load_snapshot(path) {
        Ok(r) => {
            tracing::info!(
                path = %path.display(),
                loaded = r.loaded,
                expired = r.expired,
                present = r.present,
                over_capacity = r.over_capacity,
                age_s = r.age.as_secs(),
                "dedup snapshot loaded"
            );
            Some(r)
        }
        Err(e) if e.is_missing() => {
            tracing::info!(path = %path.display(), "no dedup snapshot yet: starting empty");
            None
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), "dedup snapshot refused, starting empty: {e}");
            None
        }
    }
}

/// Saves a snapshot every `every` on the current tokio runtime until
/// stopped; [`SnapshotTask::stop_and_save`] writes the last one at shutdown.
pub fn spawn_snapshots<C: Clock>(
    store: Arc<MemoryStore<C>>,
    path: PathBuf,
    every: Duration,
) -> SnapshotTask<C> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn({
        let (store, path) = (store.clone(), path.clone());
        async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
                let (store, path) = (store.clone(), path.clone());
                match tokio::task::spawn_blocking(move || save_logged(&store, &path)).await {
                    Ok(_) => {}
                    Err(e) => tracing::warn!("dedup snapshot task failed: {e}"),
                }
            }
        }
    });
    SnapshotTask {
        store,
        path,
        stop,
        task,
    }
}

fn save_logged<C: Clock>(store: &MemoryStore<C>, path: &Path) -> Result<SaveReport, SnapshotError> {
    let result = store.save_snapshot(path);
    match &result {
        Ok(r) => tracing::debug!(
            path = %path.display(),
            entries = r.entries,
            bytes = r.bytes,
            copy_ms = r.copy.as_millis() as u64,
            total_ms = r.total.as_millis() as u64,
            "dedup snapshot saved"
        ),
        Err(e) => tracing::warn!(path = %path.display(), "dedup snapshot not saved: {e}"),
    }
    result
}

/// The periodic saver; dropping it stops the saving without a last save.
pub struct SnapshotTask<C: Clock> {
    store: Arc<MemoryStore<C>>,
    path: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl<C: Clock> SnapshotTask<C> {
    /// Stops the periodic saving (waiting for a save under way) and writes
    /// the final snapshot: call on graceful shutdown, after the listeners
    /// stopped, so it holds every delivery committed.
    pub async fn stop_and_save(mut self) -> Result<SaveReport, SnapshotError> {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
        let (store, path) = (self.store.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || save_logged(&store, &path))
            .await
            .map_err(|e| SnapshotError::Io(io::Error::other(e)))?
    }
}

impl<C: Clock> Drop for SnapshotTask<C> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::contract::{claim, deliver, probe, LONG as HOUR};
    use crate::dedup::memory::ManualClock;
    /// 2026-11-23, in ms: snapshots hold wall-clock times.
    const T0: u64 = 1_795_392_000_000;

    fn store(max: u64, clock: &Arc<ManualClock>) -> MemoryStore<Arc<ManualClock>> {
        MemoryStore::with_clock(max, clock.clone())
    }

    /// A store holding `a` (1 h window), `b` (10 min), a claim on `c`.
    async fn saved(dir: &Path) -> (PathBuf, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::at(T0));
        let s = store(100, &clock);
        deliver(&s, "a", HOUR).await;
        clock.advance(Duration::from_secs(1));
        deliver(&s, "b", Duration::from_secs(600)).await;
        claim(&s, "c", HOUR).await;
        let path = dir.join("dedup.snapshot");
        let report = s.save_snapshot(&path).unwrap();
        assert_eq!(report.entries, 2, "claims are never saved");
        (path, clock)
    }

    /// Saves the store of [`saved`], restarts `after` later and loads.
    async fn restarted(
        after: Duration,
    ) -> (MemoryStore<Arc<ManualClock>>, LoadReport, Arc<ManualClock>) {
        let dir = tempfile::tempdir().unwrap();
        let (path, clock) = saved(dir.path()).await;
        clock.advance(after);
        let s = store(100, &clock);
        let r = s.load_snapshot(&path).unwrap();
        (s, r, clock)
    }

    #[tokio::test]
    async fn a_round_trip_keeps_deliveries_for_what_is_left_of_their_window() {
        let (s, r, clock) = restarted(Duration::from_secs(300)).await;
        assert_eq!((r.loaded, r.expired, r.present), (2, 0, 0));
        assert_eq!(r.age, Duration::from_secs(300));
        assert_eq!(probe(&s, "a").await, "duplicate");
        assert_eq!(probe(&s, "b").await, "duplicate");
        assert_eq!(probe(&s, "c").await, "claimed", "claims are not restored");
        // Now T0+301s; b was written at T0+1s for 600 s: it expires at T0+601s.
        clock.advance(Duration::from_millis(299_999));
        assert_eq!(probe(&s, "b").await, "duplicate");
        clock.advance(Duration::from_millis(1));
        assert_eq!(probe(&s, "b").await, "claimed");
        assert_eq!(probe(&s, "a").await, "duplicate");
        // The oldest remembered delivery is a, written at T0.
        assert_eq!(s.oldest_delivery_age(), Some(Duration::from_secs(601)));
    }

    #[tokio::test]
    async fn entries_expired_while_down_are_not_loaded() {
        let (s, r, _) = restarted(Duration::from_secs(1200)).await;
        assert_eq!((r.loaded, r.expired), (1, 1));
        assert_eq!(s.deliveries(), 1);
        assert_eq!(probe(&s, "b").await, "claimed");
        assert_eq!(probe(&s, "a").await, "duplicate");
    }

    #[tokio::test]
    async fn a_smaller_store_keeps_the_newest_and_what_it_already_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (path, clock) = saved(dir.path()).await;
        let s = store(1, &clock);
        deliver(&s, "b", HOUR).await;
        let r = s.load_snapshot(&path).unwrap();
        // b is already held; a does not fit beside it.
        assert_eq!((r.loaded, r.present, r.over_capacity), (0, 1, 1));
        assert_eq!(probe(&s, "b").await, "duplicate");
        assert_eq!(probe(&s, "a").await, "claimed");
    }

    fn load_error(path: &Path) -> SnapshotError {
        let clock = Arc::new(ManualClock::at(T0));
        let s = store(100, &clock);
        let e = s.load_snapshot(path).unwrap_err();
        assert_eq!(s.deliveries(), 0, "a refused file loads nothing");
        e
    }

    #[tokio::test]
    async fn a_damaged_or_foreign_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path()).await;
        let good = std::fs::read(&path).unwrap();
        let bad = dir.path().join("bad");
        let case = |bytes: &[u8]| {
            std::fs::write(&bad, bytes).unwrap();
            load_error(&bad)
        };

        // One flipped bit in an entry's deadline.
        let mut flipped = good.clone();
        flipped[HEADER + ENTRY + 24] ^= 0x01;
        assert!(matches!(case(&flipped), SnapshotError::Checksum));
        // ... or in the checksum itself.
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 0x80;
        assert!(matches!(case(&flipped), SnapshotError::Checksum));

        // Cut anywhere: inside the entries, inside the header.
        for cut in [good.len() - 1, HEADER + ENTRY + 5, HEADER + 3, 20] {
            let e = case(&good[..cut]);
            assert!(
                matches!(e, SnapshotError::Truncated { found, .. } if found == cut as u64),
                "cut at {cut}: {e:?}"
            );
        }
        assert!(matches!(case(&[]), SnapshotError::Foreign));

        // Another program's file, another version of ours.
        assert!(matches!(
            case(b"{\"keys\": []}\n........................................"),
            SnapshotError::Foreign
        ));
        let mut v2 = good.clone();
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(
            case(&v2),
            SnapshotError::Version {
                found: 2,
                entry_size: 32
            }
        ));

        let missing = load_error(&dir.path().join("none"));
        assert!(missing.is_missing(), "{missing:?}");
        assert!(!SnapshotError::Checksum.is_missing());
    }

    #[tokio::test]
    async fn a_save_replaces_the_old_snapshot_only_once_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (path, clock) = saved(dir.path()).await;
        let old = std::fs::read(&path).unwrap();

        let s = store(100, &clock);
        deliver(&s, "new", HOUR).await;
        // Crash after the temporary file is written and synced, before the
        // rename: the snapshot is still the old one, whole.
        let crashed = s.save_snapshot_with(&path, |temp| {
            assert_eq!(temp, temp_path(&path));
            assert_eq!(
                temp.parent(),
                path.parent(),
                "same directory: rename is atomic"
            );
            let (_, entries) = read(temp).expect("the temporary file is complete");
            assert_eq!(entries.len(), 1);
            assert_eq!(
                std::fs::read(&path).unwrap(),
                old,
                "untouched until the rename"
            );
            Err(io::Error::other("power cut"))
        });
        assert!(matches!(crashed, Err(SnapshotError::Io(_))));
        assert_eq!(std::fs::read(&path).unwrap(), old);
        let r = store(100, &clock).load_snapshot(&path).unwrap();
        assert_eq!(r.loaded, 2, "the old snapshot still loads");

        // A crash while writing the temporary file (here: it cannot be
        // created) leaves the old snapshot too.
        let blocked = dir.path().join("blocked.snapshot");
        std::fs::copy(&path, &blocked).unwrap();
        std::fs::create_dir(temp_path(&blocked)).unwrap();
        assert!(s.save_snapshot(&blocked).is_err());
        assert_eq!(std::fs::read(&blocked).unwrap(), old);

        // The next save goes through and leaves no temporary file behind.
        s.save_snapshot(&path).unwrap();
        assert!(!temp_path(&path).exists());
        let fresh = store(100, &clock);
        assert_eq!(fresh.load_snapshot(&path).unwrap().loaded, 1);
        assert_eq!(probe(&fresh, "new").await, "duplicate");
    }

    #[tokio::test]
    async fn the_periodic_saver_saves_on_its_interval_and_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dedup.snapshot");
        let clock = Arc::new(ManualClock::at(T0));
        let s = Arc::new(store(100, &clock));
        deliver(&*s, "first", HOUR).await;
        let task = spawn_snapshots(s.clone(), path.clone(), Duration::from_millis(20));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(path.exists(), "no snapshot after 10 s of a 20 ms interval");
        deliver(&*s, "last", HOUR).await;
        let r = task.stop_and_save().await.unwrap();
        assert_eq!(r.entries, 2, "the shutdown save holds the last delivery");
        let fresh = store(100, &clock);
        assert_eq!(fresh.load_snapshot(&path).unwrap().loaded, 2);
    }
}
