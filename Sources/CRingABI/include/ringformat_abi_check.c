#include "ringformat.h"
_Static_assert(sizeof(ring_info_t) == 72, "ring_info_t layout");
_Static_assert(sizeof(ring_producer_info_t) == 48, "ring_producer_info_t layout");
