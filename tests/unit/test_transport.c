/*
 * test_transport.c - unit tests for channel URIs, listeners and the
 * asynchronous connector (common/transport.c)
 *
 * Covers: vmn_endpoint_parse() on good and bad URIs and the round trip
 * through vmn_endpoint_str(); vmn_listen() on unix endpoints (PATH_PORT,
 * its mode, refusing to replace anything but a stale socket); the
 * connector over unix sockets (immediate connect, retry with backoff until
 * the listener appears, giving up after max_attempts, reconnecting); and
 * the hybrid-vsock handshake against a fake backend ("CONNECT <port>\n",
 * "OK <n>\n", bytes after the OK line left in the stream, refusals).
 *
 * Everything runs single-threaded on one libevent loop in a temporary
 * directory; every loop is bounded by a timeout event.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"
#include "transport.h"

#define LOOP_LIMIT_MS	2000	/* no test needs more than a fraction */

/* ---- URIs -------------------------------------------------------------- */

static void
test_parse_good(void **state)
{
	struct vmn_endpoint ep;
	const char *why = NULL;
	char path[VMN_PATH_MAX + 8];
	size_t maxlen = VMN_PATH_MAX - VMN_PORT_SUFFIX_MAX - 1;

	(void)state;
	assert_rc(vmn_endpoint_parse("vsock:3", &ep, &why), 0);
	assert_int_equal(ep.kind, VMN_TR_VSOCK);
	assert_int_equal(ep.cid, 3);
	assert_int_equal(ep.port, 0);

	assert_rc(vmn_endpoint_parse("vsock:2:7700", &ep, &why), 0);
	assert_int_equal(ep.kind, VMN_TR_VSOCK);
	assert_int_equal(ep.cid, 2);
	assert_int_equal(ep.port, 7700);

	assert_rc(vmn_endpoint_parse("vsock:4294967295:4294967295", &ep, &why), 0);
	assert_int_equal(ep.cid, UINT32_MAX);
	assert_int_equal(ep.port, UINT32_MAX);
	assert_rc(vmn_endpoint_parse("vsock:0", &ep, &why), 0);
	assert_int_equal(ep.cid, 0);

	assert_rc(vmn_endpoint_parse("hvsock:/run/vm/fc.vsock", &ep, &why), 0);
	assert_int_equal(ep.kind, VMN_TR_HVSOCK);
	assert_string_equal(ep.path, "/run/vm/fc.vsock");

	assert_rc(vmn_endpoint_parse("unix:/run/vmnetd/ns1", &ep, &why), 0);
	assert_int_equal(ep.kind, VMN_TR_UNIX);
	assert_string_equal(ep.path, "/run/vmnetd/ns1");

	/* The longest path that still leaves room for "_4294967295". */
	path[0] = '/';
	memset(path + 1, 'p', maxlen - 1);
	path[maxlen] = '\0';
	{
		char uri[VMN_URI_MAX + 8], pp[VMN_PATH_MAX];

		snprintf(uri, sizeof(uri), "unix:%s", path);
		assert_rc(vmn_endpoint_parse(uri, &ep, &why), 0);
		assert_int_equal(strlen(ep.path), maxlen);
		/* Any port suffix then fits in sun_path. */
		assert_rc(vmn_endpoint_port_path(&ep, UINT32_MAX, pp,
		    sizeof(pp)), 0);
		assert_int_equal(strlen(pp), maxlen + VMN_PORT_SUFFIX_MAX);
		snprintf(uri, sizeof(uri), "hvsock:%s", path);
		assert_rc(vmn_endpoint_parse(uri, &ep, &why), 0);
	}
}

