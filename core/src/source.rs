//! An input file: bytes in memory, or a file opened by path and read in windows while a run
//! parses and hashes it.
//!
//! Rows keep copies of their ids ([`crate::ingest`]), so nothing needs the whole file at
//! once: a file opened by path is read by each chunk's parser a window at a time into a
//! reused buffer, and by the hashing thread likewise. At 10M debits that is 1.26 GB not held
//! from reading to the report (the input was 40% of the peak), and no fresh page written per
//! 4 KiB of input. A window grows only while one record is longer than it (or a quoted field
//! runs on, up to an unterminated quote's end of file): at worst as much as the file, which
//! is what holding the file took for every run before.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::limits;

/// One input file: its bytes in memory, or a file a run reads; and the name errors show.
#[derive(Clone, Debug)]
pub struct Source {
    name: String,
    held: Held,
}

#[derive(Clone, Debug)]
enum Held {
    Bytes(Vec<u8>),
    /// Opened, read during the run.
    #[cfg_attr(not(unix), allow(dead_code))]
    File(Arc<OpenFile>),
}

impl Source {
    /// Input already in memory; `name` is what error messages call it.
    pub fn from_bytes(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Source {
        Source { name: name.into(), held: Held::Bytes(bytes.into()) }
    }

    /// Opens a file (at most [`limits::INPUT_BYTES_MAX`] bytes); errors show its path.
    ///
    /// On Unix a regular file is not read here: a run reads it a window at a time while it
    /// parses and hashes it, so that its bytes are never held whole. The file must not change
    /// from now until the run is over: a run that finds it shorter than it was here, or of
    /// another length or modification time once read, fails with an error rather than report
    /// on a mix of old and new content (a rewrite of the same length that puts the old
    /// modification time back is not seen). Renaming, linking, removing the path or changing
    /// the file's permissions meanwhile is fine. Other files (a pipe, a device; any file
    /// elsewhere than on Unix) are read whole here.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Source, Error> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| Error::Io { path: name.clone(), source })?;
        // Opened once: a pipe opened twice could lose what was written to it in between.
        #[cfg(unix)]
        let file = match OpenFile::new(file, &name)? {
            Ok(open) => return Ok(Source { name, held: Held::File(Arc::new(open)) }),
            Err(other) => other,
        };
        let bytes = read_whole(file, &name, limits::INPUT_BYTES_MAX)?;
        Ok(Source { name, held: Held::Bytes(bytes) })
    }

    /// Reads everything from `reader`.
    pub fn from_reader(name: impl Into<String>, mut reader: impl std::io::Read) -> Result<Source, Error> {
        let name = name.into();
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|source| Error::Io { path: name.clone(), source })?;
        Ok(Source { name, held: Held::Bytes(bytes) })
    }

    /// The name errors show.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bytes, when they are held in memory: always, but for a file [`Source::from_path`]
    /// leaves to be read during the run.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.held {
            Held::Bytes(bytes) => Some(bytes),
            Held::File(_) => None,
        }
    }

    /// What a run reads the input through.
    pub(crate) fn text(&self) -> Text<'_> {
        match &self.held {
            Held::Bytes(bytes) => Text::Bytes(bytes),
            Held::File(file) => Text::File(file),
        }
    }
}

/// Reads a whole file, refusing one above `bytes_max`.
pub(crate) fn read_file(path: &std::path::Path, bytes_max: u64) -> Result<Vec<u8>, Error> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| Error::Io { path: name.clone(), source })?;
    read_whole(file, &name, bytes_max)
}

/// Reads what is left of an open file, refusing more than `bytes_max`.
fn read_whole(file: std::fs::File, name: &str, bytes_max: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut bytes = Vec::new();
    file.take(bytes_max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Io { path: name.to_owned(), source })?;
    if bytes.len() as u64 > bytes_max {
        return Err(too_large(name, bytes_max));
    }
    Ok(bytes)
}

fn too_large(name: &str, bytes_max: u64) -> Error {
    Error::limit(name, None, format!("the file is larger than {bytes_max} bytes"))
}

/// A regular file opened by path, with what it was when opened (only ever made on Unix).
#[derive(Debug)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct OpenFile {
    file: std::fs::File,
    name: String,
    len: usize,
    /// Its modification time when opened.
    modified: (i64, i64),
    /// Bytes read at once by a parser or the hasher.
    window: usize,
}

