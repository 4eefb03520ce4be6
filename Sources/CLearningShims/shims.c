#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/epoll.h>
#include "CLearningShims.h"

/* Swift reads epoll_event through the imported struct; x86_64 packs it to 12 bytes. */
#if defined(__x86_64__)
_Static_assert(sizeof(struct epoll_event) == 12, "epoll_event is packed on x86_64");
#endif

int clearning_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
