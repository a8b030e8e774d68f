/*
 * vmn-rogue.c - a hostile guest, for tests: misbehaves on a channel and
 * reports whether host-netd hung up on it
 *
 *   vmn-rogue [-t SECONDS] [-i VMID] URI MODE
 *
 * Modes (each a separate connection):
 *   garbage     random bytes
 *   magic       a header with a bad magic
 *   huge        a header announcing a payload past the 64 KiB cap
 *   version     a header of an unknown protocol version
 *   badattr     a HELLO whose attribute length runs past the frame
 *   deepnest    a HELLO with attributes nested too deeply
 *   unknown     a valid HELLO, then a frame of an unknown type
 *   notallowed  a valid HELLO, then a frame the guest may not send
 *   nohello     a configuration frame before any HELLO
 *   wrongvm     a HELLO naming another VM (-i); expects an error reply
 *   silent      connects and says nothing (host must time it out)
 *   trickle     sends a HELLO one byte per second (the deadline is
 *               absolute: trickling must not keep the connection)
 *   flood       opens 64 connections at once and holds them
 *   good        a valid HELLO; prints the reply (control: must stay open)
 *   rfwd=PORT   a reverse forward to host port PORT (-t: seconds); prints
 *               the host's answer (error reply or "reply: fwd")
 *   dns         HELLO as a dns channel, a query that is not DNS (answered
 *               FORMERR or empty), then garbage bytes (must be closed)
 *   dnsflood=N,SIZE,NAME
 *               HELLO as a dns channel, then N well-formed queries for
 *               NAME/A of SIZE bytes each (a private-type additional record
 *               pads them), without waiting; then reads answers for the
 *               timeout (-t) and prints "answers A noerror B servfail C
 *               refused D formerr E" (exit 0)
 *
 *   vmn-rogue ra IFNAME
 *               sends router advertisements for 2001:db8:bad::/64 out of
 *               IFNAME, as a guest trying to become the host's router
 *
 * Prints "closed" when the host ended the connection within the timeout,
 * "open" otherwise; for flood, how many of the connections were refused.
 * Exit status: 0 closed, 1 open, 2 usage or connection failure.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"
#include "wire.h"

static int timeout_s = 8;
static const char *vm_id;

static int
dial(const struct vmn_endpoint *ep)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (ep->kind != VMN_TR_UNIX) {
		fprintf(stderr, "vmn-rogue: only unix: channels\n");
		exit(2);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s_%u", ep->path,
	    VMN_PORT_HOST);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "vmn-rogue: connect %s: %s\n", sun.sun_path,
		    strerror(errno));
		exit(2);
	}
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		fprintf(stderr, "vmn-rogue: short write: %s\n", strerror(errno));
}

static void
send_hello(int fd, const char *id)
{
	uint8_t buf[256];
	struct vmn_buf b;
	int len;

	vmn_buf_init(&b, buf, sizeof(buf));
	len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL,
	    VMN_CAP_CONFIG, id);
	send_all(fd, buf, (size_t)len);
}

/* Names each whole frame of a read (what answers us). */
static void
print_frames(const uint8_t *buf, size_t n)
{
	char msg[VMN_MAX_STRING + 1];
	struct vmn_msg m;
	struct vmn_hdr h;
	const char *why;

	while (vmn_hdr_decode(buf, n, &h, &why) == 0 &&
	    n >= VMN_HDR_LEN + (size_t)h.length &&
	    vmn_msg_parse(buf, VMN_HDR_LEN + h.length, &m, &why) == 0) {
		if ((m.hdr.flags & VMN_F_ERROR) &&
		    vmn_attr_str(&m.tb[VMN_A_ERRMSG], msg, sizeof(msg)) == 0)
			printf("error reply: %s\n", msg);
		else
			printf("reply: %s\n", vmn_msg_name(m.hdr.type));
		buf += VMN_HDR_LEN + h.length;
		n -= VMN_HDR_LEN + h.length;
	}
}

/* Reads until EOF or the timeout; 1 if the host closed. Prints replies. */
static int
wait_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	time_t deadline = time(NULL) + timeout_s;
	uint8_t buf[4096];
	ssize_t n;

	while (time(NULL) < deadline) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 1;
		if (n >= VMN_HDR_LEN)
			print_frames(buf, (size_t)n);
	}
	return 0;
}

