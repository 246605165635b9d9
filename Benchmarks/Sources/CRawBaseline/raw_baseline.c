/*
 * Raw librabbitmq-c baseline for the Swift benchmark. See include/raw_baseline.h.
 */
#if !defined(__APPLE__) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, clock_nanosleep under -std=c11 */
#endif

#include "raw_baseline.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define RB_CHANNEL 1
#define RB_CONNECT_TIMEOUT_S 10 /* TCP connect */
#define RB_RPC_TIMEOUT_S 30     /* any synchronous RPC */
#define RB_WAIT_TIMEOUT_S 30    /* waiting for confirms / deliveries without progress */
#define RB_LATENCY_PREFETCH 100

#ifdef RAW_BASELINE_STATS
/* Debug aid only (not part of the API): how confirms arrive. */
long raw_baseline_stat_ack_frames, raw_baseline_stat_ack_multiple, raw_baseline_stat_ack_max_span;
long raw_baseline_stat_unexpected_frames;
#endif

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                                */

static uint64_t rb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double rb_seconds(uint64_t from, uint64_t to) { return (double)(to - from) / 1e9; }

static void rb_fail(raw_bench_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rb_fail(raw_bench_result *res, const char *fmt, ...) {
  if (!res->ok && res->error[0] != '\0') return; /* keep the first (root-cause) error */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->error, sizeof(res->error), fmt, ap);
  va_end(ap);
  res->ok = 0;
}

static raw_bench_result rb_result_init(void) {
  raw_bench_result r;
  memset(&r, 0, sizeof(r));
  r.ok = 1;
  return r;
}

static amqp_bytes_t rb_cstr(const char *s) { return amqp_cstring_bytes(s ? s : ""); }

static void rb_fill_pattern(unsigned char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)('a' + (i % 26));
}

/* ------------------------------------------------------------------------------------------ */
/* connection handling                                                                          */

typedef struct {
  amqp_connection_state_t conn;
  int logged_in;
  int channel_open;
  int broken; /* socket unusable or connection closed by the server: skip the polite close */
} rb_conn;

/* Turns a non-normal RPC reply (or a server-initiated close) into an error message, answers
 * server-initiated closes with close-ok, and updates the connection state. Returns 1 if `r` is normal. */
