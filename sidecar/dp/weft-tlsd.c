/*
 * weft-tlsd: the sidecar's native L4 data path. The Node sidecar (sidecar/native-dp.ts) stays the
 * manager: it reads the channel directory, checks credentials and drives this process over
 * stdin/stdout. This process only terminates TLS (OpenSSL) and moves bytes: one thread, level-
 * triggered epoll, non-blocking sockets, no per-connection buffers unless a peer is not draining.
 *
 * Control protocol: one request per line on stdin, one reply line per request on stdout, replies in
 * request order. Tokens are separated by single spaces; PEM and ALPN travel base64-encoded.
 *   <seq> add <id> <netns|-> <host> <port> <upstream-ip> <upstream-port> <alpn-b64|-> <chain-b64> <key-b64>
 *       -> <seq> ok <port>          (the port bound: useful with port 0)
 *   <seq> cert <id> <chain-b64> <key-b64>   (rotation: new handshakes only)   -> <seq> ok
 *   <seq> remove <id>                        (closes the listener and its connections) -> <seq> ok
 *   <seq> stats -> <seq> ok <active> <pending> <proxied> <handshake_failed> <upstream_failed> <refused>
 *                  <evicted> <idle_timeout> <bytes_from_clients> <bytes_to_clients> [<id>:<active> ...]
 *   Any failure: <seq> err <CODE> <message>   (seq is "-" when the request had none)
 * Counters are cumulative since start. End of stdin ends the process (the manager is gone).
 *
 * Per container: a listening socket (bound in the container's network namespace with setns when a
 * namespace path is given, else in ours), an SSL_CTX with its chain and key (TLS 1.2+, the cipher
 * lists given on the command line, ALPN if asked, stateless session tickets, no renegotiation).
 * A rotation builds a new SSL_CTX for new handshakes; open connections keep the one they started
 * with (SSL objects hold a reference).
 *
 * Per connection: handshake -> connect to the app -> proxy both ways. The app is read 64 KiB at a
 * time; the TLS records SSL writes go through a small write BIO that gathers them in one process-
 * wide buffer and sends them with one send() (4 records, one syscall); only what the client's
 * socket does not take is copied into a per-connection queue. Backpressure: a side is read only
 * while its peer has nothing queued. Half-close: client close_notify/EOF -> shutdown(SHUT_WR)
 * upstream; app EOF -> close_notify + FIN to the client; the connection ends when both directions
 * have. Any error, or the app refusing, closes both at once. Deadlines (handshake, connect, idle)
 * are kept in FIFO lists, each of fixed length, so each check looks only at list heads.
 * Limits per container: max open connections (refused at accept), max pending handshakes (the
 * oldest is evicted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define IO_BUF (64 * 1024)
#define STAGE_BUF (IO_BUF + 4 * 1024) /* the records of one IO_BUF of plaintext */
#define OUTQ_MAX (256 * 1024)
#define MAX_LINE (1 << 20)
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64

/* ---- limits and TLS settings from the command line ---- */
static struct {
  int64_t handshake_ms, idle_ms, connect_ms;
  long max_conns, max_pending;
  const char *ciphers, *ciphersuites;
} cfg = {10000, 600000, 1000, 10000, 512, NULL, NULL};

/* ---- counters (cumulative) ---- */
static struct {
  uint64_t proxied, handshake_failed, upstream_failed, refused, evicted, idle_timeout, bytes_from, bytes_to;
  uint64_t active, pending;
} st;

/* ---- lists ---- */
struct link {
  struct link *prev, *next;
};
static void list_init(struct link *h) { h->prev = h->next = h; }
static int list_empty(const struct link *h) { return h->next == h; }
static void list_del(struct link *l) {
  if (l->next == NULL) return;
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->next = l->prev = NULL;
}
static void list_tail(struct link *h, struct link *l) {
  l->prev = h->prev;
  l->next = h;
  h->prev->next = l;
  h->prev = l;
}
#define CONTAINER_OF(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

enum kind { K_LISTENER = 1, K_CLIENT, K_UPSTREAM, K_CONTROL };
struct endpoint {
  uint8_t kind;
  void *owner;
};

struct container {
  struct endpoint ep;
  long id;
  int lfd;
  int paused; /* accept hit EMFILE: listener off until the next tick */
  SSL_CTX *ctx;
  struct sockaddr_storage up;
  socklen_t uplen;
  unsigned char *alpn; /* wire format, or NULL */
  unsigned alpn_len;
  long conns, pending;
  struct link all;     /* its connections */
  struct link pend;    /* its connections in their handshake, oldest first */
  struct link entry;   /* in `containers` */
  int dead;
};

enum phase { P_HANDSHAKE, P_CONNECTING, P_OPEN };
struct conn {
  struct endpoint cep, uep;
  struct container *ct;
  int cfd, ufd;
  SSL *ssl;
  enum phase phase;
  int64_t since;       /* phase start (handshake/connect) or last activity (open) */
  int64_t queued;      /* `since` when it was put at the tail of its timer list */
  struct link timer;   /* in hs_list, connect_list or idle_list */
  struct link in_ct;   /* container's all */
  struct link in_pend; /* container's pend */
  uint32_t cev, uev;   /* events registered */
  /* client -> app bytes not yet written */
  unsigned char *c2u;
  size_t c2u_off, c2u_len;
  /* app -> client bytes not yet taken by SSL_write */
  unsigned char *u2c;
  size_t u2c_off, u2c_len;
  /* TLS records for the client that its socket did not take yet */
  unsigned char *outq;
  size_t outq_off, outq_len;
  BIO *wbio;
  unsigned client_eof : 1, up_eof : 1, up_shut : 1, tls_shut : 1, tls_shut_done : 1, read_wants_write : 1,
      write_wants_read : 1, shut_wants_write : 1, fin_pending : 1, dead : 1;
};

