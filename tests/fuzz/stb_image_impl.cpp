// stb_image compiled into the image fuzz target with the sanitizers and coverage: the
// executable's definitions take the place of the system libstb's, so deepgen_io's calls decode
// through this instrumented copy of the same (Debian) stb_image.h.
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
