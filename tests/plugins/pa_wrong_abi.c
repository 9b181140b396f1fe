/* A plugin built for another ABI version: the host must refuse it with a clear message. */
#include "pa/pa_plugin.h"

#include <string.h>

static int no_devices(void) { return 0; }

__attribute__((visibility("default"))) pa_status pa_plugin_entry(const pa_host_api *host, pa_plugin_desc *out,
                                                                   char *err, size_t err_len) {
    (void)host;
    (void)err;
    (void)err_len;
    memset(out, 0, sizeof *out);
    out->abi_version = PA_PLUGIN_ABI_VERSION + 1000;
    out->name = "wrong-abi";
    out->version = "0";
    out->device_count = no_devices;
    return PA_OK;
}