static int epfd;
static int netns_self = -1;
static int64_t now_ms;
static struct link containers, hs_list, connect_list, idle_list, graveyard_conns, graveyard_cts;
static unsigned char iobuf[IO_BUF];
/* Records SSL writes for one connection are gathered here and sent with one send() (a 64 KiB read
 * from the app becomes 4 records and one syscall instead of 4). */
static unsigned char stage[STAGE_BUF];
static size_t stage_len;
static struct conn *stage_owner;
static BIO_METHOD *wmeth;
static unsigned char *line_buf;
static size_t line_len;
static int line_discard;
static struct endpoint control_ep = {K_CONTROL, NULL};

static void tick_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output ---- */
static char out_buf[1 << 16];
static size_t out_len;
static void out_flush(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(1, out_buf + off, out_len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
        continue;
      }
      exit(0); /* the manager is gone */
    }
    off += (size_t)w;
  }
  out_len = 0;
}
static void out_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof out_buf - out_len) {
    out_flush();
    va_start(ap, fmt);
    n = vsnprintf(out_buf, sizeof out_buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    out_len = (size_t)n < sizeof out_buf ? (size_t)n : sizeof out_buf - 1;
    return;
  }
  out_len += (size_t)n;
}

static void reply_err(const char *seq, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  out_printf("%s err %s %s\n", seq, code, msg);
}

static void ssl_error_text(char *buf, size_t n) {
  unsigned long e = ERR_get_error();
  if (e == 0) snprintf(buf, n, "unknown error");
  else ERR_error_string_n(e, buf, n);
  ERR_clear_error();
}

/* ---- epoll ---- */
static int ep_set(int fd, struct endpoint *ep, uint32_t *have, uint32_t want) {
  if (*have == want) return 0;
  struct epoll_event ev = {.events = want, .data.ptr = ep};
  int op = *have == UINT32_MAX ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epfd, op, fd, &ev) < 0) return -1;
  *have = want;
  return 0;
}

/* ---- connections ---- */
static void conn_free(struct conn *c) {
  list_del(&c->timer);
  list_del(&c->in_ct);
  list_del(&c->in_pend);
  free(c->c2u);
  free(c->u2c);
  c->c2u = c->u2c = NULL;
  list_tail(&graveyard_conns, &c->timer);
}

/* Closes both sides now. */
static void conn_close(struct conn *c) {
  if (c->dead) return;
  c->dead = 1;
  if (c->phase == P_HANDSHAKE) {
    c->ct->pending--;
    st.pending--;
  }
  c->ct->conns--;
  st.active--;
  if (c->cfd >= 0) close(c->cfd);
  if (c->ufd >= 0) close(c->ufd);
  c->cfd = c->ufd = -1;
  if (c->ssl) SSL_free(c->ssl); /* frees the BIOs */
  c->ssl = NULL;
  if (stage_owner == c) {
    stage_owner = NULL;
    stage_len = 0;
  }
  free(c->outq);
  c->outq = NULL;
  c->outq_len = 0;
  conn_free(c);
}

static void set_phase(struct conn *c, enum phase p) {
  if (c->phase == P_HANDSHAKE && p != P_HANDSHAKE) {
    c->ct->pending--;
    st.pending--;
    list_del(&c->in_pend);
  }
  c->phase = p;
  c->since = c->queued = now_ms;
  list_del(&c->timer);
  list_tail(p == P_HANDSHAKE ? &hs_list : p == P_CONNECTING ? &connect_list : &idle_list, &c->timer);
}

static int set_nonblock_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

/* Sends what is queued for the client, then what is staged. -1: the client is gone. */
static int flush_out(struct conn *c) {
  while (c->outq_len > 0) {
    ssize_t w = send(c->cfd, c->outq + c->outq_off, c->outq_len, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    c->outq_off += (size_t)w;
    c->outq_len -= (size_t)w;
  }
  if (c->outq != NULL) {
    free(c->outq);
    c->outq = NULL;
    c->outq_off = 0;
  }
  if (stage_owner != c || stage_len == 0) return 0;
  size_t off = 0;
  while (off < stage_len) {
    ssize_t w = send(c->cfd, stage + off, stage_len - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      stage_len = 0;
      stage_owner = NULL;
      return -1;
    }
    off += (size_t)w;
  }
  if (off < stage_len) {
    c->outq = malloc(stage_len - off);
    if (c->outq == NULL) return -1;
    memcpy(c->outq, stage + off, stage_len - off);
    c->outq_len = stage_len - off;
    c->outq_off = 0;
  }
  stage_len = 0;
  stage_owner = NULL;
  return 0;
}

static int outq_append(struct conn *c, const void *data, size_t len) {
  if (c->outq_off > 0) {
    memmove(c->outq, c->outq + c->outq_off, c->outq_len);
    c->outq_off = 0;
  }
  unsigned char *q = realloc(c->outq, c->outq_len + len);
  if (q == NULL) return -1;
  memcpy(q + c->outq_len, data, len);
  c->outq = q;
  c->outq_len += len;
  return 0;
}

static int wbio_write(BIO *b, const char *data, int len) {
  struct conn *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (c->outq_len > 0) { /* the socket is full: queue, up to a bound */
    if (c->outq_len >= OUTQ_MAX) {
      BIO_set_retry_write(b);
      return -1;
    }
    return outq_append(c, data, (size_t)len) < 0 ? -1 : len;
  }
  if (stage_owner != NULL && stage_owner != c && flush_out(stage_owner) < 0) {
    /* the other connection failed; its close comes with its next event */
  }
  if (stage_len + (size_t)len > sizeof stage) {
    if (flush_out(c) < 0) return -1;
    if (c->outq_len > 0) return outq_append(c, data, (size_t)len) < 0 ? -1 : len;
    if ((size_t)len > sizeof stage) { /* larger than the stage: straight to the queue */
      if (outq_append(c, data, (size_t)len) < 0) return -1;
      return flush_out(c) < 0 ? -1 : len;
    }
  }
  memcpy(stage + stage_len, data, (size_t)len);
  stage_len += (size_t)len;
  stage_owner = c;
  return len;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  struct conn *c = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return flush_out(c) < 0 ? 0 : 1;
  case BIO_CTRL_WPENDING:
  case BIO_CTRL_PENDING:
    return (long)(c->outq_len + (stage_owner == c ? stage_len : 0));
  case BIO_CTRL_GET_CLOSE:
  case BIO_CTRL_SET_CLOSE:
    return 1;
  default:
    return 0;
  }
}

