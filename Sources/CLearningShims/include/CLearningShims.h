#ifndef CLEARNING_SHIMS_H
#define CLEARNING_SHIMS_H
#include <nghttp2/nghttp2.h>

/// The nghttp2 version this was compiled against, as NGHTTP2_VERSION_NUM (0x013400 for 1.52.0).
static inline int clearning_nghttp2_version_num(void) { return NGHTTP2_VERSION_NUM; }

#endif