/// What a file is read in: a parser's buffer stays in the core's cache, and a record cut
/// by a window's end is read again at the start of the next (at 10M debits 1,100 windows).
#[cfg_attr(not(unix), allow(dead_code))]
const WINDOW_BYTES: usize = 1 << 20;

/// A file's modification time, to the nanosecond: with its length, what tells that it was
/// written to (not its change time, ctime, which renaming, linking or a `chmod` also move).
#[cfg(unix)]
fn modified(meta: &std::fs::Metadata) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (meta.mtime(), meta.mtime_nsec())
}

#[cfg(unix)]
impl OpenFile {
    /// The file, to be read during the run, unless it is not a regular file (then it is
    /// given back, to be read whole).
    fn new(file: std::fs::File, name: &str) -> Result<Result<OpenFile, std::fs::File>, Error> {
        let meta = file.metadata().map_err(|source| Error::Io { path: name.to_owned(), source })?;
        if !meta.is_file() {
            return Ok(Err(file));
        }
        if meta.len() > limits::INPUT_BYTES_MAX {
            return Err(too_large(name, limits::INPUT_BYTES_MAX));
        }
        let len = usize::try_from(meta.len()).map_err(|_| too_large(name, usize::MAX as u64))?;
        Ok(Ok(OpenFile { file, name: name.to_owned(), len, modified: modified(&meta), window: WINDOW_BYTES }))
    }

    /// `[start, end)` of the file into `buf`.
    fn read(&self, start: usize, end: usize, buf: &mut Vec<u8>) -> Result<(), Error> {
        use std::os::unix::fs::FileExt;
        buf.resize(end - start, 0);
        self.file.read_exact_at(buf, start as u64).map_err(|source| match source.kind() {
            std::io::ErrorKind::UnexpectedEof => self.changed(),
            _ => Error::Io { path: self.name.clone(), source },
        })
    }

    fn changed(&self) -> Error {
        Error::file(
            &self.name,
            None,
            "the file changed while it was read: a run needs its input files to stay as they are",
        )
    }

    /// An error unless the file is as it was when opened.
    fn unchanged(&self) -> Result<(), Error> {
        let meta = self.file.metadata().map_err(|source| Error::Io { path: self.name.clone(), source })?;
        if meta.len() != self.len as u64 || modified(&meta) != self.modified {
            return Err(self.changed());
        }
        Ok(())
    }
}

#[cfg(not(unix))]
impl OpenFile {
    fn read(&self, _start: usize, _end: usize, _buf: &mut Vec<u8>) -> Result<(), Error> {
        unreachable!("files are read whole where they are not opened")
    }

    fn unchanged(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
impl OpenFile {
    /// A file of `bytes`, in `dir`, read `window` bytes at a time.
    pub(crate) fn for_test(dir: &std::path::Path, bytes: &[u8], window: usize) -> OpenFile {
        let path = dir.join("input.csv");
        std::fs::write(&path, bytes).expect("written");
        let file = std::fs::File::open(&path).expect("opened");
        let mut file = OpenFile::new(file, "input.csv").expect("opened").expect("a regular file");
        file.window = window;
        file
    }
}

/// An input as the stages read it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Text<'d> {
    Bytes(&'d [u8]),
    File(&'d OpenFile),
}

impl Text<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Text::Bytes(bytes) => bytes.len(),
            Text::File(file) => file.len,
        }
    }

    /// How many bytes a reader takes at once: all of them when they are in memory.
    pub(crate) fn window_bytes(&self) -> usize {
        match self {
            Text::Bytes(_) => usize::MAX,
            Text::File(file) => file.window,
        }
    }

    /// Bytes `[start, end)`: borrowed from memory, or read from the file into `buf`.
    pub(crate) fn window<'s>(&'s self, start: usize, end: usize, buf: &'s mut Vec<u8>) -> Result<&'s [u8], Error> {
        match self {
            Text::Bytes(bytes) => Ok(&bytes[start..end]),
            Text::File(file) => {
                file.read(start, end, buf)?;
                Ok(buf)
            }
        }
    }