static int wbio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* Desired epoll interest of both sockets, from the connection's state. */
static int update_interest(struct conn *c) {
  uint32_t cw = 0, uw = 0;
  if (c->phase == P_HANDSHAKE) {
    cw = SSL_want_write(c->ssl) || c->outq_len > 0 ? EPOLLOUT : EPOLLIN;
  } else if (c->phase == P_CONNECTING) {
    cw = c->outq_len > 0 ? EPOLLOUT : 0;
    uw = EPOLLOUT;
  } else {
    if ((!c->client_eof && c->c2u_len == 0) || c->write_wants_read) cw |= EPOLLIN;
    if (c->u2c_len > 0 || c->outq_len > 0 || c->read_wants_write || c->shut_wants_write) cw |= EPOLLOUT;
    if (!c->up_eof && c->u2c_len == 0 && c->outq_len == 0) uw |= EPOLLIN;
    if (c->c2u_len > 0) uw |= EPOLLOUT;
  }
  if (ep_set(c->cfd, &c->cep, &c->cev, cw) < 0) return -1;
  if (c->ufd >= 0 && ep_set(c->ufd, &c->uep, &c->uev, uw) < 0) return -1;
  return 0;
}

static void maybe_finish(struct conn *c) {
  if (c->dead) return;
  if (c->client_eof && c->up_eof && c->c2u_len == 0 && c->u2c_len == 0 && c->outq_len == 0 && c->tls_shut_done && !c->fin_pending) conn_close(c);
}

/* FIN to the client once every record before it is out. */
static int send_fin(struct conn *c) {
  if (!c->fin_pending) return 0;
  if (flush_out(c) < 0) return -1;
  if (c->outq_len > 0) return 0; /* again when the socket drains */
  c->fin_pending = 0;
  shutdown(c->cfd, SHUT_WR);
  return 0;
}

/* Sends close_notify, then FIN. Returns -1 when the connection failed. */
static int tls_shutdown(struct conn *c) {
  if (c->tls_shut_done) return 0;
  c->tls_shut = 1;
  ERR_clear_error();
  int r = SSL_shutdown(c->ssl);
  if (r >= 0) {
    c->shut_wants_write = 0;
    c->tls_shut_done = 1;
    c->fin_pending = 1;
    return send_fin(c);
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_WRITE) {
    c->shut_wants_write = 1;
    return 0;
  }
  if (e == SSL_ERROR_WANT_READ) { /* shutdown sent, waiting for the peer's is not our business */
    c->tls_shut_done = 1;
    c->fin_pending = 1;
    return send_fin(c);
  }
  return -1;
}

/* Client -> app. `readable`: the client socket reported input (or SSL may hold some). */
static int pump_c2u(struct conn *c, int readable) {
  for (;;) {
    if (c->c2u_len > 0) {
      ssize_t w = send(c->ufd, c->c2u + c->c2u_off, c->c2u_len, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) return 0;
        return -1;
      }
      c->c2u_off += (size_t)w;
      c->c2u_len -= (size_t)w;
      if (c->c2u_len > 0) return 0;
      free(c->c2u);
      c->c2u = NULL;
      c->c2u_off = 0;
      readable = SSL_has_pending(c->ssl) || readable;
    }
    if (c->client_eof) {
      if (!c->up_shut) {
        c->up_shut = 1;
        shutdown(c->ufd, SHUT_WR);
      }
      return 0;
    }
    if (!readable && !SSL_has_pending(c->ssl)) return 0;
    ERR_clear_error();
    int n = SSL_read(c->ssl, iobuf, sizeof iobuf);
    if (n > 0) {
      c->read_wants_write = 0;
      c->since = now_ms;
      st.bytes_from += (uint64_t)n;
      ssize_t w = send(c->ufd, iobuf, (size_t)n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) return -1;
        w = 0;
      }
      if (w < n) {
        c->c2u = malloc((size_t)n - (size_t)w);
        if (c->c2u == NULL) return -1;
        memcpy(c->c2u, iobuf + w, (size_t)n - (size_t)w);
        c->c2u_len = (size_t)n - (size_t)w;
        c->c2u_off = 0;
        return 0;
      }
      readable = SSL_has_pending(c->ssl); /* more in SSL's buffer; else wait for epoll */
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
      c->read_wants_write = 0;
      return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      c->read_wants_write = 1;
      return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
      c->client_eof = 1;
      c->since = now_ms;
      continue;
    }
    return -1;
  }
}

