// proxy_op.h - registers proxy_sparse_attn (its shape rule and CPU reference) in the op
// registry once per process, as loading the plugin would, for targets that build the node.
#pragma once

#include "pa/op_registry.h"
#include "pa/proxy_sparse_attn.h"
#include "ref/reference.h"

namespace pa::fuzz {

inline void ensure_proxy_op() {
    static const bool once = [] {
        if (op_registry::global().find(proxy_op_name) < 0)
            op_registry::global().add({proxy_op_name, 3, 3, proxy::op_infer, proxy::op_cpu_compute});
        return true;
    }();
    (void)once;
}

} // namespace pa::fuzz