static int rb_reply_ok(rb_conn *c, amqp_rpc_reply_t r, const char *what, raw_bench_result *res) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return 1;
    case AMQP_RESPONSE_NONE:
      rb_fail(res, "%s: no RPC reply (missing or unexpected frame)", what);
      c->broken = 1;
      return 0;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      rb_fail(res, "%s: %s", what, amqp_error_string2(r.library_error));
      c->broken = 1;
      return 0;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD && r.reply.decoded) {
        amqp_connection_close_t *m = (amqp_connection_close_t *)r.reply.decoded;
        rb_fail(res, "%s: server closed the connection: %u %.*s", what, (unsigned)m->reply_code,
                (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_connection_close_ok_t ok;
        memset(&ok, 0, sizeof(ok));
        amqp_send_method(c->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        c->broken = 1;
      } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD && r.reply.decoded) {
        amqp_channel_close_t *m = (amqp_channel_close_t *)r.reply.decoded;
        rb_fail(res, "%s: server closed the channel: %u %.*s", what, (unsigned)m->reply_code,
                (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_channel_close_ok_t ok;
        memset(&ok, 0, sizeof(ok));
        if (amqp_send_method(c->conn, RB_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK)
          c->broken = 1;
        c->channel_open = 0;
      } else {
        rb_fail(res, "%s: unexpected server method 0x%08x", what, (unsigned)r.reply.id);
        c->broken = 1;
      }
      return 0;
  }
  rb_fail(res, "%s: unknown reply type %d", what, (int)r.reply_type);
  c->broken = 1;
  return 0;
}

/* Library status codes (negative) from non-RPC calls. Returns 1 if ok. */
static int rb_status_ok(rb_conn *c, int status, const char *what, raw_bench_result *res) {
  if (status == AMQP_STATUS_OK) return 1;
  rb_fail(res, "%s: %s", what, amqp_error_string2(status));
  c->broken = 1;
  return 0;
}

/* A method frame that arrived asynchronously where we did not expect one. channel.close and
 * connection.close are fatal (handled as server exceptions); basic.cancel (consumer cancelled by the
 * server) is fatal; anything else is reported as unexpected only if `fatal_other`. Returns 1 if the
 * frame could be ignored. */
static int rb_async_method_ok(rb_conn *c, const amqp_frame_t *f, const char *what, int fatal_other,
                              raw_bench_result *res) {
  if (f->frame_type != AMQP_FRAME_METHOD) return !fatal_other;
  amqp_method_number_t id = f->payload.method.id;
  if (id == AMQP_CONNECTION_CLOSE_METHOD || id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_rpc_reply_t r;
    memset(&r, 0, sizeof(r));
    r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
    r.reply = f->payload.method;
    return rb_reply_ok(c, r, what, res);
  }
  if (id == AMQP_BASIC_CANCEL_METHOD) {
    rb_fail(res, "%s: the broker cancelled the consumer (queue deleted?)", what);
    return 0;
  }
  if (fatal_other) {
    rb_fail(res, "%s: unexpected method 0x%08x on channel %u", what, (unsigned)id, (unsigned)f->channel);
    return 0;
  }
  return 1;
}

static int rb_open(rb_conn *c, const char *host, int port, const char *user, const char *password,
                   const char *vhost, const char *who, raw_bench_result *res) {
  memset(c, 0, sizeof(*c));
  c->conn = amqp_new_connection();
  if (!c->conn) {
    rb_fail(res, "%s: amqp_new_connection failed (out of memory)", who);
    return 0;
  }
  amqp_socket_t *sock = amqp_tcp_socket_new(c->conn);
  if (!sock) {
    rb_fail(res, "%s: amqp_tcp_socket_new failed", who);
    c->broken = 1;
    return 0;
  }
  struct timeval connect_tv = {RB_CONNECT_TIMEOUT_S, 0};
  int st = amqp_socket_open_noblock(sock, host ? host : "127.0.0.1", port, &connect_tv);
  if (st != AMQP_STATUS_OK) {
    rb_fail(res, "%s: cannot connect to %s:%d: %s", who, host ? host : "127.0.0.1", port,
            amqp_error_string2(st));
    c->broken = 1;
    return 0;
  }
  struct timeval rpc_tv = {RB_RPC_TIMEOUT_S, 0};
  amqp_set_rpc_timeout(c->conn, &rpc_tv);

  char what[96];
  snprintf(what, sizeof(what), "%s: login", who);
  amqp_rpc_reply_t r = amqp_login(c->conn, vhost ? vhost : "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                                  AMQP_SASL_METHOD_PLAIN, user ? user : "", password ? password : "");
  if (!rb_reply_ok(c, r, what, res)) return 0;
  c->logged_in = 1;

  snprintf(what, sizeof(what), "%s: channel.open", who);
  amqp_channel_open(c->conn, RB_CHANNEL);
  if (!rb_reply_ok(c, amqp_get_rpc_reply(c->conn), what, res)) return 0;
  c->channel_open = 1;
  return 1;
}

/* Closes politely when the connection is healthy, always destroys it. Close errors are reported
 * only if nothing failed before (a failing close after a good run still means ok = 0). */
static void rb_close(rb_conn *c, const char *who, raw_bench_result *res) {
  if (!c->conn) return;
  if (c->logged_in && !c->broken) {
    char what[96];
    if (c->channel_open) {
      snprintf(what, sizeof(what), "%s: channel.close", who);
      rb_reply_ok(c, amqp_channel_close(c->conn, RB_CHANNEL, AMQP_REPLY_SUCCESS), what, res);
      c->channel_open = 0;
    }
    if (!c->broken) {
      snprintf(what, sizeof(what), "%s: connection.close", who);
      rb_reply_ok(c, amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS), what, res);
    }
  }
  amqp_destroy_connection(c->conn); /* also closes and frees the socket */
  c->conn = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* publish                                                                                      */

typedef struct {
  unsigned char *confirmed; /* [1..published], 1 once acked */
  long published;           /* highest delivery tag sent so far */
  long confirmed_count;
  long low;                 /* every tag below `low` is confirmed */
} rb_confirms;

static int rb_confirm_tags(rb_confirms *cf, uint64_t tag, int multiple, raw_bench_result *res) {
  if (multiple && tag == 0) tag = (uint64_t)cf->published; /* "everything so far" */
  if (tag == 0 || tag > (uint64_t)cf->published) {
    rb_fail(res, "publish: confirm for unknown delivery tag %llu (published %ld)", (unsigned long long)tag,
            cf->published);
    return 0;
  }
  long t = (long)tag;
#ifdef RAW_BASELINE_STATS
  raw_baseline_stat_ack_frames++;
  if (multiple) {
    raw_baseline_stat_ack_multiple++;
    long span = 0;
    for (long i = cf->low; i <= t; i++) span += !cf->confirmed[i];
    if (span > raw_baseline_stat_ack_max_span) raw_baseline_stat_ack_max_span = span;
  }
#endif
  if (multiple) {
    for (long i = cf->low; i <= t; i++) {
      if (!cf->confirmed[i]) {
        cf->confirmed[i] = 1;
        cf->confirmed_count++;
      }
    }
  } else if (!cf->confirmed[t]) {
    cf->confirmed[t] = 1;
    cf->confirmed_count++;
  }
  while (cf->low <= cf->published && cf->confirmed[cf->low]) cf->low++;
  return 1;
}

/* Handles one frame read while waiting for confirms. Returns 1 to go on. */
static int rb_publish_frame(rb_conn *c, rb_confirms *cf, const amqp_frame_t *f, raw_bench_result *res) {
  if (f->frame_type == AMQP_FRAME_METHOD && f->channel == RB_CHANNEL) {
    switch (f->payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = (const amqp_basic_ack_t *)f->payload.method.decoded;
        return rb_confirm_tags(cf, a->delivery_tag, a->multiple, res);
      }
      case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *n = (const amqp_basic_nack_t *)f->payload.method.decoded;
        rb_fail(res, "publish: broker nacked delivery tag %llu%s", (unsigned long long)n->delivery_tag,
                n->multiple ? " (multiple)" : "");
        return 0;
      }
      case AMQP_BASIC_RETURN_METHOD: { /* only with mandatory (raw_bench_publish_wire) */
        const amqp_basic_return_t *r = (const amqp_basic_return_t *)f->payload.method.decoded;
        rb_fail(res, "publish: broker returned a mandatory message: %u %.*s (exchange '%.*s', routing key '%.*s')",
                (unsigned)r->reply_code, (int)r->reply_text.len, (const char *)r->reply_text.bytes,
                (int)r->exchange.len, (const char *)r->exchange.bytes, (int)r->routing_key.len,
                (const char *)r->routing_key.bytes);
        return 0;
      }
      default:
        break;
    }
  }
#ifdef RAW_BASELINE_STATS
  raw_baseline_stat_unexpected_frames++;
#endif
  return rb_async_method_ok(c, f, "publish", 1, res);
}

/* What raw_bench_publish_wire puts on every message (see raw_baseline.h). `props` points into the struct
 * itself (headers, id, time), so an rb_wire is set up in place by rb_wire_init and never copied. */
#define RB_WIRE_HEADERS 5
#define RB_UUID_LEN 36 /* 8-4-4-4-12 hex digits */
#define RB_TIME_LEN 28 /* YYYY-MM-DDThh:mm:ss.fffffffZ */

typedef struct {
  amqp_basic_properties_t props;
  amqp_table_entry_t headers[RB_WIRE_HEADERS];
  char id[RB_UUID_LEN + 1];
  char time[RB_TIME_LEN + 1];
  uint64_t rng; /* xorshift64* state for the message ids */
} rb_wire;

static amqp_table_entry_t rb_string_entry(const char *key, amqp_bytes_t value) {
  amqp_table_entry_t e;
  memset(&e, 0, sizeof(e));
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8; /* long string, as the Swift AMQP layer writes .string */
  e.value.value.bytes = value;
  return e;
}

static void rb_wire_init(rb_wire *w, const char *event_type, const char *source) {
  memset(w, 0, sizeof(*w));
  w->rng = rb_now_ns() ^ (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ull;
  if (w->rng == 0) w->rng = 0x2545f4914f6cdd1dull;
  amqp_bytes_t id = {RB_UUID_LEN, w->id};
  amqp_bytes_t time = {RB_TIME_LEN, w->time};
  w->headers[0] = rb_string_entry("cloudEvents_specversion", amqp_cstring_bytes("1.0"));
  w->headers[1] = rb_string_entry("cloudEvents_id", id);
  w->headers[2] = rb_string_entry("cloudEvents_type", rb_cstr(event_type));
  w->headers[3] = rb_string_entry("cloudEvents_source", rb_cstr(source));
  w->headers[4] = rb_string_entry("cloudEvents_time", time);

  amqp_basic_properties_t *p = &w->props;
  p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
              AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG |
              AMQP_BASIC_APP_ID_FLAG;
  p->content_type = amqp_cstring_bytes("application/json");
  p->headers.num_entries = RB_WIRE_HEADERS;
  p->headers.entries = w->headers;
  p->delivery_mode = 2;
  p->message_id = id;
  p->type = rb_cstr(event_type);
  p->app_id = rb_cstr(source);
}

static uint64_t rb_wire_random(rb_wire *w) {
  uint64_t x = w->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  w->rng = x;
  return x * 0x2545f4914f6cdd1dull;
}

/* A fresh message id (random version-4 UUID, lowercase) and the current time for the next message.
 * Returns 1 if ok. */
static int rb_wire_next(rb_wire *w, raw_bench_result *res) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  uint64_t r0 = rb_wire_random(w), r1 = rb_wire_random(w);
  for (int i = 0; i < 8; i++) {
    b[i] = (unsigned char)(r0 >> (8 * i));
    b[8 + i] = (unsigned char)(r1 >> (8 * i));
  }
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) w->id[o++] = '-';
    w->id[o++] = hex[b[i] >> 4];
    w->id[o++] = hex[b[i] & 0x0f];
  }
  w->id[o] = '\0';

  struct timespec ts;
  struct tm tm;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
    rb_fail(res, "publish: cannot read the wall clock");
    return 0;
  }
  int n = snprintf(w->time, sizeof(w->time), "%04d-%02d-%02dT%02d:%02d:%02d.%07ldZ", tm.tm_year + 1900,
                   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 100));
  if (n != RB_TIME_LEN) {
    rb_fail(res, "publish: cannot format the time (year %d)", tm.tm_year + 1900);
    return 0;
  }
  w->props.timestamp = (uint64_t)ts.tv_sec;
  return 1;
}