/* App -> client. */
static int pump_u2c(struct conn *c, int readable) {
  for (;;) {
    if (c->u2c_len > 0) {
      ERR_clear_error();
      int n = SSL_write(c->ssl, c->u2c + c->u2c_off, (int)c->u2c_len);
      if (n <= 0) {
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE) return 0;
        if (e == SSL_ERROR_WANT_READ) {
          c->write_wants_read = 1;
          return 0;
        }
        return -1;
      }
      c->write_wants_read = 0;
      c->since = now_ms;
      st.bytes_to += (uint64_t)n;
      c->u2c_off += (size_t)n;
      c->u2c_len -= (size_t)n;
      if (c->u2c_len > 0) continue;
      free(c->u2c);
      c->u2c = NULL;
      c->u2c_off = 0;
      readable = 1; /* LT epoll would tell, but try once: the common case is more data */
    }
    if (c->up_eof) {
      if (flush_out(c) < 0) return -1;
      if (!c->tls_shut || c->shut_wants_write) return tls_shutdown(c);
      return send_fin(c);
    }
    if (!readable || c->outq_len > 0) return 0;
    ssize_t r = recv(c->ufd, iobuf, sizeof iobuf, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return 0;
      return -1;
    }
    if (r == 0) {
      c->up_eof = 1;
      continue;
    }
    ERR_clear_error();
    int n = SSL_write(c->ssl, iobuf, (int)r);
    int taken = n > 0 ? n : 0;
    if (n > 0) {
      c->since = now_ms;
      st.bytes_to += (uint64_t)n;
    } else {
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_READ) c->write_wants_read = 1;
      else if (e != SSL_ERROR_WANT_WRITE) return -1;
    }
    if (flush_out(c) < 0) return -1;
    if (taken < r) {
      c->u2c = malloc((size_t)r - (size_t)taken);
      if (c->u2c == NULL) return -1;
      memcpy(c->u2c, iobuf + taken, (size_t)r - (size_t)taken);
      c->u2c_len = (size_t)r - (size_t)taken;
      c->u2c_off = 0;
      if (n > 0) continue; /* partial write: try the rest now */
      return 0;
    }
    readable = (size_t)r == sizeof iobuf && c->outq_len == 0; /* a short read drained the socket */
  }
}

static void run_open(struct conn *c, int c_in, int c_out, int u_in, int u_out) {
  if (c->dead) return;
  if (c_out && c->outq_len > 0) {
    if (flush_out(c) < 0) goto fail;
    if (c->outq_len == 0) {
      u_in = 1; /* room again: take what the app has */
      if (send_fin(c) < 0) goto fail;
    }
  }
  int c2u_go = c_in || u_out || (c->read_wants_write && c_out);
  int u2c_go = u_in || c_out || (c->write_wants_read && c_in);
  if (c2u_go && pump_c2u(c, c_in || (c->read_wants_write && c_out)) < 0) goto fail;
  if (u2c_go && pump_u2c(c, u_in) < 0) goto fail;
  /* The client's reading freed SSL to take more from a stalled write, or vice versa. */
  if (u_out && c->c2u_len == 0 && !c->client_eof && SSL_has_pending(c->ssl) && pump_c2u(c, 1) < 0) goto fail;
  if (flush_out(c) < 0) goto fail; /* records SSL_read wrote (tickets, key updates, alerts) */
  maybe_finish(c);
  if (c->dead) return;
  if (update_interest(c) < 0) goto fail;
  return;
fail:
  conn_close(c);
}

static void start_connect(struct conn *c) {
  struct container *ct = c->ct;
  int fd = socket(ct->up.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) goto failed;
  set_nonblock_nodelay(fd);
  c->ufd = fd;
  c->uev = UINT32_MAX;
  if (connect(fd, (struct sockaddr *)&ct->up, ct->uplen) < 0 && errno != EINPROGRESS) goto failed;
  set_phase(c, P_CONNECTING);
  if (update_interest(c) < 0) goto failed;
  return;
failed:
  st.upstream_failed++;
  conn_close(c);
}

static void on_connected(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
    st.upstream_failed++;
    conn_close(c);
    return;
  }
  st.proxied++;
  set_phase(c, P_OPEN);
  /* The client may have sent data with its Finished: it may wait in SSL's buffer (read-ahead);
   * anything still in the socket is reported by epoll. */
  run_open(c, SSL_has_pending(c->ssl), 0, 0, 0);
}

static void do_handshake(struct conn *c) {
  if (c->outq_len > 0 && flush_out(c) < 0) {
    st.handshake_failed++;
    conn_close(c);
    return;
  }
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (flush_out(c) < 0) r = -1;
  if (r == 1) {
    start_connect(c);
    return;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    if (update_interest(c) < 0) conn_close(c);
    return;
  }
  st.handshake_failed++;
  conn_close(c);
}

