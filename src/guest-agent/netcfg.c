#include "netcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static int inet_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

static void ifr_init(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
}

int net_link_up(const char *ifname)
{
	int s = inet_socket();
	if (s < 0)
		return -1;
	struct ifreq ifr;
	ifr_init(&ifr, ifname);
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(s);
	errno = saved;
	return rc;
}

int net_wait_link(const char *ifname, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		if (if_nametoindex(ifname) > 0)
			return 0;
		if (now_ms() >= end)
			return -1;
		sleep_ms(10);
	}
}

static void set_sin(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = a;
	memcpy(sa, &sin, sizeof(sin));
}

int net_configure(const char *ifname, const char *cidr, const char *gw, char *err, unsigned errsize)
{
	char addr_text[64];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (alen >= sizeof(addr_text)) {
		snprintf(err, errsize, "banger.ip=%s is not ADDR/PREFIX", cidr);
		return -1;
	}
	memcpy(addr_text, cidr, alen);
	addr_text[alen] = 0;
	char *end = NULL;
	long prefix = slash ? strtol(slash + 1, &end, 10) : 24;
	struct in_addr addr, mask, gwa;
	if (inet_pton(AF_INET, addr_text, &addr) != 1 || prefix < 0 || prefix > 32 ||
	    (slash && (end == slash + 1 || *end))) {
		snprintf(err, errsize, "banger.ip=%s is not an IPv4 ADDR/PREFIX", cidr);
		return -1;
	}
	mask.s_addr = prefix == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - prefix));
	if (gw && *gw && inet_pton(AF_INET, gw, &gwa) != 1) {
		snprintf(err, errsize, "banger.gw=%s is not an IPv4 address", gw);
		return -1;
	}
	int s = inet_socket();
	if (s < 0) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
		return -1;
	}
	struct ifreq ifr;
	int rc = -1;
	ifr_init(&ifr, ifname);
	set_sin(&ifr.ifr_addr, addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		snprintf(err, errsize, "cannot set address %s on %s: %s", cidr, ifname, strerror(errno));
		goto out;
	}
	ifr_init(&ifr, ifname);
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
		snprintf(err, errsize, "cannot set netmask /%ld on %s: %s", prefix, ifname,
			 strerror(errno));
		goto out;
	}
	if (net_link_up(ifname) < 0) {
		snprintf(err, errsize, "cannot bring %s up: %s", ifname, strerror(errno));
		goto out;
	}
	if (gw && *gw) {
		struct rtentry rt;
		memset(&rt, 0, sizeof(rt));
		struct in_addr any = {0};
		set_sin(&rt.rt_dst, any);
		set_sin(&rt.rt_genmask, any);
		set_sin(&rt.rt_gateway, gwa);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = (char *)ifname;
		if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST) {
			snprintf(err, errsize, "cannot add default route via %s: %s", gw,
				 strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	close(s);
	return rc;
}
