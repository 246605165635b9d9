// Swift-visible shims over librabbitmq-c 0.11. Swift cannot import the library's cast macros or call
// its variadic amqp_login, so this header re-exports what the AMQP layer needs as plain constants and
// small inline functions. Generated once from amqp_framing.h; edit by hand when a constant is needed.
#ifndef EVENTBUS_CRABBITMQ_SHIM_H
#define EVENTBUS_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* Method numbers (class << 16 | method). */
static const amqp_method_number_t CR_CONNECTION_START_METHOD = AMQP_CONNECTION_START_METHOD;
static const amqp_method_number_t CR_CONNECTION_START_OK_METHOD = AMQP_CONNECTION_START_OK_METHOD;
static const amqp_method_number_t CR_CONNECTION_SECURE_METHOD = AMQP_CONNECTION_SECURE_METHOD;
static const amqp_method_number_t CR_CONNECTION_SECURE_OK_METHOD = AMQP_CONNECTION_SECURE_OK_METHOD;
static const amqp_method_number_t CR_CONNECTION_TUNE_METHOD = AMQP_CONNECTION_TUNE_METHOD;
static const amqp_method_number_t CR_CONNECTION_TUNE_OK_METHOD = AMQP_CONNECTION_TUNE_OK_METHOD;
static const amqp_method_number_t CR_CONNECTION_OPEN_METHOD = AMQP_CONNECTION_OPEN_METHOD;
static const amqp_method_number_t CR_CONNECTION_OPEN_OK_METHOD = AMQP_CONNECTION_OPEN_OK_METHOD;
static const amqp_method_number_t CR_CONNECTION_CLOSE_METHOD = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t CR_CONNECTION_CLOSE_OK_METHOD = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const amqp_method_number_t CR_CONNECTION_BLOCKED_METHOD = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t CR_CONNECTION_UNBLOCKED_METHOD = AMQP_CONNECTION_UNBLOCKED_METHOD;
static const amqp_method_number_t CR_CHANNEL_OPEN_METHOD = AMQP_CHANNEL_OPEN_METHOD;
static const amqp_method_number_t CR_CHANNEL_OPEN_OK_METHOD = AMQP_CHANNEL_OPEN_OK_METHOD;
static const amqp_method_number_t CR_CHANNEL_FLOW_METHOD = AMQP_CHANNEL_FLOW_METHOD;
static const amqp_method_number_t CR_CHANNEL_FLOW_OK_METHOD = AMQP_CHANNEL_FLOW_OK_METHOD;
static const amqp_method_number_t CR_CHANNEL_CLOSE_METHOD = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t CR_CHANNEL_CLOSE_OK_METHOD = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const amqp_method_number_t CR_ACCESS_REQUEST_METHOD = AMQP_ACCESS_REQUEST_METHOD;
static const amqp_method_number_t CR_ACCESS_REQUEST_OK_METHOD = AMQP_ACCESS_REQUEST_OK_METHOD;
static const amqp_method_number_t CR_EXCHANGE_DECLARE_METHOD = AMQP_EXCHANGE_DECLARE_METHOD;
static const amqp_method_number_t CR_EXCHANGE_DECLARE_OK_METHOD = AMQP_EXCHANGE_DECLARE_OK_METHOD;
static const amqp_method_number_t CR_EXCHANGE_DELETE_METHOD = AMQP_EXCHANGE_DELETE_METHOD;
static const amqp_method_number_t CR_EXCHANGE_DELETE_OK_METHOD = AMQP_EXCHANGE_DELETE_OK_METHOD;
static const amqp_method_number_t CR_EXCHANGE_BIND_METHOD = AMQP_EXCHANGE_BIND_METHOD;
static const amqp_method_number_t CR_EXCHANGE_BIND_OK_METHOD = AMQP_EXCHANGE_BIND_OK_METHOD;
static const amqp_method_number_t CR_EXCHANGE_UNBIND_METHOD = AMQP_EXCHANGE_UNBIND_METHOD;
static const amqp_method_number_t CR_EXCHANGE_UNBIND_OK_METHOD = AMQP_EXCHANGE_UNBIND_OK_METHOD;
static const amqp_method_number_t CR_QUEUE_DECLARE_METHOD = AMQP_QUEUE_DECLARE_METHOD;
static const amqp_method_number_t CR_QUEUE_DECLARE_OK_METHOD = AMQP_QUEUE_DECLARE_OK_METHOD;
static const amqp_method_number_t CR_QUEUE_BIND_METHOD = AMQP_QUEUE_BIND_METHOD;
static const amqp_method_number_t CR_QUEUE_BIND_OK_METHOD = AMQP_QUEUE_BIND_OK_METHOD;
static const amqp_method_number_t CR_QUEUE_PURGE_METHOD = AMQP_QUEUE_PURGE_METHOD;
static const amqp_method_number_t CR_QUEUE_PURGE_OK_METHOD = AMQP_QUEUE_PURGE_OK_METHOD;
static const amqp_method_number_t CR_QUEUE_DELETE_METHOD = AMQP_QUEUE_DELETE_METHOD;
static const amqp_method_number_t CR_QUEUE_DELETE_OK_METHOD = AMQP_QUEUE_DELETE_OK_METHOD;
static const amqp_method_number_t CR_QUEUE_UNBIND_METHOD = AMQP_QUEUE_UNBIND_METHOD;
static const amqp_method_number_t CR_QUEUE_UNBIND_OK_METHOD = AMQP_QUEUE_UNBIND_OK_METHOD;
static const amqp_method_number_t CR_BASIC_QOS_METHOD = AMQP_BASIC_QOS_METHOD;
static const amqp_method_number_t CR_BASIC_QOS_OK_METHOD = AMQP_BASIC_QOS_OK_METHOD;
static const amqp_method_number_t CR_BASIC_CONSUME_METHOD = AMQP_BASIC_CONSUME_METHOD;
static const amqp_method_number_t CR_BASIC_CONSUME_OK_METHOD = AMQP_BASIC_CONSUME_OK_METHOD;
static const amqp_method_number_t CR_BASIC_CANCEL_METHOD = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t CR_BASIC_CANCEL_OK_METHOD = AMQP_BASIC_CANCEL_OK_METHOD;
static const amqp_method_number_t CR_BASIC_PUBLISH_METHOD = AMQP_BASIC_PUBLISH_METHOD;
static const amqp_method_number_t CR_BASIC_RETURN_METHOD = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t CR_BASIC_DELIVER_METHOD = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t CR_BASIC_GET_METHOD = AMQP_BASIC_GET_METHOD;
static const amqp_method_number_t CR_BASIC_GET_OK_METHOD = AMQP_BASIC_GET_OK_METHOD;
static const amqp_method_number_t CR_BASIC_GET_EMPTY_METHOD = AMQP_BASIC_GET_EMPTY_METHOD;
static const amqp_method_number_t CR_BASIC_ACK_METHOD = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t CR_BASIC_REJECT_METHOD = AMQP_BASIC_REJECT_METHOD;
static const amqp_method_number_t CR_BASIC_RECOVER_ASYNC_METHOD = AMQP_BASIC_RECOVER_ASYNC_METHOD;
static const amqp_method_number_t CR_BASIC_RECOVER_METHOD = AMQP_BASIC_RECOVER_METHOD;
static const amqp_method_number_t CR_BASIC_RECOVER_OK_METHOD = AMQP_BASIC_RECOVER_OK_METHOD;
static const amqp_method_number_t CR_BASIC_NACK_METHOD = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t CR_TX_SELECT_METHOD = AMQP_TX_SELECT_METHOD;
static const amqp_method_number_t CR_TX_SELECT_OK_METHOD = AMQP_TX_SELECT_OK_METHOD;
static const amqp_method_number_t CR_TX_COMMIT_METHOD = AMQP_TX_COMMIT_METHOD;
static const amqp_method_number_t CR_TX_COMMIT_OK_METHOD = AMQP_TX_COMMIT_OK_METHOD;
static const amqp_method_number_t CR_TX_ROLLBACK_METHOD = AMQP_TX_ROLLBACK_METHOD;
static const amqp_method_number_t CR_TX_ROLLBACK_OK_METHOD = AMQP_TX_ROLLBACK_OK_METHOD;
static const amqp_method_number_t CR_CONFIRM_SELECT_METHOD = AMQP_CONFIRM_SELECT_METHOD;
static const amqp_method_number_t CR_CONFIRM_SELECT_OK_METHOD = AMQP_CONFIRM_SELECT_OK_METHOD;