static void on_accept(struct container *ct) {
  for (int i = 0; i < ACCEPT_BATCH && !ct->dead; i++) {
    int fd = accept4(ct->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        uint32_t have = EPOLLIN, want = 0;
        ep_set(ct->lfd, &ct->ep, &have, want);
        ct->paused = 1;
        fprintf(stderr, "weft-tlsd: accept on container %ld: %s; pausing\n", ct->id, strerror(errno));
      }
      return;
    }
    if (ct->conns >= cfg.max_conns) {
      st.refused++;
      close(fd);
      continue;
    }
    struct conn *c = calloc(1, sizeof *c);
    SSL *ssl = c ? SSL_new(ct->ctx) : NULL;
    BIO *rb = ssl ? BIO_new_socket(fd, BIO_NOCLOSE) : NULL, *wb = rb ? BIO_new(wmeth) : NULL;
    if (wb == NULL) {
      if (rb) BIO_free(rb);
      if (ssl) SSL_free(ssl);
      free(c);
      close(fd);
      st.refused++;
      continue;
    }
    BIO_set_data(wb, c);
    SSL_set_bio(ssl, rb, wb);
    c->wbio = wb;
    set_nonblock_nodelay(fd);
    SSL_set_accept_state(ssl);
    c->cep = (struct endpoint){K_CLIENT, c};
    c->uep = (struct endpoint){K_UPSTREAM, c};
    c->ct = ct;
    c->cfd = fd;
    c->ufd = -1;
    c->ssl = ssl;
    c->cev = UINT32_MAX;
    c->phase = P_HANDSHAKE;
    c->since = now_ms;
    list_tail(&hs_list, &c->timer);
    list_tail(&ct->all, &c->in_ct);
    list_tail(&ct->pend, &c->in_pend);
    ct->conns++;
    ct->pending++;
    st.active++;
    st.pending++;
    if (update_interest(c) < 0) {
      st.refused++;
      conn_close(c);
      continue;
    }
    if (ct->pending > cfg.max_pending) {
      struct conn *old = CONTAINER_OF(ct->pend.next, struct conn, in_pend);
      st.evicted++;
      conn_close(old);
    }
  }
}

/* ---- timers ---- */
static int64_t check_timers(void) {
  int64_t next = -1;
#define CONSIDER(deadline)                                      \
  do {                                                          \
    int64_t d_ = (deadline) - now_ms;                           \
    if (d_ < 0) d_ = 0;                                         \
    if (next < 0 || d_ < next) next = d_;                       \
  } while (0)
  while (!list_empty(&hs_list)) {
    struct conn *c = CONTAINER_OF(hs_list.next, struct conn, timer);
    if (now_ms - c->since < cfg.handshake_ms) {
      CONSIDER(c->since + cfg.handshake_ms);
      break;
    }
    st.handshake_failed++;
    conn_close(c);
  }
  while (!list_empty(&connect_list)) {
    struct conn *c = CONTAINER_OF(connect_list.next, struct conn, timer);
    if (now_ms - c->since < cfg.connect_ms) {
      CONSIDER(c->since + cfg.connect_ms);
      break;
    }
    st.upstream_failed++;
    conn_close(c);
  }
  /* Idle: activity only refreshes `since`; a refreshed head moves to the tail here. */
  int moved = 0;
  while (!list_empty(&idle_list)) {
    struct conn *c = CONTAINER_OF(idle_list.next, struct conn, timer);
    if (now_ms - c->since >= cfg.idle_ms) {
      st.idle_timeout++;
      conn_close(c);
      continue;
    }
    if (c->since != c->queued && moved < 100000) { /* active since it was queued: requeue */
      c->queued = c->since;
      list_del(&c->timer);
      list_tail(&idle_list, &c->timer);
      moved++;
      continue;
    }
    CONSIDER(c->since + cfg.idle_ms);
    break;
  }
  return next;
}

/* ---- containers ---- */
static struct container *find_ct(long id) {
  for (struct link *l = containers.next; l != &containers; l = l->next) {
    struct container *ct = CONTAINER_OF(l, struct container, entry);
    if (ct->id == id) return ct;
  }
  return NULL;
}

