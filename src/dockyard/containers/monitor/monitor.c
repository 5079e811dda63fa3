/* dockyard-monitor: the per-container (and per-exec) monitor of dockyard.
 *
 * The spawner's child creates the container (so the container's first process is its child,
 * it being a child subreaper), then execve()s this program, which therefore is the process's
 * parent. It holds the process's stdio, writes its logs in docker's json-file format, records
 * its exit status, serves attach over a unix socket, and outlives the daemon.
 *
 *   dockyard-monitor -s FD -p PID [-o FD] [-e FD] [-i FD] [-t] [-O] [-H]
 *                    [-l LOG [-S MAXSIZE] [-N MAXFILE]] [-x EXITFILE] [-m OOMFILE]
 *
 *   -s FD    the listening unix socket (bound and listening already)
 *   -p PID   the process to wait for (our child)
 *   -o FD    its stdout (read end of a pipe), or the pty master with -t
 *   -e FD    its stderr (read end of a pipe)
 *   -i FD    its stdin (write end of a pipe); with -t, stdin goes to the master instead
 *   -t       terminal: -o is a pty master (output and input)
 *   -I       stdin is open (with -t: client input is written to the master)
 *   -O       stdin once: close the process's stdin when the first stdin client ends its input
 *   -H       hold: read no output until a client sends "go" (attachers connect first)
 *   -l LOG   json-file log; -S rotate when bigger than MAXSIZE bytes; -N keep MAXFILE files
 *   -x FILE  exit file, written (temp + rename) when the process has exited:
 *            "<exit code> <oom killed 0|1> <finished unix ns>\n"
 *   -m FILE  memory.oom_control (cgroup v1) or memory.events (v2): its "oom_kill N" line,
 *            read at exit, says whether the kernel's OOM killer struck
 *
 * Protocol: a client connects and sends one line:
 *   attach [i][o][e][g] -> "ok\n", then output: docker's 8-byte frames ([stream,0,0,0,len BE32],
 *                         1 stdout, 2 stderr) or, with -t, raw bytes; client input is stdin
 *                         (with i); the connection is closed once the process has exited and
 *                         its output is drained; g also does what "go" does (the last
 *                         attacher of a start saves a connection)
 *   go                 -> "ok\n": start reading output (see -H)
 *   wait               -> "exit <code> <oom> <finished ns>\n" once the process has exited
 *   kill <signal>      -> "ok\n", or "gone\n" when the process has been reaped already
 *   resize <rows> <cols> -> "ok\n" (TIOCSWINSZ on the master)
 *   close-stdin        -> "ok\n"
 *   state              -> "running <pid>\n" or "exited <code>\n"
 * then the monitor closes the connection (attach and wait stay open as said).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define LINE_MAX_LEN 256
#define LOG_LINE_MAX 16384       /* docker's json-file splits longer lines */
#define CLIENT_HIGH (1u << 20)   /* stop reading output while a client has this much queued */
#define STDIN_HIGH (1u << 20)
#define DRAIN_MS 5000            /* at exit: time given to clients to take their output */
#define HOLD_MS 10000            /* -H: output is read after this long even without "go" */
#define QUIET_MS 1000            /* after the exit: output still open but silent this long ends */

enum { K_COMMAND, K_ATTACH, K_WAIT, K_DONE };
enum { A_IN = 1, A_OUT = 2, A_ERR = 4 };

struct buf { char *data; size_t len, cap; };

struct client {
    int fd, kind, flags, in_eof, closing;
    char line[LINE_MAX_LEN];
    size_t line_len;
    struct buf out;
};

struct stream {
    int fd, eof, id;             /* id: 1 stdout, 2 stderr */
    const char *name;
    struct buf partial;          /* log line not yet ended */
};

static struct client clients[MAX_CLIENTS];
static int nclients;
static struct stream streams[2];
static int listen_fd = -1, stdin_fd = -1, sig_fd = -1;
static pid_t child = -1;
static int tty, stdin_open, stdin_once, hold, exited, exit_code, oom, finalized;
static long long finished_ns;
static const char *log_path, *exit_path, *oom_path;
static long long log_max_size, log_size;
static int log_max_file = 1, log_fd = -1;
static struct buf stdin_buf;

