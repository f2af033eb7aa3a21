// weft-dns-udp: the UDP fast path of `weft dns`, a Node-API addon (dns/native-udp.ts drives it).
//
// It owns one non-blocking UDP socket, watched by a uv_poll handle on Node's own event loop. Each
// time the socket is readable it takes up to BATCH datagrams with one recvmmsg() into a shared
// ArrayBuffer (one 64 KiB slot per datagram, so nothing is ever cut short), writes their lengths
// into a shared table, and makes one call into JavaScript, which answers them all (the same parser
// and answer logic as the dgram path) by writing each reply into a second shared ArrayBuffer and its
// offset and length into the table. The replies then leave with one sendmmsg() to the addresses the
// datagrams came from. There is no JavaScript object per datagram in this addon's interface and no
// allocation per datagram here.
//
// Replies the socket does not take at once (EAGAIN, a full send buffer) are copied into a bounded
// queue and sent when the socket is writable; beyond QUEUE_LIMIT bytes they are dropped, as the
// kernel would drop them. A reply that comes later (a forwarded name) is sent alone with sendTo().
// Errors from the kernel are counted, never thrown past the JavaScript side, never fatal.
//
// JavaScript interface (all on the object `open` returns):
//   open(host, port, onBatch) -> { handle, input, table, output, slotSize, batch, port }
//     onBatch(n): datagram i is input[i*slotSize, i*slotSize + table[i]) (an Int32Array over table);
//     the reply to datagram i is output[table[batch+i], +table[2*batch+i]) when table[2*batch+i] > 0
//     (zeroed before the call).
//   peer(handle, i) -> Buffer: the sender of datagram i of the current batch (a sockaddr), for later.
//   sendTo(handle, buffer, peer) -> errno (0 when sent or queued).
//   stats(handle) -> [receiveErrors, sendErrors, dropped, queuedBytes]
//   close(handle)
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
#define SLOT_SIZE 65536
#define OUTPUT_SIZE (BATCH * 4096)
#define QUEUE_LIMIT (4 * 1024 * 1024)

typedef struct queued {
  struct queued *next;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  size_t len;
  unsigned char data[];
} queued_t;

typedef struct {
  uv_poll_t poll;
  int fd;
  int closing;
  int events;
  napi_env env;
  napi_ref on_batch;
  napi_ref input_ref, output_ref, table_ref;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  unsigned char *input, *output;
  int32_t *table;
  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  struct sockaddr_storage addrs[BATCH];
  struct mmsghdr out_msgs[BATCH];
  struct iovec out_iovs[BATCH];
  int batch_n;
  queued_t *queue_head, *queue_tail;
  size_t queued_bytes;
  double receive_errors, send_errors, dropped;
} sock_t;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "weft-dns-udp: " #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void update_events(sock_t *s);

static void enqueue(sock_t *s, const struct sockaddr *addr, socklen_t addrlen, const void *data, size_t len) {
  if (s->queued_bytes + len > QUEUE_LIMIT) {
    s->dropped++;
    return;
  }
  queued_t *q = malloc(sizeof(queued_t) + len);
  if (q == NULL) {
    s->dropped++;
    return;
  }
  q->next = NULL;
  memcpy(&q->addr, addr, addrlen);
  q->addrlen = addrlen;
  q->len = len;
  memcpy(q->data, data, len);
  if (s->queue_tail) s->queue_tail->next = q;
  else s->queue_head = q;
  s->queue_tail = q;
  s->queued_bytes += len;
}

// A send error that is about the datagram or its peer (not the socket being full): the reply is
// lost, as with dgram's send; counted.
static int transient(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR; }

