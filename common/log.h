/*
 * log.h - one logging vocabulary for every vmnetd program
 *
 * log_warn() appends strerror(errno); log_warnx() does not. fatal()/fatalx()
 * log and exit. Output goes to stderr when running in the foreground (-d),
 * otherwise to syslog.
 */
#ifndef VMN_LOG_H
#define VMN_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* foreground: 0 syslog, 1 stderr with time and name, 2 stderr plain */
#define LOG_TO_SYSLOG	0
#define LOG_TO_STDERR	1
#define LOG_PLAIN	2
void	log_init(const char *progname, int foreground, int verbosity);
void	log_setverbose(int verbosity);
int	log_getverbose(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	log_capture(char *buf, size_t len);

#endif
