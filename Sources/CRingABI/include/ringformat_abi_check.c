#include "ringformat.h"
_Static_assert(sizeof(ring_info_t) == 72, "ring_info_t layout");