/* raw_bench_publish (wire == NULL: bare body, delivery mode only, default exchange, not mandatory) and
 * raw_bench_publish_wire (wire set: its properties, mandatory, to `exchange_name`). */
static raw_bench_result rb_publish(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *exchange_name, const char *queue, long count,
                                   int size, int confirm, int window, rb_wire *wire) {
  raw_bench_result res = rb_result_init();
  if (count < 0 || size < 0 || (confirm && window < 1)) {
    rb_fail(&res, "publish: invalid arguments (count %ld, size %d, window %d)", count, size, window);
    return res;
  }

  unsigned char *body = malloc(size > 0 ? (size_t)size : 1);
  rb_confirms cf;
  memset(&cf, 0, sizeof(cf));
  cf.low = 1;
  if (confirm) cf.confirmed = calloc((size_t)count + 1, 1);
  if (!body || (confirm && !cf.confirmed)) {
    rb_fail(&res, "publish: out of memory");
    free(body);
    free(cf.confirmed);
    return res;
  }
  rb_fill_pattern(body, (size_t)size);

  rb_conn c;
  if (!rb_open(&c, host, port, user, password, vhost, "publish", &res)) goto done;

  if (confirm) {
    amqp_confirm_select(c.conn, RB_CHANNEL);
    if (!rb_reply_ok(&c, amqp_get_rpc_reply(c.conn), "publish: confirm.select", &res)) goto done;
  }

  amqp_basic_properties_t bare;
  memset(&bare, 0, sizeof(bare));
  bare._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  bare.delivery_mode = confirm ? 2 : 1;
  const amqp_basic_properties_t *props = wire ? &wire->props : &bare;
  amqp_boolean_t mandatory = wire ? 1 : 0;
  amqp_bytes_t exchange = wire ? rb_cstr(exchange_name) : amqp_empty_bytes;
  amqp_bytes_t rkey = rb_cstr(queue);
  amqp_bytes_t payload = {(size_t)size, body};

  uint64_t t0 = rb_now_ns();
  if (!confirm) {
    for (long i = 0; i < count; i++) {
      if (wire && !rb_wire_next(wire, &res)) goto done;
      int st = amqp_basic_publish(c.conn, RB_CHANNEL, exchange, rkey, mandatory, 0, props, payload);
      if (!rb_status_ok(&c, st, "publish: basic.publish", &res)) goto done;
      res.messages++;
    }
    /* One synchronous round trip: once declare-ok is back, every publish before it was processed. */
    amqp_queue_declare(c.conn, RB_CHANNEL, rkey, 1, 0, 0, 0, amqp_empty_table);
    if (!rb_reply_ok(&c, amqp_get_rpc_reply(c.conn), "publish: queue.declare (passive)", &res)) goto done;
    res.seconds = rb_seconds(t0, rb_now_ns());
  } else {
    while (cf.confirmed_count < count) {
      while (cf.published < count && cf.published - cf.confirmed_count < window) {
        if (wire && !rb_wire_next(wire, &res)) goto done;
        int st = amqp_basic_publish(c.conn, RB_CHANNEL, exchange, rkey, mandatory, 0, props, payload);
        if (!rb_status_ok(&c, st, "publish: basic.publish", &res)) goto done;
        cf.published++;
      }
      /* Window full (or everything sent): block for the next frame, then drain what is already
       * buffered without another blocking read. */
      amqp_frame_t f;
      struct timeval wait_tv = {RB_WAIT_TIMEOUT_S, 0};
      int st = amqp_simple_wait_frame_noblock(c.conn, &f, &wait_tv);
      if (st == AMQP_STATUS_TIMEOUT) {
        rb_fail(&res, "publish: no confirm within %d s (%ld of %ld confirmed)", RB_WAIT_TIMEOUT_S,
                cf.confirmed_count, count);
        c.broken = 1;
        goto done;
      }
      if (!rb_status_ok(&c, st, "publish: waiting for confirms", &res)) goto done;
      if (!rb_publish_frame(&c, &cf, &f, &res)) goto done;
      while (amqp_frames_enqueued(c.conn) || amqp_data_in_buffer(c.conn)) {
        struct timeval zero = {0, 0};
        st = amqp_simple_wait_frame_noblock(c.conn, &f, &zero);
        if (st == AMQP_STATUS_TIMEOUT) break; /* only a partial frame buffered */
        if (!rb_status_ok(&c, st, "publish: waiting for confirms", &res)) goto done;
        if (!rb_publish_frame(&c, &cf, &f, &res)) goto done;
      }
      amqp_maybe_release_buffers(c.conn);
    }
    res.seconds = rb_seconds(t0, rb_now_ns());
    res.messages = cf.confirmed_count;
  }

done:
  rb_close(&c, "publish", &res);
  free(body);
  free(cf.confirmed);
  return res;
}