static void die(const char *what) {
    fprintf(stderr, "dockyard-monitor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void buf_add(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) die("realloc");
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n) {
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    if (b->len == 0 && b->cap > 65536) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped. */
static size_t format_time(char *out, long long ns) {
    time_t secs = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        char digits[16];
        int len = snprintf(digits, sizeof digits, "%09ld", frac);
        while (len > 0 && digits[len - 1] == '0') len--;
        out[n++] = '.';
        memcpy(out + n, digits, (size_t)len);
        n += (size_t)len;
    }
    out[n++] = 'Z';
    return n;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *p, size_t left) {
    unsigned c = p[0];
    int n;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { n = 2; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; min = 0x10000; c &= 0x07; }
    else return 0;
    if ((size_t)n > left) return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    return n;
}

/* A JSON string as docker's jsonlog writes it (Go's escaping, HTML characters included). */
static void json_string(struct buf *b, const char *data, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)data;
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        char esc[8];
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < 0x80) {
            size_t j = i;
            while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\' &&
                   p[j] != '<' && p[j] != '>' && p[j] != '&')
                j++;
            buf_add(b, p + i, j - i);
            i = j;
            continue;
        }
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; buf_add(b, esc, 2); i++; continue; }
        if (c == '\n') { buf_add(b, "\\n", 2); i++; continue; }
        if (c == '\r') { buf_add(b, "\\r", 2); i++; continue; }
        if (c == '\t') { buf_add(b, "\\t", 2); i++; continue; }
        if (c < 0x80) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            buf_add(b, esc, 6);
            i++;
            continue;
        }
        int len = utf8_len(p + i, n - i);
        if (len == 0) { buf_add(b, "\\ufffd", 6); i++; continue; }
        if (len == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
            buf_add(b, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
        } else {
            buf_add(b, p + i, (size_t)len);
        }
        i += (size_t)len;
    }
    buf_add(b, "\"", 1);
}

static void log_open(void) {
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) die("open log");
    struct stat st;
    log_size = fstat(log_fd, &st) == 0 ? st.st_size : 0;
}

static void log_rotate(void) {
    char from[4096], to[4096];
    close(log_fd);
    if (log_max_file < 2) {
        if (truncate(log_path, 0) < 0) { /* keep writing in any case */ }
    } else {
        for (int i = log_max_file - 1; i >= 1; i--) {
            snprintf(to, sizeof to, "%s.%d", log_path, i);
            if (i == 1) snprintf(from, sizeof from, "%s", log_path);
            else snprintf(from, sizeof from, "%s.%d", log_path, i - 1);
            rename(from, to);
        }
    }
    log_open();
}

static void log_entry(struct stream *s, const char *data, size_t n, long long ns) {
    static struct buf line;
    char stamp[48];
    line.len = 0;
    buf_add(&line, "{\"log\":", 7);
    json_string(&line, data, n);
    buf_add(&line, ",\"stream\":\"", 11);
    buf_add(&line, s->name, strlen(s->name));
    buf_add(&line, "\",\"time\":\"", 10);
    buf_add(&line, stamp, format_time(stamp, ns));
    buf_add(&line, "\"}\n", 3);
    if (log_max_size > 0 && log_size > 0 && log_size + (long long)line.len > log_max_size)
        log_rotate();
    size_t done = 0;
    while (done < line.len) {
        ssize_t w = write(log_fd, line.data + done, line.len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            break; /* a full disk loses log lines, not the container */
        }
        done += (size_t)w;
    }
    log_size += (long long)done;
}

/* Log what arrived on a stream: one entry per line, long lines split as docker splits them. */
static void log_data(struct stream *s, const char *data, size_t n, int at_eof) {
    if (log_fd < 0) return;
    long long ns = now_ns();
    buf_add(&s->partial, data, n);
    size_t start = 0;
    for (size_t i = 0; i < s->partial.len; i++) {
        if (s->partial.data[i] == '\n' || i + 1 - start >= LOG_LINE_MAX) {
            log_entry(s, s->partial.data + start, i + 1 - start, ns);
            start = i + 1;
        }
    }
    if (at_eof && start < s->partial.len) {
        log_entry(s, s->partial.data + start, s->partial.len - start, ns);
        start = s->partial.len;
    }
    buf_drop(&s->partial, start);
}

static void client_send(struct client *c, const void *data, size_t n) {
    if (c->fd < 0) return;
    buf_add(&c->out, data, n);
}

