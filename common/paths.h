/*
 * paths.h - where vmnetd's files are, as configure chose them
 *
 * The build passes SYSCONFDIR, LOCALSTATEDIR and RUNSTATEDIR (by default
 * /etc, /var and /run whatever the prefix: see configure.ac); the defaults
 * below are for a compiler run by hand.
 */
#ifndef VMN_PATHS_H
#define VMN_PATHS_H

#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR		"/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR		"/run"
#endif

#define VMN_CONF_FILE		SYSCONFDIR "/vmnetd/host-netd.conf"
#define VMN_POLICY_DIR		SYSCONFDIR "/vmnetd/policy.d"
#define VMN_STATE_DIR		LOCALSTATEDIR "/lib/vmnetd"
#define VMN_CONTROL_SOCKET	RUNSTATEDIR "/vmnetd/control.sock"

#endif
