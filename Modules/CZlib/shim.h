#ifndef WEIGHTINIT_CZLIB_SHIM_H
#define WEIGHTINIT_CZLIB_SHIM_H
#include <zlib.h>
#endif
