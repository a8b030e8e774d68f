/*
 * vmn-dnsq.c - DNS queries dig cannot make, for the tunnel's tests
 *
 *   vmn-dnsq [-t SECONDS] SERVER burst N NAME
 *       N queries for NAME/A at once from one UDP socket, each with its
 *       own id; prints how many were answered and with which rcodes.
 *       Exit 0 when all N got NOERROR.
 *   vmn-dnsq SERVER sameid NAME
 *       A and AAAA with the same id from one socket, as glibc sends them;
 *       exit 0 when both come back, each with an answer of its own type.
 *   vmn-dnsq SERVER formerr
 *       a query whose question is cut short; exit 0 on FORMERR with our id.
 *   vmn-dnsq SERVER garbage
 *       random datagrams and a TCP stream of nonsense; exit 0 once sent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TYPE_A		1
#define TYPE_AAAA	28

static int timeout_s = 5;
static struct sockaddr_in server;

static size_t
build_query(uint8_t *buf, uint16_t id, const char *name, uint16_t type)
{
	size_t off = 12;
	const char *p = name;

	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01;			/* RD */
	buf[5] = 1;			/* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		buf[off++] = (uint8_t)l;
		memcpy(buf + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	buf[off++] = 0;
	buf[off++] = (uint8_t)(type >> 8);
	buf[off++] = (uint8_t)type;
	buf[off++] = 0;
	buf[off++] = 1;			/* IN */
	return off;
}

/* Skips a possibly compressed name; 0 on a malformed one. */
static size_t
skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		if (m[off] == 0)
			return off + 1;
		if ((m[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		off += (size_t)m[off] + 1;
	}
	return 0;
}

/* The type of the first answer record, or 0. */
static int
answer_type(const uint8_t *m, size_t len)
{
	size_t off;

	if (len < 12 || (m[6] << 8 | m[7]) == 0)
		return 0;
	if (!(off = skip_name(m, len, 12)) || off + 4 > len)
		return 0;
	if (!(off = skip_name(m, len, off + 4)) || off + 2 > len)
		return 0;
	return m[off] << 8 | m[off + 1];
}

static int
udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&server,
	    sizeof(server)) < 0) {
		perror("vmn-dnsq: socket");
		exit(2);
	}
	return fd;
}

static ssize_t
recv_until(int fd, uint8_t *buf, size_t len, time_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (time(NULL) < deadline)
		if (poll(&pfd, 1, 100) > 0)
			return recv(fd, buf, len, 0);
	return -1;
}

static int
burst(int n, const char *name)
{
	static uint8_t answered[65536];
	unsigned rcodes[16] = { 0 };
	uint8_t buf[4096];
	int fd = udp_socket(), i, got = 0, bufsz = 4 << 20;
	time_t deadline;
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (n < 1 || n > 65535)
		return 2;
	for (i = 0; i < n; i++) {
		size_t len = build_query(buf, (uint16_t)i, name, TYPE_A);

		if (send(fd, buf, len, 0) < 0) {
			perror("vmn-dnsq: send");
			return 2;
		}
	}
	deadline = time(NULL) + timeout_s;
	while (got < n && (r = recv_until(fd, buf, sizeof(buf), deadline)) >= 0) {
		unsigned id;

		if (r < 12)
			continue;
		id = (unsigned)(buf[0] << 8 | buf[1]);
		if ((int)id >= n || answered[id])
			continue;
		answered[id] = 1;
		rcodes[buf[3] & 0x0f]++;
		got++;
	}
	printf("answered %d of %d: NOERROR %u SERVFAIL %u other %d\n", got, n,
	    rcodes[0], rcodes[2], got - (int)rcodes[0] - (int)rcodes[2]);
	return got == n && (int)rcodes[0] == n ? 0 : 1;
}

static int
sameid(const char *name)
{
	uint8_t buf[4096];
	int fd = udp_socket(), seen_a = 0, seen_aaaa = 0, i;
	time_t deadline;
	size_t len;
	ssize_t r;

	len = build_query(buf, 0x4242, name, TYPE_A);
	send(fd, buf, len, 0);
	len = build_query(buf, 0x4242, name, TYPE_AAAA);
	send(fd, buf, len, 0);
	deadline = time(NULL) + timeout_s;
	for (i = 0; i < 2; i++) {
		if ((r = recv_until(fd, buf, sizeof(buf), deadline)) < 12)
			break;
		if ((buf[0] << 8 | buf[1]) != 0x4242)
			continue;
		switch (answer_type(buf, (size_t)r)) {
		case TYPE_A:
			seen_a++;
			break;
		case TYPE_AAAA:
			seen_aaaa++;
			break;
		}
	}
	printf("A %s, AAAA %s\n", seen_a == 1 ? "ok" : "missing",
	    seen_aaaa == 1 ? "ok" : "missing");
	return seen_a == 1 && seen_aaaa == 1 ? 0 : 1;
}

static int
formerr(void)
{
	uint8_t buf[512];
	int fd = udp_socket();
	size_t len = build_query(buf, 0x1234, "web.test.lan", TYPE_A);
	ssize_t r;

	/* The question stops in the middle of a label. */
	send(fd, buf, len - 8, 0);
	r = recv_until(fd, buf, sizeof(buf), time(NULL) + timeout_s);
	if (r < 12) {
		printf("no answer\n");
		return 1;
	}
	printf("id %s, rcode %d\n", (buf[0] << 8 | buf[1]) == 0x1234 ? "ok" :
	    "wrong", buf[3] & 0x0f);
	return (buf[0] << 8 | buf[1]) == 0x1234 && (buf[3] & 0x0f) == 1 ? 0 : 1;
}

static int
garbage(void)
{
	uint8_t buf[2048];
	int fd = udp_socket(), tfd, i;

	srand(4321);
	for (i = 0; i < 200; i++) {
		size_t len = (size_t)(rand() % (int)sizeof(buf));
		size_t j;

		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		if (i % 3 == 0 && len >= 12)
			buf[2] &= 0x7f;		/* looks like a query */
		send(fd, buf, len, 0);
	}
	tfd = socket(AF_INET, SOCK_STREAM, 0);
	if (tfd >= 0 && connect(tfd, (struct sockaddr *)&server,
	    sizeof(server)) == 0) {
		for (i = 0; i < (int)sizeof(buf); i++)
			buf[i] = (uint8_t)rand();
		buf[0] = 0;
		buf[1] = 3;	/* a 3-byte "message": not DNS */
		if (write(tfd, buf, sizeof(buf)) < 0)
			perror("vmn-dnsq: tcp");
		close(tfd);
	}
	printf("sent\n");
	return 0;
}

int
main(int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, "t:")) != -1) {
		if (ch != 't')
			return 2;
		timeout_s = atoi(optarg);
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		goto usage;
	server.sin_family = AF_INET;
	server.sin_port = htons(53);
	if (inet_pton(AF_INET, argv[0], &server.sin_addr) != 1)
		goto usage;
	if (strcmp(argv[1], "burst") == 0 && argc == 4)
		return burst(atoi(argv[2]), argv[3]);
	if (strcmp(argv[1], "sameid") == 0 && argc == 3)
		return sameid(argv[2]);
	if (strcmp(argv[1], "formerr") == 0 && argc == 2)
		return formerr();
	if (strcmp(argv[1], "garbage") == 0 && argc == 2)
		return garbage();
usage:
	fprintf(stderr, "usage: vmn-dnsq [-t secs] SERVER burst N NAME | "
	    "sameid NAME | formerr | garbage\n");
	return 2;
}
