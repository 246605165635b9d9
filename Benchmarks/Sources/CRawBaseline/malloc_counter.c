/*
 * Counts the process's malloc and calloc calls while counting is switched on: the benchmark's load-independent
 * figure (allocations per message). Defined in the executable, these take the place of glibc's for every library
 * (the Swift runtime, Foundation, librabbitmq-c) and hand each call on to glibc's own (__libc_malloc,
 * __libc_calloc), so free, realloc and the rest stay glibc's and match. With counting off a call costs one relaxed
 * load. Aligned allocations (posix_memalign, aligned_alloc) and realloc are not counted. Other C libraries than
 * glibc: nothing is replaced and the count stays 0.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "malloc_counter.h"

static atomic_int counting;
static atomic_ullong counted;

#if defined(__GLIBC__)
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);

static inline void count_one(void) {
  if (atomic_load_explicit(&counting, memory_order_relaxed)) {
    atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
  }
}

void *malloc(size_t size) {
  count_one();
  return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
  count_one();
  return __libc_calloc(count, size);
}
#endif

void raw_malloc_counting(int on) { atomic_store_explicit(&counting, on ? 1 : 0, memory_order_seq_cst); }

unsigned long long raw_malloc_count(void) { return atomic_load_explicit(&counted, memory_order_seq_cst); }
