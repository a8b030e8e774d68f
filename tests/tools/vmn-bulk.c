/*
 * vmn-bulk.c - traffic for the port forwarding tests
 *
 *   vmn-bulk sum BYTES SEED
 *       the checksum of the BYTES-long stream SEED generates
 *   vmn-bulk bulk-server PORT BYTES SEED
 *   vmn-bulk bulk-client HOST PORT BYTES SEED
 *       one connection; each side sends BYTES of its stream while reading
 *       everything the other sends, then shuts down its side; each prints
 *       "received N sum X" (both directions at once: a relay that cannot
 *       do that deadlocks here)
 *   vmn-bulk echo-server PORT [BACKLOG]
 *       echoes on any number of connections; on end of file it finishes
 *       writing and shuts down its side (half-close); BACKLOG is listen()'s
 *       (default 4096: a small one makes a server that drops SYNs)
 *   vmn-bulk half HOST PORT
 *       sends a request, shuts down its side, prints the whole answer
 *   vmn-bulk many HOST PORT N
 *       N connections at once, each a request and its echo; prints "N ok"
 *   vmn-bulk reset-server PORT
 *       resets every connection after its first bytes
 *   vmn-bulk expect-reset HOST PORT
 *       exit 0 if the connection is reset, 1 on an orderly close
 *   vmn-bulk rr HOST PORT SECONDS
 *       short requests, a new connection each (connect, send, read the
 *       echo, close), one after another; prints connections per second and
 *       p50/p99 latency in microseconds
 *   vmn-bulk listen-at PORT
 *       listens, prints CLOCK_MONOTONIC (ns) at listen(), then echoes
 *   vmn-bulk wait-port HOST PORT
 *       connects every 2 ms until it works; prints CLOCK_MONOTONIC (ns)
 *   vmn-bulk reset-client HOST PORT
 *       connects, sends a little, resets the connection
 *   vmn-bulk expect-reset-server PORT
 *       accepts one connection; exit 0 if it is reset, 1 on an orderly close
 *   vmn-bulk flood HOST PORT N SECONDS
 *       keeps N connections open for SECONDS, each sending a byte and
 *       reading its echo; one that ends is made again at once. Prints how
 *       many of the N last had their echo, and how many were made again
 *
 * Servers listen on every address ([::], IPv4 too), or with
 * VMN_BULK_LOOPBACK=1 in the environment on [::1] alone (a guest server
 * that only localhost reaches).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#define CHUNK	(256 << 10)

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

/* A deterministic stream: xorshift64 keyed by the seed. */
struct stream {
	uint64_t	state;
	uint64_t	left;
};

static void
stream_init(struct stream *s, uint64_t bytes, uint64_t seed)
{
	s->state = seed * 0x9e3779b97f4a7c15ull + 1;
	s->left = bytes;
}

static size_t
stream_fill(struct stream *s, uint8_t *buf, size_t len)
{
	size_t i, n = len < s->left ? len : (size_t)s->left;

	for (i = 0; i < n; i++) {
		s->state ^= s->state << 13;
		s->state ^= s->state >> 7;
		s->state ^= s->state << 17;
		buf[i] = (uint8_t)s->state;
	}
	s->left -= n;
	return n;
}

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_INIT	0xcbf29ce484222325ull

static int
listen_on(const char *port, int backlog)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_ANY_INIT };
	const char *lo = getenv("VMN_BULK_LOOPBACK");
	int fd = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;

	if (fd < 0)
		die("socket");
	if (lo && strcmp(lo, "1") == 0)
		sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = htons((uint16_t)atoi(port));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) < 0 ||
	    listen(fd, backlog) < 0)
		die("listen");
	return fd;
}

static int
connect_to(const char *host, const char *port, int nonblock)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		fprintf(stderr, "vmn-bulk: cannot resolve %s\n", host);
		exit(2);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0),
	    0);
	if (fd < 0)
		die("socket");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)
		die("connect");
	freeaddrinfo(ai);
	return fd;
}