// Sends the queue's head first; returns 1 when the queue is empty afterwards.
static int flush_queue(sock_t *s) {
  while (s->queue_head) {
    struct mmsghdr m[BATCH];
    struct iovec v[BATCH];
    queued_t *q = s->queue_head;
    int n = 0;
    for (; q && n < BATCH; q = q->next, n++) {
      v[n].iov_base = q->data;
      v[n].iov_len = q->len;
      memset(&m[n].msg_hdr, 0, sizeof(m[n].msg_hdr));
      m[n].msg_hdr.msg_name = &q->addr;
      m[n].msg_hdr.msg_namelen = q->addrlen;
      m[n].msg_hdr.msg_iov = &v[n];
      m[n].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(s->fd, m, n, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR) return 0;
      // The head datagram itself failed (a peer the kernel refuses): drop it and go on.
      s->send_errors++;
      sent = 1;
    }
    for (int i = 0; i < sent; i++) {
      queued_t *h = s->queue_head;
      s->queue_head = h->next;
      s->queued_bytes -= h->len;
      free(h);
    }
    if (!s->queue_head) s->queue_tail = NULL;
  }
  return 1;
}

// Sends out_msgs[from, n); what the socket does not take goes to the queue.
static void send_batch(sock_t *s, int n) {
  int i = 0;
  if (s->queue_head) {
    if (!flush_queue(s)) goto queue_rest;
  }
  while (i < n) {
    int sent = sendmmsg(s->fd, s->out_msgs + i, n - i, MSG_DONTWAIT);
    if (sent < 0) {
      if (transient(errno)) break;
      s->send_errors++;
      i++;  // that datagram is lost, the others still go
      continue;
    }
    i += sent;
  }
queue_rest:
  for (; i < n; i++) {
    struct msghdr *h = &s->out_msgs[i].msg_hdr;
    enqueue(s, h->msg_name, h->msg_namelen, h->msg_iov->iov_base, h->msg_iov->iov_len);
  }
  update_events(s);
}

static void on_poll(uv_poll_t *handle, int status, int events);

static void update_events(sock_t *s) {
  if (s->closing) return;
  int want = UV_READABLE | (s->queue_head ? UV_WRITABLE : 0);
  if (want != s->events) {
    s->events = want;
    uv_poll_start(&s->poll, want, on_poll);
  }
}

static void receive(sock_t *s) {
  napi_env env = s->env;
  for (int i = 0; i < BATCH; i++) {
    s->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    s->msgs[i].msg_hdr.msg_flags = 0;
  }
  int n = recvmmsg(s->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) {
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) s->receive_errors++;
    return;
  }
  int32_t *lengths = s->table, *offsets = s->table + BATCH, *out_lengths = s->table + 2 * BATCH;
  for (int i = 0; i < n; i++) {
    lengths[i] = (int32_t)s->msgs[i].msg_len;
    out_lengths[i] = 0;
  }
  s->batch_n = n;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;  // recv: napi_make_callback wants an object
  if (napi_get_reference_value(env, s->on_batch, &fn) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, n, &arg) == napi_ok) {
    if (napi_make_callback(env, s->async_ctx, recv, fn, 1, &arg, &result) != napi_ok) {
      // onBatch catches everything itself; should anything escape, it must not take the process down.
      bool pending = false;
      napi_value ignored;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
  s->batch_n = 0;
  if (s->closing) return;
  int m = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = out_lengths[i], off = offsets[i];
    if (len <= 0 || off < 0 || (int64_t)off + len > OUTPUT_SIZE) continue;
    s->out_iovs[m].iov_base = s->output + off;
    s->out_iovs[m].iov_len = (size_t)len;
    struct msghdr *h = &s->out_msgs[m].msg_hdr;
    h->msg_name = &s->addrs[i];
    h->msg_namelen = s->msgs[i].msg_hdr.msg_namelen;
    h->msg_iov = &s->out_iovs[m];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    m++;
  }
  if (m > 0) send_batch(s, m);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  sock_t *s = (sock_t *)handle->data;
  if (s->closing) return;
  if (status < 0) {
    // An error on the socket (a pending ICMP error, say): libuv has stopped the handle. Read the
    // error off so it does not repeat, count it, and watch the socket again.
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    s->receive_errors++;
    s->events = 0;
    update_events(s);
    return;
  }
  if (events & UV_WRITABLE) {
    flush_queue(s);
    update_events(s);
  }
  if (events & UV_READABLE) receive(s);
}