static void
test_parse_bad(void **state)
{
	static const struct { const char *uri; int err; } bad[] = {
		{ "", -EINVAL },
		{ "vsock", -EINVAL },
		{ "vsock:", -EINVAL },
		{ "vsock:abc", -EINVAL },
		{ "vsock:3x", -EINVAL },
		{ "vsock:-1", -EINVAL },
		{ "vsock:+3", -EINVAL },
		{ "vsock: 3", -EINVAL },
		{ "vsock:0x10", -EINVAL },
		{ "vsock:4294967296", -EINVAL },
		{ "vsock:99999999999999999999", -EINVAL },
		{ "vsock:3:0", -EINVAL },		/* port 0 */
		{ "vsock:3:", -EINVAL },
		{ "vsock:3:x", -EINVAL },
		{ "vsock:3:-5", -EINVAL },
		{ "vsock:3:7700:1", -EINVAL },
		{ "vsock:3:4294967296", -EINVAL },
		{ "vsock::7700", -EINVAL },
		{ "unix:", -EINVAL },
		{ "unix:relative/path", -EINVAL },
		{ "unix:./sock", -EINVAL },
		{ "unix:~/sock", -EINVAL },
		{ "hvsock:", -EINVAL },
		{ "hvsock:fc.vsock", -EINVAL },
		{ "tcp:127.0.0.1:7700", -EINVAL },
		{ "/run/vmnetd/sock", -EINVAL },
		{ "VSOCK:3", -EINVAL },
		{ "Unix:/x", -EINVAL },
	};
	struct vmn_endpoint ep;
	const char *why;
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc;

		why = NULL;
		rc = vmn_endpoint_parse(bad[i].uri, &ep, &why);
		if (rc != bad[i].err)
			fail_msg("\"%s\": got %d, expected %d", bad[i].uri, rc,
			    bad[i].err);
		if (!why)
			fail_msg("\"%s\": no explanation", bad[i].uri);
	}
}

static void
test_parse_path_too_long(void **state)
{
	size_t maxlen = VMN_PATH_MAX - VMN_PORT_SUFFIX_MAX - 1;
	char uri[VMN_URI_MAX + 64];
	struct vmn_endpoint ep;
	const char *why = NULL;
	static const char *const schemes[] = { "unix:", "hvsock:" };
	unsigned i;
	size_t len;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(schemes); i++) {
		/* One past the limit, sun_path exactly, and well beyond. */
		static const size_t extra[] = { 1, VMN_PORT_SUFFIX_MAX + 1, 40 };
		unsigned j;

		for (j = 0; j < ARRAY_SIZE(extra); j++) {
			len = maxlen + extra[j];
			snprintf(uri, sizeof(uri), "%s/", schemes[i]);
			memset(uri + strlen(uri), 'q', len - 1);
			uri[strlen(schemes[i]) + len] = '\0';
			assert_int_equal(strlen(uri), strlen(schemes[i]) + len);
			why = NULL;
			assert_rc(vmn_endpoint_parse(uri, &ep, &why), -ENAMETOOLONG);
			assert_non_null(why);
		}
	}
}

static void
test_endpoint_str(void **state)
{
	static const char *const uris[] = {
		"vsock:3", "vsock:2:7700", "vsock:4294967295:1",
		"hvsock:/run/fc/v.sock", "unix:/run/vmnetd/ns-a",
	};
	struct vmn_endpoint ep, ep2;
	const char *why;
	char buf[VMN_URI_MAX];
	unsigned i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(uris); i++) {
		assert_rc(vmn_endpoint_parse(uris[i], &ep, &why), 0);
		assert_string_equal(vmn_endpoint_str(&ep, buf, sizeof(buf)),
		    uris[i]);
		assert_rc(vmn_endpoint_parse(buf, &ep2, &why), 0);
		assert_int_equal(ep2.kind, ep.kind);
		assert_int_equal(ep2.cid, ep.cid);
		assert_int_equal(ep2.port, ep.port);
		assert_string_equal(ep2.path, ep.path);
	}
	memset(&ep, 0, sizeof(ep));
	assert_string_equal(vmn_endpoint_str(&ep, buf, sizeof(buf)), "none");
	/* Truncates rather than overflowing a short buffer. */
	assert_rc(vmn_endpoint_parse("unix:/run/vmnetd/ns-a", &ep, &why), 0);
	memset(buf, 'Z', sizeof(buf));
	vmn_endpoint_str(&ep, buf, 8);
	assert_string_equal(buf, "unix:/r");
	assert_int_equal(buf[8], 'Z');
}