/* Sends our stream and reads theirs at once; prints what arrived. */
static int
bulk(int fd, uint64_t bytes, uint64_t seed)
{
	static uint8_t out[CHUNK], in[CHUNK];
	struct stream s;
	size_t off = 0, len = 0;
	uint64_t got = 0, sum = FNV_INIT;
	int sending = 1, receiving = 1;

	stream_init(&s, bytes, seed);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (sending || receiving) {
		struct pollfd pfd = { .fd = fd,
		    .events = (short)((receiving ? POLLIN : 0) |
		    (sending ? POLLOUT : 0)) };
		ssize_t n;

		if (poll(&pfd, 1, 30000) <= 0) {
			fprintf(stderr, "vmn-bulk: stalled (sent %llu of %llu, "
			    "received %llu)\n",
			    (unsigned long long)(bytes - s.left - (len - off)),
			    (unsigned long long)bytes, (unsigned long long)got);
			return 1;
		}
		if (receiving && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(fd, in, sizeof(in));
			if (n > 0) {
				sum = fnv(sum, in, (size_t)n);
				got += (uint64_t)n;
			} else if (n == 0) {
				receiving = 0;
			} else if (errno != EAGAIN) {
				perror("read");
				return 1;
			}
		}
		if (sending && (pfd.revents & POLLOUT)) {
			if (off == len) {
				len = stream_fill(&s, out, sizeof(out));
				off = 0;
			}
			if (len == 0) {
				shutdown(fd, SHUT_WR);
				sending = 0;
				continue;
			}
			n = write(fd, out + off, len - off);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN) {
				perror("write");
				return 1;
			}
		}
	}
	printf("received %llu sum %016llx\n", (unsigned long long)got,
	    (unsigned long long)sum);
	close(fd);
	return 0;
}

static int
cmd_sum(uint64_t bytes, uint64_t seed)
{
	static uint8_t buf[CHUNK];
	uint64_t sum = FNV_INIT;
	struct stream s;
	size_t n;

	stream_init(&s, bytes, seed);
	while ((n = stream_fill(&s, buf, sizeof(buf))) > 0)
		sum = fnv(sum, buf, n);
	printf("received %llu sum %016llx\n", (unsigned long long)bytes,
	    (unsigned long long)sum);
	return 0;
}

struct echo_conn {
	int	fd;
	uint8_t	buf[16384];
	size_t	len;
	int	eof;
};

/* epoll echo server for many connections, with half-close passed on. */
static int __attribute__((noreturn))
echo_server(const char *port, int backlog)
{
	struct epoll_event ev, evs[256];
	struct rlimit rl = { 65536, 65536 };
	int lfd = listen_on(port, backlog), ep = epoll_create1(0), i, n;

	setrlimit(RLIMIT_NOFILE, &rl);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;
			ssize_t r;

			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

				if (fd < 0 || !(c = calloc(1, sizeof(*c))))
					continue;
				c->fd = fd;
				ev.events = EPOLLIN | EPOLLRDHUP;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			if (!c->eof && c->len < sizeof(c->buf)) {
				r = read(c->fd, c->buf + c->len,
				    sizeof(c->buf) - c->len);
				if (r > 0)
					c->len += (size_t)r;
				else if (r == 0)
					c->eof = 1;
				else if (errno != EAGAIN)
					c->eof = 1;
			}
			if (c->len) {
				r = write(c->fd, c->buf, c->len);
				if (r > 0) {
					memmove(c->buf, c->buf + r, c->len - (size_t)r);
					c->len -= (size_t)r;
				}
			}
			if (c->eof && c->len == 0) {
				shutdown(c->fd, SHUT_WR);
				close(c->fd);
				free(c);
				continue;
			}
			ev.events = (c->len ? EPOLLOUT : 0) |
			    (c->eof ? 0 : EPOLLIN | EPOLLRDHUP);
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
}

static int
half(const char *host, const char *port)
{
	int fd = connect_to(host, port, 0);
	char buf[4096];
	ssize_t n;

	if (write(fd, "request through a half-closed connection\n", 41) != 41)
		die("write");
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return n < 0;
}

