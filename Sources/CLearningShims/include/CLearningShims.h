#ifndef CLEARNING_SHIMS_H
#define CLEARNING_SHIMS_H
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// The nghttp2 version this was compiled against, as NGHTTP2_VERSION_NUM (0x013400 for 1.52.0).
static inline int clearning_nghttp2_version_num(void) { return NGHTTP2_VERSION_NUM; }

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC (accept4 needs _GNU_SOURCE, which Swift's Glibc
/// module does not define).
int clearning_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// The epoll event bits, as plain integers.
static inline uint32_t clearning_epollin(void) { return EPOLLIN; }
static inline uint32_t clearning_epollout(void) { return EPOLLOUT; }
static inline uint32_t clearning_epollerr(void) { return EPOLLERR; }
static inline uint32_t clearning_epollhup(void) { return EPOLLHUP; }
static inline uint32_t clearning_epollrdhup(void) { return EPOLLRDHUP; }

#endif