static void
test_port_path(void **state)
{
	struct vmn_endpoint ep;
	const char *why;
	char buf[VMN_PATH_MAX];

	(void)state;
	assert_rc(vmn_endpoint_parse("unix:/run/x", &ep, &why), 0);
	assert_rc(vmn_endpoint_port_path(&ep, 7700, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/x_7700");
	assert_rc(vmn_endpoint_port_path(&ep, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/x_0");
	/* "/run/x_7700" is 11 characters: 12 bytes fit, 11 do not. */
	assert_rc(vmn_endpoint_port_path(&ep, 7700, buf, 12), 0);
	assert_rc(vmn_endpoint_port_path(&ep, 7700, buf, 11), -ENAMETOOLONG);
}

/* ---- event-loop fixture ------------------------------------------------ */

#define MAX_CONN	4
#define MAX_PIECES	4

/* A fake hybrid-vsock backend: reads one line, answers with pieces. */
struct backend {
	int		 lfd;
	struct event	*lev;
	int		 nconn;
	int		 fd[MAX_CONN];
	struct event	*ev[MAX_CONN];
	char		 line[MAX_CONN][64];
	size_t		 linelen[MAX_CONN];
	const char	*pieces[MAX_PIECES];	/* sent one per 20 ms */
	size_t		 piecelen[MAX_PIECES];
	unsigned	 npieces, sent;
	struct event	*piece_timer;
	int		 piece_conn;
	bool		 close_after;	/* close once all pieces are out */
	bool		 done;		/* last reply finished */
};

struct ctx {
	char			 dir[64];
	struct event_base	*base;
	struct event		*timeout;
	bool			 timed_out;
	int			 ok_fd;
	int			 ok_calls;
	int			 fail_err;
	int			 fail_calls;
	int			 lfd;		/* a vmn_listen() socket */
	struct vmn_endpoint	 ep;
	struct vmn_connector	*conn;
	struct backend		 be;
};

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *c = arg;

	c->timed_out = true;
	event_base_loopbreak(c->base);
}

static void
on_ok(int fd, void *arg)
{
	struct ctx *c = arg;

	if (c->ok_fd >= 0)
		close(c->ok_fd);
	c->ok_fd = fd;
	c->ok_calls++;
}

static void
on_fail(int err, void *arg)
{
	struct ctx *c = arg;

	c->fail_err = err;
	c->fail_calls++;
}

static void
rm_tree(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int i;

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/vmn-unit-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	c->base = event_base_new();
	if (!c->base)
		return -1;
	c->timeout = evtimer_new(c->base, timeout_cb, c);
	c->ok_fd = -1;
	c->lfd = -1;
	c->be.lfd = -1;
	for (i = 0; i < MAX_CONN; i++)
		c->be.fd[i] = -1;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;
	int i;

	if (c->conn)
		vmn_connector_free(c->conn);
	if (c->ok_fd >= 0)
		close(c->ok_fd);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->be.lev)
		event_free(c->be.lev);
	if (c->be.piece_timer)
		event_free(c->be.piece_timer);
	if (c->be.lfd >= 0)
		close(c->be.lfd);
	for (i = 0; i < MAX_CONN; i++) {
		if (c->be.ev[i])
			event_free(c->be.ev[i]);
		if (c->be.fd[i] >= 0)
			close(c->be.fd[i]);
	}
	event_free(c->timeout);
	event_base_free(c->base);
	rm_tree(c->dir);
	free(c);
	return 0;
}

/* Runs the loop until cond holds or LOOP_LIMIT_MS pass. */
static void
run_until(struct ctx *c, bool (*cond)(const struct ctx *))
{
	struct timeval tv = { LOOP_LIMIT_MS / 1000, (LOOP_LIMIT_MS % 1000) * 1000 };

	c->timed_out = false;
	evtimer_add(c->timeout, &tv);
	while (!cond(c) && !c->timed_out)
		event_base_loop(c->base, EVLOOP_ONCE);
	evtimer_del(c->timeout);
}

/* Runs the loop for ms milliseconds, whatever happens. */
static void
run_for(struct ctx *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	c->timed_out = false;
	evtimer_add(c->timeout, &tv);
	while (!c->timed_out)
		event_base_loop(c->base, EVLOOP_ONCE);
}

static bool
connected(const struct ctx *c)
{
	return c->ok_calls > 0;
}

static bool
finished(const struct ctx *c)
{
	return c->ok_calls > 0 || c->fail_calls > 0;
}

static bool
finished_and_backend_done(const struct ctx *c)
{
	return finished(c) && c->be.done;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
make_ep(struct ctx *c, const char *scheme, const char *name)
{
	char uri[VMN_URI_MAX];
	const char *why = NULL;

	snprintf(uri, sizeof(uri), "%s:%s/%s", scheme, c->dir, name);
	assert_rc(vmn_endpoint_parse(uri, &c->ep, &why), 0);
}

/* Reads until EOF or 1 s of silence; returns the byte count. */
static size_t
read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			break;
		n = read(fd, buf + got, size - got);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* ---- listeners --------------------------------------------------------- */

static void
test_listen_unix(void **state)
{
	struct ctx *c = *state;
	char path[VMN_PATH_MAX];
	struct stat st;

	make_ep(c, "unix", "sock");
	c->lfd = vmn_listen(&c->ep, 7700, 8);
	assert_true(c->lfd >= 0);
	snprintf(path, sizeof(path), "%s/sock_7700", c->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(fcntl(c->lfd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	/* Nothing at PATH itself. */
	snprintf(path, sizeof(path), "%s/sock", c->dir);
	assert_int_equal(lstat(path, &st), -1);

	vmn_unlisten(&c->ep, 7700);
	snprintf(path, sizeof(path), "%s/sock_7700", c->dir);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* hvsock endpoints listen at PATH_PORT too (guest -> host). */
	make_ep(c, "hvsock", "hv");
	close(c->lfd);
	c->lfd = vmn_listen(&c->ep, 1234, 8);
	assert_true(c->lfd >= 0);
	snprintf(path, sizeof(path), "%s/hv_1234", c->dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	/* An endpoint of no kind. */
	memset(&c->ep, 0, sizeof(c->ep));
	assert_rc(vmn_listen(&c->ep, 1, 1), -EINVAL);
}

static void
test_listen_refuses_non_socket(void **state)
{
	struct ctx *c = *state;
	char path[VMN_PATH_MAX], target[VMN_PATH_MAX], buf[16];
	struct stat st;
	int fd;

	make_ep(c, "unix", "sock");
	snprintf(path, sizeof(path), "%s/sock_7700", c->dir);

	/* A regular file: refused and left alone. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_rc(vmn_listen(&c->ep, 7700, 8), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "keep", 4);
	close(fd);
	unlink(path);

	/* A directory. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_rc(vmn_listen(&c->ep, 7700, 8), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	rmdir(path);

	/* A symlink, even to a socket: not followed, not removed. */
	snprintf(target, sizeof(target), "%s/real", c->dir);
	fd = vmn_listen_path(target, 1);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, path), 0);
	assert_rc(vmn_listen(&c->ep, 7700, 8), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void
test_listen_replaces_stale_socket(void **state)
{
	struct ctx *c = *state;
	char path[VMN_PATH_MAX];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, cfd;

	make_ep(c, "unix", "sock");
	snprintf(path, sizeof(path), "%s/sock_7700", c->dir);

	/* A socket file left behind by a process that is gone. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(cfd);

	c->lfd = vmn_listen(&c->ep, 7700, 8);
	assert_true(c->lfd >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	/* And it is live. */
	cfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	fd = accept(c->lfd, NULL, NULL);
	assert_true(fd >= 0);
	close(fd);
	close(cfd);
}

/* ---- connector over unix sockets --------------------------------------- */

static void
assert_pair(int a, int listen_fd)
{
	char buf[8];
	int b = accept(listen_fd, NULL, NULL);

	assert_true(b >= 0);
	assert_int_equal(write(a, "ping", 4), 4);
	assert_int_equal(read_all(b, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(write(b, "pong", 4), 4);
	assert_int_equal(read_all(a, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	close(b);
}

static void
test_connect_unix(void **state)
{
	struct ctx *c = *state;

	make_ep(c, "unix", "sock");
	c->lfd = vmn_listen(&c->ep, 7700, 8);
	assert_true(c->lfd >= 0);
	c->conn = vmn_connector_new(c->base, &c->ep, 7700, 0, on_ok, on_fail, c);
	assert_non_null(c->conn);
	/* Callbacks only ever run from the loop. */
	assert_int_equal(c->ok_calls, 0);
	run_until(c, finished);
	assert_false(c->timed_out);
	assert_int_equal(c->ok_calls, 1);
	assert_int_equal(c->fail_calls, 0);
	assert_true(c->ok_fd >= 0);
	assert_int_equal(vmn_connector_attempts(c->conn), 1);
	assert_pair(c->ok_fd, c->lfd);

	/* Nothing more happens on its own once connected. */
	run_for(c, 60);
	assert_int_equal(c->ok_calls, 1);
	assert_int_equal(vmn_connector_attempts(c->conn), 1);

	/* After that connection ends, vmn_connector_again() connects anew. */
	close(c->ok_fd);
	c->ok_fd = -1;
	c->ok_calls = 0;
	vmn_connector_again(c->conn);
	assert_int_equal(c->ok_calls, 0);
	run_until(c, connected);
	assert_false(c->timed_out);
	assert_int_equal(c->ok_calls, 1);
	assert_int_equal(vmn_connector_attempts(c->conn), 1);
	assert_pair(c->ok_fd, c->lfd);
}

static void
start_listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *c = arg;

	c->lfd = vmn_listen(&c->ep, 7700, 8);
}

static void
test_connect_before_listen(void **state)
{
	struct ctx *c = *state;
	struct timeval tv = { 0, 150 * 1000 };
	struct event *later;
	double t0, elapsed;
	unsigned attempts;

	make_ep(c, "unix", "sock");
	later = evtimer_new(c->base, start_listener_cb, c);
	evtimer_add(later, &tv);
	t0 = now_ms();
	c->conn = vmn_connector_new(c->base, &c->ep, 7700, 0, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_until(c, finished);
	elapsed = now_ms() - t0;
	event_free(later);

	assert_false(c->timed_out);
	assert_true(c->lfd >= 0);
	assert_int_equal(c->fail_calls, 0);
	assert_int_equal(c->ok_calls, 1);
	attempts = vmn_connector_attempts(c->conn);
	print_message("connected after %u attempts, %.0f ms\n", attempts,
	    elapsed);
	assert_true(attempts > 1);
	assert_true(elapsed >= 150);
	/* Backoff, not a busy loop: 25, 50, 100, 200 ms... */
	assert_true(attempts <= 6);
	assert_pair(c->ok_fd, c->lfd);
}

static void
test_connect_gives_up(void **state)
{
	struct ctx *c = *state;
	double t0, elapsed;

	make_ep(c, "unix", "nobody");
	t0 = now_ms();
	c->conn = vmn_connector_new(c->base, &c->ep, 7700, 3, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_until(c, finished);
	elapsed = now_ms() - t0;
	assert_false(c->timed_out);
	assert_int_equal(c->ok_calls, 0);
	assert_int_equal(c->fail_calls, 1);
	assert_rc(c->fail_err, -ENOENT);
	assert_int_equal(vmn_connector_attempts(c->conn), 3);
	/* Two waits between three attempts: at least 25 + 50 ms. */
	assert_true(elapsed >= VMN_BACKOFF_MIN_MS * 3 - 5);

	/* Having given up, it stays quiet. */
	run_for(c, 100);
	assert_int_equal(c->fail_calls, 1);
	assert_int_equal(vmn_connector_attempts(c->conn), 3);
}

static void
test_connector_free_while_retrying(void **state)
{
	struct ctx *c = *state;

	make_ep(c, "unix", "nobody");
	c->conn = vmn_connector_new(c->base, &c->ep, 7700, 0, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_for(c, 60);
	assert_true(vmn_connector_attempts(c->conn) >= 1);
	vmn_connector_free(c->conn);
	c->conn = NULL;
	/* Its timer is gone with it: the loop runs on without callbacks. */
	c->lfd = vmn_listen(&c->ep, 7700, 8);
	assert_true(c->lfd >= 0);
	run_for(c, 120);
	assert_int_equal(c->ok_calls, 0);
	assert_int_equal(c->fail_calls, 0);
	assert_int_equal(accept(c->lfd, NULL, NULL), -1);
	assert_int_equal(errno, EAGAIN);
}

/* ---- hybrid vsock ------------------------------------------------------ */

static void backend_send_piece(struct backend *be);

static void
piece_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	backend_send_piece(arg);
}

static void
backend_send_piece(struct backend *be)
{
	int i = be->piece_conn;
	struct timeval tv = { 0, 20 * 1000 };

	if (be->sent < be->npieces) {
		ssize_t n = write(be->fd[i], be->pieces[be->sent],
		    be->piecelen[be->sent]);

		if (n != (ssize_t)be->piecelen[be->sent])
			fail_msg("backend write: %zd", n);
		be->sent++;
	}
	if (be->sent < be->npieces) {
		evtimer_add(be->piece_timer, &tv);
		return;
	}
	if (be->close_after) {
		event_del(be->ev[i]);
		close(be->fd[i]);
		be->fd[i] = -1;
	}
	be->done = true;
}

static void
backend_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *be = arg;
	int i;
	ssize_t n;

	for (i = 0; i < be->nconn; i++)
		if (be->fd[i] == fd)
			break;
	if (i == be->nconn)
		return;
	n = read(fd, be->line[i] + be->linelen[i],
	    sizeof(be->line[i]) - 1 - be->linelen[i]);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		/* The connector hung up. */
		event_del(be->ev[i]);
		return;
	}
	be->linelen[i] += (size_t)n;
	be->line[i][be->linelen[i]] = '\0';
	if (!memchr(be->line[i], '\n', be->linelen[i]))
		return;
	be->piece_conn = i;
	be->sent = 0;
	be->done = false;
	backend_send_piece(be);
}

static void
backend_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *be = arg;
	struct event_base *base = event_get_base(be->lev);
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (cfd < 0)
		return;
	if (be->nconn >= MAX_CONN) {
		close(cfd);
		return;
	}
	i = be->nconn++;
	be->fd[i] = cfd;
	be->ev[i] = event_new(base, cfd, EV_READ | EV_PERSIST,
	    backend_read_cb, be);
	event_add(be->ev[i], NULL);
}

/* A plain unix listener at the hvsock PATH itself. */
static void
backend_start(struct ctx *c, bool close_after)
{
	struct backend *be = &c->be;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	make_ep(c, "hvsock", "fc.vsock");
	be->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(be->lfd >= 0);
	strcpy(sun.sun_path, c->ep.path);
	assert_int_equal(bind(be->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(be->lfd, 8), 0);
	be->lev = event_new(c->base, be->lfd, EV_READ | EV_PERSIST,
	    backend_accept_cb, be);
	event_add(be->lev, NULL);
	be->piece_timer = evtimer_new(c->base, piece_timer_cb, be);
	be->close_after = close_after;
}

static void
backend_reply(struct backend *be, const char *piece, size_t len)
{
	assert_true(be->npieces < MAX_PIECES);
	be->pieces[be->npieces] = piece;
	be->piecelen[be->npieces] = len;
	be->npieces++;
}

static void
test_hvsock_handshake(void **state)
{
	struct ctx *c = *state;
	char buf[64];
	size_t n;

	backend_start(c, true);
	/* The OK line and the first stream bytes in one segment. */
	backend_reply(&c->be, "OK 1234\nhello", 13);
	c->conn = vmn_connector_new(c->base, &c->ep, 7701, 0, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_until(c, finished_and_backend_done);
	assert_false(c->timed_out);
	assert_int_equal(c->be.nconn, 1);
	assert_string_equal(c->be.line[0], "CONNECT 7701\n");
	assert_int_equal(c->fail_calls, 0);
	assert_int_equal(c->ok_calls, 1);
	assert_int_equal(vmn_connector_attempts(c->conn), 1);

	/* Exactly the bytes after the OK line, then EOF. */
	n = read_all(c->ok_fd, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
}

static void
test_hvsock_handshake_fragmented(void **state)
{
	struct ctx *c = *state;
	char buf[64];
	size_t n;

	backend_start(c, true);
	/* The OK line trickles in; stream bytes follow in the same write
	 * as its end. */
	backend_reply(&c->be, "O", 1);
	backend_reply(&c->be, "K 12", 4);
	backend_reply(&c->be, "34\nhel", 6);
	backend_reply(&c->be, "lo", 2);
	c->conn = vmn_connector_new(c->base, &c->ep, 7701, 0, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_until(c, finished_and_backend_done);
	assert_false(c->timed_out);
	assert_string_equal(c->be.line[0], "CONNECT 7701\n");
	assert_int_equal(c->ok_calls, 1);
	assert_int_equal(c->fail_calls, 0);
	n = read_all(c->ok_fd, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
}

static void
test_hvsock_port_from_caller(void **state)
{
	struct ctx *c = *state;

	backend_start(c, false);
	backend_reply(&c->be, "OK 1\n", 5);
	c->conn = vmn_connector_new(c->base, &c->ep, 4294967295u, 0, on_ok,
	    on_fail, c);
	run_until(c, finished_and_backend_done);
	assert_false(c->timed_out);
	assert_string_equal(c->be.line[0], "CONNECT 4294967295\n");
	assert_int_equal(c->ok_calls, 1);
}

static void
test_hvsock_refused(void **state)
{
	struct ctx *c = *state;
	int i;

	backend_start(c, true);
	backend_reply(&c->be, "NO\n", 3);
	c->conn = vmn_connector_new(c->base, &c->ep, 7701, 2, on_ok, on_fail, c);
	assert_non_null(c->conn);
	run_until(c, finished);
	assert_false(c->timed_out);
	assert_int_equal(c->ok_calls, 0);
	assert_int_equal(c->fail_calls, 1);
	assert_true(c->fail_err < 0);
	print_message("failed with %d (%s)\n", c->fail_err, strerror(-c->fail_err));
	assert_int_equal(vmn_connector_attempts(c->conn), 2);
	/* Both attempts got as far as the handshake. */
	assert_int_equal(c->be.nconn, 2);
	for (i = 0; i < 2; i++)
		assert_string_equal(c->be.line[i], "CONNECT 7701\n");
	assert_int_equal(c->ok_fd, -1);
}

static void
test_hvsock_bad_replies(void **state)
{
	static const char *const replies[] = {
		"NO\n",
		"OK\n",
		"OK x\n",
		"ok 1\n",
		"OK 1 \n",
		"OK 1",				/* then EOF: no newline */
		"",				/* EOF at once */
		"OK 12345678901234567890123456789012345\n",	/* too long */
		"ERROR connection refused by the guest\n",
	};
	struct ctx *c = *state;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(replies); i++) {
		struct backend *be = &c->be;
		int j;

		/* Fresh backend and counters per reply. */
		if (be->lev) {
			event_free(be->lev);
			event_free(be->piece_timer);
			close(be->lfd);
			for (j = 0; j < be->nconn; j++) {
				event_free(be->ev[j]);
				if (be->fd[j] >= 0)
					close(be->fd[j]);
			}
			unlink(c->ep.path);
		}
		memset(be, 0, sizeof(*be));
		for (j = 0; j < MAX_CONN; j++)
			be->fd[j] = -1;
		c->ok_calls = c->fail_calls = 0;
		c->fail_err = 0;

		backend_start(c, true);
		backend_reply(be, replies[i], strlen(replies[i]));
		c->conn = vmn_connector_new(c->base, &c->ep, 7701, 1, on_ok,
		    on_fail, c);
		run_until(c, finished);
		if (c->timed_out || c->ok_calls || c->fail_calls != 1 ||
		    c->fail_err >= 0)
			fail_msg("reply \"%s\": ok %d, failed %d (%d)%s",
			    replies[i], c->ok_calls, c->fail_calls,
			    c->fail_err, c->timed_out ? ", timed out" : "");
		vmn_connector_free(c->conn);
		c->conn = NULL;
	}
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_path_too_long),
		cmocka_unit_test(test_endpoint_str),
		cmocka_unit_test(test_port_path),
		T(test_listen_unix),
		T(test_listen_refuses_non_socket),
		T(test_listen_replaces_stale_socket),
		T(test_connect_unix),
		T(test_connect_before_listen),
		T(test_connect_gives_up),
		T(test_connector_free_while_retrying),
		T(test_hvsock_handshake),
		T(test_hvsock_handshake_fragmented),
		T(test_hvsock_port_from_caller),
		T(test_hvsock_refused),
		T(test_hvsock_bad_replies),
	};
#undef T

	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
