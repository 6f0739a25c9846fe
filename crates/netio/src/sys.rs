//! Small helpers shared by the modules that call libc.

use std::io;

/// Turn a libc return value (negative on failure, errno set) into an `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `setsockopt` for a plain-old-data option value.
///
/// `T` must be a `#[repr(C)]` type without padding-dependent meaning (an integer
/// or one of libc's option structs); the kernel reads `size_of::<T>()` bytes.
pub(crate) fn setsockopt<T: Copy>(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a valid reference to `len` readable bytes for the
    // duration of the call; the kernel only reads from it and validates `fd`.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    cvt(ret).map(drop)
}