static void client_text(struct client *c, const char *fmt, ...) {
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n > 0) client_send(c, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void fan_out(struct stream *s, const char *data, size_t n) {
    int flag = s->id == 1 ? A_OUT : A_ERR;
    unsigned char head[8] = {(unsigned char)s->id, 0, 0, 0,
                             (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n};
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        if (c->kind != K_ATTACH || !(c->flags & flag)) continue;
        if (!tty) client_send(c, head, sizeof head);
        client_send(c, data, n);
    }
}

static void read_stream(struct stream *s) {
    char data[65536];
    ssize_t n = read(s->fd, data, sizeof data);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {  /* EOF, or EIO from a pty master whose slave is closed */
        s->eof = 1;
        log_data(s, "", 0, 1);
        close(s->fd);
        s->fd = -1;
        return;
    }
    log_data(s, data, (size_t)n, 0);
    fan_out(s, data, (size_t)n);
}

static void close_stdin(void) {
    if (tty)
        return;  /* a terminal has no end of input to give; a later attach may type again */
    if (stdin_fd >= 0) close(stdin_fd);
    stdin_fd = -1;
    stdin_buf.len = 0;
}

static void reap(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != child) continue;
        exited = 1;
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        finished_ns = now_ns();
    }
}

static int read_oom(void) {
    if (!oom_path) return 0;
    char text[1024];
    int fd = open(oom_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = 0;
    char *p = strstr(text, "oom_kill ");
    return p && atoll(p + 9) > 0;
}

static void write_exit_file(void) {
    if (!exit_path) return;
    char temp[4096], text[128];
    snprintf(temp, sizeof temp, "%s.tmp", exit_path);
    int n = snprintf(text, sizeof text, "%d %d %lld\n", exit_code, oom, finished_ns);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, text, (size_t)n) == n) rename(temp, exit_path);
    close(fd);
}

/* The process is gone and its output drained: record, tell waiters, close attachers. */
static void finalize(void) {
    finalized = 1;
    oom = read_oom();
    write_exit_file();
    if (listen_fd >= 0) close(listen_fd);
    listen_fd = -1;
    for (int i = 0; i < nclients; i++) {
        struct client *c = &clients[i];
        if (c->kind == K_WAIT) client_text(c, "exit %d %d %lld\n", exit_code, oom, finished_ns);
        c->closing = 1;
    }
    close_stdin();
}

static void drop_client(int i) {
    if (clients[i].fd >= 0) close(clients[i].fd);
    free(clients[i].out.data);
    clients[i] = clients[--nclients];
}

static void stdin_data(struct client *c, const char *data, size_t n) {
    if (!(c->flags & A_IN) || !stdin_open || finalized) return;
    if (tty) {
        if (streams[0].fd >= 0) buf_add(&stdin_buf, data, n);
    } else if (stdin_fd >= 0) {
        buf_add(&stdin_buf, data, n);
    }
}

static void command(struct client *c, char *line) {
    char word[32] = "";
    sscanf(line, "%31s", word);
    c->kind = K_DONE;
    c->closing = 1;
    if (strcmp(word, "attach") == 0) {
        char flags[8] = "";
        sscanf(line + 6, "%7s", flags);
        c->flags = (strchr(flags, 'i') ? A_IN : 0) | (strchr(flags, 'o') ? A_OUT : 0) |
                   (strchr(flags, 'e') ? A_ERR : 0);
        if (strchr(flags, 'g')) hold = 0;
        c->kind = K_ATTACH;
        c->closing = 0;
        client_text(c, "ok\n");
    } else if (strcmp(word, "go") == 0) {
        hold = 0;
        client_text(c, "ok\n");
    } else if (strcmp(word, "wait") == 0) {
        c->kind = K_WAIT;
        c->closing = 0;
    } else if (strcmp(word, "kill") == 0) {
        int sig = atoi(line + 4);
        if (exited) client_text(c, "gone\n");
        else if (kill(child, sig) < 0) client_text(c, "error %s\n", strerror(errno));
        else client_text(c, "ok\n");
    } else if (strcmp(word, "resize") == 0) {
        struct winsize ws = {0};
        unsigned rows = 0, cols = 0;
        sscanf(line + 6, "%u %u", &rows, &cols);
        ws.ws_row = (unsigned short)rows;
        ws.ws_col = (unsigned short)cols;
        if (tty && streams[0].fd >= 0 && ioctl(streams[0].fd, TIOCSWINSZ, &ws) < 0)
            client_text(c, "error %s\n", strerror(errno));
        else
            client_text(c, "ok\n");
    } else if (strcmp(word, "close-stdin") == 0) {
        close_stdin();
        client_text(c, "ok\n");
    } else if (strcmp(word, "state") == 0) {
        if (exited) client_text(c, "exited %d\n", exit_code);
        else client_text(c, "running %d\n", (int)child);
    } else {
        client_text(c, "error unknown command\n");
    }
}

