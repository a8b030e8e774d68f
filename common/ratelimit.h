/*
 * ratelimit.h - at most so many log lines a while, for per-connection events
 *
 * A flood of connections that each fail the same way (no descriptor left,
 * a guest that refuses) must not become a flood of log lines. A limiter
 * lets `burst` messages through per `interval_ms`; the first one let
 * through after some were held back says how many.
 */
#ifndef VMN_RATELIMIT_H
#define VMN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct vmn_ratelimit {
	unsigned	burst;		/* messages per interval */
	unsigned	interval_ms;
	uint64_t	start_ms;	/* of the current interval */
	unsigned	n;		/* let through in it */
	unsigned	held;		/* held back since the last let through */
};

#define VMN_RATELIMIT_INIT(burst, ms)	{ (burst), (ms), 0, 0, 0 }

bool	vmn_ratelimit(struct vmn_ratelimit *rl, unsigned *held);
uint64_t vmn_monotonic_ms(void);
void	vmn_log_limited(struct vmn_ratelimit *rl,
	    void (*logfn)(const char *, ...), const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
