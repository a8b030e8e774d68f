/*
 * log.c - stderr or syslog logging shared by the daemons and tools
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbosity;
static const char *log_progname = "vmnetd";
static char *log_capbuf;
static size_t log_caplen;

void
log_init(const char *progname, int foreground, int verbosity)
{
	log_progname = progname;
	log_foreground = foreground;
	log_verbosity = verbosity;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/*
 * While buf is set, warnings are also appended to it, a line each (as much
 * as fits): how host-netd hands the errors a reload was refused with,
 * which the parser logs, to the netctl that asked for it. NULL stops.
 */
void
log_capture(char *buf, size_t len)
{
	log_capbuf = len ? buf : NULL;
	log_caplen = len;
	if (log_capbuf)
		log_capbuf[0] = '\0';
}

void
log_setverbose(int verbosity)
{
	log_verbosity = verbosity;
}

int
log_getverbose(void)
{
	return log_verbosity;
}

static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_capbuf && pri <= LOG_ERR) {
		size_t used = strlen(log_capbuf);

		if (used + 1 < log_caplen)
			snprintf(log_capbuf + used, log_caplen - used, "%s%s%s\n",
			    msg, suffix ? ": " : "", suffix ? suffix : "");
	}
	if (log_foreground == LOG_PLAIN) {
		fprintf(stderr, "%s%s%s\n", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	} else if (log_foreground) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s: %s%s%s\n", tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_progname, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
		fflush(stderr);
	} else {
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "",
		    suffix ? suffix : "");
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
