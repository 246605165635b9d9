/*
 * Counts the process's malloc calls while counting is switched on: the benchmark's load-independent figure
 * (allocations per message). Defined in the executable, this malloc takes the place of glibc's for every library
 * (the Swift runtime, Foundation, librabbitmq-c) and hands each call on to glibc's own (__libc_malloc), so free,
 * realloc and the rest stay glibc's and match. With counting off it costs one relaxed load per call.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "malloc_counter.h"

extern void *__libc_malloc(size_t size);

static atomic_int counting;
static atomic_ullong counted;

void *malloc(size_t size) {
  if (atomic_load_explicit(&counting, memory_order_relaxed)) {
    atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
  }
  return __libc_malloc(size);
}

void raw_malloc_counting(int on) { atomic_store_explicit(&counting, on ? 1 : 0, memory_order_seq_cst); }

unsigned long long raw_malloc_count(void) { return atomic_load_explicit(&counted, memory_order_seq_cst); }
