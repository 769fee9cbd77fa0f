//! Files that are complete or absent: written to a temporary file in the destination's folder
//! (`tempfile`), then renamed over the destination, so an interrupted writer never leaves a
//! torn file and never loses the old one. Every writer of the workspace goes through here.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A file being written. [`AtomicFile::commit`] renames it over its destination; dropped
/// without a commit (an error on the way), it is removed and the destination is untouched.
pub struct AtomicFile {
    tmp: NamedTempFile,
    path: PathBuf,
}

/// The folder a file at `path` lives in ("." for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl AtomicFile {
    /// A temporary file beside `path` (same folder, so the final rename is atomic), readable
    /// as an ordinary new file would be (0644 on Unix).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let prefix = format!(".{}.", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        Ok(AtomicFile { tmp: builder.tempfile_in(folder_of(path))?, path: path.to_path_buf() })
    }

    /// Where the bytes go until the commit (for error messages).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Renames the finished file over the destination.
    pub fn commit(self) -> std::io::Result<()> {
        self.tmp.persist(&self.path).map(|_| ()).map_err(|e| e.error)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.tmp.seek(pos)
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// A folder filled under a temporary name beside `path`, then renamed to `path` by
/// [`AtomicDir::commit`] (replacing an existing one); dropped without a commit, it is removed.
pub struct AtomicDir {
    tmp: tempfile::TempDir,
    path: PathBuf,
}

impl AtomicDir {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let prefix = format!(".{}.", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let tmp = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempdir_in(folder_of(path))?;
        Ok(AtomicDir { tmp, path: path.to_path_buf() })
    }

    /// The folder to fill.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Puts the folder in place: an existing folder at the destination is removed first
    /// (a rename cannot replace a non-empty folder).
    pub fn commit(self) -> std::io::Result<()> {
        if self.path.exists() {
            std::fs::remove_dir_all(&self.path)?;
        }
        std::fs::rename(self.tmp.path(), &self.path)?;
        let _ = self.tmp.keep();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_only_when_committed_and_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"new but abandoned").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"old");
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the abandoned temporary file is gone");
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }

    #[test]
    fn a_folder_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("step-1");
        {
            let d = AtomicDir::create(&path).unwrap();
            std::fs::write(d.temp_path().join("a"), b"x").unwrap();
        }
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("stale"), b"y").unwrap();
        let d = AtomicDir::create(&path).unwrap();
        std::fs::write(d.temp_path().join("a"), b"x").unwrap();
        d.commit().unwrap();
        assert_eq!(std::fs::read(path.join("a")).unwrap(), b"x");
        assert!(!path.join("stale").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
