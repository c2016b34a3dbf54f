/* relay: a byte relay from a listening address (TCP or unix socket) to a target address, on libuv.
 */
#ifndef BOTTLE_CORE_RELAY_H
#define BOTTLE_CORE_RELAY_H

#include <stdbool.h>

#include <uv.h>

/* An address: "unix:/path/to.sock" or "HOST:PORT" (IPv4 literal or [IPv6]). */
struct relay_addr {
    bool is_unix;
    char path[108];
    struct sockaddr_storage ss;
};
int relay_addr_parse(const char *s, struct relay_addr *a); /* 0 or UV_EINVAL */

struct relay;

/* Listen on LISTEN and forward every connection to TARGET. Port 0 picks one
 * (relay_port tells which). A unix socket path is unlinked first and made
 * 0600. Returns 0 or a negative libuv error (nothing is left open; memory is
 * released on the next loop turn). */
int relay_start(uv_loop_t *loop, const char *listen, const char *target, struct relay **out);
int relay_port(const struct relay *r);
/* Later connections go to TARGET (e.g. after a hop restarted on a new port). */
int relay_set_target(struct relay *r, const char *target);
/* Close the listener and every open connection; memory is freed in the last
 * close callback. The unix socket file is removed. */
void relay_close(struct relay *r);

#endif
