/*
 * ratelimit.c - at most so many log lines a while
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "ratelimit.h"

/* The clock it counts by: milliseconds, never set back. */
uint64_t
vmn_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Whether one more message may go out now. When it may, *held is how many
 * were held back since the last one that went out (say so in the message).
 */
bool
vmn_ratelimit(struct vmn_ratelimit *rl, unsigned *held)
{
	uint64_t now = vmn_monotonic_ms();

	if (rl->n == 0 || now - rl->start_ms >= rl->interval_ms) {
		rl->start_ms = now;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->held++;
		return false;
	}
	rl->n++;
	*held = rl->held;
	rl->held = 0;
	return true;
}

/* One message through logfn (log_warnx, log_debug...), if rl lets it. */
void
vmn_log_limited(struct vmn_ratelimit *rl, void (*logfn)(const char *, ...),
    const char *fmt, ...)
{
	char msg[512];
	unsigned held;
	va_list ap;

	if (logfn == log_debug && log_getverbose() < 1)
		return;		/* would not be seen: spends nothing */
	if (!vmn_ratelimit(rl, &held))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (held)
		logfn("%s (and %u more like it, not logged)", msg, held);
	else
		logfn("%s", msg);
}
