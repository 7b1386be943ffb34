//! The process-wide list of everything a run made (namespaces, process
//! groups, temp dirs), so that a signal can tear it all down.
//!
//! Normal teardown is RAII: [`crate::netns::Netns`], [`crate::process::Process`]
//! and [`crate::run::RunDir`] undo themselves on `Drop`, which also runs on a
//! panic. A signal (Ctrl-C, SIGTERM, SIGHUP) does not unwind, so each of
//! those guards also registers here and [`install_signal_handlers`] starts a
//! thread that, on a signal, kills the registered process groups, deletes the
//! namespaces, removes the directories and exits with 128 + signal.

use std::collections::BTreeSet;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Registry {
    pgids: BTreeSet<i32>,
    namespaces: BTreeSet<String>,
    dirs: BTreeSet<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pgids: BTreeSet::new(),
    namespaces: BTreeSet::new(),
    dirs: BTreeSet::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves plain sets behind: still usable.
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records a process group to kill on a signal.
pub fn register_pgid(pgid: i32) {
    registry().pgids.insert(pgid);
}
/// Forgets a process group (it was stopped).
pub fn unregister_pgid(pgid: i32) {
    registry().pgids.remove(&pgid);
}
/// Records a network namespace to delete on a signal.
pub fn register_namespace(name: &str) {
    registry().namespaces.insert(name.to_owned());
}
/// Forgets a namespace (it was deleted).
pub fn unregister_namespace(name: &str) {
    registry().namespaces.remove(name);
}
/// Records a directory to remove on a signal.
pub fn register_dir(path: &Path) {
    registry().dirs.insert(path.to_owned());
}
/// Forgets a directory (it was removed, or is kept on purpose).
pub fn unregister_dir(path: &Path) {
    registry().dirs.remove(path);
}

/// Kills every registered process group (SIGTERM, then SIGKILL after up to
/// 2 s), deletes every registered namespace, removes every registered
/// directory. Used by the signal thread; safe to call more than once.
pub fn teardown_all() {
    let (pgids, namespaces, dirs) = {
        let mut r = registry();
        (
            std::mem::take(&mut r.pgids),
            std::mem::take(&mut r.namespaces),
            std::mem::take(&mut r.dirs),
        )
    };
    for &pgid in &pgids {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    for &pgid in &pgids {
        while Instant::now() < deadline && group_alive(pgid) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        // Reap our children of that group, so none is left as a zombie.
        // SAFETY: waitpid with a null status pointer is allowed.
        while unsafe { libc::waitpid(-pgid, std::ptr::null_mut(), 0) } > 0 {}
    }
    for ns in &namespaces {
        crate::netns::delete_namespace(ns);
    }
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Whether any process of the group still exists.
pub(crate) fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static SIGNALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a signal started the teardown. The main thread must then not exit
/// on its own (the signal thread exits with 128 + signal when teardown is
/// done): see [`park_if_signalled`].
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Blocks forever when a signal teardown is running, so that the process
/// exits only through the signal thread, after the teardown.
pub fn park_if_signalled() {
    while signalled() {
        std::thread::park();
    }
}
static INSTALL: Once = Once::new();

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Installs SIGINT/SIGTERM/SIGHUP handlers (once per process). The handler
/// only writes the signal number to a pipe; a plain thread reads it, runs
/// [`teardown_all`] and exits with status 128 + signal.
pub fn install_signal_handlers() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds points at two c_ints as pipe2(2) requires.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            result = Err(std::io::Error::last_os_error());
            return;
        }
        SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
        // SAFETY: fds[0] is a fresh descriptor that only this File owns.
        let mut reader = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        let spawned = std::thread::Builder::new()
            .name("testbed-signals".into())
            .spawn(move || {
                let mut b = [0u8; 1];
                if reader.read_exact(&mut b).is_ok() {
                    SIGNALLED.store(true, Ordering::SeqCst);
                    eprintln!("\ntestbed: signal {}, tearing down", b[0]);
                    teardown_all();
                    std::process::exit(128 + i32::from(b[0]));
                }
            });
        if let Err(e) = spawned {
            result = Err(e);
            return;
        }
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: on_signal is an extern "C" fn that only calls write(2).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
    result
}