    /// Reads `[from, to)` a window at a time into `find(window, where it starts)` until that
    /// finds something.
    pub(crate) fn scan<R>(
        &self,
        from: usize,
        to: usize,
        buf: &mut Vec<u8>,
        mut find: impl FnMut(&[u8], usize) -> Option<R>,
    ) -> Result<Option<R>, Error> {
        let mut at = from;
        while at < to {
            let end = at.saturating_add(self.window_bytes()).min(to);
            if let Some(found) = find(self.window(at, end, buf)?, at) {
                return Ok(Some(found));
            }
            at = end;
        }
        Ok(None)
    }

    /// SHA-256 of the bytes, lower-case hex.
    pub(crate) fn sha256_hex(&self) -> Result<String, Error> {
        let mut hasher = Sha256::new();
        self.scan(0, self.len(), &mut Vec::new(), |window, _| {
            hasher.update(window);
            None::<()>
        })?;
        Ok(crate::report::hex(&hasher.finalize()))
    }

    /// An error if a file changed since it was opened (what was parsed and hashed would not be
    /// one version of it).
    pub(crate) fn unchanged(&self) -> Result<(), Error> {
        match self {
            Text::Bytes(_) => Ok(()),
            Text::File(file) => file.unchanged(),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_windows_hashes_as_its_bytes_do() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let bytes: Vec<u8> = (0..10_007u32).map(|i| (i % 251) as u8).collect();
        for window in [1, 7, 4096, WINDOW_BYTES] {
            let file = OpenFile::for_test(dir.path(), &bytes, window);
            assert_eq!(Text::File(&file).sha256_hex().expect("read"), crate::report::sha256_hex(&bytes), "{window}");
        }
        let empty = OpenFile::for_test(dir.path(), b"", 7);
        assert_eq!(Text::File(&empty).sha256_hex().expect("read"), crate::report::sha256_hex(b""));
    }

    #[test]
    fn a_file_that_changes_while_it_is_read_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = OpenFile::for_test(dir.path(), b"0123456789", 4);
        let text = Text::File(&file);
        assert!(text.unchanged().is_ok());
        // Shorter now: a window past the new end cannot be read.
        std::fs::write(dir.path().join("input.csv"), b"01234").expect("rewritten");
        let mut buf = Vec::new();
        let err = text.window(4, 8, &mut buf).expect_err("the file is shorter");
        assert!(err.to_string().contains("input.csv: the file changed while it was read"), "{err}");
        assert!(text.unchanged().is_err());
        // Permissions changed, or the path renamed: still the same content.
        let file = OpenFile::for_test(dir.path(), b"0123456789", 4);
        let path = dir.path().join("input.csv");
        let mut permissions = std::fs::metadata(&path).expect("there").permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&path, permissions).expect("read-only");
        std::fs::rename(&path, dir.path().join("renamed.csv")).expect("renamed");
        assert!(Text::File(&file).unchanged().is_ok());
        std::fs::remove_file(dir.path().join("renamed.csv")).expect("removed");
        // As long as before, but written again.
        let file = OpenFile::for_test(dir.path(), b"0123456789", 4);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("input.csv"), b"9876543210").expect("rewritten");
        let err = Text::File(&file).unchanged().expect_err("modified");
        assert!(err.to_string().contains("changed while it was read"), "{err}");
    }

    #[test]
    fn from_path_leaves_a_regular_file_to_the_run_and_reads_anything_else_whole() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("debits.csv");
        std::fs::write(&path, b"txn_id\n").expect("written");
        let source = Source::from_path(&path).expect("opened");
        assert_eq!(source.bytes(), None);
        assert_eq!(source.text().len(), 7);
        assert_eq!(source.name(), path.display().to_string());
        // A named pipe is opened once and read whole: what was written to it is all there.
        let fifo = dir.path().join("fifo.csv");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(made.success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, b"txn_id\nT1\n").expect("written to the pipe"))
        };
        let piped = Source::from_path(&fifo).expect("read");
        writer.join().expect("the writer finishes");
        assert_eq!(piped.bytes(), Some(&b"txn_id\nT1\n"[..]));
        let device = Source::from_path("/dev/null").expect("read");
        assert_eq!(device.bytes(), Some(&b""[..]));
        let err = Source::from_path(dir.path().join("missing.csv")).expect_err("no such file");
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