static void read_client(int i) {
    struct client *c = &clients[i];
    char data[65536];
    ssize_t n = recv(c->fd, data, sizeof data, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        c->in_eof = 1;
        if (n < 0) c->out.len = 0, c->closing = 1;
        if (c->kind == K_ATTACH && (c->flags & A_IN) && stdin_once) close_stdin();
        if (c->kind != K_ATTACH) c->closing = 1;
        return;
    }
    size_t used = 0;
    if (c->kind == K_COMMAND) {
        while (used < (size_t)n && c->kind == K_COMMAND) {
            char ch = data[used++];
            if (ch == '\n') {
                c->line[c->line_len] = 0;
                command(c, c->line);
            } else if (c->line_len + 1 < LINE_MAX_LEN) {
                c->line[c->line_len++] = ch;
            } else {
                c->kind = K_DONE;
                c->closing = 1;
            }
        }
    }
    if (c->kind == K_ATTACH && used < (size_t)n) stdin_data(c, data + used, (size_t)n - used);
}

static void write_client(int i) {
    struct client *c = &clients[i];
    ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        c->out.len = 0;
        c->closing = 1;
        c->in_eof = 1;
        return;
    }
    buf_drop(&c->out, (size_t)n);
}

static void write_stdin(void) {
    int fd = tty ? streams[0].fd : stdin_fd;
    if (fd < 0) { stdin_buf.len = 0; return; }
    ssize_t n = write(fd, stdin_buf.data, stdin_buf.len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        stdin_buf.len = 0;  /* the process closed its stdin */
        if (!tty) close_stdin();
        return;
    }
    buf_drop(&stdin_buf, (size_t)n);
}

static void accept_client(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (nclients == MAX_CLIENTS) {
        close(fd);
        return;
    }
    struct client *c = &clients[nclients++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->kind = K_COMMAND;
}

static int backlogged(void) {
    for (int i = 0; i < nclients; i++)
        if (clients[i].kind == K_ATTACH && clients[i].out.len > CLIENT_HIGH) return 1;
    return 0;
}

static void parse_args(int argc, char **argv) {
    int opt;
    streams[0] = (struct stream){.fd = -1, .id = 1, .name = "stdout"};
    streams[1] = (struct stream){.fd = -1, .id = 2, .name = "stderr"};
    while ((opt = getopt(argc, argv, "s:p:o:e:i:tIOHl:S:N:x:m:")) != -1) {
        switch (opt) {
        case 's': listen_fd = atoi(optarg); break;
        case 'p': child = (pid_t)atoi(optarg); break;
        case 'o': streams[0].fd = atoi(optarg); break;
        case 'e': streams[1].fd = atoi(optarg); break;
        case 'i': stdin_fd = atoi(optarg); stdin_open = 1; break;
        case 't': tty = 1; break;
        case 'I': stdin_open = 1; break;
        case 'O': stdin_once = 1; break;
        case 'H': hold = 1; break;
        case 'l': log_path = optarg; break;
        case 'S': log_max_size = atoll(optarg); break;
        case 'N': log_max_file = atoi(optarg); break;
        case 'x': exit_path = optarg; break;
        case 'm': oom_path = optarg; break;
        default: fprintf(stderr, "dockyard-monitor: bad arguments\n"); exit(2);
        }
    }
    if (listen_fd < 0 || child <= 0) {
        fprintf(stderr, "dockyard-monitor: -s and -p are required\n");
        exit(2);
    }
    for (int i = 0; i < 2; i++) {
        streams[i].eof = streams[i].fd < 0;
        if (streams[i].fd >= 0) fcntl(streams[i].fd, F_SETFL, O_NONBLOCK);
    }
    if (stdin_fd >= 0) fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
    fcntl(listen_fd, F_SETFL, O_NONBLOCK);
}

static void setup_signals(void) {
    sigset_t mask;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) die("signalfd");
}

static int all_flushed(void) {
    for (int i = 0; i < nclients; i++)
        if (clients[i].out.len) return 0;
    return 1;
}

