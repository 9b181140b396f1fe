/* pa_plugin.h - the versioned C ABI between the runtime (host) and backend plugins.
 *
 * A plugin is a shared object that exports one symbol, PA_PLUGIN_ENTRY_SYMBOL, of type
 * pa_plugin_entry_fn. The host calls it with its function table; the plugin checks the ABI
 * version, registers the ops it adds through the table and fills a pa_plugin_desc.
 * Everything crossing this boundary is plain C: no exceptions, no C++ types. Every fallible
 * call returns a pa_status and leaves a message in the caller's buffer or in last_error().
 *
 * Bump PA_PLUGIN_ABI_VERSION on any change to pa_tensor, the enums in pa_tensor.h, or the
 * structs below. The host refuses plugins built for another version.
 */
#ifndef PA_PLUGIN_H
#define PA_PLUGIN_H

#include "pa_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PA_PLUGIN_ABI_VERSION 1
#define PA_PLUGIN_ENTRY_SYMBOL "pa_plugin_entry"

typedef enum pa_status {
    PA_OK = 0,
    PA_ERR_INVALID = 1,      /* bad argument, shape or type */
    PA_ERR_UNSUPPORTED = 2,  /* op or feature not supported here */
    PA_ERR_OUT_OF_MEMORY = 3,
    PA_ERR_DEVICE = 4,       /* driver or kernel failure */
    PA_ERR_ABI = 5,
    PA_ERR_INTERRUPTED = 6
} pa_status;

/* ---- ops added by plugins ------------------------------------------------------------ */

/* Fills out->type/ne (nb is computed by the host, contiguous) for a node with these srcs and
 * params, or returns PA_ERR_INVALID with a one-line message in err. */
typedef pa_status (*pa_op_infer_fn)(const struct pa_tensor *const *src, int n_src, const int32_t *params,
                                    struct pa_tensor *out, char *err, size_t err_len);
/* CPU reference: srcs and dst have host data. */
typedef pa_status (*pa_op_cpu_fn)(struct pa_tensor *dst, char *err, size_t err_len);

typedef struct pa_op_desc {
    const char *name;
    int n_src_min, n_src_max;
    pa_op_infer_fn infer;
    pa_op_cpu_fn cpu_compute;
} pa_op_desc;

/* ---- what the host offers a plugin --------------------------------------------------- */
typedef struct pa_host_api {
    uint32_t abi_version;
    /* registers an op; returns its id (>= PA_OP_FIRST_DYNAMIC), or -1 with a message in err */
    int32_t (*register_op)(const pa_op_desc *desc, char *err, size_t err_len);
    /* id of an op by name, or -1 */
    int32_t (*find_op)(const char *name);
    /* level: 0 error, 1 warning, 2 info, 3 debug */
    void (*log)(int level, const char *msg);
} pa_host_api;

/* ---- a backend instance (one device) ------------------------------------------------- */
typedef struct pa_backend_iface {
    void *ctx;
    const char *(*name)(void *ctx);            /* e.g. "opencl" */
    const char *(*description)(void *ctx);     /* device name, driver */
    const char *(*last_error)(void *ctx);      /* message of the last failed call */
    int (*supports_op)(void *ctx, const struct pa_tensor *node); /* node's srcs as they will be */
    pa_status (*alloc)(void *ctx, size_t size, void **handle);
    void (*release)(void *ctx, void *handle);
    pa_status (*write)(void *ctx, void *handle, size_t offset, const void *src, size_t size);
    pa_status (*read)(void *ctx, void *handle, size_t offset, void *dst, size_t size);
    /* Runs nodes in order; every node and src has (buffer, offs) storage of this backend. */
    pa_status (*compute)(void *ctx, struct pa_tensor *const *nodes, int n_nodes);
    pa_status (*synchronize)(void *ctx);
    /* (optional, may be NULL) backend-specific settings, e.g. "max_alloc_bytes" */
    pa_status (*set_option)(void *ctx, const char *key, const char *value);
    void (*destroy)(void *ctx);
} pa_backend_iface;

/* ---- what a plugin describes --------------------------------------------------------- */
typedef struct pa_plugin_desc {
    uint32_t abi_version; /* must equal the host's */
    const char *name;
    const char *version;
    /* Number of devices this plugin can drive now (0 when no platform/device is present). */
    int (*device_count)(void);
    /* One line about device i (name, vendor, memory, capabilities). */
    pa_status (*device_describe)(int index, char *buf, size_t buf_len);
    /* Opens a backend on the device picked by spec ("", an index "1", or a name substring). */
    pa_status (*backend_open)(const char *spec, pa_backend_iface *out, char *err, size_t err_len);
    /* (optional) called before dlclose */
    void (*unload)(void);
} pa_plugin_desc;

typedef pa_status (*pa_plugin_entry_fn)(const pa_host_api *host, pa_plugin_desc *out, char *err,
                                        size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
