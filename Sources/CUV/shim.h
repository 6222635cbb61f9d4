// libuv (Debian: libuv1-dev, found through pkg-config "libuv").
#include <uv.h>