static int
many(const char *host, const char *port, int count)
{
	struct rlimit rl = { 65536, 65536 };
	struct pollfd *p = calloc((size_t)count, sizeof(*p));
	char (*req)[32] = calloc((size_t)count, 32);
	size_t *got = calloc((size_t)count, sizeof(*got));
	int *state = calloc((size_t)count, sizeof(int));
	int i, ok = 0, left = count;
	time_t deadline = time(NULL) + 60;

	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < count; i++) {
		snprintf(req[i], 32, "hello %d\n", i);
		p[i].fd = connect_to(host, port, 1);
		p[i].events = POLLOUT;
	}
	while (left > 0 && time(NULL) < deadline) {
		if (poll(p, (nfds_t)count, 1000) < 0)
			die("poll");
		for (i = 0; i < count; i++) {
			char buf[64];
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			if (state[i] == 0 && (p[i].revents & POLLOUT)) {
				if (write(p[i].fd, req[i], strlen(req[i])) !=
				    (ssize_t)strlen(req[i]))
					goto failed;
				shutdown(p[i].fd, SHUT_WR);
				state[i] = 1;
				p[i].events = POLLIN;
				continue;
			}
			if (state[i] == 1 && (p[i].revents & (POLLIN | POLLHUP))) {
				n = read(p[i].fd, buf, sizeof(buf));
				if (n > 0 && got[i] + (size_t)n <= strlen(req[i]) &&
				    memcmp(buf, req[i] + got[i], (size_t)n) == 0) {
					got[i] += (size_t)n;
					continue;
				}
				if (n == 0 && got[i] == strlen(req[i]))
					ok++;
				else if (n < 0 && errno == EAGAIN)
					continue;
			}
failed:
			close(p[i].fd);
			p[i].fd = -1;
			left--;
		}
	}
	printf("%d ok of %d\n", ok, count);
	free(p);
	free(req);
	free(got);
	free(state);
	return ok == count ? 0 : 1;
}

static int __attribute__((noreturn))
reset_server(const char *port)
{
	struct linger lg = { 1, 0 };
	int lfd = listen_on(port, 128), fd;
	char buf[64];

	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		if (read(fd, buf, sizeof(buf)) < 0)
			perror("read");
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
}

static int
expect_reset(const char *host, const char *port)
{
	int fd = connect_to(host, port, 1);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	struct timeval tv = { 10, 0 };
	socklen_t len = sizeof(int);
	char buf[64];
	int err = 0;
	ssize_t n;

	/*
	 * The reset may come before connect() would have returned (a
	 * blocking connect then fails with ECONNRESET) or before anything
	 * is sent: as good.
	 */
	if (poll(&pfd, 1, 10000) != 1)
		die("connect: no answer");
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		die("getsockopt");
	if (err == ECONNRESET) {
		printf("reset\n");
		return 0;
	}
	if (err != 0) {
		errno = err;
		die("connect");
	}
	fcntl(fd, F_SETFL, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, "x", 1) != 1) {
		if (errno != ECONNRESET)
			die("write");
		printf("reset\n");
		return 0;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && errno == ECONNRESET) {
		printf("reset\n");
		return 0;
	}
	printf(n == 0 ? "orderly close\n" : n > 0 ? "data\n" : "error: %s\n",
	    strerror(errno));
	return 1;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
rr(const char *host, const char *port, double seconds)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	size_t n = 0, cap = 1 << 20;
	double *lat = malloc(cap * sizeof(*lat)), start, t0, end;
	char buf[64];

	if (!lat || getaddrinfo(host, port, &hints, &ai) != 0)
		return 2;
	start = now_us();
	end = start + seconds * 1e6;
	while ((t0 = now_us()) < end && n < cap) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
		size_t got = 0;
		ssize_t r;

		setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    write(fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
			perror("rr");
			return 1;
		}
		while (got < sizeof(req) - 1 &&
		    (r = read(fd, buf, sizeof(buf))) > 0)
			got += (size_t)r;
		close(fd);
		if (got != sizeof(req) - 1) {
			fprintf(stderr, "rr: short echo\n");
			return 1;
		}
		lat[n++] = now_us() - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("%.0f conns/s p50 %.0f us p99 %.0f us\n",
	    (double)n / ((now_us() - start) / 1e6), lat[n / 2],
	    lat[(size_t)((double)n * 0.99)]);
	free(lat);
	freeaddrinfo(ai);
	return 0;
}

static unsigned long long
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	    (unsigned long long)ts.tv_nsec;
}

static int __attribute__((noreturn))
listen_at(const char *port)
{
	int lfd = listen_on(port, 16), fd;
	char buf[256];
	ssize_t n;

	printf("%llu\n", mono_ns());
	fflush(stdout);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			continue;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		close(fd);
	}
}

static int
wait_port(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	unsigned long long deadline = mono_ns() + 10000000000ull;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return 2;
	while (mono_ns() < deadline) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0);

		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			printf("%llu\n", mono_ns());
			close(fd);
			return 0;
		}
		close(fd);
		usleep(2000);
	}
	return 1;
}

