//! A disk for the simulator that survives a simulated crash and models what a crash does to
//! writes that were not yet synced: lost, kept, or torn (a prefix kept, maybe ending in zeros or
//! garbage). All randomness comes from the caller's draw, so a run replays from its seed.

use super::disk::{check_name, lock, not_found, Disk, DiskStats};
use concord_core::rng::Rng;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

/// In-memory files shared by every clone: the simulator keeps one clone across a node's
/// crash and restart, and hands another to the node's storage.
#[derive(Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<SimState>>,
}

#[derive(Default)]
struct SimState {
    files: BTreeMap<String, SimFile>,
    hold_syncs: bool,
    stats: DiskStats,
}

#[derive(Default)]
struct SimFile {
    /// Bytes that survive any crash.
    synced: Vec<u8>,
    /// Bytes appended since the last sync: a crash keeps only some prefix of them.
    unsynced: Vec<u8>,
    /// Whether the directory entry itself is durable: a file never synced may vanish.
    durable: bool,
}

impl SimFile {
    fn contents(&self) -> Vec<u8> {
        [&self.synced[..], &self.unsynced[..]].concat()
    }
}

/// What one crash did, summed over files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    pub unsynced_bytes_kept: u64,
    pub unsynced_bytes_lost: u64,
    /// Files whose kept tail ends in zeros or garbage rather than the bytes written.
    pub files_with_damaged_tail: u64,
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    pub fn stats(&self) -> DiskStats {
        lock(&self.state).stats
    }

    /// Bytes of `name` that would survive a crash now.
    pub fn synced_len(&self, name: &str) -> u64 {
        lock(&self.state)
            .files
            .get(name)
            .map_or(0, |file| file.synced.len() as u64)
    }

    /// Bytes of `name` written but not yet synced.
    pub fn unsynced_len(&self, name: &str) -> u64 {
        lock(&self.state)
            .files
            .get(name)
            .map_or(0, |file| file.unsynced.len() as u64)
    }

    /// While held, `sync` returns Ok but leaves the bytes unsynced. This opens the window a
    /// crash inside a persist call would hit (a synchronous persist cannot be interrupted
    /// otherwise); the harness must crash the node before it acts on such a persist.
    pub fn hold_syncs(&self, hold: bool) {
        lock(&self.state).hold_syncs = hold;
    }

    /// Models the process dying: for each file the unsynced tail is lost, kept whole, or torn,
    /// as chosen by `rng_draw`. Afterwards the disk holds only durable bytes.
    pub fn crash(&self, rng_draw: u64) -> CrashReport {
        let mut rng = Rng::new(rng_draw);
        let mut report = CrashReport::default();
        let mut state = lock(&self.state);
        for file in state.files.values_mut() {
            crash_file(file, &mut rng, &mut report);
        }
        state.files.retain(|_, file| file.durable);
        state.hold_syncs = false;
        report
    }
}

/// Decides the fate of one file's unsynced tail.
fn crash_file(file: &mut SimFile, rng: &mut Rng, report: &mut CrashReport) {
    let tail = std::mem::take(&mut file.unsynced);
    // One time in four the whole tail is lost; otherwise any prefix of it, whole included.
    let kept_len = if rng.chance(1, 4) {
        0
    } else {
        rng.range(0, tail.len() as u64 + 1)
    };
    let mut kept = tail[..kept_len as usize].to_vec();
    if !kept.is_empty() {
        damage_end(&mut kept, rng, report);
    }
    report.unsynced_bytes_kept += kept.len() as u64;
    report.unsynced_bytes_lost += (tail.len() - kept.len()) as u64;
    // What reached the platter is durable now, and so is the file's name if anything did.
    file.durable |= !kept.is_empty();
    file.synced.extend_from_slice(&kept);
}

