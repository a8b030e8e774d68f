/*
 * fuzz_config.c - host-netd.conf(5), the configuration parser
 * (host-netd/parse.c, parse-lex.c, parse-value.c, parse-vm.c,
 * parse-check.c, printconf.c)
 *
 * Reaches: parse_config() on the input as a whole file: the lexer (words,
 * quoted strings and their escapes, comments, statement ends, NUL bytes,
 * control characters), the keyword table and its scopes, every global and
 * VM option's value parsers (numbers, ports, prefixes, interface and VM
 * names, paths, channels' URIs, forwards), the error recovery that skips
 * to the end of a statement or block, and the checks of the file as a
 * whole (clashing VMs, channels, subnets, forwards; defaults that depend
 * on other options); then conf_check() again, as a reload does, and
 * print_config(), what host-netd -nv prints.
 *
 * The file is root's, so not a guest's to write; but it is what a reload
 * or host-netd -n reads, and the registration parser (fuzz_register.c) and
 * the policy parser (fuzz_policy.c) are this parser's lexer and values.
 *
 * Checks: a configuration that parses passes conf_check(); printed, it
 * parses again and prints the same (tests/config/run.sh's property for
 * its good files, on every file the fuzzer finds good); the file is
 * closed once read, whatever it held.
 */
#include "config.h"

#include "fuzz_conf.h"

static struct memfile input, scratch;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	memfile_open(&input);
	memfile_open(&scratch);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostd_conf *c;
	char err[4096];

	if (size > 65536)
		return 0;
	fuzz_fd_mark();
	memfile_set(&input, data, size);
	if ((c = parse_config(input.path))) {
		CHECK(conf_check(c, err, sizeof(err)) == 0);
		conf_roundtrip(c, &scratch);
		conf_free(c);
	}
	fuzz_fd_check();	/* the file read, closed */
	return 0;
}