static void
put_hdr(uint8_t *p, uint16_t magic, uint8_t version, uint8_t flags,
    uint16_t type, uint32_t length, uint32_t seq)
{
	p[0] = magic >> 8;
	p[1] = magic & 0xff;
	p[2] = version;
	p[3] = flags;
	p[4] = type >> 8;
	p[5] = type & 0xff;
	p[6] = p[7] = 0;
	p[8] = length >> 24;
	p[9] = (length >> 16) & 0xff;
	p[10] = (length >> 8) & 0xff;
	p[11] = length & 0xff;
	p[12] = seq >> 24;
	p[13] = (seq >> 16) & 0xff;
	p[14] = (seq >> 8) & 0xff;
	p[15] = seq & 0xff;
}

static int
run_flood(const struct vmn_endpoint *ep)
{
	int fds[64], i, refused = 0;
	struct pollfd pfd;
	char c;

	for (i = 0; i < 64; i++)
		fds[i] = dial(ep);
	sleep(1);
	for (i = 0; i < 64; i++) {
		pfd.fd = fds[i];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) > 0 && read(fds[i], &c, 1) <= 0)
			refused++;
	}
	printf("refused %d of 64\n", refused);
	for (i = 0; i < 64; i++)
		close(fds[i]);
	return refused > 0 ? 0 : 1;
}

/* Three RAs offering a default route and a SLAAC prefix. */
/* A query for name/A padded to size bytes by a type-65280 record. */
static size_t
padded_query(uint8_t *q, size_t size, uint16_t id, const char *name)
{
	size_t off = 12, l;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01;			/* RD */
	q[5] = 1;			/* QDCOUNT */
	q[11] = 1;			/* ARCOUNT */
	while (*p) {
		l = strcspn(p, ".");
		q[off++] = (uint8_t)l;
		memcpy(q + off, p, l);
		off += l;
		p += l + (p[l] == '.');
	}
	q[off++] = 0;
	memcpy(q + off, "\x00\x01\x00\x01", 4);	/* A, IN */
	off += 4;
	if (size < off + 11)
		size = off + 11;
	q[off++] = 0;				/* owner: the root */
	memcpy(q + off, "\xff\x00\x00\x01\x00\x00\x00\x00", 8);
	off += 8;
	l = size - off - 2;
	q[off++] = (uint8_t)(l >> 8);
	q[off++] = (uint8_t)l;
	memset(q + off, 0x5a, l);
	return off + l;
}

static int
run_dnsflood(const struct vmn_endpoint *ep, const char *spec)
{
	static uint8_t frame[VMN_MAX_FRAME], q[65536];
	unsigned n, size, i, got = 0, rc[16] = { 0 };
	struct pollfd pfd = { .events = POLLIN };
	char name[256];
	struct vmn_buf b;
	time_t deadline;
	size_t have = 0;
	int len;

	if (sscanf(spec, "%u,%u,%255s", &n, &size, name) != 3 ||
	    size > 65000) {
		fprintf(stderr, "vmn-rogue: dnsflood=N,SIZE,NAME\n");
		return 2;
	}
	pfd.fd = dial(ep);
	vmn_buf_init(&b, frame, sizeof(frame));
	len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_DNS,
	    VMN_CAP_DNS_TUNNEL, vm_id);
	send_all(pfd.fd, frame, (size_t)len);
	for (i = 0; i < n; i++) {
		size_t qlen = padded_query(q, size, (uint16_t)i, name);

		vmn_buf_init(&b, frame, sizeof(frame));
		vmn_msg_begin(&b, VMN_MSG_DNS, VMN_F_REQUEST, i + 2);
		vmn_put_u32(&b, VMN_A_DNS_ID, i + 1);
		vmn_put(&b, VMN_A_PAYLOAD, q, qlen);
		if ((len = vmn_msg_end(&b)) < 0) {
			fprintf(stderr, "vmn-rogue: query too large\n");
			return 2;
		}
		send_all(pfd.fd, frame, (size_t)len);
	}
	/* Answers: frames whose payload's rcode is counted. */
	deadline = time(NULL) + timeout_s;
	while (got < n && time(NULL) < deadline) {
		struct vmn_hdr h;
		struct vmn_msg m;
		const char *why;
		ssize_t r;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((r = read(pfd.fd, frame + have, sizeof(frame) - have)) <= 0)
			break;
		have += (size_t)r;
		while (have >= VMN_HDR_LEN &&
		    vmn_hdr_decode(frame, have, &h, &why) == 0 &&
		    have >= VMN_HDR_LEN + h.length) {
			size_t flen = VMN_HDR_LEN + h.length;

			if (vmn_msg_parse(frame, flen, &m, &why) == 0 &&
			    m.hdr.type == VMN_MSG_DNS &&
			    m.tb[VMN_A_PAYLOAD].len >= 4) {
				rc[m.tb[VMN_A_PAYLOAD].data[3] & 0x0f]++;
				got++;
			}
			memmove(frame, frame + flen, have - flen);
			have -= flen;
		}
	}
	printf("answers %u noerror %u servfail %u refused %u formerr %u\n",
	    got, rc[0], rc[2], rc[5], rc[1]);
	return 0;
}

