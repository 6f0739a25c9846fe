//! PostgreSQL's binary COPY format, written into one buffer per batch.
//!
//! The `postgres` crate's `BinaryCopyInWriter` enters its runtime and
//! checks each value's type for every row: for a /16 sweep's 131,072 rows
//! that was most of the writer thread's time. The format itself is simple
//! (PostgreSQL's documentation, "COPY", "Binary Format"): a signature, a
//! flags word and a header extension length; then per row the field count
//! (i16) and per field its length (i32, -1 for NULL) and its bytes, in the
//! type's binary form (big-endian integers, a byte for a boolean, UTF-8 for
//! text); then -1 (i16). The columns are named by the `COPY` statement, so
//! the rows must match its list.

/// One `COPY … FROM STDIN BINARY` stream being built.
pub(crate) struct CopyBuf {
    buf: Vec<u8>,
    fields: i16,
    /// Fields still to write in the current row.
    left: i16,
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl CopyBuf {
    /// A stream of rows of `fields` columns each.
    pub fn new(fields: i16, rows: usize) -> CopyBuf {
        let mut buf = Vec::with_capacity(19 + rows * (2 + fields as usize * 12) + 2);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        CopyBuf {
            buf,
            fields,
            left: 0,
        }
    }

    /// Start a row.
    pub fn row(&mut self) -> &mut Self {
        debug_assert_eq!(self.left, 0, "the row before has missing fields");
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
        self.left = self.fields;
        self
    }

    /// A field's length word (-1: NULL).
    fn length(&mut self, len: i32) -> &mut Self {
        debug_assert!(self.left > 0, "more fields than the COPY names");
        self.left -= 1;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.length(bytes.len() as i32);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A NULL.
    pub fn null(&mut self) -> &mut Self {
        self.length(-1)
    }

    /// A `BIGINT`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// An `INTEGER`.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// A `BOOLEAN`.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.field(&[u8::from(v)])
    }

    /// A `TEXT`.
    pub fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    /// A `TEXT` or NULL.
    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// A `BIGINT` or NULL.
    pub fn opt_i64(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(n) => self.i64(n),
            None => self.null(),
        }
    }

    /// A `BIGINT[]` of one dimension (no NULL element; empty: no dimension),
    /// in `array_recv`'s layout: dimensions, a has-NULL flag, the element
    /// type (int8, oid 20), each dimension's length and lower bound (1),
    /// then each element as a length word and its 8 bytes.
    pub fn i64_array(&mut self, v: &[i64]) -> &mut Self {
        const INT8_OID: u32 = 20;
        let dims: i32 = if v.is_empty() { 0 } else { 1 };
        let len = 12 + if v.is_empty() { 0 } else { 8 + 12 * v.len() };
        self.length(len as i32);
        self.buf.reserve(len);
        self.buf.extend_from_slice(&dims.to_be_bytes());
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.extend_from_slice(&INT8_OID.to_be_bytes());
        if !v.is_empty() {
            self.buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
            self.buf.extend_from_slice(&1i32.to_be_bytes());
            for n in v {
                self.buf.extend_from_slice(&8i32.to_be_bytes());
                self.buf.extend_from_slice(&n.to_be_bytes());
            }
        }
        self
    }

    /// The whole stream, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.left, 0, "the last row has missing fields");
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_of_each_kind_is_laid_out_as_the_format_says() {
        let mut c = CopyBuf::new(4, 1);
        c.row().i64(-2).text("é").null().bool(true);
        let b = c.finish();
        let mut want = b"PGCOPY\n\xff\r\n\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(&[0, 4]);
        want.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        want.extend_from_slice(&[0, 0, 0, 2, 0xc3, 0xa9]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0, 0, 0, 1, 1]);
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(b, want);
    }

    #[test]
    fn integers_are_big_endian() {
        let mut c = CopyBuf::new(2, 1);
        c.row().i32(0x0102_0304).opt_i64(None);
        let b = c.finish();
        assert_eq!(&b[21..29], &[0, 0, 0, 4, 1, 2, 3, 4]);
        assert_eq!(&b[29..33], &[0xff; 4]);
    }

    #[test]
    fn a_bigint_array_is_laid_out_as_array_recv_reads_it() {
        let mut c = CopyBuf::new(2, 1);
        c.row().i64_array(&[5, -1]).i64_array(&[]);
        let b = c.finish();
        let row = &b[19 + 2..b.len() - 2];
        let mut want = Vec::new();
        want.extend_from_slice(&44i32.to_be_bytes());
        for w in [1i32, 0, 20, 2, 1, 8] {
            want.extend_from_slice(&w.to_be_bytes());
        }
        want.extend_from_slice(&5i64.to_be_bytes());
        want.extend_from_slice(&8i32.to_be_bytes());
        want.extend_from_slice(&(-1i64).to_be_bytes());
        want.extend_from_slice(&12i32.to_be_bytes());
        for w in [0i32, 0, 20] {
            want.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(row, &want[..]);
    }
}
