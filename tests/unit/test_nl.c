/*
 * test_nl.c - unit tests for the netlink attribute tables (common/nl.c)
 *
 * Covers: vmn_nl_parse() fills the table with the attributes a policy
 * accepts and leaves out one of the wrong length (a 2-byte IFLA_MTU), one
 * beyond the policy's maximum type, and a string without its NUL; it
 * clears entries from an earlier message; a message shorter than its
 * extra header is refused; vmn_nl_parse_nested() does the same inside a
 * nest.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "testutil.h"
#include "nl.h"

VMN_NL_POLICY(link_policy, IFLA_MAX,
	[IFLA_IFNAME] = MNL_TYPE_NUL_STRING,
	[IFLA_MTU] = MNL_TYPE_U32,
	[IFLA_LINKINFO] = MNL_TYPE_NESTED,
);
VMN_NL_POLICY(small_policy, IFLA_MTU,
	[IFLA_MTU] = MNL_TYPE_U32,
);
VMN_NL_POLICY(info_policy, IFLA_INFO_MAX,
	[IFLA_INFO_KIND] = MNL_TYPE_NUL_STRING,
);

static struct nlmsghdr *
new_link_msg(char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 7;
	return nlh;
}

static void
test_policy_filters(void **state)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = new_link_msg(buf);
	const struct nlattr *tb[IFLA_MAX + 1];
	uint16_t short_mtu = 1500;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put(nlh, IFLA_MTU, sizeof(short_mtu), &short_mtu);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, "\x02\x00\x00\x00\x00\x01");
	assert_int_equal(vmn_nl_parse(nlh, sizeof(struct ifinfomsg),
	    &link_policy, tb), 0);
	assert_non_null(tb[IFLA_IFNAME]);
	assert_string_equal(mnl_attr_get_str(tb[IFLA_IFNAME]), "eth0");
	assert_null(tb[IFLA_MTU]);		/* 2 bytes for a u32 */
	assert_non_null(tb[IFLA_ADDRESS]);	/* no policy: any length */
	assert_int_equal(mnl_attr_get_payload_len(tb[IFLA_ADDRESS]), 6);
}

static void
test_beyond_max_and_stale(void **state)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = new_link_msg(buf);
	const struct nlattr *tb[IFLA_MTU + 1];
	unsigned i;

	for (i = 0; i <= IFLA_MTU; i++)
		tb[i] = (const struct nlattr *)buf;	/* stale entries */
	mnl_attr_put_u32(nlh, IFLA_MTU, 9000);
	mnl_attr_put_u32(nlh, IFLA_MTU + 20, 1);	/* beyond max */
	assert_int_equal(vmn_nl_parse(nlh, sizeof(struct ifinfomsg),
	    &small_policy, tb), 0);
	assert_int_equal(mnl_attr_get_u32(tb[IFLA_MTU]), 9000);
	for (i = 0; i < IFLA_MTU; i++)
		assert_null(tb[i]);
}

static void
test_string_without_nul(void **state)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = new_link_msg(buf);
	const struct nlattr *tb[IFLA_MAX + 1];

	mnl_attr_put(nlh, IFLA_IFNAME, 4, "eth0");
	assert_int_equal(vmn_nl_parse(nlh, sizeof(struct ifinfomsg),
	    &link_policy, tb), 0);
	assert_null(tb[IFLA_IFNAME]);
}

static void
test_short_message(void **state)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	const struct nlattr *tb[IFLA_MAX + 1];

	nlh->nlmsg_type = RTM_NEWLINK;	/* no ifinfomsg at all */
	assert_int_equal(vmn_nl_parse(nlh, sizeof(struct ifinfomsg),
	    &link_policy, tb), -EBADMSG);
}

static void
test_nested(void **state)
{
	char buf[8192] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = new_link_msg(buf);
	const struct nlattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
	struct nlattr *nest;

	nest = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "tun");
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(vmn_nl_parse(nlh, sizeof(struct ifinfomsg),
	    &link_policy, tb), 0);
	assert_non_null(tb[IFLA_LINKINFO]);
	assert_int_equal(vmn_nl_parse_nested(tb[IFLA_LINKINFO], &info_policy,
	    info), 0);
	assert_string_equal(mnl_attr_get_str(info[IFLA_INFO_KIND]), "tun");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_filters),
		cmocka_unit_test(test_beyond_max_and_stale),
		cmocka_unit_test(test_string_without_nul),
		cmocka_unit_test(test_short_message),
		cmocka_unit_test(test_nested),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