static int
send_ra(const char *ifname)
{
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6 };
	uint8_t ra[16 + 32];
	int fd, hops = 255, i;

	memset(ra, 0, sizeof(ra));
	ra[0] = 134;			/* ND_ROUTER_ADVERT */
	ra[4] = 64;			/* cur hop limit */
	ra[6] = 0x07; ra[7] = 0x08;	/* router lifetime 1800 s */
	ra[16] = 3; ra[17] = 4;		/* prefix information, 32 bytes */
	ra[18] = 64;			/* prefix length */
	ra[19] = 0xc0;			/* on-link, autonomous */
	memset(ra + 20, 0xff, 8);	/* valid and preferred: infinite */
	ra[32] = 0x20; ra[33] = 0x01; ra[34] = 0x0d; ra[35] = 0xb8;
	ra[36] = 0x0b; ra[37] = 0xad;	/* 2001:db8:bad::/64 */
	if ((fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	    (socklen_t)strlen(ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops,
	    sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops,
	    sizeof(hops)) < 0) {
		fprintf(stderr, "vmn-rogue: raw socket: %s\n", strerror(errno));
		return 2;
	}
	dst.sin6_addr.s6_addr[0] = 0xff;
	dst.sin6_addr.s6_addr[1] = 0x02;
	dst.sin6_addr.s6_addr[15] = 1;	/* ff02::1 */
	dst.sin6_scope_id = if_nametoindex(ifname);
	for (i = 0; i < 3; i++) {
		if (sendto(fd, ra, sizeof(ra), 0, (struct sockaddr *)&dst,
		    sizeof(dst)) < 0) {
			fprintf(stderr, "vmn-rogue: sendto: %s\n",
			    strerror(errno));
			return 2;
		}
		usleep(100000);
	}
	close(fd);
	printf("sent 3 router advertisements on %s\n", ifname);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct vmn_endpoint ep;
	const char *why, *mode;
	uint8_t buf[512];
	struct vmn_buf b;
	int ch, fd, len, i, closed;

	if (argc == 3 && strcmp(argv[1], "ra") == 0)
		return send_ra(argv[2]);
	while ((ch = getopt(argc, argv, "t:i:")) != -1) {
		switch (ch) {
		case 't':
			timeout_s = atoi(optarg);
			break;
		case 'i':
			vm_id = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2 ||
	    vmn_endpoint_parse(argv[optind], &ep, &why) < 0) {
		fprintf(stderr, "usage: vmn-rogue [-t secs] [-i vmid] unix:PATH "
		    "MODE\n");
		return 2;
	}
	mode = argv[optind + 1];
	if (strcmp(mode, "flood") == 0)
		return run_flood(&ep);
	if (strncmp(mode, "dnsflood=", 9) == 0)
		return run_dnsflood(&ep, mode + 9);
	if (strncmp(mode, "rfwd=", 5) == 0) {
		fd = dial(&ep);
		vmn_buf_init(&b, buf, sizeof(buf));
		len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_RFWD,
		    VMN_CAP_RFWD, vm_id);
		send_all(fd, buf, (size_t)len);
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_FWD, VMN_F_REQUEST, 2);
		vmn_put_u8(&b, VMN_A_PROTO, IPPROTO_TCP);
		vmn_put_u16(&b, VMN_A_PORT, (uint16_t)atoi(mode + 5));
		vmn_put_u32(&b, VMN_A_CONN_ID, 0x80000001u);
		len = vmn_msg_end(&b);
		send_all(fd, buf, (size_t)len);
		closed = wait_closed(fd);
		printf("%s\n", closed ? "closed" : "open");
		return closed ? 0 : 1;
	}

	fd = dial(&ep);
	if (strcmp(mode, "garbage") == 0) {
		srand(1234);
		for (i = 0; i < 64; i++)
			buf[i] = (uint8_t)rand();
		send_all(fd, buf, 64);
	} else if (strcmp(mode, "magic") == 0) {
		put_hdr(buf, 0xdead, VMN_WIRE_VERSION, VMN_F_REQUEST,
		    VMN_MSG_HELLO, 0, 1);
		send_all(fd, buf, VMN_HDR_LEN);
	} else if (strcmp(mode, "huge") == 0) {
		put_hdr(buf, VMN_WIRE_MAGIC, VMN_WIRE_VERSION, VMN_F_REQUEST,
		    VMN_MSG_HELLO, 0xfffffff0u, 1);
		send_all(fd, buf, VMN_HDR_LEN);
	} else if (strcmp(mode, "version") == 0) {
		put_hdr(buf, VMN_WIRE_MAGIC, 99, VMN_F_REQUEST, VMN_MSG_HELLO,
		    0, 1);
		send_all(fd, buf, VMN_HDR_LEN);
	} else if (strcmp(mode, "badattr") == 0) {
		put_hdr(buf, VMN_WIRE_MAGIC, VMN_WIRE_VERSION, VMN_F_REQUEST,
		    VMN_MSG_HELLO, 8, 1);
		/* attribute claims 200 bytes in an 8-byte payload */
		buf[16] = 0; buf[17] = 200; buf[18] = 0; buf[19] = VMN_A_VERSION;
		memset(buf + 20, 0, 4);
		send_all(fd, buf, 24);
	} else if (strcmp(mode, "deepnest") == 0) {
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_HELLO, VMN_F_REQUEST, 1);
		/* The encoder refuses depth > VMN_MAX_NEST; build one by hand. */
		b.len = VMN_HDR_LEN;
		for (i = 0; i < VMN_MAX_NEST + 2; i++) {
			size_t left = (size_t)(VMN_MAX_NEST + 2 - i) * 4;

			buf[b.len] = 0;
			buf[b.len + 1] = (uint8_t)left;
			buf[b.len + 2] = 0x80;
			buf[b.len + 3] = VMN_A_SERVERS;
			b.len += 4;
		}
		len = (int)b.len;
		put_hdr(buf, VMN_WIRE_MAGIC, VMN_WIRE_VERSION, VMN_F_REQUEST,
		    VMN_MSG_HELLO, (uint32_t)(len - VMN_HDR_LEN), 1);
		send_all(fd, buf, (size_t)len);
	} else if (strcmp(mode, "unknown") == 0) {
		send_hello(fd, vm_id);
		put_hdr(buf, VMN_WIRE_MAGIC, VMN_WIRE_VERSION, 0, 999, 0, 2);
		send_all(fd, buf, VMN_HDR_LEN);
	} else if (strcmp(mode, "notallowed") == 0) {
		send_hello(fd, vm_id);
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_CONFIG_BEGIN, 0, 2);
		vmn_put_u32(&b, VMN_A_GEN, 7);
		len = vmn_msg_end(&b);
		send_all(fd, buf, (size_t)len);
	} else if (strcmp(mode, "nohello") == 0) {
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_EVENT, 0, 1);
		vmn_put_u8(&b, VMN_A_EVENT, VMN_EV_APPLIED);
		len = vmn_msg_end(&b);
		send_all(fd, buf, (size_t)len);
	} else if (strcmp(mode, "wrongvm") == 0) {
		send_hello(fd, vm_id ? vm_id : "someone-else");
	} else if (strcmp(mode, "silent") == 0) {
		/* nothing */
	} else if (strcmp(mode, "trickle") == 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		vmn_buf_init(&b, buf, sizeof(buf));
		len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_CONTROL,
		    VMN_CAP_CONFIG, vm_id);
		for (i = 0; i < len; i++) {
			if (poll(&pfd, 1, 1000) > 0)
				break;	/* hung up on us */
			if (write(fd, buf + i, 1) != 1)
				break;
		}
	} else if (strcmp(mode, "good") == 0) {
		send_hello(fd, vm_id);
	} else if (strcmp(mode, "dns") == 0) {
		vmn_buf_init(&b, buf, sizeof(buf));
		len = vmn_build_hello(&b, VMN_F_REQUEST, 1, VMN_ROLE_DNS,
		    VMN_CAP_DNS_TUNNEL, vm_id);
		send_all(fd, buf, (size_t)len);
		vmn_buf_init(&b, buf, sizeof(buf));
		vmn_msg_begin(&b, VMN_MSG_DNS, VMN_F_REQUEST, 2);
		vmn_put_u32(&b, VMN_A_DNS_ID, 7);
		vmn_put(&b, VMN_A_PAYLOAD, "\x12\x34\x00\x00\x00\x01"
		    "\x00\x00\x00\x00\x00\x00\x07", 13);
		len = vmn_msg_end(&b);
		send_all(fd, buf, (size_t)len);
		usleep(200000);
		srand(99);
		for (i = 0; i < 64; i++)
			buf[i] = (uint8_t)rand();
		send_all(fd, buf, 64);
	} else {
		fprintf(stderr, "vmn-rogue: unknown mode %s\n", mode);
		return 2;
	}
	closed = wait_closed(fd);
	printf("%s\n", closed ? "closed" : "open");
	close(fd);
	return closed ? 0 : 1;
}
