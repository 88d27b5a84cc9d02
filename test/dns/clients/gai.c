/*
 * gai: one getaddrinfo() call, printed in a form the harness parses.
 *
 *   gai NAME any|ipv4|ipv6
 *
 * prints "OK <canonname> <addr>..." or "ERR <EAI_NAME>". Built twice by the
 * harness: against glibc (gcc, dynamic, so nss_dns and nsswitch.conf are the
 * real ones) and against musl (musl-gcc -static). Flags are 0 (no
 * AI_ADDRCONFIG) so the result does not depend on the test netns' interfaces;
 * AI_CANONNAME asks for the canonical name, as the reference vectors did.
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

static const char *eai_name(int rc) {
	switch (rc) {
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
#ifdef EAI_NODATA
	case EAI_NODATA: return "EAI_NODATA";
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
#endif
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	}
	return "EAI_UNKNOWN";
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: gai NAME any|ipv4|ipv6\n");
		return 2;
	}
	struct addrinfo hints, *res, *p;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	if (!strcmp(argv[2], "ipv4")) hints.ai_family = AF_INET;
	if (!strcmp(argv[2], "ipv6")) hints.ai_family = AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	int rc = getaddrinfo(argv[1], NULL, &hints, &res);
	if (rc != 0) {
		printf("ERR %s\n", eai_name(rc));
		return 0;
	}
	printf("OK %s", res->ai_canonname ? res->ai_canonname : "-");
	for (p = res; p; p = p->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a = p->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		inet_ntop(p->ai_family, a, buf, sizeof buf);
		printf(" %s", buf);
	}
	printf("\n");
	freeaddrinfo(res);
	return 0;
}