/// A torn write may leave the file longer than the data that reached it: the end reads as zeros
/// (allocated, never written) or as stale garbage.
fn damage_end(kept: &mut [u8], rng: &mut Rng, report: &mut CrashReport) {
    let damaged_from = rng.range(0, kept.len() as u64) as usize;
    match rng.range(0, 3) {
        0 => return,
        1 => kept[damaged_from..].fill(0),
        _ => kept[damaged_from..]
            .iter_mut()
            .for_each(|byte| *byte = rng.next_u64() as u8),
    }
    report.files_with_damaged_tail += 1;
}

impl Disk for SimDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        check_name(name);
        Ok(lock(&self.state).files.get(name).map(SimFile::contents))
    }

    fn append(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        state
            .files
            .entry(name.to_string())
            .or_default()
            .unsynced
            .extend_from_slice(bytes);
        state.stats.appends += 1;
        state.stats.bytes_appended += bytes.len() as u64;
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        state.stats.syncs += 1;
        let hold = state.hold_syncs;
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        if !hold {
            let tail = std::mem::take(&mut file.unsynced);
            file.synced.extend_from_slice(&tail);
            file.durable = true;
        }
        Ok(())
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        // All or nothing, and durable on return: the rename is the commit point.
        let file = SimFile {
            synced: bytes.to_vec(),
            unsynced: Vec::new(),
            durable: true,
        };
        state.files.insert(name.to_string(), file);
        state.stats.atomic_writes += 1;
        Ok(())
    }

    fn truncate(&self, name: &str, len_bytes: u64) -> io::Result<()> {
        check_name(name);
        let mut state = lock(&self.state);
        let file = state.files.get_mut(name).ok_or_else(|| not_found(name))?;
        let mut contents = file.contents();
        contents.resize(
            usize::try_from(len_bytes).expect("length fits in memory"),
            0,
        );
        // Durable on return, like FileDisk's set_len + fsync.
        *file = SimFile {
            synced: contents,
            unsynced: Vec::new(),
            durable: true,
        };
        state.stats.truncates += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_synced_bytes_and_at_most_a_prefix_of_the_rest() {
        for draw in 0..200 {
            let disk = SimDisk::new();
            disk.append("log", b"synced.").unwrap();
            disk.sync("log").unwrap();
            disk.append("log", b"unsynced tail").unwrap();
            let report = disk.crash(draw);
            let after = disk.read("log").unwrap().unwrap();
            assert!(after.starts_with(b"synced."), "draw {draw}: {after:?}");
            assert_eq!(after.len() as u64, 7 + report.unsynced_bytes_kept);
            assert_eq!(report.unsynced_bytes_kept + report.unsynced_bytes_lost, 13);
        }
    }

    #[test]
    fn crash_outcomes_cover_lost_whole_and_torn() {
        let (mut lost, mut whole, mut torn) = (false, false, false);
        for draw in 0..200 {
            let disk = SimDisk::new();
            disk.append("log", b"0123456789").unwrap();
            let kept = disk.crash(draw).unsynced_bytes_kept;
            lost |= kept == 0 && disk.read("log").unwrap().is_none();
            whole |= kept == 10;
            torn |= kept > 0 && kept < 10;
        }
        assert!(
            lost && whole && torn,
            "lost {lost} whole {whole} torn {torn}"
        );
    }

    #[test]
    fn same_draw_same_crash() {
        let contents = |draw| {
            let disk = SimDisk::new();
            disk.append("log", &[7; 100]).unwrap();
            disk.crash(draw);
            disk.read("log").unwrap()
        };
        assert_eq!(contents(42), contents(42));
    }

    #[test]
    fn held_syncs_leave_data_exposed_and_atomic_writes_are_durable() {
        let disk = SimDisk::new();
        disk.write_atomic("snap", b"whole").unwrap();
        disk.hold_syncs(true);
        disk.append("log", b"abc").unwrap();
        disk.sync("log").unwrap();
        assert_eq!(disk.unsynced_len("log"), 3);
        disk.crash(0);
        assert_eq!(disk.read("snap").unwrap().as_deref(), Some(&b"whole"[..]));
        assert_eq!(disk.stats().syncs, 1);
    }
}
