/* Only declares libFuzzer's driver for Swift (see include/CFuzzerDriver.h). */
#include "CFuzzerDriver.h"