/* Basic properties presence flags. */
static const amqp_flags_t CR_BASIC_CONTENT_TYPE_FLAG = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t CR_BASIC_CONTENT_ENCODING_FLAG = AMQP_BASIC_CONTENT_ENCODING_FLAG;
static const amqp_flags_t CR_BASIC_HEADERS_FLAG = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t CR_BASIC_DELIVERY_MODE_FLAG = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t CR_BASIC_PRIORITY_FLAG = AMQP_BASIC_PRIORITY_FLAG;
static const amqp_flags_t CR_BASIC_CORRELATION_ID_FLAG = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t CR_BASIC_REPLY_TO_FLAG = AMQP_BASIC_REPLY_TO_FLAG;
static const amqp_flags_t CR_BASIC_EXPIRATION_FLAG = AMQP_BASIC_EXPIRATION_FLAG;
static const amqp_flags_t CR_BASIC_MESSAGE_ID_FLAG = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t CR_BASIC_TIMESTAMP_FLAG = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t CR_BASIC_TYPE_FLAG = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t CR_BASIC_USER_ID_FLAG = AMQP_BASIC_USER_ID_FLAG;
static const amqp_flags_t CR_BASIC_APP_ID_FLAG = AMQP_BASIC_APP_ID_FLAG;
static const amqp_flags_t CR_BASIC_CLUSTER_ID_FLAG = AMQP_BASIC_CLUSTER_ID_FLAG;

/* Frame types. */
static const uint8_t CR_FRAME_METHOD = AMQP_FRAME_METHOD;
static const uint8_t CR_FRAME_HEADER = AMQP_FRAME_HEADER;
static const uint8_t CR_FRAME_BODY = AMQP_FRAME_BODY;
static const uint8_t CR_FRAME_HEARTBEAT = AMQP_FRAME_HEARTBEAT;

/* amqp_login_with_properties is variadic; PLAIN takes (user, password). */
static inline amqp_rpc_reply_t cr_login_plain(amqp_connection_state_t state, const char *vhost,
                                              int channel_max, int frame_max, int heartbeat,
                                              const amqp_table_t *properties,
                                              const char *user, const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}

/* EXTERNAL (client certificate) authentication takes the identity only. */
static inline amqp_rpc_reply_t cr_login_external(amqp_connection_state_t state, const char *vhost,
                                                 int channel_max, int frame_max, int heartbeat,
                                                 const amqp_table_t *properties, const char *identity) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                    AMQP_SASL_METHOD_EXTERNAL, identity);
}

/* Disables Nagle on the connection's socket: publishes and acks are small frames. */
static inline int cr_set_nodelay(int fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Names the calling thread (prctl is variadic): Linux keeps the first 15 bytes. */
static inline int cr_set_thread_name(const char *name) {
  return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

#endif
