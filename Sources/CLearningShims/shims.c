#include "CLearningShims.h"

/* The transport relies on the nghttp2 1.52 API names (nghttp2_session_mem_recv, nghttp2_data_provider). */
_Static_assert(NGHTTP2_VERSION_NUM >= 0x013400, "nghttp2 1.52 or newer is required");
