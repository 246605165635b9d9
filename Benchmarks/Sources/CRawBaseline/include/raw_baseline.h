/*
 * Raw librabbitmq-c (0.11) throughput / latency baseline, called in-process by the Swift benchmark
 * so the Swift layer can be compared with plain C in the same run.
 *
 * Every function opens its own connection(s) (PLAIN login, channel 1), never exits or aborts the
 * process, reports failures through ok == 0 + error, and frees everything it allocated.
 * The caller creates and purges `queue` (a classic durable queue); these functions only publish
 * to it through the default exchange and consume from it.
 */
#ifndef RAW_BASELINE_H
#define RAW_BASELINE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double seconds;   /* wall time of the measured part only (CLOCK_MONOTONIC) */
  long messages;    /* messages completed */
  int ok;           /* 1 on success, 0 on failure */
  char error[256];  /* human-readable failure reason when ok == 0, else "" */
  double p50_ms;    /* latency percentiles, only set by raw_bench_latency, else 0 */
  double p99_ms;
} raw_bench_result;

/*
 * Publish `count` messages of `size` bytes (byte pattern) to the default exchange, routing key `queue`.
 * confirm == 0: transient (delivery_mode 1), no confirms; the clock stops after the last publish plus
 *   one synchronous round trip (passive queue.declare), so everything has reached the broker.
 * confirm == 1: persistent (delivery_mode 2), confirm.select, at most `window` (>= 1) unconfirmed
 *   messages outstanding; the clock stops when every message is confirmed. A basic.nack is a failure.
 */
raw_bench_result raw_bench_publish(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int size,
                                   int confirm, int window);

/*
 * The confirmed case of raw_bench_publish (persistent, at most `window` (>= 1) unconfirmed, a basic.nack
 * is a failure), but every message carries what RabbitMQEventBus puts on the wire for an event without
 * subject or trace context (DESIGN section 4): published mandatory to `exchange` with routing key
 * `routing_key` (a basic.return, i.e. unroutable, is a failure); properties content_type
 * "application/json", delivery_mode 2, message_id (a fresh random lowercase UUID per message), type
 * `event_type`, timestamp (now, seconds), app_id `source`; headers (long strings)
 * cloudEvents_specversion "1.0", cloudEvents_id (= message_id), cloudEvents_type `event_type`,
 * cloudEvents_source `source`, cloudEvents_time (now, UTC "YYYY-MM-DDThh:mm:ss.fffffffZ").
 * The body is `size` bytes of the byte pattern. The clock stops when every message is confirmed.
 */
raw_bench_result raw_bench_publish_wire(const char *host, int port, const char *user, const char *password,
                                        const char *vhost, const char *exchange, const char *routing_key,
                                        long count, int size, int window, const char *event_type,
                                        const char *source);

/*
 * Consume `count` messages from `queue` (already filled by the caller) with basic.qos `prefetch`,
 * no_ack = 0, each message acked individually (multiple = 0) right after it is received.
 * The clock runs from just before basic.consume until the last ack has been sent; the consumer is
 * then cancelled and the connection closed.
 */
raw_bench_result raw_bench_consume(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int prefetch);

/*
 * End-to-end latency: one connection publishes `count` messages of `size` (>= 8) bytes at `rate` (> 0)
 * msgs/s on an absolute schedule, transient or (`persistent` != 0) with delivery mode 2 (no confirms
 * either way: the schedule never waits); each body starts with the CLOCK_MONOTONIC send time
 * in ns (uint64, host byte order). A second connection on its own pthread consumes with prefetch 100,
 * acks each message and records receive_time - send_time. p50_ms / p99_ms are nearest-rank
 * percentiles; seconds is the wall time from the first publish to the last receive.
 */
raw_bench_result raw_bench_latency(const char *host, int port, const char *user, const char *password,
                                   const char *vhost, const char *queue, long count, int size, int rate,
                                   int persistent);

#ifdef __cplusplus
}
#endif

#endif /* RAW_BASELINE_H */
