//! SQLite's memory: its allocations go to the process's allocator (mimalloc in the binary) instead of
//! the C library's `malloc`, and it keeps no global allocation statistics.
//!
//! An import binds and copies about twenty values per row: with SQLite's defaults each of those
//! allocations took a process-wide mutex (the statistics behind `sqlite3_memory_used`, which nothing
//! here reads) and went through glibc's `malloc` and `free` — together about 6% of a million-payment
//! run's CPU, most of it on the inserting thread that bounds the import (BENCHMARKS.md).
//!
//! [`configure`] must run before SQLite is first used by any thread (the binary calls it first thing
//! in `main`): `sqlite3_config` is not thread-safe and is refused once SQLite is initialised. A
//! process that does not call it (the tests) runs with SQLite's defaults; the answers are the same.

use rusqlite::ffi;
use std::alloc::Layout;
use std::ffi::{c_int, c_void};

/// Every block starts with its size (8 bytes, as SQLite's own default allocator does), so `xSize` and
/// `xFree` know it; the caller's part follows, 8-byte aligned as SQLite requires.
const HEADER: usize = 8;
const ALIGN: usize = 8;

/// `n` bytes rounded up to the alignment: what `xRoundup` answers and `xSize` returns.
fn rounded(n: c_int) -> Option<usize> {
    Some(usize::try_from(n).ok()?.checked_add(ALIGN - 1)? / ALIGN * ALIGN)
}

/// The layout of a block for `n` bytes: [`rounded`], plus the header.
fn layout(n: c_int) -> Option<Layout> {
    Layout::from_size_align(rounded(n)?.checked_add(HEADER)?, ALIGN).ok()
}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    let Some(l) = layout(n) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `l` has a non-zero size (at least the header).
    let base = unsafe { std::alloc::alloc(l) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the block is at least HEADER bytes and 8-byte aligned.
    unsafe {
        (base as *mut usize).write(l.size());
        base.add(HEADER) as *mut c_void
    }
}

/// The block's start and total size, from a pointer `x_malloc` or `x_realloc` returned.
///
/// # Safety
/// `p` is non-null and came from `x_malloc`/`x_realloc` and was not freed.
unsafe fn block(p: *mut c_void) -> (*mut u8, usize) {
    // SAFETY: the caller's pointer is HEADER bytes into a block whose first word is its size.
    unsafe {
        let base = (p as *mut u8).sub(HEADER);
        (base, (base as *const usize).read())
    }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: SQLite frees only what its xMalloc/xRealloc returned, once.
    unsafe {
        let (base, total) = block(p);
        std::alloc::dealloc(base, Layout::from_size_align_unchecked(total, ALIGN));
    }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        // SAFETY: a plain allocation.
        return unsafe { x_malloc(n) };
    }
    let Some(new) = layout(n) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `p` is a live block of ours (SQLite's contract); on failure the old block stays valid.
    unsafe {
        let (base, total) = block(p);
        let moved = std::alloc::realloc(base, Layout::from_size_align_unchecked(total, ALIGN), new.size());
        if moved.is_null() {
            return std::ptr::null_mut();
        }
        (moved as *mut usize).write(new.size());
        moved.add(HEADER) as *mut c_void
    }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: a live block of ours.
    let (_, total) = unsafe { block(p) };
    c_int::try_from(total - HEADER).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    rounded(n).and_then(|r| c_int::try_from(r).ok()).unwrap_or(n)
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Points SQLite's allocations at the process's allocator and turns its allocation statistics off.
/// Returns false (and changes nothing) when SQLite was already initialised; `main` logs which.
///
/// # Safety
/// No other thread may be using SQLite while this runs (call it at the start of `main`).
pub unsafe fn configure() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: the caller guarantees no concurrent SQLite use; SQLite copies the methods struct.
    unsafe {
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK
            && ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods)
                == ffi::SQLITE_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_their_bytes_through_a_realloc_and_are_aligned() {
        unsafe {
            let p = x_malloc(13);
            assert!(!p.is_null());
            assert_eq!(p as usize % ALIGN, 0);
            assert_eq!(x_size(p), 16, "rounded up to the alignment");
            std::ptr::copy_nonoverlapping(b"hello, sqlite".as_ptr(), p as *mut u8, 13);
            let q = x_realloc(p, 4000);
            assert!(!q.is_null());
            assert_eq!(q as usize % ALIGN, 0);
            assert_eq!(x_size(q), 4000);
            assert_eq!(std::slice::from_raw_parts(q as *const u8, 13), b"hello, sqlite");
            let r = x_realloc(q, 5);
            assert_eq!(x_size(r), 8);
            assert_eq!(std::slice::from_raw_parts(r as *const u8, 5), b"hello");
            x_free(r);
            x_free(std::ptr::null_mut());
            assert_eq!(x_size(std::ptr::null_mut()), 0);
            assert!(x_malloc(-1).is_null());
            assert_eq!(x_roundup(13), 16);
            assert_eq!(x_roundup(16), 16);
        }
    }
}