static void free_sock(sock_t *s) {
  while (s->queue_head) {
    queued_t *h = s->queue_head;
    s->queue_head = h->next;
    free(h);
  }
  free(s);
}

static void on_closed(uv_handle_t *handle) {
  sock_t *s = (sock_t *)handle->data;
  if (s->cleanup) napi_remove_async_cleanup_hook(s->cleanup);
  free_sock(s);
}

// Releases the JavaScript side and starts closing the handle (freed in on_closed).
static void begin_close(sock_t *s, int release_js) {
  if (s->closing) return;
  s->closing = 1;
  // uv_poll_stop takes the fd out of the loop's epoll set, so it can be closed now: the port is
  // free when close() returns.
  uv_poll_stop(&s->poll);
  close(s->fd);
  if (release_js) {
    napi_env env = s->env;
    napi_delete_reference(env, s->on_batch);
    napi_delete_reference(env, s->input_ref);
    napi_delete_reference(env, s->output_ref);
    napi_delete_reference(env, s->table_ref);
    napi_async_destroy(env, s->async_ctx);
  }
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

// The environment is going away (a worker thread ending) with the socket still open.
static void on_env_cleanup(napi_async_cleanup_hook_handle hook, void *arg) {
  sock_t *s = arg;
  (void)hook;
  if (s->closing) return;
  begin_close(s, 0);
}

static sock_t *get_sock(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "weft-dns-udp: not a socket handle");
    return NULL;
  }
  sock_t *s = p;
  if (s->closing) {
    napi_throw_error(env, "ERR_SOCKET_CLOSED", "weft-dns-udp: socket is closed");
    return NULL;
  }
  return s;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char code[32], msg[256];
  snprintf(code, sizeof code, "%s", err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "ENATIVE");
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, code, msg);
  return NULL;
}

static int parse_address(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
  }
  return -1;
}

static napi_value set_prop(napi_env env, napi_value obj, const char *name, napi_value v) {
  return napi_set_named_property(env, obj, name, v) == napi_ok ? obj : NULL;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  size_t host_len;
  int32_t port;
  napi_valuetype fn_type;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || napi_typeof(env, argv[2], &fn_type) != napi_ok || fn_type != napi_function) {
    napi_throw_type_error(env, NULL, "weft-dns-udp: open(host, port, onBatch)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  if (port < 0 || port > 65535 || parse_address(host, port, &ss, &sslen) != 0) {
    napi_throw_error(env, "EINVAL", "weft-dns-udp: the listen address must be an IP literal and a port");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  // No SO_REUSEADDR: on a UDP socket it would let a second server bind the same port silently (and
  // take its traffic), where node:dgram (reuseAddr false) reports EADDRINUSE.
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  struct sockaddr_storage bound;
  socklen_t boundlen = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &boundlen);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);

  sock_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, "calloc", ENOMEM);
  }
  s->fd = fd;
  s->env = env;
  napi_value input, output, table, handle, result, name, v;
  void *data;
  if (napi_create_arraybuffer(env, (size_t)BATCH * SLOT_SIZE, &data, &input) != napi_ok) goto fail;
  s->input = data;
  if (napi_create_arraybuffer(env, OUTPUT_SIZE, &data, &output) != napi_ok) goto fail;
  s->output = data;
  if (napi_create_arraybuffer(env, 3 * BATCH * sizeof(int32_t), &data, &table) != napi_ok) goto fail;
  s->table = data;
  if (napi_create_reference(env, input, 1, &s->input_ref) != napi_ok || napi_create_reference(env, output, 1, &s->output_ref) != napi_ok ||
      napi_create_reference(env, table, 1, &s->table_ref) != napi_ok || napi_create_reference(env, argv[2], 1, &s->on_batch) != napi_ok)
    goto fail;
  if (napi_create_string_utf8(env, "weft-dns-udp", NAPI_AUTO_LENGTH, &name) != napi_ok || napi_async_init(env, NULL, name, &s->async_ctx) != napi_ok) goto fail;
  for (int i = 0; i < BATCH; i++) {
    s->iovs[i].iov_base = s->input + (size_t)i * SLOT_SIZE;
    s->iovs[i].iov_len = SLOT_SIZE;
    s->msgs[i].msg_hdr.msg_name = &s->addrs[i];
    s->msgs[i].msg_hdr.msg_iov = &s->iovs[i];
    s->msgs[i].msg_hdr.msg_iovlen = 1;
  }
  if (uv_poll_init(loop, &s->poll, fd) != 0) goto fail;
  s->poll.data = s;
  s->events = UV_READABLE;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup);
  if (napi_create_external(env, s, NULL, NULL, &handle) != napi_ok || napi_create_object(env, &result) != napi_ok) {
    begin_close(s, 1);
    napi_throw_error(env, NULL, "weft-dns-udp: out of memory");
    return NULL;
  }
  set_prop(env, result, "handle", handle);
  set_prop(env, result, "input", input);
  set_prop(env, result, "output", output);
  set_prop(env, result, "table", table);
  napi_create_int32(env, SLOT_SIZE, &v);
  set_prop(env, result, "slotSize", v);
  napi_create_int32(env, BATCH, &v);
  set_prop(env, result, "batch", v);
  napi_create_int32(env, bound_port, &v);
  set_prop(env, result, "port", v);
  return result;
