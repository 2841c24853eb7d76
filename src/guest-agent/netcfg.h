/* IPv4 interface configuration through ioctls (no netlink, no iproute2 in the image). */
#ifndef BANGER_NETCFG_H
#define BANGER_NETCFG_H

/* Brings the interface up. 0 or -1 (errno set). */
int net_link_up(const char *ifname);
/* Waits up to ms for the interface to exist. 0 or -1. */
int net_wait_link(const char *ifname, unsigned ms);
/* Sets ADDR/PREFIX on ifname and brings it up; adds a default route via gw when gw is set.
 * Returns 0, or -1 with a message in err. */
int net_configure(const char *ifname, const char *cidr, const char *gw, char *err, unsigned errsize);

#endif
