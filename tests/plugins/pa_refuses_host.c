/* A plugin that checks the host's ABI version and refuses (as a real one does when the host is
 * older or newer): the host must report the plugin's own message. */
#include "pa/pa_plugin.h"

#include <stdio.h>

__attribute__((visibility("default"))) pa_status pa_plugin_entry(const pa_host_api *host, pa_plugin_desc *out,
                                                                   char *err, size_t err_len) {
    (void)out;
    snprintf(err, err_len, "plugin needs host ABI %d, host has %u", PA_PLUGIN_ABI_VERSION + 7,
             host ? host->abi_version : 0u);
    return PA_ERR_ABI;
}
