#include "harness.h"
const struct test tests_virtio[] = { { NULL } };
