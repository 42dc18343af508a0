//! The column chunks of consecutive row groups read as one stream of bytes, straight from the
//! file at their offsets: what the writer copies into a merged chunk, in constant memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use parquet::file::reader::{ChunkReader, Length};

/// Byte ranges of a file read as one stream: the concatenated column chunk.
pub(super) struct Ranges {
    pub(super) file: File,
    pub(super) ranges: Vec<(u64, u64)>,
}

impl Length for Ranges {
    fn len(&self) -> u64 {
        self.ranges.iter().map(|(_, len)| len).sum()
    }
}

impl ChunkReader for Ranges {
    type T = RangesRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<RangesRead> {
        let mut ranges: VecDeque<(u64, u64)> = self.ranges.iter().copied().collect();
        // Skip to `start` within the concatenation (the writer asks for 0, its start).
        let mut skip = start;
        while let Some((offset, len)) = ranges.front_mut() {
            if skip < *len {
                *offset += skip;
                *len -= skip;
                break;
            }
            skip -= *len;
            ranges.pop_front();
        }
        Ok(RangesRead { file: self.file.try_clone()?, ranges })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = vec![0; length];
        self.get_read(start)?.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}

pub(super) struct RangesRead {
    file: File,
    ranges: VecDeque<(u64, u64)>,
}

impl Read for RangesRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some((offset, len)) = self.ranges.front_mut() {
            if *len == 0 {
                self.ranges.pop_front();
                continue;
            }
            let want = buf.len().min(*len as usize);
            let n = self.file.read_at(&mut buf[..want], *offset)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the Parquet file ended inside a column chunk",
                ));
            }
            *offset += n as u64;
            *len -= n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}