static unsigned char *b64dec(const char *s, size_t *out_len) {
  size_t n = strlen(s);
  if (n == 0 || n % 4 != 0) return NULL;
  unsigned char *out = malloc(n / 4 * 3 + 1);
  if (out == NULL) return NULL;
  int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
  if (r < 0) {
    free(out);
    return NULL;
  }
  size_t len = (size_t)r;
  if (s[n - 1] == '=') len--;
  if (s[n - 2] == '=') len--;
  out[len] = 0;
  *out_len = len;
  return out;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned inlen, void *arg) {
  (void)ssl;
  struct container *ct = arg;
  unsigned char *sel;
  if (ct->alpn == NULL) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto(&sel, outlen, ct->alpn, ct->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* An SSL_CTX from base64 PEM chain (leaf first) and key; NULL with `why` filled. */
static SSL_CTX *make_ctx(const char *chain_b64, const char *key_b64, struct container *ct, char *why, size_t whylen) {
  size_t chain_len = 0, key_len = 0;
  unsigned char *chain = b64dec(chain_b64, &chain_len), *key = b64dec(key_b64, &key_len);
  SSL_CTX *ctx = NULL;
  BIO *bio = NULL;
  X509 *x = NULL;
  EVP_PKEY *pk = NULL;
  if (chain == NULL || key == NULL) {
    snprintf(why, whylen, "certificate chain or key is not base64");
    goto fail;
  }
  ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) goto ssl_fail;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  /* Stateless tickets only, as node:tls sets it up (no internal session cache), 300 s like its default. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL | SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_set_timeout(ctx, 300);
  if (cfg.ciphers && SSL_CTX_set_cipher_list(ctx, cfg.ciphers) != 1) goto ssl_fail;
  if (cfg.ciphersuites && SSL_CTX_set_ciphersuites(ctx, cfg.ciphersuites) != 1) goto ssl_fail;
  bio = BIO_new_mem_buf(chain, (int)chain_len);
  if (bio == NULL) goto ssl_fail;
  x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  if (x == NULL) {
    snprintf(why, whylen, "certificate chain holds no certificate");
    goto fail;
  }
  if (SSL_CTX_use_certificate(ctx, x) != 1) goto ssl_fail;
  X509_free(x);
  x = NULL;
  for (;;) {
    X509 *extra = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (extra == NULL) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      goto ssl_fail;
    }
  }
  ERR_clear_error(); /* the end of the PEM stream */
  BIO_free(bio);
  bio = BIO_new_mem_buf(key, (int)key_len);
  if (bio == NULL) goto ssl_fail;
  pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  if (pk == NULL) {
    snprintf(why, whylen, "private key is unreadable");
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    snprintf(why, whylen, "private key does not match the certificate");
    goto fail;
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, ct);
  EVP_PKEY_free(pk);
  BIO_free(bio);
  OPENSSL_cleanse(key, key_len);
  free(key);
  free(chain);
  return ctx;
ssl_fail:
  ssl_error_text(why, whylen);
fail:
  ERR_clear_error();
  if (x) X509_free(x);
  if (pk) EVP_PKEY_free(pk);
  if (bio) BIO_free(bio);
  if (ctx) SSL_CTX_free(ctx);
  if (key) {
    OPENSSL_cleanse(key, key_len);
    free(key);
  }
  free(chain);
  return NULL;
}

static int parse_addr(const char *host, const char *port, struct sockaddr_storage *ss, socklen_t *len) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Listening socket bound to host:port, in `netns` when given. Returns fd or -1 with `why`. */
static int make_listener(const char *netns, const char *host, const char *port, const char **code, char *why, size_t whylen) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int nsfd = -1, fd = -1, entered = 0;
  *code = "INTERNAL";
  if (parse_addr(host, port, &ss, &sl) < 0) {
    *code = "INVALID_ARGUMENT";
    snprintf(why, whylen, "bad listen address %s port %s", host, port);
    return -1;
  }
  if (netns != NULL) {
    struct stat a, b;
    nsfd = open(netns, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      *code = "NOT_FOUND";
      snprintf(why, whylen, "network namespace %s: %s", netns, strerror(errno));
      return -1;
    }
    if (fstat(nsfd, &a) < 0 || fstat(netns_self, &b) < 0) {
      snprintf(why, whylen, "stat %s: %s", netns, strerror(errno));
      goto fail;
    }
    if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      *code = "FORBIDDEN";
      snprintf(why, whylen, "%s is our own namespace: port %s would be opened on the cell host", netns, port);
      goto fail;
    }
    if (setns(nsfd, CLONE_NEWNET) < 0) {
      snprintf(why, whylen, "setns %s: %s", netns, strerror(errno));
      goto fail;
    }
    entered = 1;
  }
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
    if (errno == EADDRINUSE) *code = "CONFLICT";
    snprintf(why, whylen, "cannot listen on %s:%s%s%s: %s", host, port, netns ? " in " : "", netns ? netns : "", strerror(errno));
    if (fd >= 0) close(fd);
    fd = -1;
  }
  if (entered && setns(netns_self, CLONE_NEWNET) < 0) {
    fprintf(stderr, "weft-tlsd: cannot return to our own network namespace: %s\n", strerror(errno));
    exit(70);
  }
  close(nsfd);
  return fd;
fail:
  close(nsfd);
  return -1;
}

static void ct_destroy(struct container *ct) {
  ct->dead = 1;
  while (!list_empty(&ct->all)) conn_close(CONTAINER_OF(ct->all.next, struct conn, in_ct));
  if (ct->lfd >= 0) close(ct->lfd);
  ct->lfd = -1;
  list_del(&ct->entry);
  list_tail(&graveyard_cts, &ct->entry);
}

static void cmd_add(const char *seq, char **a, int n) {
  /* id netns host port upHost upPort alpn chain key */
  long id, upport;
  if (n != 9 || parse_long(a[0], 0, LONG_MAX, &id) < 0 || parse_long(a[5], 1, 65535, &upport) < 0) {
    reply_err(seq, "INVALID_ARGUMENT", "add wants: id netns|- host port upstream-ip upstream-port alpn-b64|- chain-b64 key-b64");
    return;
  }
  long port;
  if (parse_long(a[3], 0, 65535, &port) < 0) {
    reply_err(seq, "INVALID_ARGUMENT", "bad port %s", a[3]);
    return;
  }
  if (find_ct(id)) {
    reply_err(seq, "CONFLICT", "container %ld exists", id);
    return;
  }
  struct container *ct = calloc(1, sizeof *ct);
  char why[300];
  const char *code = "INVALID_ARGUMENT";
  if (ct == NULL) {
    reply_err(seq, "INTERNAL", "out of memory");
    return;
  }
  ct->ep = (struct endpoint){K_LISTENER, ct};
  ct->id = id;
  ct->lfd = -1;
  list_init(&ct->all);
  list_init(&ct->pend);
  if (parse_addr(a[4], a[5], &ct->up, &ct->uplen) < 0) {
    snprintf(why, sizeof why, "bad upstream address %s", a[4]);
    goto fail;
  }
  if (strcmp(a[6], "-") != 0) {
    size_t len;
    ct->alpn = b64dec(a[6], &len);
    if (ct->alpn == NULL || len == 0 || len > 65535) {
      snprintf(why, sizeof why, "bad ALPN list");
      goto fail;
    }
    for (size_t i = 0; i < len; i += 1 + ct->alpn[i])
      if (ct->alpn[i] == 0 || i + 1 + ct->alpn[i] > len) {
        snprintf(why, sizeof why, "bad ALPN list");
        goto fail;
      }
    ct->alpn_len = (unsigned)len;
  }
  ct->ctx = make_ctx(a[7], a[8], ct, why, sizeof why);
  if (ct->ctx == NULL) goto fail;
  ct->lfd = make_listener(strcmp(a[1], "-") == 0 ? NULL : a[1], a[2], a[3], &code, why, sizeof why);
  if (ct->lfd < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ct->ep};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, ct->lfd, &ev) < 0) {
    code = "INTERNAL";
    snprintf(why, sizeof why, "epoll: %s", strerror(errno));
    goto fail;
  }
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  getsockname(ct->lfd, (struct sockaddr *)&bound, &bl);
  int bport = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port) : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  list_tail(&containers, &ct->entry);
  out_printf("%s ok %d\n", seq, bport);
  return;
