// A counting allocator for bench/decode-cost.sh (DecodeBench only; never linked into the server):
// the executable that links this module replaces malloc and its family (glibc supports replacing
// them: https://www.gnu.org/software/libc/manual/html_node/Replacing-malloc.html), forwards every
// call to glibc's own allocator and counts the usable size of every block it hands out and takes
// back. The counts cover every thread of the process.
#ifndef CALLOCCOUNTER_H
#define CALLOCCOUNTER_H

/// Bytes in blocks handed out and not yet freed (usable sizes, so allocator rounding counts).
long long alloc_counter_live_bytes(void);

/// Bytes handed out since the process started (a realloc counts its new block's size).
long long alloc_counter_total_bytes(void);

/// Blocks handed out since the process started.
long long alloc_counter_total_blocks(void);

/// The highest `alloc_counter_live_bytes` since the last `alloc_counter_reset_peak`.
long long alloc_counter_peak_bytes(void);

/// Starts a new peak at the current live bytes.
void alloc_counter_reset_peak(void);

/// 1 when this allocator is the one the process uses (a call to malloc was counted), else 0.
int alloc_counter_active(void);

#endif
