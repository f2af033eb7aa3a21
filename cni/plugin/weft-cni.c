/*
 * weft-cni: the CNI plugin binary ("type": "weft"). It is deliberately a thin forwarder written in
 * C: a container runtime starts a plugin process for every ADD/DEL/CHECK, and a Node.js process
 * alone costs 80-110 ms to start on this kind of machine, more than the whole ADD budget. All CNI
 * logic (parsing, validation, IPAM, kernel work, undo on failure, the result or error JSON) lives
 * in the cell's agent; this program only carries one request to it and its answer back.
 *
 * Protocol: HTTP/1.0 over the agent's unix socket. POST /cni with the CNI_* environment variables
 * as X-Cni-* headers and the network configuration (stdin) as the body. The agent answers 200 with
 * the result JSON, or 4xx/5xx with the CNI error JSON ({"cniVersion","code","msg","details"}),
 * which is printed to stdout as the spec requires, with a non-zero exit.
 *
 * The socket is the network configuration's "agentSocket" (a plain JSON string), else
 * $WEFT_AGENT_SOCKET, else /run/weft/agent.sock. When the agent cannot be reached, the plugin
 * answers itself: DEL succeeds (DEL must succeed with the agent down; the agent's GC removes what
 * is left), VERSION is answered locally, and anything else is error 11 (try again later).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_INPUT (1 << 20)
#define VERSIONS "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"

static char input[MAX_INPUT + 1];

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v ? v : "";
}

/* Copies the value of "agentSocket": "..." from the config into out (no escapes allowed). */
static int config_socket(const char *json, char *out, size_t cap) {
  const char *p = strstr(json, "\"agentSocket\"");
  if (!p) return 0;
  p += strlen("\"agentSocket\"");
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  size_t n = 0;
  while (*p && *p != '"' && *p != '\\' && n + 1 < cap) out[n++] = *p++;
  if (*p != '"') return 0;
  out[n] = 0;
  return n > 0;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* A header value must not break the request: refuse CR/LF in it. */
static int header(char *dst, size_t cap, size_t *len, const char *name, const char *value) {
  if (strpbrk(value, "\r\n")) return -1;
  int n = snprintf(dst + *len, cap - *len, "X-Cni-%s: %s\r\n", name, value);
  if (n < 0 || (size_t)n >= cap - *len) return -1;
  *len += (size_t)n;
  return 0;
}

static int local_answer(const char *command, const char *why) {
  if (strcmp(command, "DEL") == 0) return 0;
  if (strcmp(command, "VERSION") == 0) {
    printf("{\"cniVersion\":\"1.1.0\",\"supportedVersions\":" VERSIONS "}\n");
    return 0;
  }
  printf("{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"weft agent unreachable, try again later\",\"details\":\"%s\"}\n", why);
  return 1;
}

int main(void) {
  size_t in_len = 0;
  for (;;) {
    ssize_t r = read(0, input + in_len, MAX_INPUT - in_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    in_len += (size_t)r;
    if (in_len == MAX_INPUT) {
      printf("{\"cniVersion\":\"1.1.0\",\"code\":6,\"msg\":\"network configuration larger than 1 MiB\"}\n");
      return 1;
    }
  }
  input[in_len] = 0;
  const char *command = env("CNI_COMMAND");

  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  if (!config_socket(input, path, sizeof path)) {
    const char *e = getenv("WEFT_AGENT_SOCKET");
    snprintf(path, sizeof path, "%s", e && *e ? e : "/run/weft/agent.sock");
  }

  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) return local_answer(command, strerror(errno));

  char head[16384];
  size_t hl = 0;
  int n = snprintf(head, sizeof head, "POST /cni HTTP/1.0\r\nHost: weft-agent\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n", in_len);
  hl = (size_t)n;
  if (header(head, sizeof head, &hl, "Command", command) || header(head, sizeof head, &hl, "Containerid", env("CNI_CONTAINERID")) ||
      header(head, sizeof head, &hl, "Netns", env("CNI_NETNS")) || header(head, sizeof head, &hl, "Ifname", env("CNI_IFNAME")) ||
      header(head, sizeof head, &hl, "Args", env("CNI_ARGS")) || header(head, sizeof head, &hl, "Path", env("CNI_PATH"))) {
    printf("{\"cniVersion\":\"1.1.0\",\"code\":4,\"msg\":\"invalid CNI environment variables\"}\n");
    return 1;
  }
  if (hl + 2 >= sizeof head) return local_answer(command, "request too large");
  memcpy(head + hl, "\r\n", 2);
  hl += 2;
  if (write_all(fd, head, hl) < 0 || write_all(fd, input, in_len) < 0) return local_answer(command, strerror(errno));

  /* Read the whole answer (HTTP/1.0: the agent closes the connection after it). */
  static char out[4 << 20];
  size_t out_len = 0;
  for (;;) {
    ssize_t r = read(fd, out + out_len, sizeof out - 1 - out_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    out_len += (size_t)r;
    if (out_len == sizeof out - 1) break;
  }
  close(fd);
  out[out_len] = 0;
  int status = 0;
  if (sscanf(out, "HTTP/%*d.%*d %d", &status) != 1) return local_answer(command, "malformed answer from the agent");
  char *body = strstr(out, "\r\n\r\n");
  body = body ? body + 4 : out + out_len;
  fputs(body, stdout);
  if (out_len > 0 && body[0] && out[out_len - 1] != '\n') fputc('\n', stdout);
  return status == 200 ? 0 : 1;
}
