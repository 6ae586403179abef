/* The C ABI of TCPLab's policy plugins lives in include/tcplab_plugin.h; this target has no code, so
 * that linking it into the host and into every plugin library puts no duplicate symbol on either side
 * of dlopen. (SwiftPM wants one source file per target.) */
#include "tcplab_plugin.h"
