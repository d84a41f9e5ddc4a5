//! A ZIP archive written front to back without seeking: each entry is deflated as its data
//! arrives, its CRC and sizes follow it in a data descriptor, and the central directory comes
//! last. Only the compressor's window and the bytes not yet sent are held in memory.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// ZIP 2.0: deflate.
const VERSION: u16 = 20;
/// Bit 3: CRC and sizes follow the data; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
const DEFLATE: u16 = 8;

/// An entry already written, for the central directory.
#[derive(Debug)]
struct Written {
    name: String,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// The entry being written.
struct Open {
    name: String,
    offset: u32,
    crc: crc32fast::Hasher,
    size: u64,
    encoder: DeflateEncoder<Vec<u8>>,
    compressed: u64,
}

impl std::fmt::Debug for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open").field("name", &self.name).finish()
    }
}

/// Why an archive cannot go on: this format has no ZIP64, so 4 GiB is the most per entry.
#[derive(Debug, thiserror::Error)]
#[error("the archive is larger than 4 GiB")]
pub struct TooLarge;

/// A ZIP archive whose bytes are taken out with [`ZipStream::take`] as they are produced.
#[derive(Debug)]
pub struct ZipStream {
    out: Vec<u8>,
    sent: u64,
    written: Vec<Written>,
    open: Option<Open>,
    /// MS-DOS time and date of every entry.
    stamp: (u16, u16),
}

fn u16le(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// The MS-DOS time and date fields of `now` (ZIP keeps local time to 2 seconds; UTC here).
fn dos_stamp(now: chrono::DateTime<chrono::Utc>) -> (u16, u16) {
    use chrono::{Datelike, Timelike};
    let year = now.year().clamp(1980, 2107) as u16;
    let time =
        ((now.hour() as u16) << 11) | ((now.minute() as u16) << 5) | (now.second() as u16 / 2);
    let date = ((year - 1980) << 9) | ((now.month() as u16) << 5) | now.day() as u16;
    (time, date)
}

impl ZipStream {
    pub fn new(now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            out: Vec::new(),
            sent: 0,
            written: Vec::new(),
            open: None,
            stamp: dos_stamp(now),
        }
    }

    /// Where the next byte goes in the archive.
    fn position(&self) -> Result<u32, TooLarge> {
        u32::try_from(self.sent + self.out.len() as u64).map_err(|_| TooLarge)
    }

    /// Starts an entry (finishing the open one).
    pub fn start(&mut self, name: &str) -> Result<(), TooLarge> {
        self.finish_entry()?;
        let offset = self.position()?;
        let out = &mut self.out;
        u32le(out, LOCAL_HEADER);
        u16le(out, VERSION);
        u16le(out, FLAGS);
        u16le(out, DEFLATE);
        u16le(out, self.stamp.0);
        u16le(out, self.stamp.1);
        // CRC and sizes: in the data descriptor.
        out.extend_from_slice(&[0; 12]);
        u16le(out, name.len() as u16);
        u16le(out, 0);
        out.extend_from_slice(name.as_bytes());
        self.open = Some(Open {
            name: name.to_owned(),
            offset,
            crc: crc32fast::Hasher::new(),
            size: 0,
            encoder: DeflateEncoder::new(Vec::new(), Compression::fast()),
            compressed: 0,
        });
        Ok(())
    }

    /// Adds data to the open entry.
    pub fn write(&mut self, data: &[u8]) -> Result<(), TooLarge> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        open.crc.update(data);
        open.size += data.len() as u64;
        // Writing into a Vec cannot fail.
        let _ = open.encoder.write_all(data);
        let produced = std::mem::take(open.encoder.get_mut());
        open.compressed += produced.len() as u64;
        self.out.extend_from_slice(&produced);
        if open.size > u64::from(u32::MAX) {
            return Err(TooLarge);
        }
        Ok(())
    }

    fn finish_entry(&mut self) -> Result<(), TooLarge> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let rest = open.encoder.finish().unwrap_or_default();
        open.compressed += rest.len() as u64;
        self.out.extend_from_slice(&rest);
        let entry = Written {
            name: open.name,
            crc: open.crc.finalize(),
            compressed: u32::try_from(open.compressed).map_err(|_| TooLarge)?,
            size: u32::try_from(open.size).map_err(|_| TooLarge)?,
            offset: open.offset,
        };
        u32le(&mut self.out, DATA_DESCRIPTOR);
        u32le(&mut self.out, entry.crc);
        u32le(&mut self.out, entry.compressed);
        u32le(&mut self.out, entry.size);
        self.written.push(entry);
        Ok(())
    }

    /// Ends the archive: the open entry, the central directory and its end record.
    pub fn finish(&mut self) -> Result<(), TooLarge> {
        self.finish_entry()?;
        let start = self.position()?;
        for entry in &self.written {
            let out = &mut self.out;
            u32le(out, CENTRAL_HEADER);
            u16le(out, VERSION);
            u16le(out, VERSION);
            u16le(out, FLAGS);
            u16le(out, DEFLATE);
            u16le(out, self.stamp.0);
            u16le(out, self.stamp.1);
            u32le(out, entry.crc);
            u32le(out, entry.compressed);
            u32le(out, entry.size);
            u16le(out, entry.name.len() as u16);
            // Extra field, comment, disk, internal and external attributes.
            out.extend_from_slice(&[0; 12]);
            u32le(out, entry.offset);
            out.extend_from_slice(entry.name.as_bytes());
        }
        let size = self.position()? - start;
        let count = self.written.len() as u16;
        let out = &mut self.out;
        u32le(out, END_OF_CENTRAL_DIRECTORY);
        out.extend_from_slice(&[0; 4]);
        u16le(out, count);
        u16le(out, count);
        u32le(out, size);
        u32le(out, start);
        u16le(out, 0);
        Ok(())
    }

    /// The bytes produced since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.out);
        self.sent += bytes.len() as u64;
        bytes
    }
}
