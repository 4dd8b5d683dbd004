//! A ZIP archive written while it is sent: the export's reader hands over entries in parts
//! through a bounded channel, a blocking thread compresses them into a ZIP stream (data
//! descriptors, no seeking), and its output leaves through another bounded channel as the
//! response body. Memory holds a few chunks, whatever the archive's size.

use std::io::{self, Write};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The size of the pieces that travel through the channels.
pub const CHUNK: usize = 64 * 1024;
/// Pieces waiting in each channel.
const QUEUED: usize = 4;

/// The archive's bytes, as a response body reads them; an `Err` ends a broken archive.
pub type ArchiveBytes = mpsc::Receiver<io::Result<Bytes>>;

enum Part {
    Entry { name: String, compress: bool },
    Data(Vec<u8>),
    End,
}

/// The sending end: entries are written one after another, then `finish`.
pub struct ArchiveWriter {
    parts: mpsc::Sender<Part>,
    /// JSON written but not yet sent.
    pending: Vec<u8>,
    /// Whether the array being written has an item yet (for its commas).
    has_items: bool,
}

/// Starts the compressing thread; returns where to write and what to send.
pub fn archive() -> (ArchiveWriter, ArchiveBytes) {
    let (parts, incoming) = mpsc::channel(QUEUED);
    let (bytes, body) = mpsc::channel(QUEUED);
    tokio::task::spawn_blocking(move || compress(incoming, bytes));
    let writer = ArchiveWriter {
        parts,
        pending: Vec::with_capacity(CHUNK),
        has_items: false,
    };
    (writer, body)
}

/// The reader went away (the client hung up) or the archive broke.
#[derive(Debug)]
pub struct Stopped;

impl ArchiveWriter {
    async fn send(&mut self, part: Part) -> Result<(), Stopped> {
        self.parts.send(part).await.map_err(|_| Stopped)
    }

    /// Begins an entry: compressed (text), or stored (photos, compressed already).
    pub async fn entry(&mut self, name: String, compress: bool) -> Result<(), Stopped> {
        self.flush().await?;
        self.send(Part::Entry { name, compress }).await
    }

    /// Bytes of the current entry, sent once a chunk's worth has gathered.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Stopped> {
        for piece in bytes.chunks(CHUNK) {
            self.pending.extend_from_slice(piece);
            self.send_full().await?;
        }
        Ok(())
    }

    /// JSON text of the current entry, sent once a chunk's worth has gathered.
    pub async fn text(&mut self, text: &str) -> Result<(), Stopped> {
        self.write(text.as_bytes()).await
    }

    /// `"name":[` — an array's items follow.
    pub async fn begin_array(&mut self, name: &str) -> Result<(), Stopped> {
        self.has_items = false;
        self.text(&format!(",\"{name}\":[")).await
    }

    /// One item of the open array.
    pub async fn item(&mut self, value: &impl Serialize) -> Result<(), Stopped> {
        if self.has_items {
            self.pending.push(b',');
        }
        self.has_items = true;
        // Serializing plain data to memory cannot fail.
        let _ = serde_json::to_writer(&mut self.pending, value);
        self.send_full().await
    }

    pub async fn end_array(&mut self) -> Result<(), Stopped> {
        self.text("]").await
    }

    /// A JSON value written as is (an object's member, after its name).
    pub async fn value(&mut self, value: &impl Serialize) -> Result<(), Stopped> {
        let _ = serde_json::to_writer(&mut self.pending, value);
        self.send_full().await
    }

    async fn send_full(&mut self) -> Result<(), Stopped> {
        if self.pending.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Stopped> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        self.send(Part::Data(pending)).await
    }

    /// Ends the archive (its central directory follows). Dropping the writer instead ends
    /// the body with an error: a client never takes a cut-off archive for a whole one.
    pub async fn finish(mut self) -> Result<(), Stopped> {
        self.flush().await?;
        self.send(Part::End).await
    }
}

/// Where the ZIP stream goes: chunks into the body's channel (a blocking send: this runs on a
/// blocking thread, and a slow client slows the archive down).
struct BodySink {
    bytes: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl Write for BodySink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.bytes
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

fn compress(mut parts: mpsc::Receiver<Part>, bytes: mpsc::Sender<io::Result<Bytes>>) {
    let sink = BodySink {
        bytes: bytes.clone(),
        buffer: Vec::with_capacity(CHUNK),
    };
    let mut zip = ZipWriter::new_stream(sink);
    let outcome = (|| -> io::Result<bool> {
        while let Some(part) = parts.blocking_recv() {
            match part {
                Part::Entry { name, compress } => {
                    let method = match compress {
                        true => CompressionMethod::Deflated,
                        false => CompressionMethod::Stored,
                    };
                    let options = SimpleFileOptions::default()
                        .compression_method(method)
                        .large_file(true);
                    zip.start_file(name, options).map_err(io::Error::other)?;
                }
                Part::Data(data) => zip.write_all(&data)?,
                Part::End => {
                    zip.finish().map_err(io::Error::other)?.flush()?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    })();
    let broken = match outcome {
        Ok(true) => return,
        Ok(false) => io::Error::other("the export stopped before its end"),
        Err(err) => err,
    };
    tracing::warn!(error = %broken, "a data export broke off");
    let _ = bytes.blocking_send(Err(broken));
}