static int
reset_client(const char *host, const char *port)
{
	struct linger lg = { 1, 0 };
	int fd = connect_to(host, port, 0);

	if (write(fd, "x", 1) != 1)
		die("write");
	usleep(300000);		/* let the forward get established */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	return 0;
}

static int
expect_reset_server(const char *port)
{
	int lfd = listen_on(port, 1), fd = accept(lfd, NULL, NULL);
	struct timeval tv = { 10, 0 };
	char buf[64];
	ssize_t n;

	if (fd < 0)
		die("accept");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0 && errno == ECONNRESET) {
		printf("reset\n");
		return 0;
	}
	printf(n == 0 ? "orderly close\n" : "error: %s\n", strerror(errno));
	return 1;
}

struct flood_conn {
	int	fd;
	int	sent;
	int	echoed;
};

static void
flood_open(struct flood_conn *c, struct pollfd *p, const char *host,
    const char *port)
{
	c->fd = p->fd = connect_to(host, port, 1);
	c->sent = c->echoed = 0;
	p->events = POLLOUT;
}

static int
flood(const char *host, const char *port, int count, double seconds)
{
	struct rlimit rl = { 65536, 65536 };
	struct pollfd *p = calloc((size_t)count, sizeof(*p));
	struct flood_conn *c = calloc((size_t)count, sizeof(*c));
	double end = now_us() + seconds * 1e6;
	long again = 0;
	int i, echoed = 0;

	if (!p || !c)
		die("calloc");
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < count; i++)
		flood_open(&c[i], &p[i], host, port);
	while (now_us() < end) {
		if (poll(p, (nfds_t)count, 100) < 0)
			die("poll");
		for (i = 0; i < count; i++) {
			char buf[64];
			ssize_t n;

			if (!p[i].revents)
				continue;
			if (!c[i].sent && (p[i].revents & POLLOUT)) {
				if (write(c[i].fd, "x", 1) != 1)
					goto again;
				c[i].sent = 1;
				p[i].events = POLLIN;
				continue;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				n = read(c[i].fd, buf, sizeof(buf));
				if (n > 0) {
					c[i].echoed = 1;
					continue;
				}
				if (n < 0 && errno == EAGAIN)
					continue;
			}
again:
			close(c[i].fd);
			flood_open(&c[i], &p[i], host, port);
			again++;
		}
	}
	for (i = 0; i < count; i++) {
		echoed += c[i].echoed;
		close(c[i].fd);
	}
	printf("%d of %d echoed, %ld made again\n", echoed, count, again);
	free(p);
	free(c);
	return 0;
}

int
main(int argc, char *argv[])
{
	/* Servers outlive their peers: a dead connection is not fatal. */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "sum") == 0)
		return cmd_sum(strtoull(argv[2], NULL, 10),
		    strtoull(argv[3], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "bulk-server") == 0) {
		int lfd = listen_on(argv[2], 1), fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			die("accept");
		return bulk(fd, strtoull(argv[3], NULL, 10),
		    strtoull(argv[4], NULL, 10));
	}
	if (argc == 6 && strcmp(argv[1], "bulk-client") == 0)
		return bulk(connect_to(argv[2], argv[3], 0),
		    strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10));
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "echo-server") == 0)
		return echo_server(argv[2], argc == 4 ? atoi(argv[3]) : 4096);
	if (argc == 4 && strcmp(argv[1], "half") == 0)
		return half(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "many") == 0)
		return many(argv[2], argv[3], atoi(argv[4]));
	if (argc == 3 && strcmp(argv[1], "reset-server") == 0)
		return reset_server(argv[2]);
	if (argc == 4 && strcmp(argv[1], "expect-reset") == 0)
		return expect_reset(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "listen-at") == 0)
		return listen_at(argv[2]);
	if (argc == 4 && strcmp(argv[1], "wait-port") == 0)
		return wait_port(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "rr") == 0)
		return rr(argv[2], argv[3], atof(argv[4]));
	if (argc == 4 && strcmp(argv[1], "reset-client") == 0)
		return reset_client(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "expect-reset-server") == 0)
		return expect_reset_server(argv[2]);
	if (argc == 6 && strcmp(argv[1], "flood") == 0)
		return flood(argv[2], argv[3], atoi(argv[4]), atof(argv[5]));
	fprintf(stderr, "usage: see the comment at the top of vmn-bulk.c\n");
	return 2;
}