fail:
  reply_err(seq, code, "%s", why);
  if (ct->lfd >= 0) close(ct->lfd);
  if (ct->ctx) SSL_CTX_free(ct->ctx);
  free(ct->alpn);
  free(ct);
}

/* The container a request names in its first argument, or NULL after replying why not. */
static struct container *request_ct(const char *seq, char **a, int n, int want, const char *usage) {
  long id;
  if (n != want || parse_long(a[0], 0, LONG_MAX, &id) < 0) {
    reply_err(seq, "INVALID_ARGUMENT", "%s", usage);
    return NULL;
  }
  struct container *ct = find_ct(id);
  if (ct == NULL) reply_err(seq, "NOT_FOUND", "no container %ld", id);
  return ct;
}

static void cmd_cert(const char *seq, char **a, int n) {
  struct container *ct = request_ct(seq, a, n, 3, "cert wants: id chain-b64 key-b64");
  if (ct == NULL) return;
  char why[300];
  SSL_CTX *ctx = make_ctx(a[1], a[2], ct, why, sizeof why);
  if (ctx == NULL) {
    reply_err(seq, "INVALID_ARGUMENT", "%s", why);
    return;
  }
  SSL_CTX_free(ct->ctx); /* open connections hold their own reference */
  ct->ctx = ctx;
  out_printf("%s ok\n", seq);
}

static void cmd_remove(const char *seq, char **a, int n) {
  struct container *ct = request_ct(seq, a, n, 1, "remove wants: id");
  if (ct == NULL) return;
  ct_destroy(ct);
  out_printf("%s ok\n", seq);
}

static void cmd_stats(const char *seq, int n) {
  if (n != 0) {
    reply_err(seq, "INVALID_ARGUMENT", "stats takes no arguments");
    return;
  }
  out_printf("%s ok %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", seq, (unsigned long long)st.active, (unsigned long long)st.pending,
             (unsigned long long)st.proxied, (unsigned long long)st.handshake_failed, (unsigned long long)st.upstream_failed,
             (unsigned long long)st.refused, (unsigned long long)st.evicted, (unsigned long long)st.idle_timeout,
             (unsigned long long)st.bytes_from, (unsigned long long)st.bytes_to);
  for (struct link *l = containers.next; l != &containers; l = l->next) {
    struct container *ct = CONTAINER_OF(l, struct container, entry);
    out_printf(" %ld:%ld", ct->id, ct->conns);
  }
  out_printf("\n");
}

static void handle_line(char *line) {
  char *tok[16];
  int n = 0;
  for (char *p = line; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (n == 16) {
      reply_err("-", "INVALID_ARGUMENT", "too many tokens");
      return;
    }
    tok[n++] = p;
    while (*p && *p != ' ') p++;
    if (*p) *p++ = 0;
  }
  if (n == 0) return;
  const char *seq = tok[0];
  for (const char *p = seq; *p; p++)
    if ((*p < '0' || *p > '9') || p - seq > 18) {
      reply_err("-", "INVALID_ARGUMENT", "a request starts with its sequence number");
      return;
    }
  if (n < 2) reply_err(seq, "INVALID_ARGUMENT", "no command");
  else if (strcmp(tok[1], "add") == 0) cmd_add(seq, tok + 2, n - 2);
  else if (strcmp(tok[1], "cert") == 0) cmd_cert(seq, tok + 2, n - 2);
  else if (strcmp(tok[1], "remove") == 0) cmd_remove(seq, tok + 2, n - 2);
  else if (strcmp(tok[1], "stats") == 0) cmd_stats(seq, n - 2);
  else reply_err(seq, "INVALID_ARGUMENT", "unknown command");
}

static void on_control(void) {
  {
    if (line_len == MAX_LINE) { /* no newline in a whole buffer: drop until the next one */
      line_len = 0;
      line_discard = 1;
    }
    ssize_t r = read(0, line_buf + line_len, MAX_LINE - line_len);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) return;
      exit(0);
    }
    if (r == 0) exit(0); /* the manager closed the channel */
    size_t start = 0, end = line_len + (size_t)r;
    for (size_t i = line_len; i < end; i++) {
      if (line_buf[i] != '\n') continue;
      line_buf[i] = 0;
      if (line_discard) {
        reply_err("-", "INVALID_ARGUMENT", "request longer than %d bytes dropped", MAX_LINE);
        line_discard = 0;
      } else {
        if (i > start && line_buf[i - 1] == '\r') line_buf[i - 1] = 0;
        if (memchr(line_buf + start, 0, i - start) != NULL) reply_err("-", "INVALID_ARGUMENT", "NUL byte in request");
        else handle_line((char *)line_buf + start);
      }
      start = i + 1;
    }
    memmove(line_buf, line_buf + start, end - start);
    line_len = end - start;
  }
  out_flush();
}

