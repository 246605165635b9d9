/*
 * Callgrind's client requests (valgrind/callgrind.h: inline sequences valgrind recognises, no-ops on the real CPU),
 * for the bus-cpu row. Built without them when valgrind's headers are not installed: the row then fails and says
 * to install valgrind.
 */
#include "callgrind_client.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define RAW_HAVE_CALLGRIND 1
#endif
#endif

#ifdef RAW_HAVE_CALLGRIND
int raw_callgrind_running(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }
void raw_callgrind_zero(void) { CALLGRIND_ZERO_STATS; }
void raw_callgrind_dump(const char *reason) { CALLGRIND_DUMP_STATS_AT(reason); }
#else
int raw_callgrind_running(void) { return 0; }
void raw_callgrind_zero(void) {}
void raw_callgrind_dump(const char *reason) { (void)reason; }
#endif