raw_bench_result raw_bench_publish(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int size,
                                   int confirm, int window) {
  return rb_publish(host, port, user, password, vhost, NULL, queue, count, size, confirm, window, NULL);
}

raw_bench_result raw_bench_publish_wire(const char *host, int port, const char *user, const char *password,
                                        const char *vhost, const char *exchange, const char *routing_key,
                                        long count, int size, int window, const char *event_type,
                                        const char *source) {
  rb_wire wire;
  rb_wire_init(&wire, event_type, source);
  return rb_publish(host, port, user, password, vhost, exchange, routing_key, count, size, 1, window, &wire);
}

/* ------------------------------------------------------------------------------------------ */
/* consume                                                                                      */

static int rb_set_qos(rb_conn *c, int prefetch, const char *who, raw_bench_result *res) {
  char what[96];
  snprintf(what, sizeof(what), "%s: basic.qos", who);
  amqp_basic_qos(c->conn, RB_CHANNEL, 0, (uint16_t)prefetch, 0);
  return rb_reply_ok(c, amqp_get_rpc_reply(c->conn), what, res);
}

/* basic.consume with a server-generated tag; *tag receives a malloc'd copy of it. */
static int rb_basic_consume(rb_conn *c, const char *queue, amqp_bytes_t *tag, const char *who,
                            raw_bench_result *res) {
  char what[96];
  snprintf(what, sizeof(what), "%s: basic.consume", who);
  amqp_basic_consume_ok_t *ok =
      amqp_basic_consume(c->conn, RB_CHANNEL, rb_cstr(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  if (!rb_reply_ok(c, amqp_get_rpc_reply(c->conn), what, res) || !ok) return 0;
  *tag = amqp_bytes_malloc_dup(ok->consumer_tag);
  if (ok->consumer_tag.len > 0 && tag->bytes == NULL) {
    rb_fail(res, "%s: out of memory", who);
    return 0;
  }
  return 1;
}

static void rb_cancel_consumer(rb_conn *c, amqp_bytes_t *tag, const char *who, raw_bench_result *res) {
  if (tag->bytes && !c->broken && c->channel_open) {
    char what[96];
    snprintf(what, sizeof(what), "%s: basic.cancel", who);
    amqp_basic_cancel(c->conn, RB_CHANNEL, *tag);
    rb_reply_ok(c, amqp_get_rpc_reply(c->conn), what, res);
  }
  amqp_bytes_free(*tag);
  tag->bytes = NULL;
  tag->len = 0;
}

typedef enum { RB_RECV_MESSAGE, RB_RECV_OTHER, RB_RECV_TIMEOUT, RB_RECV_ERROR } rb_recv_kind;

/* One amqp_consume_message step. On RB_RECV_MESSAGE the caller owns *env and must destroy it.
 * A non-delivery frame makes amqp_consume_message fail with AMQP_STATUS_UNEXPECTED_STATE after
 * putting the frame back; it is then read here and checked (close/cancel are fatal). */
static rb_recv_kind rb_receive(rb_conn *c, amqp_envelope_t *env, const struct timeval *tv, const char *who,
                               raw_bench_result *res) {
  amqp_rpc_reply_t r = amqp_consume_message(c->conn, env, tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return RB_RECV_MESSAGE;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
    return RB_RECV_TIMEOUT;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t f;
    int st = amqp_simple_wait_frame(c->conn, &f);
    if (!rb_status_ok(c, st, who, res)) return RB_RECV_ERROR;
#ifdef RAW_BASELINE_STATS
    raw_baseline_stat_unexpected_frames++;
#endif
    return rb_async_method_ok(c, &f, who, 0, res) ? RB_RECV_OTHER : RB_RECV_ERROR;
  }
  char what[96];
  snprintf(what, sizeof(what), "%s: consume_message", who);
  rb_reply_ok(c, r, what, res);
  return RB_RECV_ERROR;
}

raw_bench_result raw_bench_consume(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int prefetch) {
  raw_bench_result res = rb_result_init();
  if (count < 0 || prefetch < 0 || prefetch > 65535) {
    rb_fail(&res, "consume: invalid arguments (count %ld, prefetch %d)", count, prefetch);
    return res;
  }
  amqp_bytes_t tag = amqp_empty_bytes;
  rb_conn c;
  if (!rb_open(&c, host, port, user, password, vhost, "consume", &res)) goto done;
  if (!rb_set_qos(&c, prefetch, "consume", &res)) goto done;

  uint64_t t0 = rb_now_ns();
  if (!rb_basic_consume(&c, queue, &tag, "consume", &res)) goto done;
  uint64_t last_progress = rb_now_ns();
  while (res.messages < count) {
    amqp_envelope_t env;
    struct timeval tv = {1, 0};
    rb_recv_kind k = rb_receive(&c, &env, &tv, "consume", &res);
    if (k == RB_RECV_ERROR) goto done;
    if (k == RB_RECV_TIMEOUT) {
      if (rb_seconds(last_progress, rb_now_ns()) >= RB_WAIT_TIMEOUT_S) {
        rb_fail(&res, "consume: no delivery within %d s (%ld of %ld received; queue short?)",
                RB_WAIT_TIMEOUT_S, res.messages, count);
        goto done;
      }
      continue;
    }
    if (k == RB_RECV_OTHER) continue;
    int st = amqp_basic_ack(c.conn, RB_CHANNEL, env.delivery_tag, 0);
    amqp_destroy_envelope(&env);
    amqp_maybe_release_buffers(c.conn);
    if (!rb_status_ok(&c, st, "consume: basic.ack", &res)) goto done;
    res.messages++;
    last_progress = rb_now_ns();
  }
  res.seconds = rb_seconds(t0, rb_now_ns());

done:
  if (c.conn) rb_cancel_consumer(&c, &tag, "consume", &res);
  rb_close(&c, "consume", &res);
  return res;
}

/* ------------------------------------------------------------------------------------------ */
/* latency                                                                                      */

typedef struct {
  const char *host, *user, *password, *vhost, *queue;
  int port;
  long count;
  uint64_t not_before_ns; /* any timestamp older than this is not ours */

  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ready; /* 0 starting, 1 consuming, -1 failed before consuming */

  atomic_int publisher_failed;
  atomic_int consumer_failed;

  double *lat_ms;
  long received;
  uint64_t last_recv_ns;
  raw_bench_result res; /* consumer side status */
} rb_lat_ctx;

static void rb_lat_signal(rb_lat_ctx *x, int state) {
  pthread_mutex_lock(&x->mu);
  x->ready = state;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
}

static void *rb_lat_consumer(void *arg) {
  rb_lat_ctx *x = (rb_lat_ctx *)arg;
  amqp_bytes_t tag = amqp_empty_bytes;
  int signalled = 0;
  rb_conn c;
  if (!rb_open(&c, x->host, x->port, x->user, x->password, x->vhost, "latency consumer", &x->res)) goto done;
  if (!rb_set_qos(&c, RB_LATENCY_PREFETCH, "latency consumer", &x->res)) goto done;
  if (!rb_basic_consume(&c, x->queue, &tag, "latency consumer", &x->res)) goto done;
  rb_lat_signal(x, 1);
  signalled = 1;

  uint64_t last_progress = rb_now_ns();
  while (x->received < x->count) {
    amqp_envelope_t env;
    struct timeval tv = {0, 200000};
    rb_recv_kind k = rb_receive(&c, &env, &tv, "latency consumer", &x->res);
    if (k == RB_RECV_ERROR) goto done;
    if (k == RB_RECV_OTHER) continue;
    if (k == RB_RECV_TIMEOUT) {
      if (atomic_load(&x->publisher_failed)) {
        rb_fail(&x->res, "latency consumer: stopped because the publisher failed");
        goto done;
      }
      if (rb_seconds(last_progress, rb_now_ns()) >= RB_WAIT_TIMEOUT_S) {
        rb_fail(&x->res, "latency consumer: no delivery within %d s (%ld of %ld received)", RB_WAIT_TIMEOUT_S,
                x->received, x->count);
        goto done;
      }
      continue;
    }
    uint64_t now = rb_now_ns();
    uint64_t sent = 0;
    int valid = env.message.body.len >= sizeof(sent);
    if (valid) {
      memcpy(&sent, env.message.body.bytes, sizeof(sent));
      valid = sent >= x->not_before_ns && sent <= now;
    }
    int st = amqp_basic_ack(c.conn, RB_CHANNEL, env.delivery_tag, 0);
    size_t len = env.message.body.len;
    amqp_destroy_envelope(&env);
    amqp_maybe_release_buffers(c.conn);
    if (!valid) {
      rb_fail(&x->res, "latency consumer: foreign message in queue (%zu bytes, bad timestamp); purge it first",
              len);
      goto done;
    }
    if (!rb_status_ok(&c, st, "latency consumer: basic.ack", &x->res)) goto done;
    x->lat_ms[x->received++] = (double)(now - sent) / 1e6;
    x->last_recv_ns = now;
    last_progress = now;
  }

done:
  if (!x->res.ok) atomic_store(&x->consumer_failed, 1);
  if (!signalled) rb_lat_signal(x, -1);
  if (c.conn) rb_cancel_consumer(&c, &tag, "latency consumer", &x->res);
  rb_close(&c, "latency consumer", &x->res);
  if (!x->res.ok) atomic_store(&x->consumer_failed, 1);
  return NULL;
}

/* Sleeps until the absolute CLOCK_MONOTONIC time `target_ns` (no drift accumulates). */
static void rb_sleep_until(uint64_t target_ns) {
#if defined(__linux__)
  struct timespec ts = {(time_t)(target_ns / 1000000000ull), (long)(target_ns % 1000000000ull)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
#else
  for (;;) {
    uint64_t now = rb_now_ns();
    if (now >= target_ns) return;
    uint64_t d = target_ns - now;
    struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
#endif
}

static int rb_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* nearest-rank percentile of a sorted array */
static double rb_percentile(const double *v, long n, double p) {
  if (n <= 0) return 0;
  long rank = (long)((p / 100.0) * (double)n + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

raw_bench_result raw_bench_latency(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int size, int rate,
                                   int persistent) {
  raw_bench_result res = rb_result_init();
  if (count < 1 || size < (int)sizeof(uint64_t) || rate < 1) {
    rb_fail(&res, "latency: invalid arguments (count %ld >= 1, size %d >= 8, rate %d >= 1 required)", count,
            size, rate);
    return res;
  }

  rb_lat_ctx x;
  memset(&x, 0, sizeof(x));
  x.host = host;
  x.user = user;
  x.password = password;
  x.vhost = vhost;
  x.queue = queue;
  x.port = port;
  x.count = count;
  x.not_before_ns = rb_now_ns();
  x.res = rb_result_init();
  atomic_init(&x.publisher_failed, 0);
  atomic_init(&x.consumer_failed, 0);
  pthread_mutex_init(&x.mu, NULL);
  pthread_cond_init(&x.cv, NULL);

  unsigned char *body = malloc((size_t)size);
  x.lat_ms = malloc((size_t)count * sizeof(double));
  pthread_t th;
  int thread_started = 0;
  rb_conn c;
  memset(&c, 0, sizeof(c));
  if (!body || !x.lat_ms) {
    rb_fail(&res, "latency: out of memory");
    goto done;
  }
  rb_fill_pattern(body, (size_t)size);

  int err = pthread_create(&th, NULL, rb_lat_consumer, &x);
  if (err != 0) {
    rb_fail(&res, "latency: pthread_create failed: %s", strerror(err));
    goto done;
  }
  thread_started = 1;

  if (!rb_open(&c, host, port, user, password, vhost, "latency publisher", &res)) goto done;

  /* wait until the consumer is registered */
  pthread_mutex_lock(&x.mu);
  while (x.ready == 0) pthread_cond_wait(&x.cv, &x.mu); /* the consumer always signals (RPC timeouts bound it) */
  int ready = x.ready;
  pthread_mutex_unlock(&x.mu);
  if (ready != 1) goto done; /* consumer error reported below */

  amqp_basic_properties_t props;
  memset(&props, 0, sizeof(props));
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = persistent ? 2 : 1;
  amqp_bytes_t rkey = rb_cstr(queue);
  amqp_bytes_t payload = {(size_t)size, body};

  uint64_t t0 = rb_now_ns();
  for (long i = 0; i < count; i++) {
    uint64_t target = t0 + (uint64_t)((long double)i * 1e9L / (long double)rate);
    rb_sleep_until(target);
    if (atomic_load(&x.consumer_failed)) goto done;
    uint64_t sent = rb_now_ns();
    memcpy(body, &sent, sizeof(sent));
    int st = amqp_basic_publish(c.conn, RB_CHANNEL, amqp_empty_bytes, rkey, 0, 0, &props, payload);
    if (!rb_status_ok(&c, st, "latency publisher: basic.publish", &res)) goto done;
  }
  /* channel.close / connection.close in rb_close act as the final round trip */

  rb_close(&c, "latency publisher", &res);
  if (!res.ok) goto done;
  pthread_join(th, NULL);
  thread_started = 0;
  if (x.res.ok) {
    res.seconds = rb_seconds(t0, x.last_recv_ns);
  }

done:
  if (!res.ok) atomic_store(&x.publisher_failed, 1);
  rb_close(&c, "latency publisher", &res);
  if (thread_started) pthread_join(th, NULL);
  if (!x.res.ok) rb_fail(&res, "%s", x.res.error);
  res.messages = x.received;
  if (res.ok && x.received > 0) {
    qsort(x.lat_ms, (size_t)x.received, sizeof(double), rb_cmp_double);
    res.p50_ms = rb_percentile(x.lat_ms, x.received, 50.0);
    res.p99_ms = rb_percentile(x.lat_ms, x.received, 99.0);
  }
  if (!res.ok) res.seconds = 0;
  free(body);
  free(x.lat_ms);
  pthread_cond_destroy(&x.cv);
  pthread_mutex_destroy(&x.mu);
  return res;
}