fail:
  close(fd);
  if (s->input_ref) napi_delete_reference(env, s->input_ref);
  if (s->output_ref) napi_delete_reference(env, s->output_ref);
  if (s->table_ref) napi_delete_reference(env, s->table_ref);
  if (s->on_batch) napi_delete_reference(env, s->on_batch);
  free(s);
  napi_throw_error(env, NULL, "weft-dns-udp: cannot set up the socket's buffers");
  return NULL;
}

static napi_value js_peer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  int32_t i;
  if (napi_get_value_int32(env, argv[1], &i) != napi_ok || i < 0 || i >= s->batch_n) {
    napi_throw_range_error(env, NULL, "weft-dns-udp: peer() outside the current batch");
    return NULL;
  }
  void *data;
  socklen_t len = s->msgs[i].msg_hdr.msg_namelen;
  CHECK(napi_create_buffer_copy(env, len, &s->addrs[i], &data, &out));
  return out;
}

static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  void *data, *peer;
  size_t len, peer_len;
  if (argc < 3 || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || napi_get_buffer_info(env, argv[2], &peer, &peer_len) != napi_ok ||
      peer_len > sizeof(struct sockaddr_storage) || peer_len < sizeof(struct sockaddr_in)) {
    napi_throw_type_error(env, NULL, "weft-dns-udp: sendTo(handle, buffer, peer)");
    return NULL;
  }
  int err = 0;
  if (s->queue_head) {
    enqueue(s, peer, (socklen_t)peer_len, data, len);
  } else if (sendto(s->fd, data, len, MSG_DONTWAIT, peer, (socklen_t)peer_len) < 0) {
    err = errno;
    if (transient(err)) {
      enqueue(s, peer, (socklen_t)peer_len, data, len);
      err = 0;
    } else {
      s->send_errors++;
    }
  }
  update_events(s);
  CHECK(napi_create_int32(env, err, &out));
  return out;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr, v;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  double values[4] = {s->receive_errors, s->send_errors, s->dropped, (double)s->queued_bytes};
  CHECK(napi_create_array_with_length(env, 4, &arr));
  for (uint32_t i = 0; i < 4; i++) {
    CHECK(napi_create_double(env, values[i], &v));
    CHECK(napi_set_element(env, arr, i, v));
  }
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "weft-dns-udp: not a socket handle");
    return NULL;
  }
  begin_close((sock_t *)p, 1);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"peer", NULL, js_peer, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