static void usage(void) {
  fprintf(stderr,
          "usage: weft-tlsd [--handshake-timeout-ms N] [--idle-timeout-ms N] [--connect-timeout-ms N]\n"
          "                 [--max-connections N] [--max-pending-handshakes N] [--ciphers LIST] [--ciphersuites LIST]\n"
          "Requests on stdin, replies on stdout (see the source's header).\n");
  exit(64);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    long v;
    const char *f = argv[i];
    if (i + 1 >= argc) usage();
    const char *val = argv[++i];
    if (strcmp(f, "--ciphers") == 0) cfg.ciphers = val;
    else if (strcmp(f, "--ciphersuites") == 0) cfg.ciphersuites = val;
    else if (parse_long(val, 1, LONG_MAX, &v) < 0) usage();
    else if (strcmp(f, "--handshake-timeout-ms") == 0) cfg.handshake_ms = v;
    else if (strcmp(f, "--idle-timeout-ms") == 0) cfg.idle_ms = v;
    else if (strcmp(f, "--connect-timeout-ms") == 0) cfg.connect_ms = v;
    else if (strcmp(f, "--max-connections") == 0) cfg.max_conns = v;
    else if (strcmp(f, "--max-pending-handshakes") == 0) cfg.max_pending = v;
    else usage();
  }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  netns_self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns_self < 0) {
    fprintf(stderr, "weft-tlsd: /proc/self/ns/net: %s\n", strerror(errno));
    return 71;
  }
  wmeth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft-tlsd staged writes");
  if (wmeth == NULL || !BIO_meth_set_write(wmeth, wbio_write) || !BIO_meth_set_ctrl(wmeth, wbio_ctrl) || !BIO_meth_set_create(wmeth, wbio_create)) return 71;
  line_buf = malloc(MAX_LINE + 1);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (line_buf == NULL || epfd < 0) return 71;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  list_init(&containers);
  list_init(&hs_list);
  list_init(&connect_list);
  list_init(&idle_list);
  list_init(&graveyard_conns);
  list_init(&graveyard_cts);
  struct epoll_event cev = {.events = EPOLLIN, .data.ptr = &control_ep};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &cev) < 0) {
    fprintf(stderr, "weft-tlsd: stdin must be a pipe or socket: %s\n", strerror(errno));
    return 64;
  }
  out_printf("- ready\n");
  out_flush();
  struct epoll_event evs[MAX_EVENTS];
  int64_t last_resume = 0;
  tick_now();
  for (;;) {
    int64_t timeout = check_timers();
    int any_paused = 0;
    for (struct link *l = containers.next; l != &containers; l = l->next)
      if (CONTAINER_OF(l, struct container, entry)->paused) any_paused = 1;
    if (any_paused && (timeout < 0 || timeout > 100)) timeout = 100;
    int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout < 0 ? -1 : (int)(timeout > INT_MAX ? INT_MAX : timeout + 1));
    if (n < 0 && errno != EINTR) {
      fprintf(stderr, "weft-tlsd: epoll_wait: %s\n", strerror(errno));
      return 70;
    }
    tick_now();
    if (any_paused && now_ms - last_resume >= 100) {
      last_resume = now_ms;
      for (struct link *l = containers.next; l != &containers; l = l->next) {
        struct container *ct = CONTAINER_OF(l, struct container, entry);
        if (!ct->paused) continue;
        uint32_t have = 0;
        ct->paused = 0;
        ep_set(ct->lfd, &ct->ep, &have, EPOLLIN);
      }
    }
    for (int i = 0; i < n; i++) {
      struct endpoint *ep = evs[i].data.ptr;
      uint32_t e = evs[i].events;
      int in = (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0, outw = (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
      switch (ep->kind) {
      case K_CONTROL:
        on_control();
        break;
      case K_LISTENER: {
        struct container *ct = ep->owner;
        if (!ct->dead) on_accept(ct);
        break;
      }
      case K_CLIENT: {
        struct conn *c = ep->owner;
        if (c->dead) break;
        if (c->phase == P_HANDSHAKE) do_handshake(c);
        else if (c->phase == P_OPEN) run_open(c, in, outw, 0, 0);
        else if (e & (EPOLLHUP | EPOLLERR)) conn_close(c); /* gone while we connect upstream */
        else if (flush_out(c) < 0 || update_interest(c) < 0) conn_close(c); /* handshake records still queued */
        break;
      }
      case K_UPSTREAM: {
        struct conn *c = ep->owner;
        if (c->dead) break;
        if (c->phase == P_CONNECTING) on_connected(c);
        else if (c->phase == P_OPEN) run_open(c, 0, 0, in, outw);
        break;
      }
      }
    }
    /* Free what was closed during this round only now: later events in it may point there. */
    while (!list_empty(&graveyard_conns)) {
      struct link *l = graveyard_conns.next;
      list_del(l);
      free(CONTAINER_OF(l, struct conn, timer));
    }
    while (!list_empty(&graveyard_cts)) {
      struct link *l = graveyard_cts.next;
      list_del(l);
      struct container *ct = CONTAINER_OF(l, struct container, entry);
      SSL_CTX_free(ct->ctx);
      free(ct->alpn);
      free(ct);
    }
    out_flush();
  }
}
