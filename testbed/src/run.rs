//! The per-run temporary directory: configs, logs, sockets, captures.

use crate::cleanup;
use crate::error::{IoContext, Result};
use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir (short path: UNIX socket
/// paths must stay under 108 bytes), removed on drop unless [`keep`](Self::keep) was called.
#[derive(Debug)]
pub struct RunDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl RunDir {
    /// Creates `/tmp/<prefix>-XXXXXX` (mode 0700).
    pub fn create(prefix: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .ctx(|| "creating the run directory".into())?;
        let path = dir.path().to_owned();
        cleanup::register_dir(&path);
        Ok(Self {
            dir: Some(dir),
            path,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates a subdirectory (mode 0700) and returns its path.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let p = self.join(name);
        std::fs::create_dir_all(&p).ctx(|| format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Writes a file (mode 0600) and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p)
            .ctx(|| format!("writing {}", p.display()))?;
        f.write_all(contents.as_bytes())
            .ctx(|| format!("writing {}", p.display()))?;
        Ok(p)
    }

    /// Keeps the directory after the run (for `--keep` and for failed runs
    /// whose logs the user should read).
    pub fn keep(&mut self) -> PathBuf {
        if let Some(d) = self.dir.take() {
            let _ = d.keep();
        }
        cleanup::unregister_dir(&self.path);
        self.path.clone()
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let _ = d.close();
            cleanup::unregister_dir(&self.path);
        }
    }
}