static void end_streams(void) {
    for (int s = 0; s < 2; s++) {
        if (streams[s].fd < 0) continue;
        log_data(&streams[s], "", 0, 1);
        close(streams[s].fd);
        streams[s].fd = -1;
        streams[s].eof = 1;
    }
}

static int poll_timeout(long long started, long long deadline) {
    long long now = now_ns(), left;
    if (finalized) left = deadline - now;
    else if (hold) left = started + HOLD_MS * 1000000LL - now;
    else if (exited) left = QUIET_MS * 1000000LL;
    else return -1;
    return left > 0 ? (int)(left / 1000000LL) + 1 : 0;
}

static int add_fds(struct pollfd *fds, int *idx, int reading) {
    int n = 0;
    fds[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN}; idx[n++] = -1;
    if (listen_fd >= 0 && nclients < MAX_CLIENTS) {
        fds[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN}; idx[n++] = -2;
    }
    for (int s = 0; s < 2; s++) {
        short ev = 0;
        if (streams[s].fd >= 0 && reading) ev |= POLLIN;
        if (s == 0 && tty && stdin_buf.len && streams[0].fd >= 0) ev |= POLLOUT;
        if (ev) { fds[n] = (struct pollfd){.fd = streams[s].fd, .events = ev}; idx[n++] = -3 - s; }
    }
    if (!tty && stdin_fd >= 0 && stdin_buf.len) {
        fds[n] = (struct pollfd){.fd = stdin_fd, .events = POLLOUT}; idx[n++] = -5;
    }
    for (int i = 0; i < nclients; i++) {
        short ev = 0;
        if (!clients[i].in_eof && stdin_buf.len < STDIN_HIGH) ev |= POLLIN;
        if (clients[i].out.len) ev |= POLLOUT;
        fds[n] = (struct pollfd){.fd = clients[i].fd, .events = ev}; idx[n++] = i;
    }
    return n;
}

static void handle(struct pollfd *fd, int which, int reading) {
    short re = fd->revents;
    if (which == -1) {
        struct signalfd_siginfo info;
        while (read(sig_fd, &info, sizeof info) > 0) {}
        reap();
    } else if (which == -2) {
        if (re & POLLNVAL) { errno = EBADF; die("listening socket"); }
        accept_client();
    } else if (which == -3 || which == -4) {
        struct stream *s = &streams[-3 - which];
        if ((re & POLLOUT) && s->fd >= 0) write_stdin();
        if ((re & (POLLIN | POLLHUP | POLLERR)) && s->fd >= 0 && reading) read_stream(s);
    } else if (which == -5) {
        write_stdin();
    } else {
        struct client *c = &clients[which];
        if (re & POLLOUT) write_client(which);
        if (re & POLLIN) read_client(which);
        if (re & (POLLHUP | POLLERR)) {  /* gone both ways: nobody reads what we would send */
            if (!c->in_eof && c->kind == K_ATTACH && (c->flags & A_IN) && stdin_once)
                close_stdin();
            c->in_eof = 1;
            c->out.len = 0;
            c->closing = 1;
        }
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    setup_signals();
    if (log_path) log_open();
    reap();  /* the process may have exited before we were exec'd */
    long long started = now_ns(), deadline = 0;
    for (;;) {
        struct pollfd fds[5 + MAX_CLIENTS];
        int idx[5 + MAX_CLIENTS];
        if (hold && now_ns() >= started + HOLD_MS * 1000000LL) hold = 0;
        int reading = !hold && !backlogged();
        int n = add_fds(fds, idx, reading);
        int ready = poll(fds, (nfds_t)n, poll_timeout(started, deadline));
        if (ready < 0 && errno != EINTR) die("poll");
        if (ready == 0 && exited && !finalized && !hold) end_streams();
        for (int k = 0; k < n && ready > 0; k++)
            if (fds[k].revents) handle(&fds[k], idx[k], reading);
        for (int i = nclients - 1; i >= 0; i--) {
            struct client *c = &clients[i];
            if (c->closing && c->out.len == 0) drop_client(i);
        }
        if (!finalized && exited && !hold && streams[0].eof && streams[1].eof) {
            finalize();
            deadline = now_ns() + DRAIN_MS * 1000000LL;
        }
        if (finalized && (all_flushed() || now_ns() >= deadline)) break;
    }
    return 0;
}
